"""EPL401 callbacks-reset-each-fit: EarlyStopping & co. given to a one-epoch `fit` in an epoch loop."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.callbacks import FoundCallback, callbacks_in
from linter.analysis.calls import DEFAULT_EPOCHS, method_argument
from linter.analysis.loops import LoopIndex
from linter.analysis.numbers import linear_form
from linter.analysis.training_calls import TrainingCall, TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.walker import iter_nodes

_FIT_METHODS = frozenset({"fit", "fit_generator"})
# What each call's reset (`on_train_begin`) costs, per callback class.
_NEVER = {
    "EarlyStopping": "it never stops training",
    "ReduceLROnPlateau": "it never lowers the learning rate",
}
_SCHEDULER = "LearningRateScheduler"
AFFECTED = (*_NEVER, _SCHEDULER)


class CallbacksResetEachFit(Rule):
    """
    ## What it does
    Flags `EarlyStopping`, `ReduceLROnPlateau` and `LearningRateScheduler` passed to a Keras
    model's `fit(..., epochs=1)` (explicit or the default) inside an epoch loop (`for epoch in
    range(...)`, `while ...`); `EarlyStopping` and `ReduceLROnPlateau` also when each call trains
    the next epoch with `fit(initial_epoch=epoch, epochs=epoch + 1)`.

    ## Why is this bad
    Every `fit()` call starts a new training run for its callbacks: `on_train_begin` resets them,
    and the epoch index starts again at `initial_epoch`. With one epoch per call:

    - `EarlyStopping` forgets its best value and its patience counter every call, and only
      stops after epoch 0 (`epoch > 0` is required): it never stops, even when the loss diverges.
    - `ReduceLROnPlateau` forgets its best value too: it never lowers the learning rate.
    - `LearningRateScheduler` is called with `epoch=0` every time: the schedule never advances.
      (With `initial_epoch=epoch` it does see the real epoch; that form is not flagged for it.)

    The History returned by each call also holds one epoch only. Measured on Keras 3 and
    tf_keras: 3 turns of `fit(epochs=1)` with a patience-1 `EarlyStopping` ran all 3 epochs of a
    run one `fit(epochs=3)` stops after 2.

    Not flagged: `fit(epochs=N)` with N > 1 (EPL104's), a loop over data chunks or folds
    (the model is rebuilt each turn), staged fine-tuning (`.trainable` changes), a
    `LearningRateScheduler` whose function ignores its `epoch` argument.

    ## Example
    ```python
    for epoch in range(EPOCHS):
        model.fit(x, y, epochs=1, callbacks=[keras.callbacks.EarlyStopping(patience=3)])
        evaluate_and_plot(model)
    ```
    Use instead:
    ```python
    class EvaluateAndPlot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            evaluate_and_plot(self.model)

    model.fit(x, y, epochs=EPOCHS, callbacks=[keras.callbacks.EarlyStopping(patience=3), EvaluateAndPlot()])
    ```

    ## Fix
    No automatic fix: move the per-epoch work into a callback and call `fit(epochs=N)` once.
    """

    code = "EPL401"
    name = "callbacks-reset-each-fit"
    summary = "EarlyStopping/ReduceLROnPlateau/LearningRateScheduler given to `fit(epochs=1)` in an epoch loop: reset every call"
    claim = (
        "Each `fit()` resets its callbacks (`on_train_begin`): across turns of `fit(epochs=1)` EarlyStopping never "
        "stops (it needs `epoch > 0`), ReduceLROnPlateau never lowers the learning rate and LearningRateScheduler always "
        "sees epoch 0; with `fit(initial_epoch=t, epochs=t + 1)` EarlyStopping and ReduceLROnPlateau still never act. "
        "Measured on Keras 3 and tf_keras: 3 turns ran 3 epochs of a run one `fit(epochs=3)` stops after 2."
    )
    witness = (
        "3 turns of fit(epochs=1) and of fit(initial_epoch=t, epochs=t+1) vs one fit(epochs=3) with one callback object: "
        "epochs run (EarlyStopping), final learning rate (ReduceLROnPlateau, LearningRateScheduler), epochs seen"
    )
    fires_on = {"callback": AFFECTED, "epochs": ("one", "initial_epoch")}
    fixable = None

    VALID = [
        # one fit for all epochs: the callbacks work
        Valid(
            """
            import keras

            model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=50, callbacks=[keras.callbacks.EarlyStopping(patience=3)])
            """
        ),
        # a fold loop that builds a new model every turn
        Valid(
            """
            from tensorflow import keras

            def build():
                return keras.Sequential([keras.layers.Dense(1)])

            for train_idx, val_idx in folds:
                model = build()
                model.compile(optimizer="adam", loss="mse")
                model.fit(x[train_idx], y[train_idx], callbacks=[keras.callbacks.EarlyStopping()])
            """
        ),
        # initial_epoch=epoch: the scheduler sees the real epoch
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.models.load_model("m.h5")
            lr_cb = tf.keras.callbacks.LearningRateScheduler(lambda epoch, lr: 1e-3 * 0.9 ** epoch)
            for epoch in range(20):
                model.fit(ds, initial_epoch=epoch, epochs=epoch + 1, callbacks=[lr_cb])
            """
        ),
        # the schedule function ignores its epoch argument and reads the loop's own counter
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.models.load_model("m.h5")
            for epoch in range(20):
                sched = tf.keras.callbacks.LearningRateScheduler(lambda _, lr: 1e-3 * 0.9 ** epoch)
                model.fit(ds, epochs=1, callbacks=[sched])
            """
        ),
        # several epochs per call: the callbacks act inside each call (the accumulation is EPL104's)
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            for rnd in range(3):
                model.fit(x, y, epochs=10, callbacks=[keras.callbacks.ReduceLROnPlateau()])
            """
        ),
        # a callback that is not reset in a harmful way
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            ckpt = keras.callbacks.ModelCheckpoint("best.keras", save_best_only=True)
            for epoch in range(10):
                model.fit(x, y, epochs=1, callbacks=[ckpt])
            """
        ),
        # staged fine-tuning: each stage is its own run
        Valid(
            """
            import keras

            base = keras.applications.MobileNetV2(include_top=False)
            model = keras.Sequential([base, keras.layers.Dense(1)])
            for stage in range(2):
                base.trainable = stage > 0
                model.fit(x, y, callbacks=[keras.callbacks.EarlyStopping()])
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            for epoch in range(100):
                model.fit(x, y, epochs=1, callbacks=[keras.callbacks.EarlyStopping(patience=5)])
                plot_predictions(model, epoch)
            """,
            line=6,
            column=42,
            message_contains="`EarlyStopping`: it never stops training",
        ),
        # the callbacks bound to names outside the loop: the objects persist, their state does not
        Invalid(
            """
            from tensorflow.keras.callbacks import EarlyStopping, ReduceLROnPlateau

            es = EarlyStopping(monitor="val_loss", patience=3)
            rlr = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2)
            callbacks = [es, rlr]
            for i in range(epochs):
                model.fit(train_x, train_y, validation_data=(val_x, val_y), callbacks=callbacks)
            """,
            line=7,
            column=75,
            message_contains="Each `fit()` in this loop resets",
            strict=True,
        ),
        Invalid(
            """
            import tensorflow as tf

            def schedule(epoch, lr):
                return lr * tf.math.exp(-0.1) if epoch > 10 else lr

            model = tf.keras.Sequential([tf.keras.layers.Dense(10)])
            for epoch in range(30):
                model.fit(x, y, batch_size=64, epochs=1, callbacks=[tf.keras.callbacks.LearningRateScheduler(schedule)])
            """,
            line=8,
            column=57,
            message_contains="sees epoch 0 in every call",
        ),
        # Keras 2 idiom: one epoch per turn with a running initial_epoch
        Invalid(
            """
            from keras.models import load_model
            from keras.callbacks import ReduceLROnPlateau

            model = load_model("model.h5")
            reduce_lr = ReduceLROnPlateau(monitor="loss", factor=0.2, patience=5, min_lr=0.001)
            for e in range(start, n_epochs):
                model.fit(x, y, initial_epoch=e, epochs=e + 1, callbacks=[reduce_lr])
                model.save("model.h5")
            """,
            line=7,
            column=63,
            message_contains="it never lowers the learning rate",
        ),
        Invalid(
            """
            import keras

            model = keras.models.load_model("m.keras")
            epoch = 0
            while epoch < 50:
                model.fit(gen, steps_per_epoch=100, callbacks=[keras.callbacks.EarlyStopping(monitor="loss")])
                epoch += 1
            """,
            line=6,
            column=52,
            message_contains="`EarlyStopping`",
        ),
        Invalid(
            """
            from tensorflow import keras

            class Trainer:
                def __init__(self):
                    self.model = keras.Sequential([keras.layers.Dense(1)])
                    self.stop = keras.callbacks.EarlyStopping(patience=2)

                def train(self, epochs):
                    for epoch in range(epochs):
                        self.model.fit(self.x, self.y, epochs=1, callbacks=[keras.callbacks.ReduceLROnPlateau()])
            """,
            line=10,
            column=65,
            message_contains="`ReduceLROnPlateau`",
        ),
    ]

    ANALYSES = (LoopIndex, TrainingCalls)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.loops: LoopIndex = self.analysis(LoopIndex)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        sem = self.ctx.semantic
        loops = self.loops
        for tc in self.training.of(_FIT_METHODS):
            if not tc.loops:
                continue
            given, _ = method_argument(tc.call, tc.method, "callbacks")
            if given is None:
                continue
            loop = tc.loops[-1]
            if not loops.is_counting_loop(loop) or loops.rebuilds_model(loop):
                continue
            if loops.changes_what_trains(loop, tc.receiver, tc.scope):
                continue
            style = self._style(tc)
            if style is None:
                continue
            found = [cb for cb in callbacks_in(given.value, tc.site, sem) if cb.cls in AFFECTED]
            if style == "initial_epoch":
                found = [cb for cb in found if cb.cls != _SCHEDULER]
            found = [cb for cb in found if cb.cls != _SCHEDULER or not _ignores_epoch(cb, sem)]
            if not found or not sem.is_keras_model(tc.receiver, tc.scope, self.ctx.strict, tc.site):
                continue
            groups: dict[int, list[FoundCallback]] = {}
            for cb in found:
                groups.setdefault(id(cb.at), []).append(cb)
            for group in groups.values():
                classes = list(dict.fromkeys(cb.cls for cb in group))
                self.report(group[0].at, self._message(classes))

    def _style(self, tc: TrainingCall) -> Optional[str]:
        """"one" (one epoch per call), "initial_epoch" (a running `initial_epoch=`), else None."""
        if tc.has_splat:
            return None
        sem = self.ctx.semantic
        initial, _ = method_argument(tc.call, tc.method, "initial_epoch")
        if initial is not None:
            form = linear_form(initial.value, tc.site, sem)
            if not (form is not None and form.base is None):
                return "initial_epoch"
        epochs, _ = method_argument(tc.call, tc.method, "epochs")
        if epochs is None:
            return "one" if tc.method == "fit" else None  # fit_generator's default was 1 too, but Keras 1 spelled it nb_epoch
        form = linear_form(epochs.value, tc.site, sem)
        return "one" if form is not None and form.base is None and form.offset == DEFAULT_EPOCHS else None

    @staticmethod
    def _message(classes: list[str]) -> str:
        if len(classes) > 1:
            names = ", ".join(f"`{c}`" for c in classes)
            return f"Each `fit()` in this loop resets {names}: none of them acts across calls. Call `fit(epochs=N)` once."
        cls = classes[0]
        if cls == _SCHEDULER:
            return f"`{cls}` sees epoch 0 in every call of this one-epoch `fit()` loop: the rate never changes. Pass `initial_epoch=`."
        return f"Each `fit()` in this loop resets `{cls}`: {_NEVER[cls]}. Call `fit(epochs=N)` once."


def _ignores_epoch(cb: FoundCallback, sem) -> bool:
    """A `LearningRateScheduler(schedule)` whose schedule never reads its first (epoch) parameter."""
    args = [a for a in cb.construction.args if a.keyword is None or a.keyword.value == "schedule"]
    if not args:
        return False
    fn = args[0].value
    if not isinstance(fn, cst.Lambda):
        fn = sem.local_def(fn, cb.site.scope)
    if not isinstance(fn, (cst.Lambda, cst.FunctionDef)):
        return False
    params = [*fn.params.posonly_params, *fn.params.params]
    if not params:
        return False
    first = params[0].name.value
    return not any(isinstance(n, cst.Name) and n.value == first for n in iter_nodes(fn.body))
