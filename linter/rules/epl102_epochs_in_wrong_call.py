"""EPL102 epochs-in-wrong-call: `epochs=` given to the model constructor, compile, evaluate or predict."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter import names as N
from linter.analysis.calls import find_argument
from linter.rules.base import Invalid, Rule, Valid

METHODS = ("compile", "evaluate", "predict")

_FIT = "Pass `epochs=` to `fit()`."
_MESSAGES = {
    "Model": "`epochs=` is not a model argument: Keras 3 ignores it silently (fit() trains 1 epoch), Keras 2 raises TypeError. " + _FIT,
    "Model-no-graph": "`epochs=` is not a model argument: Keras 3 raises ValueError, Keras 2 raises TypeError. " + _FIT,
    "super": "`epochs=` passed to the Keras model base class raises an error (Keras 2 and 3). Pass it to `fit()`.",
    "Sequential": "`epochs=` is not a `Sequential` argument: Keras 2 and 3 raise TypeError. " + _FIT,
    "compile": "`compile()` has no `epochs`: Keras 2 and 3 raise TypeError. " + _FIT,
    "evaluate": "`evaluate()` has no `epochs` (one pass over the data): Keras 3 raises ValueError, Keras 2 TypeError. Drop it.",
    "predict": "`predict()` has no `epochs` (one pass over the data): Keras 2 and 3 raise TypeError. Drop it.",
}


class EpochsInWrongCall(Rule):
    """
    ## What it does
    Flags `epochs=` given to `keras.Model(...)` (also a model subclass without an `__init__` of
    its own, and `super().__init__(...)` inside a model subclass), `keras.Sequential(...)`, and to
    `compile(...)`, `evaluate(...)` or `predict(...)` of a Keras model.

    ## Why is this bad
    Only `fit()` runs epochs. Where the argument lands elsewhere, what happens depends on the call
    and the Keras version, and none of it trains for N epochs:

    - `keras.Model(inputs, outputs, epochs=10)`: Keras 3 accepts it **silently** and ignores it,
      so the next `fit()` trains 1 epoch; Keras 2 raises TypeError.
    - `keras.Sequential([...], epochs=10)`, `compile(..., epochs=10)`, `predict(..., epochs=10)`:
      TypeError in Keras 2 and 3.
    - `evaluate(..., epochs=10)`: ValueError in Keras 3, TypeError in Keras 2.

    ## Example
    ```python
    model = keras.Model(inputs, outputs, epochs=10)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y)  # 1 epoch
    ```
    Use instead:
    ```python
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=10)
    ```

    ## Fix
    Move the argument to `fit(..., epochs=N)` (drop it from `evaluate`/`predict`). There is no
    automatic fix: which `fit` call it belongs to is the author's decision.
    """

    code = "EPL102"
    name = "epochs-in-wrong-call"
    summary = "`epochs=` given to Model()/Sequential()/compile()/evaluate()/predict(): ignored or an error"
    claim = (
        "`epochs=` belongs to `fit` only. Keras 3: `keras.Model(inputs, outputs, epochs=10)` is accepted silently and "
        "ignored (`fit()` runs 1 epoch); `Sequential(..., epochs=)`, `compile(..., epochs=)` and `predict(..., epochs=)` "
        "raise TypeError; `evaluate(..., epochs=)` raises ValueError (\"Arguments not recognized\"). Keras 2 (tf_keras): all "
        "five raise TypeError (`Model`: \"Keyword argument not understood\")."
    )
    witness = "Model(..., epochs=10) accepted and fit runs 1 epoch (Keras 3); the other calls raise"
    fires_on = {"call": ("Model", "Sequential", "compile", "evaluate", "predict")}

    VALID = [
        # epochs where it belongs
        Valid(
            """
            import tensorflow as tf

            inputs = tf.keras.Input(shape=(10,))
            outputs = tf.keras.layers.Dense(1)(inputs)
            model = tf.keras.Model(inputs=inputs, outputs=outputs)
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=10)
            model.evaluate(x, y)
            """
        ),
        # scikeras wrapper: `epochs=` is its documented fit parameter
        Valid(
            """
            import keras
            from scikeras.wrappers import KerasClassifier

            def build():
                return keras.Sequential([keras.layers.Dense(2, activation="softmax")])

            clf = KerasClassifier(model=build, epochs=20, batch_size=32, loss="sparse_categorical_crossentropy")
            clf.fit(X, y)
            """
        ),
        # a non-Keras compile(): a scheduler / DSL of one's own
        Valid(
            """
            import keras

            class Plan:
                def compile(self, epochs):
                    return [None] * epochs

            plan = Plan()
            steps = plan.compile(epochs=10)
            """
        ),
        Valid(
            """
            import re
            import tensorflow as tf

            pattern = re.compile(r"epoch (\\d+)")
            """
        ),
        # a model subclass that takes `epochs` in its own __init__ (and does not forward it)
        Valid(
            """
            import keras

            class SelfTraining(keras.Model):
                def __init__(self, epochs, **kwargs):
                    super().__init__(**kwargs)
                    self.rounds = epochs

            model = SelfTraining(epochs=10)
            """
        ),
        # unknown receiver: silent unless --strict
        Valid(
            """
            import keras

            def run(model, x):
                return model.predict(x, epochs=3)
            """
        ),
        # a keras layer or optimizer is not a model
        Valid(
            """
            from tensorflow import keras

            schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=1000)
            layer = keras.layers.Dense(4)
            layer.compile = None
            """
        ),
    ]
    INVALID = [
        # the silent case: Keras 3 ignores it
        Invalid(
            """
            import keras

            inputs = keras.Input(shape=(10,))
            outputs = keras.layers.Dense(1)(inputs)
            model = keras.Model(inputs, outputs, epochs=10)
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y)
            """,
            line=5,
            column=38,
            message_contains="silently",
        ),
        Invalid(
            """
            from tensorflow.keras.models import Sequential
            from tensorflow.keras.layers import Dense

            model = Sequential([Dense(8, activation="relu"), Dense(1)], epochs=5)
            """,
            line=4,
            column=61,
            message_contains="TypeError",
        ),
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse", epochs=10)
            model.fit(x, y)
            """,
            line=4,
            column=45,
            message_contains="compile()",
        ),
        Invalid(
            """
            import tf_keras as keras

            model = keras.models.load_model("model.h5")
            score = model.evaluate(x_test, y_test, epochs=1)
            preds = model.predict(x_test, epochs=1)
            """,
            line=4,
            column=40,
            also=((5, 31),),
            message_contains="has no `epochs` (one pass over the data)",
        ),
        Invalid(
            """
            from keras import Model as M

            class Wide(M):
                pass

            model = Wide(inputs, outputs, epochs=3)
            """,
            line=6,
            column=31,
            message_contains="`epochs=` is not a model argument",
        ),
        Invalid(
            """
            import keras

            class Net(keras.Model):
                def __init__(self, epochs=10):
                    super().__init__(epochs=epochs)
            """,
            line=5,
            column=26,
            message_contains="base class",
        ),
        Invalid(
            """
            from tensorflow import keras

            class Check(keras.callbacks.Callback):
                def on_train_end(self, logs=None):
                    self.model.evaluate(self.x, self.y, epochs=1)
            """,
            line=5,
            column=45,
            message_contains="Keras 3 raises ValueError",
        ),
        Invalid(
            """
            import keras

            def run(model, x):
                return model.predict(x, epochs=3)
            """,
            line=4,
            column=29,
            message_contains="`predict()` has no `epochs` (one pass over the data)",
            strict=True,
        ),
    ]

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list[tuple[cst.Call, cst.Arg, object]] = []

    def visit_Call(self, node: cst.Call) -> None:
        arg, _ = find_argument(node, "epochs")
        if arg is not None:
            self.candidates.append((node, arg, self.ctx.scope))

    def finish(self) -> None:
        for call, arg, scope in self.candidates:
            kind = self._kind(call, scope)
            if kind is not None:
                self.report(arg, _MESSAGES[kind])

    def _kind(self, call: cst.Call, scope) -> Optional[str]:
        sem = self.ctx.semantic
        func = call.func
        q = sem.qualified_name(func, scope)
        if q == "keras.Sequential":
            return "Sequential"
        if q == "keras.Model":
            return "Model" if _has_graph_arguments(call) else "Model-no-graph"
        local = sem.local_def(func, scope)
        if isinstance(local, cst.ClassDef):
            if sem.is_model_class(local) and not self._defines_init(local):
                if sem.class_derives_from(local, frozenset({"keras.Sequential"})):
                    return "Sequential"
                return "Model" if _has_graph_arguments(call) else "Model-no-graph"
            return None
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        if method == "__init__" and _is_super_call(func.value):
            cls_scope = scope.class_scope()
            if cls_scope is not None and sem.is_model_class(cls_scope.node):
                return "super"
            return None
        if method in METHODS and sem.is_keras_model(func.value, scope, self.ctx.strict):
            return method
        return None

    def _defines_init(self, cls: cst.ClassDef, _seen: Optional[set] = None) -> bool:
        """Does the class, or a same-module base of it, define `__init__` (which may take `epochs`)?"""
        _seen = _seen if _seen is not None else set()
        if id(cls) in _seen:
            return True
        _seen.add(id(cls))
        body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__init__":
                return True
        sem = self.ctx.semantic
        outer = (sem.scope_for(cls) or sem.module_scope).parent or sem.module_scope
        for base in cls.bases:
            local = sem.local_def(base.value, outer)
            if isinstance(local, cst.ClassDef) and self._defines_init(local, _seen):
                return True
            if local is None and sem.qualified_name(base.value, outer) not in N.MODEL_CLASSES:
                return True  # a base we cannot see may define __init__
        return False


def _has_graph_arguments(call: cst.Call) -> bool:
    """`Model(inputs, outputs, ...)` builds a functional model (where Keras 3 ignores extra kwargs)."""
    if any(a.keyword is None for a in call.args):  # positional inputs/outputs, or *args/**kwargs
        return True
    return any(a.keyword is not None and a.keyword.value in ("inputs", "outputs") for a in call.args)


def _is_super_call(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "super"
