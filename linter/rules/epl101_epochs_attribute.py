"""EPL101 epochs-attribute: `model.epochs = N` does not set the number of epochs."""
from __future__ import annotations

import libcst as cst

from linter.analysis.calls import find_argument
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site


class EpochsAttribute(Rule):
    """
    ## What it does
    Flags `model.epochs = N` (also annotated or augmented assignments) and
    `setattr(model, "epochs", N)` when `model` is known to be a Keras model.

    ## Why is this bad
    Keras never reads a model attribute called `epochs`. `fit()` trains for its own `epochs`
    argument, which defaults to 1, so the assignment silently does nothing: the model trains
    one epoch. The seed article's misconception ("set `epochs` on the model") is this one.

    ## Example
    ```python
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.epochs = 10
    model.fit(x, y)  # trains 1 epoch
    ```
    Use instead:
    ```python
    model.fit(x, y, epochs=10)
    ```

    ## Fix
    Pass the number to `fit(..., epochs=N)` and delete the assignment. There is no automatic
    fix: which `fit` call the number belongs to is a decision for the author.
    """

    code = "EPL101"
    name = "epochs-attribute"
    summary = "`model.epochs = N` is ignored; fit() runs its own `epochs` (default 1)"
    claim = (
        "Setting an `epochs` attribute on a Keras model is ignored: fit() runs its own `epochs` "
        "argument, default 1 (Keras 2 and 3). Measured: `model.epochs = 10; model.fit(x, y)` ran 1 epoch."
    )
    witness = "History has 1 epoch after `model.epochs = 10; model.fit(x, y)`"
    fires_on = {"assignment": ("attribute", "setattr")}

    VALID = [
        # a callback, a config object, gensim: not Keras models
        Valid(
            """
            import keras

            class Progress(keras.callbacks.Callback):
                def __init__(self, epochs):
                    super().__init__()
                    self.epochs = epochs
            """
        ),
        Valid(
            """
            import keras
            from gensim.models import Word2Vec

            model = Word2Vec(sentences)
            model.epochs = 5
            """
        ),
        Valid(
            """
            import tensorflow as tf

            class Config:
                pass

            cfg = Config()
            cfg.epochs = 10
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(x, y, epochs=cfg.epochs)
            """
        ),
        # a subclassed model keeping its own hyper-parameter for its own loop
        Valid(
            """
            import keras

            class Trainer(keras.Model):
                def __init__(self, epochs):
                    super().__init__()
                    self.epochs = epochs
            """
        ),
        # unknown receiver: silent unless --strict
        Valid(
            """
            import keras

            def configure(model):
                model.epochs = 10
            """
        ),
        Valid(
            """
            import keras
            model = keras.Sequential()
            n = model.epochs
            setattr(model, "name_", "x")
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            inputs = tf.keras.Input(shape=(10,))
            outputs = tf.keras.layers.Dense(1)(inputs)
            model = tf.keras.Model(inputs=inputs, outputs=outputs)
            model.compile(optimizer="adam", loss="mse")
            model.epochs = 10
            model.fit(x, y)
            """,
            line=7,
            column=1,
            message_contains="default 1",
        ),
        Invalid(
            """
            from keras.models import Sequential
            model = Sequential()
            setattr(model, "epochs", 10)
            """,
            line=3,
            column=1,
            message_contains="`model.epochs` is ignored by Keras",
        ),
        Invalid(
            """
            import keras

            def build():
                return keras.Sequential([keras.layers.Dense(1)])

            net = build()
            net.epochs: int = 3
            """,
            line=7,
            column=1,
            message_contains="`net.epochs` is ignored by Keras",
        ),
        Invalid(
            """
            from tensorflow import keras

            class StopAt(keras.callbacks.Callback):
                def on_train_begin(self, logs=None):
                    self.model.epochs = 20
            """,
            line=5,
            column=9,
            message_contains="`self.model.epochs` is ignored by Keras",
        ),
        Invalid(
            """
            import keras

            def configure(model):
                model.epochs = 10
            """,
            line=4,
            column=5,
            message_contains="`model.epochs` is ignored by Keras",
            strict=True,
        ),
    ]

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list[tuple[cst.CSTNode, cst.BaseExpression, cst.BaseExpression, object]] = []
        self.fit_epochs = False

    def _target(self, stmt: cst.CSTNode, target: cst.BaseExpression, value) -> None:
        if isinstance(target, cst.Attribute) and target.attr.value == "epochs":
            self.candidates.append((stmt, target.value, value, Site.of(self.ctx)))

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._target(node, t.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node, node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node, node.target, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if self.method_name(node) == "fit" and find_argument(node, "epochs")[0] is not None:
            self.fit_epochs = True
        if (
            isinstance(node.func, cst.Name)
            and node.func.value == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1].value, cst.SimpleString)
            and node.args[1].value.evaluated_value == "epochs"
        ):
            self.candidates.append((node, node.args[0].value, node.args[2].value, Site.of(self.ctx)))

    def finish(self) -> None:
        sem = self.ctx.semantic
        code = self.ctx.module.code_for_node
        for stmt, receiver, value, site in self.candidates:
            scope = site.scope
            if isinstance(stmt, cst.Call) and sem.qualified_name(stmt.func, scope) != "builtins.setattr":
                continue
            if isinstance(receiver, cst.Name) and sem.is_self_param(receiver.value, scope):
                continue  # a model class keeping its own attribute
            if not sem.is_keras_model(receiver, scope, self.ctx.strict, site):
                continue
            n = code(value).strip() if value is not None else "N"
            if self.fit_epochs:  # the script's fit() already passes epochs=: no advice to pass it
                message = f"`{code(receiver).strip()}.epochs` is ignored by Keras: only fit()'s `epochs=` sets the epochs."
            else:
                message = (
                    f"`{code(receiver).strip()}.epochs` is ignored by Keras: fit() trains its own `epochs` (default 1). "
                    f"Pass `fit(..., epochs={n})`."
                )
            self.report(stmt, message)
