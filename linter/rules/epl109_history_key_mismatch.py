"""EPL109 history-key-mismatch: `history.history['acc']` for a model compiled with `metrics=['accuracy']` (and the reverse)."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter import edits
from linter.analysis.training_calls import TrainingCall, TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

_FIT_METHODS = frozenset({"fit", "fit_generator"})
# History key -> the compiled metric name it needs, and the other spelling.
_OTHER = {"acc": "accuracy", "accuracy": "acc"}
KEYS = ("acc", "val_acc", "accuracy", "val_accuracy")


def _split(key: str) -> tuple[str, str]:
    return ("val_", key[4:]) if key.startswith("val_") else ("", key)


class HistoryKeyMismatch(Rule):
    """
    ## What it does
    Flags `history.history['acc']` / `['val_acc']` when the model was compiled with
    `metrics=['accuracy']`, and `['accuracy']` / `['val_accuracy']` when it was compiled with
    `metrics=['acc']`: `history` is the value `fit` returned for that model (also
    `model.fit(...).history[...]` and `model.history.history[...]`), and the model's only
    `compile` call before it names the metric with a string literal. Not flagged: a model with
    several losses (multi-output: its keys carry the output names).

    ## Why is this bad
    History's keys are the metric names as compiled: `metrics=['accuracy']` gives `accuracy`
    and `val_accuracy`, `metrics=['acc']` gives `acc` and `val_acc` (measured on Keras 3 and
    tf_keras). Keras 2.0-2.2 and tf.keras in TF 1.x reported `acc` for `metrics=['accuracy']`;
    since Keras 2.3 and TF 2.0 the key follows the compiled name, so code from those tutorials
    raises `KeyError: 'acc'`, after the whole training run, when it plots or prints the curve.

    ## Example
    ```python
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, validation_split=0.2, epochs=20)
    plt.plot(history.history["acc"])
    ```
    Use instead:
    ```python
    plt.plot(history.history["accuracy"])
    ```

    ## Fix
    Replace the key with the compiled name (safe: the compile call is known and has a single
    loss, so the key is exactly that name).
    """

    code = "EPL109"
    name = "history-key-mismatch"
    summary = "`history.history['acc']` for a model compiled with `metrics=['accuracy']` (or the reverse): KeyError"
    claim = (
        "History's keys follow the compiled metric name: `metrics=['accuracy']` gives `accuracy`/`val_accuracy` and "
        "`metrics=['acc']` gives `acc`/`val_acc` (Keras 3 and tf_keras), so looking up the other spelling raises KeyError "
        "after training."
    )
    witness = "fit with validation_data after compile(metrics=['accuracy']) and compile(metrics=['acc']): History keys, and the other spelling's KeyError"
    fires_on = {"compiled": ("accuracy", "acc")}
    fixable = "sometimes"

    VALID = [
        # the keys as compiled (Deep Learning with Python, first edition)
        Valid(
            """
            from keras import models, layers

            model = models.Sequential([layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
            history = model.fit(x, y, epochs=20, validation_data=(xv, yv))
            acc = history.history["acc"]
            val_acc = history.history["val_acc"]
            """
        ),
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(10)])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            history = model.fit(train_ds, validation_data=val_ds, epochs=10)
            acc = history.history["accuracy"]
            """
        ),
        # the model is compiled elsewhere: the metric name is unknown
        Valid(
            """
            import keras

            def train(model, x, y):
                history = model.fit(x, y, epochs=5)
                return history.history["acc"]
            """
        ),
        # two compiles with different metrics reach the fit: unknown which one
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            if binary:
                model.compile(loss="binary_crossentropy", metrics=["accuracy"])
            else:
                model.compile(loss="mse", metrics=["acc"])
            history = model.fit(x, y)
            print(history.history["acc"])
            """
        ),
        # a metric object may be named anything
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(loss="binary_crossentropy", metrics=["accuracy", keras.metrics.BinaryAccuracy(name="acc")])
            history = model.fit(x, y)
            print(history.history["acc"])
            """
        ),
        # several outputs (a dict of losses): the keys carry the output names
        Valid(
            """
            import keras

            model = keras.Model(inputs, [out_a, out_b])
            model.compile(optimizer="adam", loss={"a": "mse", "b": "binary_crossentropy"}, metrics=["accuracy"])
            history = model.fit(x, {"a": ya, "b": yb}, epochs=3)
            print(history.history["acc"])
            """
        ),
        # not a Keras History
        Valid(
            """
            import tensorflow as tf

            history = trainer.fit(data)
            print(history.history["acc"])
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            history = model.fit(x, y, epochs=20, validation_split=0.2)
            plt.plot(history.history["acc"])
            plt.plot(history.history["val_acc"])
            """,
            line=6,
            column=26,
            also=((7, 26),),
            message_contains="KeyError",
            fixed="""
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            history = model.fit(x, y, epochs=20, validation_split=0.2)
            plt.plot(history.history["accuracy"])
            plt.plot(history.history["val_accuracy"])
            """,
        ),
        # the reverse: compiled as "acc", read as "accuracy"
        Invalid(
            """
            from keras.models import Sequential
            from keras.layers import Dense

            model = Sequential([Dense(10, activation="softmax")])
            model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["acc"])
            H = model.fit(trainX, trainY, validation_data=(testX, testY), epochs=5)
            print(H.history['val_accuracy'][-1])
            """,
            line=7,
            column=17,
            message_contains="`metrics=['acc']`",
            fixed="""
            from keras.models import Sequential
            from keras.layers import Dense

            model = Sequential([Dense(10, activation="softmax")])
            model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=["acc"])
            H = model.fit(trainX, trainY, validation_data=(testX, testY), epochs=5)
            print(H.history['val_acc'][-1])
            """,
        ),
        # the History kept on the model
        Invalid(
            """
            import keras

            model = keras.models.load_model("m.keras")
            model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
            model.fit(x, y, epochs=3)
            final = model.history.history["acc"][-1]
            """,
            line=6,
            column=31,
            message_contains="History's keys follow",
        ),
        # straight from the fit call
        Invalid(
            """
            from tensorflow import keras

            net = keras.Sequential([keras.layers.Dense(1, activation="sigmoid")])
            net.compile("adam", "binary_crossentropy", metrics=["accuracy"])
            accs = net.fit(x, y, epochs=4).history["acc"]
            """,
            line=5,
            column=40,
            message_contains="`history['accuracy']`",
        ),
        # Deep Learning with Python's `history_dict = history.history`
        Invalid(
            """
            from tensorflow import keras

            model = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
            history = model.fit(partial_x_train, partial_y_train, epochs=20, batch_size=512, validation_data=(x_val, y_val))
            history_dict = history.history
            acc = history_dict['acc']
            """,
            line=7,
            column=20,
            message_contains="raises KeyError",
            fixed="""
            from tensorflow import keras

            model = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
            history = model.fit(partial_x_train, partial_y_train, epochs=20, batch_size=512, validation_data=(x_val, y_val))
            history_dict = history.history
            acc = history_dict['accuracy']
            """,
        ),
        Invalid(
            """
            import tensorflow as tf

            def build():
                return tf.keras.Sequential([tf.keras.layers.Dense(1)])

            classifier = build()
            classifier.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
            hist = classifier.fit_generator(train_gen, steps_per_epoch=10, epochs=2)
            best = max(hist.history["val_acc"])
            """,
            line=9,
            column=25,
            message_contains="`history['val_accuracy']`",
        ),
    ]

    ANALYSES = (TrainingCalls,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)
        self.lookups: list[tuple[cst.SimpleString, str, cst.BaseExpression, Site]] = []

    def visit_Subscript(self, node: cst.Subscript) -> None:
        value = node.value
        if len(node.slice) != 1 or not isinstance(value, (cst.Attribute, cst.Name)):
            return
        index = node.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
            key = index.value.evaluated_value
            if key in KEYS:
                self.lookups.append((index.value, key, value, Site.of(self.ctx)))

    def finish(self) -> None:
        sem = self.ctx.semantic
        for string, key, logs, site in self.lookups:
            if isinstance(logs, cst.Name):  # `history_dict = history.history`
                b = sem.single_value(logs.value, site)
                if b is None:
                    continue
                logs, site = b.value, Site.of_binding(b)
            if not (isinstance(logs, cst.Attribute) and logs.attr.value == "history"):
                continue
            found = self._model_and_site(logs.value, site)
            if found is None:
                continue
            model, model_site = found
            compiled = self._compiled(model, model_site)
            if compiled is None:
                continue
            name, single_loss = compiled
            prefix, metric = _split(key)
            if metric == name:
                continue
            new = prefix + name
            quote = string.value[0] if string.value[:1] in "'\"" else '"'
            if not single_loss:
                continue  # several outputs: the keys carry their names (not measured: silent)
            since = " (TF 2, Keras 2.3+)" if name == "accuracy" else ""  # before, 'accuracy' was reported as 'acc'
            message = (f"`history['{key}']` raises KeyError{since}: History's keys follow `metrics=['{name}']`. "
                       f"Use `history['{new}']`.")
            fix = None
            if single_loss and string.value.startswith(("'", '"')) and not string.value.startswith(("'''", '"""')):
                fix = edits.replace(string, f"{quote}{new}{quote}", "safe", f"use the compiled key `{new}`")
            self.report(string, message, fix)

    def _model_and_site(self, owner: cst.BaseExpression, site: Site) -> Optional[tuple[cst.Name, Site]]:
        """The model name whose History is read, and where its fit (or the lookup) happens."""
        sem = self.ctx.semantic
        if isinstance(owner, cst.Name):
            fit = self._fit_call(owner, site)
            if fit is not None:
                receiver = fit.receiver
                return (receiver, fit.site) if isinstance(receiver, cst.Name) else None
            # `model.history` (the History kept on the model) is reached as Attribute below
            return None
        if isinstance(owner, cst.Call):
            fit = next((tc for tc in self.training.of(_FIT_METHODS) if tc.call is owner), None)
            if fit is not None and isinstance(fit.receiver, cst.Name):
                return fit.receiver, fit.site
            return None
        if isinstance(owner, cst.Attribute) and owner.attr.value == "history" and isinstance(owner.value, cst.Name):
            if sem.model_provenance(owner.value, site.scope, site=site) is True:
                return owner.value, site
        return None

    def _fit_call(self, name: cst.Name, site: Site) -> Optional[TrainingCall]:
        b = self.ctx.semantic.single_value(name.value, site)
        if b is None or not isinstance(b.value, cst.Call):
            return None
        return next((tc for tc in self.training.of(_FIT_METHODS) if tc.call is b.value), None)

    def _compiled(self, model: cst.Name, site: Site) -> Optional[tuple[str, bool]]:
        """The accuracy metric's compiled spelling ("acc"/"accuracy") of the model `model` names
        at `site`, and whether it has a single loss; None unless every compile reaching it agrees."""
        sem = self.ctx.semantic
        if sem.model_provenance(model, site.scope, site=site) is not True:
            return None
        bindings = {id(b) for b in sem.reaching_at(model.value, site)}
        if not bindings:
            return None
        names: set = set()
        single = True
        seen = 0
        for tc in self.training.compiles:
            receiver = tc.receiver
            if not (isinstance(receiver, cst.Name) and receiver.value == model.value and tc.site.scope is site.scope):
                continue
            if tc.site.seq > site.seq or {id(b) for b in sem.reaching_at(model.value, tc.site)} != bindings:
                continue
            seen += 1
            if any(a.star for a in tc.call.args):
                return None
            metrics = next((a.value for a in tc.call.args if a.keyword is not None and a.keyword.value == "metrics"), None)
            if not isinstance(metrics, (cst.List, cst.Tuple)):
                return None
            spelled = []
            for el in metrics.elements:
                if not isinstance(el.value, cst.SimpleString):
                    return None  # a metric object may carry any name
                spelled.append(el.value.evaluated_value)
            family = {s for s in spelled if s in _OTHER}
            if len(family) != 1:
                return None
            names |= family
            loss = next((a.value for a in tc.call.args if a.keyword is not None and a.keyword.value == "loss"), None)
            if isinstance(loss, (cst.Dict, cst.List, cst.Tuple)):
                single = False
        if seen == 0 or len(names) != 1:
            return None
        return names.pop(), single
