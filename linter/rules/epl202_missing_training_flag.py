"""EPL202 missing-training-flag: a model with dropout/BatchNormalization called under a
GradientTape without `training=True`."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.model_contents import Contents, ModelContents
from linter.analysis.calls import GRADIENT, argument
from linter.analysis.tape import Site, trains_weights, watched_name, with_opens_tape
from linter import edits
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import dotted


class MissingTrainingFlag(Rule):
    """
    ## What it does
    Flags a call of a Keras model inside a `with tf.GradientTape() ...:` block without a
    `training=` argument, when the model is known (from the same module) to contain a layer that
    behaves differently in training: the Dropout family (`Dropout`, `SpatialDropout1D/2D/3D`,
    `AlphaDropout`, `GaussianDropout`), `GaussianNoise`, `BatchNormalization`,
    `SpectralNormalization`, recurrent or attention layers with `dropout=`/`recurrent_dropout=`, a Keras application built
    with BatchNormalization, or a custom layer whose `call()` branches on `training`. The model's
    layers are found across `Sequential([...])`, `.add()`, the functional API, subclassed models
    and builder functions. The tape must train that model: its `gradient` is taken with respect
    to the model's weights (`model.trainable_variables`, or `self.trainable_variables` for `self`
    and its sub-models). A tape for input gradients (`tape.watch(image)`: adversarial examples,
    saliency maps) and a model the tape does not train (a distillation teacher, a target
    network) want inference mode. With `--strict`, models whose
    contents (or identity) are unknown, and tapes whose purpose is unknown, are flagged too.

    ## Why is this bad
    Outside `fit()`, nobody sets the training phase for you: `model(x)` runs the layers in
    inference mode. Dropout never drops, noise is never added, and BatchNormalization normalizes
    with its moving statistics and never updates them (they stay at their initial values), so
    the custom loop trains a different network from the one `fit()` would, and evaluation later
    uses statistics that were never learned.

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(64), layers.Dropout(0.5), layers.Dense(1)])
    with tf.GradientTape() as tape:
        predictions = model(x_batch)  # dropout is off
        loss = loss_fn(y_batch, predictions)
    ```
    Use instead:
    ```python
        predictions = model(x_batch, training=True)
    ```

    ## Fix
    Pass `training=True` when calling the model in a training step (and `training=False`, or
    nothing, for evaluation). The automatic fix adds `training=True`; it is safe: it is what
    `fit()` passes.
    """

    code = "EPL202"
    name = "missing-training-flag"
    summary = "a model with Dropout/BatchNormalization called in a GradientTape without training=True"
    claim = (
        "Without `training=True` the layers run in inference mode: dropout and noise layers and the `dropout=` of "
        "recurrent/attention layers drop nothing, BatchNormalization (also synchronized) never updates its moving "
        "statistics, SpectralNormalization never runs its power iteration (Keras 2 and 3). Measured: moving_mean "
        "stayed exactly 0 after 10 epochs. Not random augmentation layers (RandomFlip, RandomRotation, ...): they "
        "augment without `training=True` too."
    )
    witness = (
        "BN moving statistics unchanged after 10 epochs; every dropout/noise layer, (synchronized) BatchNormalization, "
        "SpectralNormalization and LSTM/MultiHeadAttention `dropout=` inactive in a model called without training=True"
    )
    fires_on = {"layer": ("dropout and noise layers", "BatchNormalization", "SyncBatchNormalization", "SpectralNormalization", "dropout= arguments")}
    fixable = "safe"

    VALID = [
        # the seed's Example 2: a Dense-only functional model needs no training flag
        Valid(
            """
            import tensorflow as tf

            inputs = tf.keras.Input(shape=(10,))
            x = tf.keras.layers.Dense(64, activation='relu')(inputs)
            outputs = tf.keras.layers.Dense(1)(x)
            model = tf.keras.Model(inputs=inputs, outputs=outputs)

            with tf.GradientTape() as tape:
                predictions = model(X_batch)
                loss = tf.reduce_mean(tf.keras.losses.MSE(y_batch, predictions))
            """
        ),
        # training= given (any value: `training=training` passes it on)
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.5), keras.layers.Dense(1)])

            def step(x, training):
                with tf.GradientTape() as tape:
                    a = model(x, training=True)
                    b = model(x, training=training)
                    c = model(x, training=False)
            """
        ),
        # outside any tape: evaluation / inference
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(8), keras.layers.BatchNormalization(), keras.layers.Dense(1)])
            predictions = model(x_test)
            """
        ),
        # a train_step that calls self(x, training=True)
        Valid(
            """
            import keras
            import tensorflow as tf

            class Classifier(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.dense = keras.layers.Dense(64)
                    self.dropout = keras.layers.Dropout(0.3)
                    self.head = keras.layers.Dense(10)

                def call(self, x, training=False):
                    return self.head(self.dropout(self.dense(x), training=training))

                def train_step(self, data):
                    x, y = data
                    with tf.GradientTape() as tape:
                        y_pred = self(x, training=True)
                        loss = self.compute_loss(y=y, y_pred=y_pred)
                    return {}
            """
        ),
        # unknown model (a parameter): only under --strict
        Valid(
            """
            import tensorflow as tf

            def step(model, x):
                with tf.GradientTape() as tape:
                    predictions = model(x)
            """
        ),
        # --strict: methods of other objects (the tape, a metric) are not model calls
        Valid(
            """
            import tensorflow as tf

            def step(x, y, tracker):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    tracker.update_state(y)
            """,
            strict=True,
        ),
        # --strict: a layer (even spelled with Keras 3's internal `keras.src` path) is not a model
        Valid(
            """
            import tensorflow as tf
            from keras.src import layers

            layer = layers.Dense(units=10)
            with tf.GradientTape() as g:
                outputs = layer(inputs)
            """,
            strict=True,
        ),
        # gradients w.r.t. the input (the TF FGSM tutorial, saliency maps): inference mode is intended
        Valid(
            """
            import tensorflow as tf

            pretrained_model = tf.keras.applications.MobileNetV2(include_top=True, weights="imagenet")
            loss_object = tf.keras.losses.CategoricalCrossentropy()

            def create_adversarial_pattern(input_image, input_label):
                with tf.GradientTape() as tape:
                    tape.watch(input_image)
                    prediction = pretrained_model(input_image)
                    loss = loss_object(input_label, prediction)
                gradient = tape.gradient(loss, input_image)
                return tf.sign(gradient)
            """,
            strict=True,
        ),
        # a tape whose gradient is taken elsewhere: unknown purpose, only under --strict
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dropout(0.2), keras.layers.Dense(1)])
            with tf.GradientTape() as tape:
                out = model(x)
            """
        ),
        # a non-tape context manager
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dropout(0.2), keras.layers.Dense(1)])
            with tf.device("/cpu:0"):
                predictions = model(x)
            """
        ),
        # a helper defined inside the tape block runs later, elsewhere
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dropout(0.2), keras.layers.Dense(1)])
            with tf.GradientTape() as tape:
                def predict(x):
                    return model(x)
            """
        ),
        # a helper's Dropout behind a flag this model's construction never turns on
        Valid(
            """
            import tensorflow as tf
            from tensorflow.keras import layers
            def downsample(ch, apply_dropout=False):
                block = tf.keras.Sequential()
                block.add(layers.Conv2D(ch, 3, strides=2))
                if apply_dropout:
                    block.add(layers.Dropout(0.5))
                block.add(layers.LeakyReLU())
                return block
            model = tf.keras.Sequential([downsample(32), downsample(64), layers.Flatten(), layers.Dense(1)])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            """, strict=True
        ),
        # --strict: a method of the class, not a model it holds
        Valid(
            """
            import tensorflow as tf
            class Agent:
                def total_cost(self, img):
                    return self.net(img)
                def train(self, img):
                    with tf.GradientTape() as tape:
                        cost = self.total_cost(img)
                    grads = tape.gradient(cost, self.trainable_variables)
            """, strict=True
        ),
        # --strict: an instance of a class of this module with no Keras base
        Valid(
            """
            import tensorflow as tf
            class NaiveSequential:
                def __init__(self, layers):
                    self.layers = layers
                def __call__(self, x):
                    for l in self.layers:
                        x = l(x)
                    return x
            model = NaiveSequential([tf.keras.layers.Dense(1)])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            """, strict=True
        ),
        # --strict: a builder of this module that builds no Dropout/BatchNormalization/noise layer
        Valid(
            """
            import tensorflow as tf
            def make_model(n):
                inputs = tf.keras.Input((n,))
                x = tf.keras.layers.Dense(64, activation="relu")(inputs)
                x = some_block(x)
                return tf.keras.Model(inputs, tf.keras.layers.Dense(1)(x))
            model = make_model(4)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            """, strict=True
        ),
        # calls inside `with tape.stop_recording():` are not differentiated
        Valid(
            """
            import tensorflow as tf
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(model(x, training=True))
                with tape.stop_recording():
                    preview = model(x)
            grads = tape.gradient(loss, model.trainable_variables)
            """, strict=True
        ),
    ]
    INVALID = [
        # a functional builder whose Dropout this construction turns on (positionally)
        Invalid(
            """
            import tensorflow as tf

            def block(x, units, with_dropout=False):
                x = tf.keras.layers.Dense(units, activation="relu")(x)
                if with_dropout:
                    x = tf.keras.layers.Dropout(0.3)(x)
                return x

            inputs = tf.keras.Input((8,))
            net = tf.keras.Model(inputs, tf.keras.layers.Dense(1)(block(inputs, 16, True)))
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(net(x) - y))
            tape.gradient(loss, net.trainable_variables)
            """,
            line=12,
            column=37,
            message_contains="it contains Dropout",
        ),
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([
                tf.keras.layers.Dense(64, activation="relu"),
                tf.keras.layers.Dropout(0.5),
                tf.keras.layers.Dense(1),
            ])
            with tf.GradientTape() as tape:
                predictions = model(x_batch)
                loss = tf.reduce_mean(tf.keras.losses.MSE(y_batch, predictions))
            grads = tape.gradient(loss, model.trainable_variables)
            """,
            line=9,
            column=19,
            message_contains="Dropout",
            fixed="""
            import tensorflow as tf

            model = tf.keras.Sequential([
                tf.keras.layers.Dense(64, activation="relu"),
                tf.keras.layers.Dropout(0.5),
                tf.keras.layers.Dense(1),
            ])
            with tf.GradientTape() as tape:
                predictions = model(x_batch, training=True)
                loss = tf.reduce_mean(tf.keras.losses.MSE(y_batch, predictions))
            grads = tape.gradient(loss, model.trainable_variables)
            """,
        ),
        # functional model with BatchNormalization, built in a function
        Invalid(
            """
            import keras
            import tensorflow as tf
            from keras import layers

            def build_model():
                inputs = keras.Input(shape=(32,))
                x = layers.Dense(64)(inputs)
                x = layers.BatchNormalization()(x)
                x = layers.Activation("relu")(x)
                outputs = layers.Dense(1)(x)
                return keras.Model(inputs, outputs)

            model = build_model()

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(keras.losses.mse(y, model(x)))
                return tape.gradient(loss, model.trainable_variables)
            """,
            line=18,
            column=51,
            message_contains="BatchNormalization",
        ),
        # Sequential built with .add()
        Invalid(
            """
            from tensorflow.keras.models import Sequential
            from tensorflow.keras.layers import Dense, GaussianNoise
            import tensorflow as tf

            model = Sequential()
            model.add(GaussianNoise(0.1))
            model.add(Dense(1))
            with tf.GradientTape() as tape:
                out = model(x)
            grads = tape.gradient(out, model.trainable_variables)
            """,
            line=9,
            column=11,
            message_contains="`model(...)` under a GradientTape lacks `training=True` and it contains GaussianNoise",
            fixed="""
            from tensorflow.keras.models import Sequential
            from tensorflow.keras.layers import Dense, GaussianNoise
            import tensorflow as tf

            model = Sequential()
            model.add(GaussianNoise(0.1))
            model.add(Dense(1))
            with tf.GradientTape() as tape:
                out = model(x, training=True)
            grads = tape.gradient(out, model.trainable_variables)
            """,
        ),
        # a subclassed model calling itself in train_step without the flag
        Invalid(
            """
            import keras
            import tensorflow as tf

            class Net(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.drop = keras.layers.SpatialDropout2D(0.2)
                    self.conv = keras.layers.Conv2D(8, 3)

                def call(self, x, training=None):
                    return self.conv(self.drop(x, training=training))

                def train_step(self, data):
                    x, y = data
                    with tf.GradientTape() as tape:
                        y_pred = self(x)
                        loss = self.compute_loss(y=y, y_pred=y_pred)
                    grads = tape.gradient(loss, self.trainable_variables)
                    return {}
            """,
            line=16,
            column=22,
            message_contains="`self(...)` under a GradientTape lacks `training=True` and it contains SpatialDropout2D",
        ),
        # unknown model: --strict only
        Invalid(
            """
            import tensorflow as tf

            def step(model, x):
                with tf.GradientTape() as tape:
                    predictions = model(x)
            """,
            line=5,
            column=23,
            message_contains="`model(...)` under a GradientTape lacks `training=True` and its layers are",
            strict=True,
        ),
    ]

    ANALYSES = (ModelContents,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.open_withs: list[tuple[cst.With, Site]] = []
        self.candidates: list[tuple[cst.Call, Site, tuple]] = []
        self.gradients: list[tuple[str, Optional[cst.BaseExpression], Site]] = []  # (tape name, sources, site)
        self.watched: dict[int, set] = {}  # frame -> names passed to `tape.watch`

    def visit_With(self, node: cst.With) -> None:
        self.open_withs.append((node, Site.of(self.ctx)))

    def leave_With(self, node: cst.With) -> None:
        self.open_withs.pop()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if func.__class__ is cst.Attribute and func.value.__class__ is cst.Name:
            method = func.attr.value
            if method == "gradient":  # what the tape differentiates for: weights (training) or inputs
                self.gradients.append((func.value.value, argument(node, "sources", GRADIENT), Site.of(self.ctx)))
            elif method == "watch":
                name = watched_name(node)
                if name is not None:
                    self.watched.setdefault(id(self.ctx.scope.function()), set()).add(name)
        if not self.open_withs:
            return
        func_class = node.func.__class__
        if func_class is not cst.Name and func_class is not cst.Attribute:
            return
        positional = 0
        for arg in node.args:
            if arg.star or (arg.keyword is not None and arg.keyword.value == "training"):
                return  # training passed (or possibly passed through **kwargs / *args)
            if arg.keyword is None:
                positional += 1
        if positional > 1:
            return  # `model(x, True)`: training passed positionally
        self.candidates.append((node, Site.of(self.ctx), tuple(self.open_withs)))

    def finish(self) -> None:
        if not self.candidates:
            return
        sem = self.ctx.semantic
        contents = self.analysis(ModelContents)
        tapes: dict[int, object] = {}  # id(With) -> (purpose, owners) or None when not a tape
        code = self.ctx.module.code_for_node
        for call, site, withs in self.candidates:
            if any(_stops_recording(w) for w, _ in withs):
                continue  # `with tape.stop_recording():` nothing in it is differentiated
            frame = site.scope.function()
            callee = dotted(call.func)
            training: Optional[bool] = False
            in_tape = False
            for w, wsite in withs:
                if wsite.scope.function() is not frame:
                    continue
                if id(w) not in tapes:
                    tapes[id(w)] = self._tape_purpose(w, wsite) if with_opens_tape(w, wsite, sem) else None
                purpose = tapes[id(w)]
                if purpose is None:
                    continue
                in_tape = True
                verdict = _trains(callee, *purpose)
                if verdict is True or training is False:
                    training = verdict
            if not in_tape or training is False or (training is None and not self.ctx.strict):
                # not a tape; or a tape for input gradients (saliency, adversarial examples); or a
                # model whose weights this tape does not train (a teacher, a target network)
                continue
            found = self._model_contents(call, site, contents)
            if found is None:
                continue
            if found.training:
                shown = ", ".join(found.training[:3]) + (", ..." if len(found.training) > 3 else "")
                why = f"it contains {shown}"
                effect = _effects(found.training)
            elif self.ctx.strict and not found.complete and contents.built_with_training_layers(call.func, site) is not False:
                why = "its layers are unknown (--strict)"
                effect = "dropout never drops, BatchNormalization never updates"
            else:
                continue
            callee = code(call.func).strip()
            self.report(
                call,
                f"`{callee}(...)` under a GradientTape lacks `training=True` and {why}: {effect}.",
                edits.add_keyword(call, "training", "True", "safe", "add `training=True`"),
            )

    def _tape_purpose(self, node: cst.With, site: Site) -> tuple[Optional[bool], frozenset]:
        """What the tapes of this `with` differentiate: (True, owners) for weights of the objects
        named in `owners` (a training step), (False, ...) for watched inputs only, (None, ...)
        when unknown (e.g. no `gradient` call in this function)."""
        sem = self.ctx.semantic
        names = set()
        for item in node.items:
            if item.asname is not None and isinstance(item.asname.name, cst.Name):
                names.add(item.asname.name.value)
            elif isinstance(item.item, cst.Name):
                names.add(item.item.value)
        frame = site.scope.function()
        watched = frozenset(self.watched.get(id(frame), ()))
        owners: set = set()
        verdicts = [
            trains_weights(sources, gsite, sem, watched, owners)
            for name, sources, gsite in self.gradients
            if name in names and gsite.scope.function() is frame
        ]
        if any(v is True for v in verdicts):
            return True, frozenset(owners)
        if verdicts and all(v is False for v in verdicts):
            return False, frozenset()
        return None, frozenset()

    def _model_contents(self, call: cst.Call, site: Site, contents: ModelContents) -> Optional[Contents]:
        """The contents of the called model; None when the callee is not a model worth a finding."""
        sem = self.ctx.semantic
        func = call.func
        if isinstance(func, cst.Name) and sem.is_self_param(func.value, site.scope):
            return contents.of_callee(func, site)
        provenance = sem.model_provenance(func, site.scope, site=site)
        if provenance is True:
            return contents.of_callee(func, site)
        if provenance is None and self.ctx.strict and self._unknown_callee(call, site) and not contents.is_plain_layer(func, site):
            return Contents(complete=False)
        return None

    def _unknown_callee(self, call: cst.Call, site: Site) -> bool:
        """--strict: a callee that could be a model: a plain name or an attribute of `self` (not a
        method of some other object such as `tape.watch`), not an import, not a same-module
        function or class, called with one input like a model."""
        sem = self.ctx.semantic
        func = call.func
        held_by_self = isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and sem.is_self_param(func.value.value, site.scope)
        if not (isinstance(func, cst.Name) or held_by_self):
            return False
        if held_by_self and _is_method(sem, func.attr.value, site.scope):
            return False  # `self.total_cost(img)`: a method of the class, not a model it holds
        if sem.qualified_name(func, site.scope) is not None or sem.local_def(func, site.scope) is not None:
            return False
        return sum(1 for a in call.args if a.keyword is None) == 1


def _trains(callee: Optional[str], purpose: Optional[bool], owners: frozenset) -> Optional[bool]:
    """Does a tape train the model called as `callee`? Only when its gradient is taken for that
    model's weights (or for `self`'s, which include `self.<sub-model>`)."""
    if purpose is not True:
        return purpose
    if callee is None or "?" in owners:
        return None
    if callee in owners:
        return True
    if "self" in owners and (callee == "self" or callee.startswith("self.")):
        return True
    if callee == "self" and any(o.startswith("self.") for o in owners):
        return True  # `self(x)` runs the sub-model whose weights are trained (a wrapper such as SAM)
    return False


def _stops_recording(node: cst.With) -> bool:
    """`with tape.stop_recording():`"""
    return any(
        isinstance(item.item, cst.Call) and isinstance(item.item.func, cst.Attribute) and item.item.func.attr.value == "stop_recording"
        for item in node.items
    )


def _is_method(sem, name: str, scope) -> bool:
    """Is `name` a method defined in the class whose method `scope` is?"""
    cls_scope = scope.class_scope()
    return cls_scope is not None and any(b.kind == "def" for b in cls_scope.names.get(name, ()))


def _effects(training: list) -> str:
    """What inference mode does to the layers found, in words."""
    text = " ".join(training)
    effects = []
    if any(k in text for k in ("Dropout", "Noise", "dropout=", "EfficientNet")):
        effects.append("dropout/noise is never applied")
    if "BatchNormalization" in text:
        effects.append("BatchNormalization never updates its statistics")
    if "SpectralNormalization" in text:
        effects.append("SpectralNormalization never updates its power iteration")
    if ".call(training)" in text:
        effects.append("custom layers take their inference branch")
    return ", ".join(effects) or "layers take their inference path"

