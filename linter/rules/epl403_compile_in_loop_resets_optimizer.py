"""EPL403 compile-in-loop-resets-optimizer: `model.compile(optimizer="adam")` in an epoch loop restarts the optimizer."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.calls import find_argument
from linter.analysis.loops import RESET_METHODS, LoopIndex
from linter.analysis.optimizers import OPTIMIZER_STRINGS
from linter.analysis.training_calls import TrainingCall, TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

COMPILE = ("optimizer", "loss")  # compile's first positional parameters (Keras 2 and 3)
_TRAINING = frozenset({"fit", "fit_generator", "train_on_batch"})


class CompileInLoopResetsOptimizer(Rule):
    """
    ## What it does
    Flags `model.compile(optimizer="adam", ...)` (an optimizer given by its name, or no
    optimizer: the default `"rmsprop"`) inside an epoch loop (`for epoch in range(...)`,
    `while ...`) that also trains the model, when the model is built outside the loop.

    ## Why is this bad
    `compile` builds the optimizer a string names: every turn gets a **new** optimizer, whose
    state starts over (Adam's and RMSprop's moment estimates, momentum, the step count that
    drives bias correction and learning-rate schedules), while the weights carry on from the
    previous turn. Measured on Keras 3 and tf_keras: after 3 turns of `compile("adam")` +
    `fit` over 2 batches, `optimizer.iterations` is 2, not 6. Compiling with the same optimizer
    object keeps its state (not flagged); so does compiling once before the loop.

    Not flagged: an optimizer constructor in the loop (EPL204 reports it), staged fine-tuning
    (`.trainable` changes in the loop: a new compile is required), a fold/trial loop that
    rebuilds the model, a loop that reloads the weights every turn, a loop over optimizers
    or hyper-parameters (not an epoch loop).

    ## Example
    ```python
    for epoch in range(EPOCHS):
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, epochs=1)
    ```
    Use instead:
    ```python
    model.compile(optimizer="adam", loss="mse")
    for epoch in range(EPOCHS):
        model.fit(x, y, epochs=1)
    ```

    ## Fix
    No automatic fix: move the `compile` call before the loop (or pass one optimizer object
    built before it).
    """

    code = "EPL403"
    name = "compile-in-loop-resets-optimizer"
    summary = "`model.compile(optimizer=\"adam\")` inside an epoch loop: a new optimizer (fresh state) every turn"
    claim = (
        "`compile(optimizer=<name>)` builds a new optimizer each call: compiled again every turn of a training loop, "
        "its state (moments, iteration count) restarts while the weights carry on. Measured on Keras 3 and tf_keras: "
        "3 turns of compile('adam') + 2 training steps leave `optimizer.iterations` at 2 (one object per turn); the "
        "same optimizer object recompiled keeps counting (6)."
    )
    witness = "3 turns of compile(optimizer='adam' / default) + fit of 2 batches: optimizer.iterations and identity per turn; the same object recompiled keeps counting"
    fires_on = {"optimizer": ("string", "default")}
    fixable = None

    VALID = [
        # compiled once, before the loop
        Valid(
            """
            import keras

            model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            for epoch in range(10):
                model.fit(x, y, epochs=1)
            """
        ),
        # staged fine-tuning: the freeze changed, compile is required
        Valid(
            """
            from tensorflow import keras

            base = keras.applications.ResNet50(include_top=False)
            model = keras.Sequential([base, keras.layers.Dense(2)])
            for stage in range(2):
                base.trainable = stage == 1
                model.compile(optimizer="adam", loss="categorical_crossentropy")
                model.fit(train_ds, epochs=5)
            """
        ),
        # a fold loop that builds the model every turn
        Valid(
            """
            import keras

            for fold in range(5):
                model = keras.Sequential([keras.layers.Dense(1)])
                model.compile(optimizer="adam", loss="mse")
                model.fit(x[folds[fold]], y[folds[fold]], epochs=10)
            """
        ),
        # comparing optimizers: a loop over names, not an epoch loop (the weights leak is EPL104's)
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            for name in ["sgd", "adam", "rmsprop"]:
                model.compile(optimizer=name, loss="mse")
                model.fit(x, y, epochs=5)
            """
        ),
        # the same optimizer object: its state carries over
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            opt = keras.optimizers.Adam(1e-3)
            for epoch in range(10):
                model.compile(optimizer=opt, loss="mse")
                model.fit(x, y, epochs=1)
            """
        ),
        # the weights are reset every turn: each turn is a fresh run anyway
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            init = model.get_weights()
            for trial in range(10):
                model.set_weights(init)
                model.compile(optimizer="sgd", loss="mse")
                model.fit(x, y, epochs=3)
            """
        ),
        # not a Keras model
        Valid(
            """
            import re
            import tensorflow as tf

            for i in range(10):
                pattern = re.compile("a+")
                pattern.fit(x)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
            for epoch in range(100):
                model.compile(optimizer="adam", loss="mse")
                model.fit(x, y, epochs=1)
            """,
            line=5,
            column=29,
            message_contains="a new optimizer every epoch-loop turn",
        ),
        # positional optimizer
        Invalid(
            """
            from tensorflow import keras

            model = keras.models.load_model("m.h5")
            for i in range(n_rounds):
                model.compile("rmsprop", "binary_crossentropy", metrics=["accuracy"])
                model.fit(x_train, y_train, batch_size=128)
                print(model.evaluate(x_test, y_test))
            """,
            line=5,
            column=19,
            message_contains="`compile('rmsprop')`",
        ),
        # no optimizer: compile's default, "rmsprop", is built anew
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            epoch = 0
            while epoch < 20:
                model.compile(loss="mse")
                model.train_on_batch(xb, yb)
                epoch += 1
            """,
            line=6,
            column=5,
            message_contains="default optimizer",
        ),
        # the optimizer name held in a variable
        Invalid(
            """
            import keras

            OPTIMIZER = "sgd"
            model = keras.Sequential([keras.layers.Dense(1)])
            for epoch in range(EPOCHS):
                model.compile(optimizer=OPTIMIZER, loss="mse", metrics=["mae"])
                history = model.fit(x, y, epochs=1, validation_data=(xv, yv))
            """,
            line=6,
            column=29,
            message_contains="`compile('sgd')`",
        ),
        Invalid(
            """
            from tensorflow import keras

            class Trainer:
                def __init__(self):
                    self.model = keras.Sequential([keras.layers.Dense(1)])

                def run(self, epochs):
                    for epoch in range(epochs):
                        self.model.compile(optimizer="adam", loss="mse")
                        self.model.fit(self.x, self.y)
            """,
            line=9,
            column=42,
            message_contains="a new optimizer every epoch-loop turn",
        ),
        Invalid(
            """
            import keras

            def train(model, x, y):
                for epoch in range(10):
                    model.compile(optimizer="adam", loss="mse")
                    model.fit(x, y)
            """,
            line=5,
            column=33,
            message_contains="a new optimizer every epoch-loop turn",
            strict=True,
        ),
    ]

    ANALYSES = (LoopIndex, TrainingCalls)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.loops: LoopIndex = self.analysis(LoopIndex)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        loops = self.loops
        for tc in self.training.compiles:
            if not tc.loops or any(a.star for a in tc.call.args):
                continue
            loop = tc.loops[-1]
            found = self._optimizer(tc)
            if found is None:
                continue
            at, name = found
            receiver = tc.receiver
            if not loops.is_counting_loop(loop) or loops.rebuilds_model(loop):
                continue
            if loops.changes_what_trains(loop, receiver, tc.scope) or loops.method_calls_on(receiver, loop, RESET_METHODS):
                continue
            if not loops.method_calls_on(receiver, loop, _TRAINING):
                continue  # compiled but not trained in the loop
            if not self.ctx.semantic.is_keras_model(receiver, tc.scope, self.ctx.strict):
                continue
            if name is None:
                self.report(at, "`compile()` here builds a new default optimizer (rmsprop) every epoch-loop turn: its "
                                "state restarts. Compile before the loop.")
            else:
                self.report(at, f"`compile('{name}')` here builds a new optimizer every epoch-loop turn: its state restarts "
                                "while the weights carry on.")

    def _optimizer(self, tc: TrainingCall) -> Optional[tuple[cst.CSTNode, Optional[str]]]:
        """Where to report and the optimizer's name, when compile builds one from a string (None: the default)."""
        arg, _ = find_argument(tc.call, "optimizer", COMPILE)
        if arg is None:
            return tc.call, None
        value = arg.value
        site = tc.site
        if isinstance(value, cst.Name):
            b = self.ctx.semantic.single_value(value.value, site)
            if b is None:
                return None
            value, site = b.value, Site.of_binding(b)
        if isinstance(value, cst.SimpleString):
            text = value.evaluated_value
            if isinstance(text, str) and text.lower() in OPTIMIZER_STRINGS:
                return arg.value, text
        return None
