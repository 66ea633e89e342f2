"""EPL209 regularization-ignored: a custom loop drops the model's regularization losses."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.losses import LossShapes
from linter.analysis.model_contents import Contents, ModelContents
from linter.analysis.tape import GradientCall, gradient_call, gradient_model, is_tape
from linter.rules.base import Invalid, Rule, Valid


class RegularizationIgnored(Rule):
    """
    ## What it does
    Flags `tape.gradient(loss, model.trainable_variables)` in a custom training loop when the
    model is known (from the same module) to have regularization, `kernel_regularizer=`,
    `bias_regularizer=`, `activity_regularizer=` (and the other `*_regularizer=` arguments),
    an `ActivityRegularization` layer, `add_loss()` or `add_weight(regularizer=...)`, and the loss
    never adds `model.losses` (`tf.add_n(model.losses)`, `sum(model.losses)`, `self.losses`).
    Losses built by calls the linter cannot follow (`self.compute_loss(...)`, a helper from
    another module) are given the benefit of the doubt.

    ## Why is this bad
    Regularizers do not act on their own: each layer only records a penalty in `model.losses`,
    and `fit()` adds them to the loss. A custom loop that differentiates only the data loss
    silently trains without weight decay / activity penalties, so the model that was designed
    with regularization is not the one being trained.

    ## Example
    ```python
    model = keras.Sequential([layers.Dense(64, kernel_regularizer=keras.regularizers.l2(1e-4)), layers.Dense(1)])
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    ```
    Use instead:
    ```python
        loss = loss_fn(y, model(x, training=True)) + tf.add_n(model.losses)
    ```

    ## Fix
    Add the regularization losses to the loss before taking the gradient:
    `loss += tf.add_n(model.losses)` (or `sum(model.losses)`; under a distribution strategy
    `tf.nn.scale_regularization_loss(tf.add_n(model.losses))`). No automatic fix: where the
    penalty belongs in a multi-part loss is the author's decision.
    """

    code = "EPL209"
    name = "regularization-ignored"
    summary = "a custom loop never adds model.losses: the model's regularization penalties are dropped"
    witness = "weight norm after the custom loop differs from fit() with the same seed; for each kind of penalty, Keras's own loss == MSE + sum(model.losses) > MSE"
    claim = (
        "`fit()` adds `model.losses` (`kernel_`/`bias_`/`activity_regularizer=`, `ActivityRegularization`, `add_loss`, "
        "`add_weight(regularizer=)`) to the loss; a custom loop whose loss never adds them silently trains without "
        "regularization (Keras 2 and 3)."
    )
    fires_on = {"penalty": ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "ActivityRegularization layer", "add_loss", "add_weight(regularizer=)")}

    VALID = [
        # the custom loop adds tf.add_n(model.losses)
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([
                tf.keras.layers.Dense(64, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(1e-4)),
                tf.keras.layers.Dense(1),
            ])
            loss_fn = tf.keras.losses.MeanSquaredError()

            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
                loss += tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1, kernel_regularizer="l2")])
            loss_fn = keras.losses.MeanSquaredError()

            def step(x, y):
                with tf.GradientTape() as tape:
                    data_loss = loss_fn(y, model(x))
                    total = data_loss + sum(model.losses)
                return tape.gradient(total, model.trainable_variables)
            """
        ),
        # fit() adds the penalties itself
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1, kernel_regularizer=keras.regularizers.l1(0.01))])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=5)
            """
        ),
        # no regularizer: nothing to add
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(64), tf.keras.layers.Dense(1)])
            loss_fn = tf.keras.losses.MeanSquaredError()
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x))
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        # a loss the linter cannot follow (Keras' compute_loss adds self.losses)
        Valid(
            """
            import keras
            import tensorflow as tf

            class Net(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.dense = keras.layers.Dense(1, kernel_regularizer="l2")

                def call(self, x):
                    return self.dense(x)

                def train_step(self, data):
                    x, y = data
                    with tf.GradientTape() as tape:
                        y_pred = self(x, training=True)
                        loss = self.compute_loss(y=y, y_pred=y_pred)
                    grads = tape.gradient(loss, self.trainable_variables)
                    return {}
            """
        ),
        # kernel_regularizer=None is no regularizer
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1, kernel_regularizer=None)])
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.keras.losses.mse(y, model(x)))
            grads = tape.gradient(loss, model.trainable_variables)
            """
        ),
        # the module-level `model` bound where `train_step` is called has no regularization
        # (the regularized model bound later is trained by fit(), which adds its penalties)
        Valid(
            """
            import tensorflow as tf
            from tensorflow.keras import layers, regularizers

            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.keras.losses.mse(y, model(x, training=True)))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))

            model = tf.keras.Sequential([layers.Dense(1)])
            for x, y in ds:
                train_step(x, y)

            model = tf.keras.Sequential([layers.Dense(1, kernel_regularizer=regularizers.l2(0.01))])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x_train, y_train, epochs=5)
            """
        ),
    ]
    INVALID = [
        # ... but a step called once the regularized model is bound trains it without its penalties
        Invalid(
            """
            import tensorflow as tf
            from tensorflow.keras import layers, regularizers

            def step(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.keras.losses.mean_absolute_error(y, net(x)))
                return tape.gradient(loss, net.trainable_variables)

            net = tf.keras.Sequential([layers.Dense(4, activity_regularizer=regularizers.l1(1e-3))])
            for batch in batches:
                step(*batch)
            """,
            line=7,
            column=12,
            message_contains="never adds `net.losses`",
        ),
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([
                tf.keras.layers.Dense(64, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(1e-4)),
                tf.keras.layers.Dense(1),
            ])
            loss_fn = tf.keras.losses.MeanSquaredError()

            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            """,
            line=11,
            column=9,
            message_contains="kernel_regularizer",
        ),
        # functional model; loss reduced with tf.reduce_mean
        Invalid(
            """
            import keras
            import tensorflow as tf
            from keras import layers, regularizers

            inputs = keras.Input(shape=(16,))
            x = layers.Dense(32, activation="relu", activity_regularizer=regularizers.l1(1e-5))(inputs)
            outputs = layers.Dense(1)(x)
            model = keras.Model(inputs, outputs)

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(keras.losses.mean_squared_error(y, model(x, training=True)))
                grads = tape.gradient(loss, model.trainable_variables)
                return loss
            """,
            line=14,
            column=13,
            message_contains="`loss` never adds `model.losses` (Dense(activity_regularizer=...))",
        ),
        # a subclassed model with add_loss, its train_step ignores self.losses
        Invalid(
            """
            import keras
            import tensorflow as tf

            class Autoencoder(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.encoder = keras.layers.Dense(8)
                    self.decoder = keras.layers.Dense(32)

                def call(self, x):
                    code = self.encoder(x)
                    self.add_loss(1e-3 * tf.reduce_sum(tf.abs(code)))
                    return self.decoder(code)

                def train_step(self, data):
                    with tf.GradientTape() as tape:
                        reconstruction = self(data, training=True)
                        loss = tf.reduce_mean(keras.losses.mse(data, reconstruction))
                    grads = tape.gradient(loss, self.trainable_variables)
                    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
                    return {"loss": loss}
            """,
            line=19,
            column=17,
            message_contains="add_loss",
        ),
    ]

    ANALYSES = (LossShapes, ModelContents)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list[GradientCall] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if func.__class__ is cst.Attribute and func.attr.value == "gradient":  # cheap test first: most calls
            g = gradient_call(node, self.ctx)
            if g is not None and g.target is not None and g.sources is not None:
                self.candidates.append(g)

    def finish(self) -> None:
        if not self.candidates:
            return
        sem = self.ctx.semantic
        shapes = self.analysis(LossShapes)
        contents = self.analysis(ModelContents)
        code = self.ctx.module.code_for_node
        for g in self.candidates:
            if not is_tape(g.tape, g.site, sem):
                continue
            found = gradient_model(g.sources, g.site, sem)
            if found is None:
                continue
            model_expr, model_site = found
            regularized = self._regularization(model_expr, model_site, contents)
            if not regularized:
                continue
            terms = shapes.terms(g.target, g.site)
            if not terms.has_loss or terms.adds_model_losses or terms.unknown:
                continue
            model = code(model_expr).strip()
            target = code(g.target).strip() if isinstance(g.target, cst.Name) else "loss"
            shown = ", ".join(regularized[:3]) + (", ..." if len(regularized) > 3 else "")
            self.report(
                g.call,
                f"`{code(g.target).strip()}` never adds `{model}.losses` ({shown}): the regularization is silently "
                f"dropped.",
            )

    def _regularization(self, model_expr: cst.BaseExpression, site, contents: ModelContents) -> Optional[list]:
        sem = self.ctx.semantic
        is_self = isinstance(model_expr, cst.Name) and sem.is_self_param(model_expr.value, site.scope)
        if not is_self and sem.model_provenance(model_expr, site.scope, site=site) is not True:
            return None
        found: Optional[Contents] = contents.of_callee(model_expr, site)
        return found.regularizers if found is not None else None
