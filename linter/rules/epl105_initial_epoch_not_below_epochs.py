"""EPL105 initial-epoch-not-below-epochs: `fit(epochs=E, initial_epoch=I)` with I >= E trains nothing."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.calls import DEFAULT_EPOCHS, method_argument
from linter.analysis.numbers import Linear, linear_form
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

_FIT_METHODS = ("fit", "fit_generator")


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
    fires_on = {"call": ("fit",)}

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

    ANALYSES = (TrainingCalls,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        sem = self.ctx.semantic
        code = self.ctx.module.code_for_node
        for tc in self.training.of(_FIT_METHODS):
            call, method, site = tc.call, tc.method, tc.site
            scope = site.scope
            initial, _ = method_argument(call, method, "initial_epoch")
            if initial is None:
                continue
            epochs, opaque = method_argument(call, method, "epochs")
            if epochs is None and opaque:
                continue
            i_form = linear_form(initial.value, site, sem)
            e_form = Linear(None, DEFAULT_EPOCHS) if epochs is None else linear_form(epochs.value, site, sem)
            if i_form is None or e_form is None or i_form.base != e_form.base or i_form.offset < e_form.offset:
                continue
            if not sem.is_keras_model(call.func.value, scope, self.ctx.strict, site):  # type: ignore[attr-defined]
                continue
            i_text = code(initial.value).strip()
            if epochs is None:
                e_text = f"`epochs` (default {DEFAULT_EPOCHS})"
            else:
                e_text = f"`epochs={code(epochs.value).strip()}`"
            self.report(
                initial,
                f"`initial_epoch={i_text}` is not below {e_text}: `epochs` is the epoch to stop at, so {method}() "
                f"trains nothing.",
            )
