"""EPL110 schedule-steps-given-epochs: a learning-rate schedule's `decay_steps=` given the epoch count of `fit`."""
from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from linter.analysis.calls import find_argument, method_argument
from linter.analysis.numbers import linear_form
from linter.analysis.optimizers import is_keras_optimizer_class
from linter.analysis.training_calls import TrainingCall, TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

_FIT_METHODS = frozenset({"fit", "fit_generator"})
# Schedule class -> its steps parameter (the second positional one in every case).
STEP_PARAMETERS = {
    "ExponentialDecay": "decay_steps",
    "InverseTimeDecay": "decay_steps",
    "PolynomialDecay": "decay_steps",
    "CosineDecay": "decay_steps",
    "CosineDecayRestarts": "first_decay_steps",
}
_SCHEDULE_NAMESPACES = ("keras.optimizers.schedules.", "keras.src.optimizers.schedules.")


def schedule_class(q: Optional[str]) -> Optional[str]:
    """`keras.optimizers.schedules.ExponentialDecay` (every spelling) -> "ExponentialDecay"."""
    if q is None or not q.startswith(_SCHEDULE_NAMESPACES):
        return None
    last = q.rsplit(".", 1)[1]
    return last if last in STEP_PARAMETERS else None


class ScheduleStepsGivenEpochs(Rule):
    """
    ## What it does
    Flags the `decay_steps=` (`first_decay_steps=` for `CosineDecayRestarts`) of a Keras
    learning-rate schedule (`ExponentialDecay`, `InverseTimeDecay`, `PolynomialDecay`,
    `CosineDecay`, `CosineDecayRestarts`) when it is demonstrably the number of epochs: the
    schedule goes into the optimizer the model is compiled with, and `decay_steps` is the same
    value or name as the `epochs=` of that model's `fit`.

    ## Why is this bad
    A schedule is called with the optimizer's step count (`optimizer.iterations`): it counts
    **batches**, not epochs. `decay_steps=EPOCHS` makes the schedule decay batches-per-epoch
    times faster than intended: measured on Keras 3 and tf_keras, `ExponentialDecay(0.1,
    decay_steps=2, decay_rate=0.5)` with `fit(epochs=2)` of 3 batches per epoch ends at a
    learning rate of 0.0125 (three halvings; tf_keras reports the last step's 0.0177), not 0.05;
    with hundreds of batches per epoch the rate is near zero after the first epoch. A `CosineDecay(decay_steps=EPOCHS)` reaches its floor
    after EPOCHS batches and stays there.

    ## Example
    ```python
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=EPOCHS)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    model.fit(train_ds, epochs=EPOCHS)
    ```
    Use instead:
    ```python
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=EPOCHS * len(train_ds))
    ```

    ## Fix
    No automatic fix: multiply by the number of batches per epoch (`len(train_ds)`,
    `ceil(len(x) / batch_size)`, `steps_per_epoch`).
    """

    code = "EPL110"
    name = "schedule-steps-given-epochs"
    summary = "a learning-rate schedule's `decay_steps=` is fit's epoch count: schedules count batches"
    claim = (
        "Learning-rate schedules are evaluated at the optimizer's step count (batches), not the epoch: "
        "`decay_steps=<epochs>` decays batches-per-epoch times faster than intended. Measured on Keras 3 and tf_keras: "
        "ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5) with fit(epochs=2) of 3 batches per epoch ends at 0.0125 "
        "(tf_keras: 0.0177, the last step's rate), not 0.05."
    )
    witness = ("each schedule with decay_steps=2 in SGD, fit(epochs=2) of 3 batches: the optimizer's learning rate after each "
               "epoch equals the schedule at the step count, not at the epoch")
    fires_on = {"schedule": tuple(STEP_PARAMETERS)}
    fixable = None

    VALID = [
        # batches: epochs times steps per epoch
        Valid(
            """
            import keras

            EPOCHS = 20
            schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=EPOCHS * len(train_ds))
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
            model.fit(train_ds, epochs=EPOCHS)
            """
        ),
        # a step count that is not the epochs (TensorFlow tutorial)
        Valid(
            """
            import tensorflow as tf

            lr_schedule = tf.keras.optimizers.schedules.InverseTimeDecay(0.001, decay_steps=STEPS_PER_EPOCH * 1000, decay_rate=1, staircase=False)
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer=tf.keras.optimizers.Adam(lr_schedule), loss="mse")
            model.fit(train_ds, steps_per_epoch=STEPS_PER_EPOCH, epochs=10000)
            """
        ),
        # a schedule in a custom loop over batches: no fit to compare with
        Valid(
            """
            import tensorflow as tf

            EPOCHS = 10
            schedule = tf.keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=EPOCHS, decay_rate=0.9)
            optimizer = tf.keras.optimizers.SGD(schedule)
            for epoch in range(EPOCHS):
                for x, y in ds:
                    train_step(x, y)
            """
        ),
        # the same number by chance, for another model's fit
        Valid(
            """
            import keras

            schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.96)
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
            other = keras.Sequential([keras.layers.Dense(1)])
            other.compile(optimizer="sgd", loss="mse")
            other.fit(x, y, epochs=10)
            """
        ),
        # LearningRateScheduler works per epoch: its function may use epochs
        Valid(
            """
            import keras

            EPOCHS = 30
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, epochs=EPOCHS, callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: lr * 0.9)])
            """
        ),
        # not Keras
        Valid(
            """
            import tensorflow as tf
            import optax

            EPOCHS = 10
            schedule = optax.exponential_decay(1e-3, transition_steps=EPOCHS, decay_rate=0.9)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import keras

            EPOCHS = 20
            schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=EPOCHS)
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
            model.fit(train_ds, epochs=EPOCHS)
            """,
            line=4,
            column=57,
            message_contains="counts batches",
        ),
        # literal numbers beside fit(epochs=10)
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(10)])
            lr = tf.keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=1e-2, decay_steps=10, decay_rate=0.9)
            opt = tf.keras.optimizers.SGD(learning_rate=lr)
            model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
            model.fit(x_train, y_train, epochs=10)
            """,
            line=4,
            column=81,
            message_contains="`decay_steps=10`",
        ),
        Invalid(
            """
            from tensorflow import keras

            def train(x, y, num_epochs):
                model = keras.Sequential([keras.layers.Dense(1)])
                sched = keras.optimizers.schedules.PolynomialDecay(0.01, num_epochs, end_learning_rate=1e-4)
                model.compile(optimizer=keras.optimizers.Adam(learning_rate=sched), loss="mse")
                return model.fit(x, y, epochs=num_epochs)
            """,
            line=5,
            column=62,
            message_contains="`decay_steps=num_epochs` is fit's epoch count",
        ),
        Invalid(
            """
            import keras

            epochs = 50
            model = keras.models.load_model("m.keras")
            model.compile(
                optimizer=keras.optimizers.SGD(keras.optimizers.schedules.CosineDecayRestarts(0.1, first_decay_steps=epochs // 5)),
                loss="mse",
            )
            model.fit(x, y, epochs=epochs // 5)
            """,
            line=6,
            column=88,
            message_contains="`first_decay_steps=",
        ),
        Invalid(
            """
            import tensorflow as tf

            N_EPOCHS = 100
            decay = tf.keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=N_EPOCHS, decay_rate=0.5)
            optimizer = tf.keras.optimizers.Adam(decay)
            net = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            net.compile(optimizer, "mse")
            net.fit(ds, epochs=N_EPOCHS, validation_data=val_ds)
            """,
            line=4,
            column=62,
            message_contains="decays batches-per-epoch times too fast",
        ),
        Invalid(
            """
            from keras.optimizers import Adam
            from keras.optimizers.schedules import ExponentialDecay

            EPOCHS = 30
            model = build_model()
            model.compile(optimizer=Adam(ExponentialDecay(1e-3, EPOCHS, 0.96)), loss="mse")
            model.fit(x, y, epochs=EPOCHS)
            """,
            line=6,
            column=53,
            message_contains="`decay_steps=EPOCHS`",
            strict=True,
        ),
    ]

    ANALYSES = (TrainingCalls,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        sem = self.ctx.semantic
        done: set[int] = set()
        for comp in self.training.compiles:
            if not isinstance(comp.receiver, cst.Name):
                continue
            for schedule, cls, steps, site in self._schedules(comp):
                if id(steps) in done:
                    continue
                form = linear_form(steps.value, site, sem)
                if form is None or (form.base is not None and not form.stable):
                    continue
                for fit in self._fits_after(comp):
                    epochs, _ = method_argument(fit.call, fit.method, "epochs")
                    if epochs is None:
                        continue
                    other = linear_form(epochs.value, fit.site, sem)
                    if other is None or (other.base, other.offset) != (form.base, form.offset):
                        continue
                    if not sem.is_keras_model(comp.receiver, comp.scope, self.ctx.strict):
                        continue
                    done.add(id(steps))
                    code = self.ctx.module.code_for_node
                    param = STEP_PARAMETERS[cls]
                    self.report(
                        steps,
                        f"`{param}={code(steps.value).strip()}` is fit's epoch count, but `{cls}` counts batches: it "
                        "decays batches-per-epoch times too fast.",
                    )
                    break

    def _schedules(self, comp: TrainingCall) -> Iterator[tuple[cst.Call, str, cst.Arg, Site]]:
        """The schedules inside the optimizer this compile call is given, with their steps argument."""
        sem = self.ctx.semantic
        given, _ = find_argument(comp.call, "optimizer", ("optimizer", "loss"))
        if given is None:
            return
        opt, site = _through_name(given.value, comp.site, sem)
        if not isinstance(opt, cst.Call) or not is_keras_optimizer_class(sem.qualified_name(opt.func, site.scope)):
            return
        rate, _ = find_argument(opt, "learning_rate", ("learning_rate",))
        if rate is None:
            return
        schedule, site = _through_name(rate.value, site, sem)
        if not isinstance(schedule, cst.Call):
            return
        cls = schedule_class(sem.qualified_name(schedule.func, site.scope))
        if cls is None:
            return
        steps, _ = find_argument(schedule, STEP_PARAMETERS[cls], ("initial_learning_rate", STEP_PARAMETERS[cls]))
        if steps is not None:
            yield schedule, cls, steps, site

    def _fits_after(self, comp: TrainingCall) -> Iterator[TrainingCall]:
        """fit calls on the model this compile call compiled (the same bindings reach both)."""
        sem = self.ctx.semantic
        name = comp.receiver.value  # type: ignore[attr-defined]
        bindings = {id(b) for b in sem.reaching_at(name, comp.site)}
        for fit in self.training.of(_FIT_METHODS):
            receiver = fit.receiver
            if not (isinstance(receiver, cst.Name) and receiver.value == name and fit.site.scope is comp.site.scope):
                continue
            if fit.site.seq >= comp.site.seq and {id(b) for b in sem.reaching_at(name, fit.site)} == bindings:
                yield fit


def _through_name(expr: cst.BaseExpression, site: Site, sem) -> tuple[cst.BaseExpression, Site]:
    """`expr`, or the value a name used at `site` is bound to (once), with the site of that value."""
    if isinstance(expr, cst.Name):
        b = sem.single_value(expr.value, site)
        if b is not None and isinstance(b.value, cst.BaseExpression):
            return b.value, Site.of_binding(b)
    return expr, site
