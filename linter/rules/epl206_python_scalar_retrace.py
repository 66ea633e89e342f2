"""EPL206 python-scalar-retrace: a tf.function called with a Python number that changes every turn."""
from __future__ import annotations

import libcst as cst

from linter.analysis.loops import LoopIndex
from linter.analysis.tf_function import TfFunctionIndex
from linter.rules.base import Invalid, Rule, Valid


class PythonScalarRetrace(Rule):
    """
    ## What it does
    Flags a call of a `tf.function` (decorated, `step = tf.function(fn)`, a decorated method
    called as `self.step`) inside a loop, with an argument that is a Python number changing on
    every turn: the loop counter of `range(...)`, the index of `enumerate(...)`, an element of
    a literal list of numbers, a counter incremented in the loop (`step += 1`), or arithmetic on
    those (`epoch + 1`, `epoch * steps + i`).

    ## Why is this bad
    `tf.function` keys its traces on the *values* of Python arguments (tensors only by dtype and
    shape). Each new epoch number is a new key: the function is traced again and a new graph is
    built on every turn, which is slow and grows memory; TensorFlow warns about "excessive
    retracing". `reduce_retracing=True` does not help for Python numbers. Measured: 5 Python
    ints -> 5 traces; the same 5 values as tensors -> 1 trace.

    Not flagged: tensors (`tf.constant(epoch)`, `tf.cast(...)`, a `tf.Variable`), constants,
    NumPy array slices (they are converted to tensors; a last, smaller batch traces once more,
    which is not this rule), a tf.function with an `input_signature` (it converts the number to
    a tensor), and calls inside another tf.function (unrolled once, at trace time).

    ## Example
    ```python
    @tf.function
    def train_step(x, y, epoch):
        ...

    for epoch in range(epochs):
        for x, y in dataset:
            train_step(x, y, epoch)   # a new trace every epoch
    ```
    Use instead:
    ```python
    for epoch in range(epochs):
        epoch_t = tf.constant(epoch)
        for x, y in dataset:
            train_step(x, y, epoch_t)
    ```

    ## Fix
    Pass a tensor (`tf.constant(epoch)`, or keep a `tf.Variable` and `assign` it), or give the
    tf.function an `input_signature`. No automatic fix: the function may use the number as a
    Python value (e.g. in `range`), which a tensor would change.
    """

    code = "EPL206"
    name = "python-scalar-retrace"
    summary = "tf.function called with a Python number that changes every turn: retraced every turn"
    claim = (
        "A `tf.function` called with a Python number that changes every call (e.g. the epoch) is retraced for "
        "every new value; the same values as tensors trace once (Keras 2 and 3). Measured: 5 ints -> 5 traces; "
        "5 tensors -> 1 trace."
    )
    witness = "trace count of a tf.function called with 5 Python ints == 5; with tensors == 1"
    fires_on = {"value": ("int", "float")}

    VALID = [
        # the seed's Example 3: numpy slices, no Python numbers
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            @tf.function
            def train_step(X_batch, y_batch):
                with tf.GradientTape() as tape:
                    predictions = model(X_batch)
                    loss = tf.keras.losses.MSE(y_batch, predictions)
                gradients = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(gradients, model.trainable_variables))
                return loss

            for epoch in range(epochs):
                for batch in range(0, len(X_train), batch_size):
                    X_batch = X_train[batch:batch + batch_size]
                    y_batch = y_train[batch:batch + batch_size]
                    loss = train_step(X_batch, y_batch)
                print(f"Epoch {epoch+1}/{epochs} completed. Loss: {loss.numpy()}")
            """
        ),
        # a tensor made from the loop variable
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y, epoch):
                return x

            for epoch in range(10):
                epoch_t = tf.constant(epoch, dtype=tf.int64)
                for x, y in dataset:
                    train_step(x, y, epoch_t)
                    train_step(x, y, tf.cast(epoch, tf.float32))
            """
        ),
        # constants and tensors from a dataset
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def step(x, training):
                return x

            for epoch in range(10):
                for i, (x, y) in enumerate(dataset):
                    step(x, True)
                    step(y, training=False)
            """
        ),
        # an input_signature converts Python numbers to tensors
        Valid(
            """
            import tensorflow as tf

            @tf.function(input_signature=[tf.TensorSpec([], tf.int64)])
            def log_epoch(epoch):
                tf.print(epoch)

            for epoch in range(10):
                log_epoch(epoch)
            """
        ),
        # an undecorated function: no tracing at all
        Valid(
            """
            import tensorflow as tf

            def train_step(x, epoch):
                return x

            for epoch in range(10):
                train_step(x, epoch)
            """
        ),
        # inside a tf.function the Python loop is unrolled once, at trace time
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def layer_step(x, i):
                return x * i

            @tf.function
            def model_step(x):
                for i in range(3):
                    x = layer_step(x, i)
                return x
            """
        ),
        # the loop variable of a dataset loop is a tensor
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def step(batch):
                return batch

            for batch in dataset:
                step(batch)
            for step_t in tf.range(10):
                step(step_t)
            """
        ),
        # the number is the same on every turn
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def step(x, scale):
                return x * scale

            scale = 2
            for epoch in range(10):
                step(x, scale)
                step(x, scale * 3)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y, epoch):
                return x

            for epoch in range(10):
                for x, y in dataset:
                    train_step(x, y, epoch)
            """,
            line=9,
            column=9,
            message_contains="`epoch`",
        ),
        # the enumerate index, through a keyword
        Invalid(
            """
            import tensorflow as tf

            class Trainer:
                @tf.function(reduce_retracing=True)
                def train_step(self, x, step):
                    return x

                def fit(self, dataset):
                    for step, x in enumerate(dataset):
                        self.train_step(x, step=step)
            """,
            line=10,
            column=13,
            message_contains="reduce_retracing",
        ),
        # a counter and arithmetic on the loop variable; step = tf.function(fn)
        Invalid(
            """
            import tensorflow as tf

            def train_step(x, global_step):
                return x

            step_fn = tf.function(train_step)
            global_step = 0
            for epoch in range(5):
                for x in dataset:
                    step_fn(x, global_step)
                    global_step += 1
            """,
            line=10,
            column=9,
            message_contains="tf.function `step_fn` called with `global_step`, a Python number changing every turn",
        ),
        Invalid(
            """
            import tensorflow as tf

            @tf.function
            def schedule(lr):
                return lr

            for lr in [0.1, 0.01, 0.001]:
                schedule(lr)
            """,
            line=8,
            column=5,
            message_contains="tf.function `schedule` called with `lr`, a Python number changing every turn",
        ),
        Invalid(
            """
            from tensorflow import function

            @function(jit_compile=True)
            def step(x, t):
                return x

            for epoch in range(5):
                for i in range(100):
                    step(x, epoch * 100 + i)
            """,
            line=9,
            column=9,
            message_contains="tf.function `step` called with `epoch * 100 + i`, a Python number changing every turn",
        ),
    ]

    ANALYSES = (LoopIndex, TfFunctionIndex)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.index: TfFunctionIndex = self.analysis(TfFunctionIndex)
        self.loops: LoopIndex = self.analysis(LoopIndex)

    def finish(self) -> None:
        if not self.index.applications() or self.index.runs_eagerly:
            return
        for lc in self.loops.calls:
            traced = self.index.callee(lc.call.func, lc.scope)
            if traced is None or traced.has_input_signature:
                continue
            if self.index.traced_scope(lc.scope) is not None:
                continue  # unrolled while tracing the caller
            for arg in lc.call.args:
                if arg.star:
                    continue
                changing = self.loops.changes_per_turn(arg.value, lc.loops, lc.scope)
                if changing:
                    self._report(lc.call, arg, changing, traced)
                    break

    def _report(self, call: cst.Call, arg: cst.Arg, changing: str, traced) -> None:
        code = self.ctx.module.code_for_node
        fn = code(call.func).strip()
        value = code(arg.value).strip()
        extra = " (`reduce_retracing=True` does not help)" if traced.keyword("reduce_retracing") is not None else ""
        self.report(
            call,
            f"tf.function `{fn}` called with `{value}`, a Python number changing every turn: one trace per "
            f"value{extra}.",
        )
