"""EPL402 removed-callback-arguments: `ReduceLROnPlateau(epsilon=)`, `ModelCheckpoint(period=)`, an epoch count as `save_freq=`."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter import edits
from linter.analysis.callbacks import callback_class, callbacks_in
from linter.analysis.calls import find_argument, method_argument
from linter.analysis.numbers import linear_form
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

_FIT_METHODS = frozenset({"fit", "fit_generator"})


class RemovedCallbackArguments(Rule):
    """
    ## What it does
    Flags three callback arguments whose meaning changed:

    - `ReduceLROnPlateau(epsilon=...)`: Keras 2.1's name of `min_delta`;
    - `ModelCheckpoint(period=N)`: "save every N epochs", removed in Keras 3;
    - `ModelCheckpoint(save_freq=N)` when N is demonstrably an epoch count: the same value as the
      `epochs=` of the `fit` it is passed to, or a name about epochs (`save_freq=EPOCHS`,
      `save_freq=save_every_epochs`; not `steps_per_epoch`).

    ## Why is this bad
    - `ReduceLROnPlateau(epsilon=0.5)`: Keras 3 accepts it **silently** and keeps
      `min_delta=1e-4` (measured), so the plateau threshold you chose is ignored. tf_keras still
      maps it to `min_delta` (with a warning).
    - `ModelCheckpoint(period=5)`: Keras 3 raises `TypeError: unexpected keyword argument
      'period'`; tf_keras still honours it (deprecated).
    - `save_freq=` given an integer counts **batches**, not epochs (Keras 2 and 3): `save_freq=5`
      saves every 5 batches, not every 5 epochs.

    ## Example
    ```python
    reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, epsilon=1e-3)
    ckpt = ModelCheckpoint("weights.h5", period=5)
    ```
    Use instead:
    ```python
    reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_delta=1e-3)
    ckpt = ModelCheckpoint("weights.h5", save_freq=5 * steps_per_epoch)
    ```

    ## Fix
    `epsilon=` -> `min_delta=` is a safe automatic fix (not offered when `min_delta=` is given
    too). `period=N` -> `save_freq=N * S` is an unsafe fix when the callback goes to one `fit`
    whose `steps_per_epoch=S` is given (unsafe: the last epoch may hold fewer batches, and the
    count restarts differently). An epoch-valued `save_freq=` has no automatic fix.
    """

    code = "EPL402"
    name = "removed-callback-arguments"
    summary = "`ReduceLROnPlateau(epsilon=)` ignored, `ModelCheckpoint(period=)` an error, `save_freq=<epochs>` counts batches"
    claim = (
        "Keras 3 accepts `ReduceLROnPlateau(epsilon=...)` silently and keeps `min_delta=1e-4` (tf_keras maps it to "
        "`min_delta`); `ModelCheckpoint(period=...)` raises TypeError in Keras 3 (tf_keras honours it); an integer "
        "`save_freq=` counts batches, not epochs, in both."
    )
    witness = (
        "ReduceLROnPlateau(epsilon=0.5).min_delta; ModelCheckpoint(period=2): TypeError (Keras 3) / saves every 2 "
        "epochs (tf_keras); ModelCheckpoint(save_freq=3) over 3 epochs of 2 batches: saves after batches 3 and 6"
    )
    fires_on = {"argument": ("epsilon", "period", "save_freq")}
    fixable = "sometimes"

    VALID = [
        Valid(
            """
            from tensorflow.keras.callbacks import ModelCheckpoint, ReduceLROnPlateau

            reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_delta=1e-3)
            ckpt = ModelCheckpoint("best.keras", save_best_only=True, save_freq="epoch")
            """
        ),
        # a batch count: steps per epoch times epochs
        Valid(
            """
            import keras

            steps_per_epoch = len(x) // 32
            ckpt = keras.callbacks.ModelCheckpoint("ckpt.weights.h5", save_weights_only=True, save_freq=5 * steps_per_epoch)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            ckpt = tf.keras.callbacks.ModelCheckpoint("cp-{epoch:04d}.ckpt", save_weights_only=True, save_freq=steps_per_epoch)
            """
        ),
        # an integer unrelated to the epochs of the fit it goes to
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            ckpt = keras.callbacks.ModelCheckpoint("m.keras", save_freq=500)
            model.fit(x, y, epochs=20, callbacks=[ckpt])
            """
        ),
        # an optimizer's epsilon is its own
        Valid(
            """
            import keras

            opt = keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7)
            """
        ),
        # not Keras
        Valid(
            """
            import tensorflow as tf
            from pytorch_lightning.callbacks import ModelCheckpoint

            ckpt = ModelCheckpoint(dirpath="ckpt", every_n_epochs=5, period=5)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from keras.callbacks import ReduceLROnPlateau

            reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10, epsilon=1e-4, mode="min")
            """,
            line=3,
            column=76,
            message_contains="Keras 3 ignores it silently",
            fixed="""
            from keras.callbacks import ReduceLROnPlateau

            reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4, mode="min")
            """,
        ),
        Invalid(
            """
            import tensorflow as tf

            callbacks = [
                tf.keras.callbacks.ReduceLROnPlateau(monitor="loss", epsilon=0.001, min_delta=0.01),
            ]
            """,
            line=4,
            column=58,
            message_contains="`min_delta=` is given too",
        ),
        Invalid(
            """
            from keras.callbacks import ModelCheckpoint

            checkpoint = ModelCheckpoint("weights.{epoch:02d}.hdf5", monitor="val_loss", save_best_only=False, period=5)
            """,
            line=3,
            column=100,
            message_contains="TypeError in Keras 3",
        ),
        # steps_per_epoch known from the one fit it goes to: an unsafe fix
        Invalid(
            """
            from tensorflow import keras

            model = keras.models.load_model("m.h5")
            ckpt = keras.callbacks.ModelCheckpoint("w.{epoch:02d}.h5", save_weights_only=True, period=5)
            model.fit(train_gen, steps_per_epoch=STEPS, epochs=50, callbacks=[ckpt])
            """,
            line=4,
            column=84,
            message_contains="TypeError in Keras 3",
            unsafe=True,
            fixed="""
            from tensorflow import keras

            model = keras.models.load_model("m.h5")
            ckpt = keras.callbacks.ModelCheckpoint("w.{epoch:02d}.h5", save_weights_only=True, save_freq=5 * STEPS)
            model.fit(train_gen, steps_per_epoch=STEPS, epochs=50, callbacks=[ckpt])
            """,
        ),
        # the fit's epoch count as save_freq
        Invalid(
            """
            import keras

            EPOCHS = 50
            model = keras.Sequential([keras.layers.Dense(1)])
            ckpt = keras.callbacks.ModelCheckpoint("m.keras", save_freq=EPOCHS)
            model.fit(x, y, epochs=EPOCHS, callbacks=[ckpt])
            """,
            line=5,
            column=51,
            message_contains="counts batches",
        ),
        # a name about epochs
        Invalid(
            """
            import tensorflow as tf

            save_every_epochs = 5
            ckpt = tf.keras.callbacks.ModelCheckpoint("ckpt/cp-{epoch:04d}.ckpt", save_weights_only=True, save_freq=save_every_epochs)
            """,
            line=4,
            column=95,
            message_contains="`save_freq=save_every_epochs`",
        ),
        Invalid(
            """
            from tensorflow import keras

            model = keras.models.load_model("m.h5")
            model.fit(ds, epochs=10, callbacks=[keras.callbacks.ModelCheckpoint("best.h5", save_freq=10)])
            """,
            line=4,
            column=80,
            message_contains="not epochs",
        ),
    ]

    ANALYSES = (TrainingCalls,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)
        self.candidates: list[tuple[cst.Call, Site]] = []

    def visit_Call(self, node: cst.Call) -> None:
        for a in node.args:
            if a.keyword is not None and a.keyword.value in ("epsilon", "period", "save_freq"):
                self.candidates.append((node, Site.of(self.ctx)))
                return

    def finish(self) -> None:
        sem = self.ctx.semantic
        reported: set[int] = set()
        epochs_of, steps_of = self._fit_epochs()
        for call, site in self.candidates:
            cls = callback_class(sem.qualified_name(call.func, site.scope))
            if cls == "ReduceLROnPlateau":
                self._epsilon(call)
            elif cls == "ModelCheckpoint":
                period, _ = find_argument(call, "period")
                if period is not None:
                    self.report(period, "`ModelCheckpoint(period=)`: TypeError in Keras 3 (tf_keras: deprecated). "
                                        "Use `save_freq=N * steps_per_epoch`.", self._period_fix(call, period, steps_of.get(id(call))))
                save_freq, _ = find_argument(call, "save_freq")
                if save_freq is not None and id(save_freq) not in reported and self._epoch_valued(save_freq, site, epochs_of.get(id(call))):
                    reported.add(id(save_freq))
                    text = self.ctx.module.code_for_node(save_freq.value).strip()
                    self.report(save_freq, f"`save_freq={text}` counts batches, not epochs. For every N epochs use "
                                           "`save_freq=N * steps_per_epoch`.")

    def _epsilon(self, call: cst.Call) -> None:
        arg, _ = find_argument(call, "epsilon")
        if arg is None:
            return
        head = "`epsilon=` is Keras 2's `min_delta=`: Keras 3 ignores it silently (min_delta stays 1e-4)."
        if find_argument(call, "min_delta")[0] is not None:
            self.report(arg, f"{head} `min_delta=` is given too: delete `epsilon=`.")
            return
        if any(a.star for a in call.args):  # **kwargs may hold min_delta: no rename
            self.report(arg, f"{head} Use `min_delta=`.")
            return
        self.report(arg, f"{head} Use `min_delta=`.", edits.rename_keyword(arg, "min_delta", "safe"))

    def _fit_epochs(self) -> tuple[dict[int, list], dict[int, list]]:
        """id(ModelCheckpoint call) -> the (epochs value, site) of each fit it is passed to, and
        -> the `steps_per_epoch=` value of each fit it is passed to (None where not given)."""
        sem = self.ctx.semantic
        epochs_of: dict[int, list] = {}
        steps_of: dict[int, list] = {}
        for tc in self.training.of(_FIT_METHODS):
            given, _ = method_argument(tc.call, tc.method, "callbacks")
            if given is None:
                continue
            epochs, _ = method_argument(tc.call, tc.method, "epochs")
            steps, _ = method_argument(tc.call, tc.method, "steps_per_epoch")
            for cb in callbacks_in(given.value, tc.site, sem):
                if cb.cls != "ModelCheckpoint":
                    continue
                if epochs is not None:
                    epochs_of.setdefault(id(cb.construction), []).append((epochs.value, tc.site))
                steps_of.setdefault(id(cb.construction), []).append(None if steps is None or tc.has_splat else steps.value)
        return epochs_of, steps_of

    def _period_fix(self, call: cst.Call, period: cst.Arg, steps: Optional[list]):
        """`period=N` -> `save_freq=N * S` when the callback goes to exactly one fit, whose
        `steps_per_epoch=S` is a name or a number (unsafe: S batches must really make an epoch)."""
        if not steps or len(steps) != 1 or not isinstance(steps[0], (cst.Name, cst.Integer)):
            return None
        if find_argument(call, "save_freq")[0] is not None or any(a.star for a in call.args):
            return None
        code = self.ctx.module.code_for_node
        value = code(period.value).strip()
        if not isinstance(period.value, (cst.Name, cst.Integer, cst.Attribute)):
            value = f"({value})"
        s = code(steps[0]).strip()
        return edits.combine([
            edits.rename_keyword(period, "save_freq", "unsafe"),
            edits.replace(period.value, f"{value} * {s}", "unsafe"),
        ])

    def _epoch_valued(self, arg: cst.Arg, site: Site, fits: Optional[list]) -> bool:
        """Is the `save_freq=` value an epoch count: a name about epochs, or the epochs of its fit?"""
        value = arg.value
        if isinstance(value, cst.SimpleString):
            return False
        sem = self.ctx.semantic
        if isinstance(value, cst.Name) and _about_epochs(value.value):
            return True
        form = linear_form(value, site, sem)
        if form is None:
            return False
        for epochs, fit_site in fits or ():
            other = linear_form(epochs, fit_site, sem)
            if other is not None and (other.base, other.offset) == (form.base, form.offset) and (form.base is None or form.stable):
                return True
        return False


def _about_epochs(name: str) -> bool:
    """`EPOCHS`, `save_every_epochs`, `n_epoch`; not `steps_per_epoch`, `batches_per_epoch`."""
    low = name.lower()
    return "epoch" in low and "per_epoch" not in low and "step" not in low and "batch" not in low
