"""EPL107 keras2-optimizer-arguments: `lr=` and `decay=` given to a Keras optimizer."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter import edits
from linter.analysis.calls import find_argument
from linter.analysis.optimizers import is_keras_optimizer_class
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Scope

OLD_ARGUMENTS = ("lr", "decay")
LEARNING_RATE = ("learning_rate",)  # the first positional parameter of every Keras optimizer


class Keras2OptimizerArguments(Rule):
    """
    ## What it does
    Flags `lr=` and `decay=` given to a Keras optimizer class (`keras.optimizers.Adam`,
    `tf.keras.optimizers.SGD`, `RMSprop`, ... every spelling). Not flagged:
    `keras.optimizers.legacy.*` (Keras 2's optimizers, kept with these arguments on purpose),
    PyTorch's `torch.optim.SGD(params, lr=...)` and any other non-Keras callee.

    ## Why is this bad
    Both are Keras 1/2 arguments, and what happens to them now depends on the version:

    - `lr=`: Keras 3 raises `ValueError: Argument(s) not recognized: {'lr': 0.01}`. tf.keras
      2.11+ and tf_keras **drop it** with only a log warning: `Adam(lr=0.01)` trains with the
      default learning rate 0.001 (measured with tf_keras 2.21). Keras 2 before 2.11 read it as
      `learning_rate`.
    - `decay=`: Keras 3 accepts it with a warning and **ignores** it (the learning rate never
      decays); tf.keras 2.11+ and tf_keras raise `ValueError: decay is deprecated in the new
      TF-Keras optimizer`. Keras 2's optimizers (and today's `keras.optimizers.legacy`) used
      `lr / (1 + decay * iterations)`, which is
      `keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`
      (measured: the same weights as `legacy.SGD(lr, decay=decay)` after training).

    ## Example
    ```python
    opt = keras.optimizers.SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True)
    ```
    Use instead:
    ```python
    schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-6)
    opt = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True)
    ```

    ## Fix
    `lr=` -> `learning_rate=` is a safe automatic fix (not offered when the learning rate is
    given as well, or `**kwargs` may hold it). `decay=` has no automatic fix: the message names
    the schedule that reproduces it.
    """

    code = "EPL107"
    name = "keras2-optimizer-arguments"
    summary = "`lr=`/`decay=` to a Keras optimizer: ValueError or silently dropped (Keras 3, tf_keras)"
    claim = (
        "`lr=` to a Keras optimizer raises ValueError \"Argument(s) not recognized\" in Keras 3, and is dropped with "
        "only a log warning in tf.keras 2.11+/tf_keras (the default learning rate is used). `decay=` is ignored with a "
        "warning in Keras 3 (the learning rate never changes) and raises ValueError in tf_keras; Keras 2's `decay` "
        "(legacy optimizers) equals `InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`."
    )
    witness = (
        "Adam/SGD/RMSprop(lr=0.5): Keras 3 ValueError, tf_keras learning_rate == the default; SGD(decay=): Keras 3 "
        "weights equal plain SGD's, tf_keras ValueError; tf_keras legacy.SGD(lr, decay) weights == SGD(InverseTimeDecay)"
    )
    fires_on = {"argument": OLD_ARGUMENTS}
    fixable = "sometimes"

    VALID = [
        # the current names, with Keras 2's decay as a schedule
        Valid(
            """
            import keras

            schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-6)
            opt = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True)
            """
        ),
        # PyTorch's optimizers take lr=
        Valid(
            """
            import torch
            import tensorflow as tf

            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            """
        ),
        Valid(
            """
            from torch.optim import Adam
            from tensorflow import keras

            opt = Adam(net.parameters(), lr=1e-3)
            """
        ),
        # keras.optimizers.legacy keeps Keras 2's arguments (tf_keras); Keras 3 has no legacy module at all
        Valid(
            """
            import tensorflow as tf

            opt = tf.keras.optimizers.legacy.SGD(lr=0.01, decay=1e-6)
            """
        ),
        # a function of the user's own with an `lr` parameter
        Valid(
            """
            from tensorflow import keras

            def make_optimizer(lr=0.01, decay=0.0):
                return keras.optimizers.Adam(learning_rate=lr)

            opt = make_optimizer(lr=0.1, decay=1e-4)
            """
        ),
        # AdamW's weight decay is not the learning-rate decay
        Valid(
            """
            import keras

            model.compile(optimizer=keras.optimizers.AdamW(learning_rate=3e-4, weight_decay=1e-4), loss="mse")
            """
        ),
        # learning-rate schedules are not optimizers
        Valid(
            """
            import tensorflow as tf

            lr = tf.keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1000, decay_rate=0.9)
            """
        ),
    ]
    INVALID = [
        # TensorFlow course notebook (learning-rate sweep)
        Invalid(
            """
            from tensorflow import keras

            optimizer = keras.optimizers.SGD(lr=1e-7, momentum=0.9)
            """,
            line=3,
            column=34,
            message_contains="Keras 3 raises ValueError",
            fixed="""
            from tensorflow import keras

            optimizer = keras.optimizers.SGD(learning_rate=1e-7, momentum=0.9)
            """,
        ),
        # Deep Learning with Python, first edition
        Invalid(
            """
            from keras import optimizers

            model.compile(optimizer=optimizers.RMSprop(lr=2e-5), loss="binary_crossentropy", metrics=["acc"])
            """,
            line=3,
            column=44,
            message_contains="tf_keras and tf.keras 2.11+ ignore it",
            fixed="""
            from keras import optimizers

            model.compile(optimizer=optimizers.RMSprop(learning_rate=2e-5), loss="binary_crossentropy", metrics=["acc"])
            """,
        ),
        # CIFAR-10 scripts: both arguments; only lr= is fixed
        Invalid(
            """
            from keras.optimizers import SGD

            sgd = SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True)
            """,
            line=3,
            column=11,
            also=((3, 19),),
            message_contains="`SGD(",
            fixed="""
            from keras.optimizers import SGD

            sgd = SGD(learning_rate=0.1, decay=1e-6, momentum=0.9, nesterov=True)
            """,
        ),
        # the schedule that reproduces Keras 2's decay, with this call's numbers
        Invalid(
            """
            import keras

            optimizer = keras.optimizers.RMSprop(learning_rate=0.0008, clipvalue=1.0, decay=1e-8)
            """,
            line=3,
            column=75,
            message_contains="InverseTimeDecay(0.0008, decay_steps=1, decay_rate=1e-8)",
        ),
        Invalid(
            """
            import tensorflow as tf

            class Agent:
                def __init__(self, learning_rate):
                    self.optimizer = tf.keras.optimizers.Adam(lr=learning_rate)
            """,
            line=5,
            column=51,
            message_contains="`Adam(lr=)`",
            fixed="""
            import tensorflow as tf

            class Agent:
                def __init__(self, learning_rate):
                    self.optimizer = tf.keras.optimizers.Adam(learning_rate=learning_rate)
            """,
        ),
        # the learning rate given twice: renaming would repeat it
        Invalid(
            """
            import tensorflow as tf

            opt = tf.optimizers.Adam(0.01, lr=0.001)
            """,
            line=3,
            column=32,
            message_contains="already given",
        ),
        # **kwargs may hold learning_rate: reported, not renamed
        Invalid(
            """
            import tf_keras

            def build(**kwargs):
                return tf_keras.optimizers.Nadam(lr=2e-3, **kwargs)
            """,
            line=4,
            column=38,
            message_contains="Use `learning_rate=`",
        ),
    ]

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list[tuple[cst.Call, Scope]] = []

    def visit_Call(self, node: cst.Call) -> None:
        for a in node.args:
            if a.keyword is not None and a.keyword.value in OLD_ARGUMENTS:
                self.candidates.append((node, self.ctx.scope))
                return

    def finish(self) -> None:
        sem = self.ctx.semantic
        for call, scope in self.candidates:
            q = sem.qualified_name(call.func, scope)
            if not is_keras_optimizer_class(q):
                continue
            cls = q.rsplit(".", 1)[1]  # type: ignore[union-attr]
            for arg in call.args:
                if arg.keyword is None:
                    continue
                if arg.keyword.value == "lr":
                    self._lr(call, cls, arg)
                elif arg.keyword.value == "decay":
                    self._decay(call, cls, arg)

    def _lr(self, call: cst.Call, cls: str, arg: cst.Arg) -> None:
        head = f"`{cls}(lr=)`: Keras 3 raises ValueError; tf_keras and tf.keras 2.11+ ignore it (default rate)."
        given, _ = find_argument(call, "learning_rate", LEARNING_RATE)
        if given is not None:
            self.report(arg, f"{head} The learning rate is already given: delete `lr=`.")
            return
        if any(a.star for a in call.args):
            self.report(arg, f"{head} Use `learning_rate=`.")
            return
        self.report(arg, f"{head} Use `learning_rate=`.", edits.rename_keyword(arg, "learning_rate", "safe"))

    def _decay(self, call: cst.Call, cls: str, arg: cst.Arg) -> None:
        code = self.ctx.module.code_for_node
        rate = _learning_rate(call)
        lr = code(rate).strip() if rate is not None else "lr"
        decay = code(arg.value).strip()
        schedule = f"InverseTimeDecay({lr}, decay_steps=1, decay_rate={decay})"
        if len(schedule) > 90:
            schedule = "InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)"
        self.report(
            arg,
            f"`{cls}(decay=)`: ignored by Keras 3, ValueError in tf_keras. Keras 2's decay was `learning_rate={schedule}`.",
        )


def _learning_rate(call: cst.Call) -> Optional[cst.BaseExpression]:
    for name in ("learning_rate", "lr"):
        given, _ = find_argument(call, name, LEARNING_RATE if name == "learning_rate" else ())
        if given is not None:
            return given.value
    return None
