"""EPL105 initial-epoch-not-below-epochs: `fit(epochs=E, initial_epoch=I)` with I >= E trains nothing.

Also home of two helpers EPL104 uses: `fit_argument` (a fit() argument given by keyword or by
position) and `linear_form` (an integer expression as "base + offset", resolved through names
bound once to integer literals), so both rules read `epochs=` the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import dotted

# Positional index (after self) of the arguments we read, per method; the same in Keras 2 and 3.
FIT_POSITIONS: dict[str, dict[str, int]] = {
    "fit": {"epochs": 3, "initial_epoch": 11},
    "fit_generator": {"epochs": 2, "initial_epoch": 13},
}
DEFAULT_EPOCHS = 1


def fit_argument(call: cst.Call, method: str, name: str) -> tuple[Optional[cst.Arg], bool]:
    """The Arg giving `name` to `fit`/`fit_generator` (by keyword or position), and whether
    `*args`/`**kwargs` in the call might give it instead (then its value is unknown)."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg, False
    position = FIT_POSITIONS.get(method, {}).get(name)
    positional = []
    for arg in call.args:
        if arg.keyword is not None:
            continue
        if arg.star:
            return None, True
        positional.append(arg)
    if position is not None and position < len(positional):
        return positional[position], False
    return None, any(arg.star for arg in call.args)


@dataclass(frozen=True)
class Linear:
    """An integer expression as `base + offset`; `base` is None for a constant."""

    base: Optional[str]
    offset: int
    stable: bool = True  # base names are bound once (safe to substitute through another name)


_EMPTY = cst.Module(body=[])


def linear_form(expr: cst.BaseExpression, scope, sem, _depth: int = 0) -> Optional[Linear]:
    """`expr` as base + offset, or None when it is neither a constant nor a plain name/attribute/
    subscript plus or minus a constant. Names bound exactly once to such an expression are
    substituted (`EPOCHS = 10` -> 10, `start = epochs + 2` -> epochs + 2)."""
    if _depth > 8:
        return None
    if isinstance(expr, cst.Integer):
        return Linear(None, int(expr.evaluated_value))
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = linear_form(expr.expression, scope, sem, _depth + 1)
        return Linear(None, -inner.offset) if inner is not None and inner.base is None else None
    if isinstance(expr, cst.BinaryOperation):
        left = linear_form(expr.left, scope, sem, _depth + 1)
        right = linear_form(expr.right, scope, sem, _depth + 1)
        if left is None or right is None:
            return None
        op = expr.operator
        if isinstance(op, cst.Add):
            if left.base is None:
                return Linear(right.base, left.offset + right.offset, right.stable)
            if right.base is None:
                return Linear(left.base, left.offset + right.offset, left.stable)
            return None
        if isinstance(op, cst.Subtract) and right.base is None:
            return Linear(left.base, left.offset - right.offset, left.stable)
        if left.base is None and right.base is None:
            if isinstance(op, cst.Multiply):
                return Linear(None, left.offset * right.offset)
            if isinstance(op, cst.FloorDivide) and right.offset != 0:
                return Linear(None, left.offset // right.offset)
        return None
    if isinstance(expr, cst.Name):
        bindings = sem.lookup(expr.value, scope)
        if len(bindings) == 1:
            b = bindings[0]
            if b.kind in ("assign", "annassign") and isinstance(b.value, cst.BaseExpression):
                inner = linear_form(b.value, b.scope, sem, _depth + 1)
                if inner is not None and (inner.base is None or inner.stable):
                    return inner
        return Linear(expr.value, 0, stable=len(bindings) == 1)
    if isinstance(expr, cst.Attribute):
        text = dotted(expr)
        return Linear(text, 0, stable=False) if text is not None else None
    if isinstance(expr, cst.Subscript) and _pure(expr):
        return Linear("".join(_EMPTY.code_for_node(expr).split()), 0, stable=False)
    return None


def _pure(expr: cst.BaseExpression) -> bool:
    """Names, attributes and subscripts with literal or name indices: no calls, no side effects."""
    if isinstance(expr, (cst.Name, cst.Integer, cst.SimpleString)):
        return True
    if isinstance(expr, cst.Attribute):
        return _pure(expr.value)
    if isinstance(expr, cst.Subscript):
        return _pure(expr.value) and all(
            isinstance(el.slice, cst.Index) and _pure(el.slice.value) for el in expr.slice
        )
    return False


class InitialEpochNotBelowEpochs(Rule):
    """
    ## What it does
    Flags `fit(..., epochs=E, initial_epoch=I)` on a Keras model when I >= E can be proven from
    the code: integer literals (or names bound once to them), the same name or expression on
    both sides, or `initial_epoch=E + k`. A missing `epochs=` counts as its default, 1.

    ## Why is this bad
    `epochs` is the index of the epoch to stop at, not the number of epochs to run: fit() runs
    the epochs `initial_epoch, ..., epochs - 1`. With I >= E it runs none: the History is empty,
    the weights do not change, and nothing warns you. A common slip when resuming training
    ("train 5 more epochs": `fit(initial_epoch=10, epochs=5)`). Keras 2 and 3 behave the same.

    ## Example
    ```python
    model.fit(x, y, initial_epoch=10, epochs=5)  # trains nothing
    ```
    Use instead:
    ```python
    model.fit(x, y, initial_epoch=10, epochs=10 + 5)  # epochs 10..14
    ```

    ## Fix
    Pass `epochs=initial_epoch + N` to train N more epochs. No automatic fix: N is the author's.
    """

    code = "EPL105"
    name = "initial-epoch-not-below-epochs"
    summary = "`fit(epochs=E, initial_epoch=I)` with I >= E trains nothing: `epochs` is the last epoch index"
    claim = (
        "`epochs` is the index of the last epoch, not a count: `fit(epochs=E, initial_epoch=I)` runs E - I epochs, "
        "and I >= E trains nothing (empty History, weights unchanged). Keras 2 and 3 alike. "
        "Measured: `epochs=5, initial_epoch=5` -> 0 epochs."
    )
    witness = "fit(epochs=5, initial_epoch=5) runs 0 epochs and leaves the weights unchanged"

    VALID = [
        # resuming correctly: epochs is the stop index
        Valid(
            """
            import keras

            model = keras.models.load_model("ckpt.keras")
            model.fit(x, y, initial_epoch=10, epochs=15)
            """
        ),
        # the epoch-loop idiom: one epoch per call
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            for epoch in range(20):
                model.fit(x, y, initial_epoch=epoch, epochs=epoch + 1)
            """
        ),
        # not provable: two different names
        Valid(
            """
            import keras

            def resume(path, start, total):
                model = keras.models.load_model(path)
                model.fit(x, y, initial_epoch=start, epochs=total)
            """
        ),
        # a name bound twice is not a constant
        Valid(
            """
            import keras

            model = keras.Sequential()
            start = 5
            if resume:
                start = 0
            model.fit(x, y, initial_epoch=start, epochs=5)
            """
        ),
        # not a Keras model
        Valid(
            """
            import keras
            from mylib import Trainer

            Trainer().fit(x, y, initial_epoch=5, epochs=5)
            """
        ),
        # epochs may come from **kwargs
        Valid(
            """
            import keras

            model = keras.Sequential()
            model.fit(x, y, initial_epoch=3, **fit_kwargs)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.models.load_model("ckpt.keras")
            model.fit(x, y, initial_epoch=10, epochs=5)  # "5 more epochs"
            """,
            line=4,
            column=17,
            message_contains="trains nothing",
        ),
        # same name on both sides
        Invalid(
            """
            import keras

            def resume(model_path, x, y, done):
                model = keras.saving.load_model(model_path)
                return model.fit(x, y, epochs=done, initial_epoch=done)
            """,
            line=5,
            column=41,
            message_contains="`initial_epoch=done` is not below `epochs=done`",
        ),
        # initial_epoch = E + k
        Invalid(
            """
            from keras.models import Sequential

            EPOCHS = 20
            model = Sequential()
            model.fit(x, y, epochs=EPOCHS, initial_epoch=EPOCHS + 1)
            """,
            line=5,
            column=32,
            message_contains="`initial_epoch=EPOCHS + 1` is not below `epochs=EPOCHS`",
        ),
        # names bound once to integer literals
        Invalid(
            """
            import tf_keras

            START = 8
            TOTAL = 8
            model = tf_keras.Sequential()
            model.fit(x, y, initial_epoch=START, epochs=TOTAL)
            """,
            line=6,
            column=17,
            message_contains="`initial_epoch=START` is not below `epochs=TOTAL`",
        ),
        # a name bound once to `E + k`
        Invalid(
            """
            import keras

            epochs = 10
            resume_from = epochs + 2
            model = keras.Sequential()
            model.fit(x, y, epochs=epochs, initial_epoch=resume_from)
            """,
            line=6,
            column=32,
            message_contains="`initial_epoch=resume_from` is not below `epochs=epochs`",
        ),
        # epochs omitted: it defaults to 1
        Invalid(
            """
            import keras

            model = keras.Sequential()
            model.fit(x, y, initial_epoch=3)
            """,
            line=4,
            column=17,
            message_contains="default",
        ),
        # epochs given by position (x, y, batch_size, epochs)
        Invalid(
            """
            import keras

            model = keras.Sequential()
            model.fit(x, y, 32, 5, initial_epoch=7)
            """,
            line=4,
            column=24,
            message_contains="`initial_epoch=7` is not below `epochs=5`",
        ),
        Invalid(
            """
            from tensorflow import keras

            class Resume(keras.callbacks.Callback):
                def on_train_end(self, logs=None):
                    self.model.fit(self.x, self.y, epochs=self.params["epochs"], initial_epoch=self.params["epochs"])
            """,
            line=5,
            column=70,
            message_contains='`initial_epoch=self.params["epochs"]` is not below `epochs=self.params["epochs"]`',
        ),
    ]

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list[tuple[cst.Call, str, object]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in FIT_POSITIONS:
            self.candidates.append((node, func.attr.value, self.ctx.scope))

    def finish(self) -> None:
        sem = self.ctx.semantic
        code = self.ctx.module.code_for_node
        for call, method, scope in self.candidates:
            initial, _ = fit_argument(call, method, "initial_epoch")
            if initial is None:
                continue
            epochs, opaque = fit_argument(call, method, "epochs")
            if epochs is None and opaque:
                continue
            i_form = linear_form(initial.value, scope, sem)
            e_form = Linear(None, DEFAULT_EPOCHS) if epochs is None else linear_form(epochs.value, scope, sem)
            if i_form is None or e_form is None or i_form.base != e_form.base or i_form.offset < e_form.offset:
                continue
            if not sem.is_keras_model(call.func.value, scope, self.ctx.strict):  # type: ignore[attr-defined]
                continue
            i_text = code(initial.value).strip()
            if epochs is None:
                e_text = f"`epochs` (not given: it defaults to {DEFAULT_EPOCHS})"
            else:
                e_text = f"`epochs={code(epochs.value).strip()}`"
            self.report(
                initial,
                f"`initial_epoch={i_text}` is not below {e_text}: `epochs` is the index of the epoch to stop at, "
                f"not a number of epochs to run, so {method}() trains nothing (History is empty, weights unchanged). "
                f"To train N more epochs, pass `epochs={i_text} + N`.",
            )
