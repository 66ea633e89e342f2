"""EPL201 unreduced-loss: a per-sample loss vector reaches `tape.gradient` without a reduction."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.losses import PER_SAMPLE, LossShapes, Shape
from linter.analysis.tape import GradientCall, gradient_call, is_tape, trains_weights, watched_name
from linter import edits
from linter.rules.base import Invalid, Rule, Valid


class UnreducedLoss(Rule):
    """
    ## What it does
    Flags `tape.gradient(loss, ...)` on a `tf.GradientTape` when `loss` holds one loss value per
    sample: the result of a per-sample loss function (`keras.losses.mean_squared_error`,
    `tf.keras.losses.MSE`/`mse`/`mae`, `*_crossentropy`, `huber`, `tf.nn.*_cross_entropy_with_logits`,
    `keras.ops.binary_crossentropy`, ...) or of a loss object built with `reduction=None`/`"none"`,
    with no reduction (`tf.reduce_mean`/`reduce_sum`, `keras.ops.mean`/`sum`,
    `tf.nn.compute_average_loss`, a default-reduction loss object) on the way. The value is
    followed through the function's assignments (`loss = mse(...); loss = tf.reduce_mean(loss)`
    is fine). Only gradients with respect to weights count (`model.trainable_variables`,
    `tf.Variable`s): per-example gradients of watched inputs (adversarial examples, saliency
    maps) are meant to be summed; with unknown sources the rule fires only under `--strict`.

    ## Why is this bad
    The functions in `keras.losses` named in lower case return a vector of shape `(batch,)`;
    only the loss *classes* (`keras.losses.MeanSquaredError()`) reduce by default. The gradient
    of a vector is the gradient of its **sum**: it grows with the batch size, so SGD's effective
    learning rate is multiplied by the batch size (Adam is nearly invariant to the scale), and a
    printed "loss" is the last batch's vector, not a number. The seed article's custom loops
    (Examples 2 and 3) do exactly this.

    ## Example
    ```python
    with tf.GradientTape() as tape:
        predictions = model(x_batch)
        loss = tf.keras.losses.MSE(y_batch, predictions)  # shape (batch,)
    gradients = tape.gradient(loss, model.trainable_variables)
    ```
    Use instead:
    ```python
        loss = tf.reduce_mean(tf.keras.losses.MSE(y_batch, predictions))
    ```

    ## Fix
    Reduce the loss to a scalar before the gradient: `tf.reduce_mean(...)`, `keras.ops.mean(...)`,
    or `tf.nn.compute_average_loss(...)` under a distribution strategy; or use a loss object
    (`keras.losses.MeanSquaredError()`), which reduces by default. The automatic fix wraps the
    loss in `tf.reduce_mean(...)` (or `keras.ops.mean(...)` in a module that imports `keras` but
    not TensorFlow). It is unsafe: it changes the size of every step (by 1 / batch size), so
    the learning rate may need retuning; it is applied only with `--unsafe-fixes`.
    """

    code = "EPL201"
    name = "unreduced-loss"
    summary = "a per-sample loss vector reaches tape.gradient unreduced: the gradient is that of its sum"
    claim = (
        "The gradient of a per-sample (unreduced) loss vector is the gradient of its SUM: it grows with "
        "the batch size (SGD's effective learning rate x batch size; Adam nearly invariant), and a printed "
        "\"loss\" is a vector of the last batch. Measured: SGD(0.01) gave eval MSE 0.022 unreduced vs 0.059 "
        "reduced after 10 epochs."
    )
    witness = "gradient-norm ratio unreduced / reduced == batch size (rel. tol 1e-3); the loss has shape (batch,)"
    fires_on = {"loss": ("loss function", "loss object with reduction=None")}
    fixable = "unsafe"

    VALID = [
        # reduced before the gradient, in every spelling
        Valid(
            """
            import tensorflow as tf

            with tf.GradientTape() as tape:
                predictions = model(x)
                loss = tf.reduce_mean(tf.keras.losses.MSE(y, predictions))
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = tf.keras.losses.mse(y, model(x))
                loss = tf.reduce_mean(loss)
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        Valid(
            """
            import keras
            import tensorflow as tf
            from keras import ops

            def step(x, y):
                with tf.GradientTape() as tape:
                    loss = ops.mean(keras.losses.binary_crossentropy(y, model(x)))
                return tape.gradient(loss, model.trainable_variables)
            """
        ),
        # a loss object reduces by default
        Valid(
            """
            import tensorflow as tf

            loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    logits = model(x, training=True)
                    loss = loss_fn(y, logits)
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return loss
            """
        ),
        # distribution strategy: per-example loss averaged over the global batch
        Valid(
            """
            import tensorflow as tf

            loss_object = tf.keras.losses.SparseCategoricalCrossentropy(reduction=tf.keras.losses.Reduction.NONE)

            def compute_loss(labels, predictions):
                per_example_loss = loss_object(labels, predictions)
                return tf.nn.compute_average_loss(per_example_loss, global_batch_size=64)

            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = compute_loss(y, model(x, training=True))
                return tape.gradient(loss, model.trainable_variables)
            """
        ),
        # a reduced loss plus the regularization losses (tf.add_n(model.losses))
        Valid(
            """
            import tensorflow as tf

            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
                loss += tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        # not a GradientTape: an unknown object with a `gradient` method
        Valid(
            """
            import tensorflow as tf

            loss = tf.keras.losses.MSE(y, p)
            g = solver.gradient(loss, params)
            """
        ),
        # the loss reaching the gradient is reduced in one branch only: unknown, silent
        Valid(
            """
            import tensorflow as tf

            with tf.GradientTape() as tape:
                if mean:
                    loss = tf.reduce_mean(tf.keras.losses.MSE(y, model(x)))
                else:
                    loss = tf.reduce_sum(tf.keras.losses.MSE(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        # a 1-D prediction: MSE over the last axis already gives a scalar
        Valid(
            """
            import tensorflow as tf

            with tf.GradientTape() as tape:
                pred = tf.squeeze(model(x), axis=-1)
                loss = tf.keras.losses.MSE(y, pred)
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        # rank-1 inputs (a DQN's chosen Q-values): the loss function already returns the batch mean
        Valid(
            """
            import tensorflow as tf
            from tensorflow import keras
            with tf.GradientTape() as tape:
                q = tf.reduce_sum(model(s) * tf.one_hot(a, n), axis=-1)
                loss = keras.losses.mean_squared_error(target, q)
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        # inputs of unknown rank: silent in default mode
        Valid(
            """
            import tensorflow as tf
            def step(y, p):
                with tf.GradientTape() as tape:
                    loss = tf.keras.losses.MSE(y, p)
                return tape.gradient(loss, model.trainable_variables)
            """
        ),
    ]
    INVALID = [
        # the rank-2 value reaches the loss function through a helper's parameter (DCGAN)
        Invalid(
            """
            import tensorflow as tf

            discriminator = tf.keras.Sequential([tf.keras.layers.Dense(1)])

            def generator_loss(fake_output):
                return tf.keras.losses.binary_crossentropy(tf.ones_like(fake_output), fake_output, from_logits=True)

            @tf.function
            def train_step(noise):
                with tf.GradientTape() as gen_tape:
                    fake_output = discriminator(generator(noise, training=True), training=True)
                    gen_loss = generator_loss(fake_output)
                gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
                gen_optimizer.apply_gradients(zip(gen_grads, generator.trainable_variables))
            """,
            message_contains="`gen_loss` is a per-sample loss vector",
            line=13,
            column=17,
        ),
        # inputs of unknown rank: --strict assumes the usual (batch, d) shapes
        Invalid(
            """
            import tensorflow as tf
            def step(y, p):
                with tf.GradientTape() as tape:
                    loss = tf.keras.losses.MSE(y, p)
                return tape.gradient(loss, model.trainable_variables)
            """,
            line=5,
            column=12,
            message_contains="per-sample loss vector",
            strict=True,
        ),
        # the seed article's Example 2 (eager loop)
        Invalid(
            """
            import tensorflow as tf

            for epoch in range(epochs):
                for batch in range(0, len(X_train), batch_size):
                    with tf.GradientTape() as tape:
                        predictions = model(X_batch)
                        loss = tf.keras.losses.MSE(y_batch, predictions)
                    gradients = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            """,
            line=8,
            column=21,
            message_contains="grows with the batch size",
            fixed="""
            import tensorflow as tf

            for epoch in range(epochs):
                for batch in range(0, len(X_train), batch_size):
                    with tf.GradientTape() as tape:
                        predictions = model(X_batch)
                        loss = tf.reduce_mean(tf.keras.losses.MSE(y_batch, predictions))
                    gradients = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            """,
            unsafe=True,
        ),
        # the seed article's Example 3 (tf.function step)
        Invalid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(X_batch, y_batch):
              with tf.GradientTape() as tape:
                predictions = model(X_batch)
                loss = tf.keras.losses.MSE(y_batch, predictions)
              gradients = tape.gradient(loss, model.trainable_variables)
              optimizer.apply_gradients(zip(gradients, model.trainable_variables))
              return loss
            """,
            line=8,
            column=15,
            message_contains="`loss` is a per-sample loss vector (from `tf.keras.losses.MSE(...)`)",
        ),
        # multi-backend spelling; the fix uses keras.ops when TensorFlow is not imported
        Invalid(
            """
            import keras
            import tensorflow

            def step(x, y):
                with tensorflow.GradientTape(persistent=True) as tape:
                    loss = keras.losses.mean_squared_error(y, model(x))
                return tape.gradient(loss, model.trainable_variables)
            """,
            line=7,
            column=12,
            message_contains="`loss` is a per-sample loss vector (from `keras.losses.mean_squared_error(...)`)",
        ),
        Invalid(
            """
            import keras
            from tensorflow import GradientTape

            def step(x, y):
                with GradientTape() as tape:
                    loss = keras.losses.mean_squared_error(y, model(x))
                return tape.gradient(loss, model.trainable_variables)
            """,
            line=7,
            column=12,
            message_contains="`loss` is a per-sample loss vector (from `keras.losses.mean_squared_error(...)`)",
            fixed="""
            import keras
            from tensorflow import GradientTape

            def step(x, y):
                with GradientTape() as tape:
                    loss = keras.ops.mean(keras.losses.mean_squared_error(y, model(x)))
                return tape.gradient(loss, model.trainable_variables)
            """,
            unsafe=True,
        ),
        # a loss object built with reduction="none", and an augmented assignment
        Invalid(
            """
            import tensorflow as tf
            from tensorflow.keras.losses import BinaryCrossentropy

            bce = BinaryCrossentropy(from_logits=True, reduction="none")
            with tf.GradientTape() as tape:
                loss = bce(y, model(x))
                loss += 0.1 * penalty
            grads = tape.gradient(loss, model.trainable_variables)
            """,
            line=8,
            column=9,
            message_contains="`loss` is a per-sample loss vector (from `BinaryCrossentropy(reduction=None)`)",
            fixed="""
            import tensorflow as tf
            from tensorflow.keras.losses import BinaryCrossentropy

            bce = BinaryCrossentropy(from_logits=True, reduction="none")
            with tf.GradientTape() as tape:
                loss = bce(y, model(x))
                loss += 0.1 * penalty
            grads = tape.gradient(tf.reduce_mean(loss), model.trainable_variables)
            """,
            unsafe=True,
        ),
        # `from ... import` spelling, the loss passed inline, a second tape
        Invalid(
            """
            import tensorflow as tf
            from tensorflow.keras.losses import sparse_categorical_crossentropy as scce

            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                logits = model(x)
            grads = disc_tape.gradient(scce(y, logits, from_logits=True), model.trainable_variables)
            """,
            line=6,
            column=9,
            message_contains="`scce(y, logits, from_logits=True)` is a per-sample loss vector (from `scce(...)`)",
        ),
        # tf.nn per-example cross-entropy, plus a reduced regularization term: still a vector
        Invalid(
            """
            import tensorflow as tf

            tape = tf.GradientTape()
            with tape:
                logits = model(x)
                xent = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
                loss = xent + tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            """,
            line=8,
            column=9,
            message_contains="`loss` is a per-sample loss vector",
        ),
    ]

    ANALYSES = (LossShapes,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list[GradientCall] = []
        self.watched: dict[int, set] = {}  # frame -> names passed to `tape.watch`

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if func.__class__ is not cst.Attribute:  # cheap test first: most calls
            return
        method = func.attr.value
        if method == "gradient":
            g = gradient_call(node, self.ctx)
            if g is not None and g.target is not None:
                self.candidates.append(g)
        elif method == "watch":
            name = watched_name(node)
            if name is not None:
                self.watched.setdefault(id(self.ctx.scope.function()), set()).add(name)

    def finish(self) -> None:
        if not self.candidates:
            return
        sem = self.ctx.semantic
        code = self.ctx.module.code_for_node
        steps = []
        models: set = set()  # the objects whose weights are differentiated: calling them gives rank >= 2
        for g in self.candidates:
            if not is_tape(g.tape, g.site, sem):
                continue
            watched = frozenset(self.watched.get(id(g.site.scope.function()), ()))
            training = trains_weights(g.sources, g.site, sem, watched, models)
            if training is False or (training is None and not self.ctx.strict):
                continue  # a gradient w.r.t. inputs (saliency, adversarial examples): the sum is intended
            steps.append(g)
        shapes = self.analysis(LossShapes)
        shapes.set_models(frozenset(models - {"?"}))
        for g in steps:
            targets = [el.value for el in g.target.elements] if isinstance(g.target, (cst.List, cst.Tuple)) else [g.target]
            for target in targets:
                shape = shapes.shape(target, g.site)
                if shape.kind != PER_SAMPLE or not (shape.known or self.ctx.strict):
                    continue
                reducer = self._reducer()
                self.report(g.call, self._message(code(target).strip(), shape, reducer), self._fix(target, g, reducer))
                break

    @staticmethod
    def _describe(shape: Shape, code) -> str:
        origin = shape.origin
        if origin is not None and isinstance(origin.func, (cst.Name, cst.Attribute)) and shape.origin_name.count(".") >= 1:
            return f"`{code(origin.func).strip()}(...)`"
        return f"`{shape.origin_name}`"

    def _message(self, target: str, shape: Shape, reducer: Optional[str]) -> str:
        what = self._describe(shape, self.ctx.module.code_for_node)
        how = f"`{reducer}(...)`" if reducer else "`tf.reduce_mean(...)` / `keras.ops.mean(...)`"
        return (
            f"`{target}` is a per-sample loss vector (from {what}): its gradient grows with the batch size. "
            f"Use {how}."
        )

    def _reducer(self) -> Optional[str]:
        """`tf.reduce_mean` spelled with the module's own TensorFlow import, else `keras.ops.mean`."""
        found: dict[str, str] = {}
        for name, bindings in self.ctx.semantic.module_scope.names.items():
            for b in bindings:
                if b.kind == "import" and b.qname in ("tensorflow", "keras", "keras.ops") and b.qname not in found:
                    found[b.qname] = name
        if "tensorflow" in found:
            return f"{found['tensorflow']}.reduce_mean"
        if "keras" in found:
            return f"{found['keras']}.ops.mean"
        if "keras.ops" in found:
            return f"{found['keras.ops']}.mean"
        return None

    def _fix(self, target: cst.BaseExpression, g: GradientCall, reducer: Optional[str]) -> Optional[edits.EditFix]:
        if reducer is None:
            return None
        node = target
        if isinstance(target, cst.Name):
            bindings = self.ctx.semantic.reaching(target.value, g.site.scope, g.site.seq, g.site.ancestors)
            if len(bindings) == 1:
                b = bindings[0]
                stmt = b.stmt
                if (
                    b.kind == "assign"
                    and isinstance(stmt, cst.Assign)
                    and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0].target, cst.Name)
                    and b.scope.function() is g.site.scope.function()
                ):
                    node = stmt.value  # reduce where the loss is computed: the returned/printed loss is fixed too
        return edits.wrap(node, reducer, "unsafe", f"wrap the loss in `{reducer}(...)`")
