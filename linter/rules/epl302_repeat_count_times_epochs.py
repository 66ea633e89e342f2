"""EPL302 repeat-count-times-epochs: `.repeat(E)` plus `fit(epochs=E)` trains E x E passes."""
from __future__ import annotations

import libcst as cst

from linter.analysis.datasets import DATASET, DataFlow, is_none
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid


class RepeatCountTimesEpochs(Rule):
    """
    ## What it does
    Flags `model.fit(ds, epochs=E)` on a Keras model when `ds` is a `tf.data.Dataset` whose last
    `.repeat(count)` has the same count E (the same literal, the same constant, or the same
    name), and `fit` is given no `steps_per_epoch`.

    ## Why is this bad
    `.repeat(E)` makes one pass of the dataset E passes over the data, and an epoch of `fit` is one
    pass of the dataset. Written together with `epochs=E`, the model sees the data E x E times:
    the author meant "E epochs" once and wrote it twice. Measured: `repeat(3)` + `epochs=3` = 9
    passes (Keras 2 and 3).

    ## Example
    ```python
    EPOCHS = 10
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat(EPOCHS)
    model.fit(train_ds, epochs=EPOCHS)  # 100 passes over the data
    ```
    Use instead:
    ```python
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    model.fit(train_ds, epochs=EPOCHS)
    ```

    ## Fix
    Remove the count from the dataset (Keras restarts a finite dataset every epoch), or keep an
    infinite `.repeat()` and pass `steps_per_epoch=` batches per epoch. No automatic fix.
    """

    code = "EPL302"
    name = "repeat-count-times-epochs"
    summary = "`.repeat(E)` on the dataset and `fit(epochs=E)`: E x E passes over the data"
    claim = (
        "`.repeat(E)` on a dataset plus `fit(..., epochs=E)` without `steps_per_epoch` makes E x E passes "
        "over the data: every epoch runs the whole repeated dataset (Keras 2 and 3). Measured: `repeat(3)` + "
        "`epochs=3` = 9 passes."
    )
    witness = "passes over the data counted by a callback == E * E for `repeat(E)` + `epochs=E`"
    fires_on = {"call": ("fit",)}

    VALID = [
        # RULES.md "Not a finding": `.repeat(n)` with steps_per_epoch
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat(5)
            model.fit(ds, epochs=5, steps_per_epoch=100)
            """
        ),
        # different counts; repeat(1); the default epochs=1; a repeat cut by take()
        Valid(
            """
            import keras
            import tensorflow as tf

            EPOCHS = 10
            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(ds.repeat(2), epochs=EPOCHS)
            model.fit(ds.repeat(1), epochs=1)
            model.fit(ds.repeat(3))
            model.fit(ds.repeat(EPOCHS).take(100), epochs=EPOCHS)
            """
        ),
        # the same *name* bound to different values at the two places
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])

            def make(n):
                return tf.data.Dataset.range(8).batch(2).repeat(n)

            n = 4
            model.fit(make(2), epochs=n)
            """
        ),
        # not a known model; not a dataset (a pandas Series has .repeat too)
        Valid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.range(8).repeat(3)
            trainer.fit(ds, epochs=3)
            model = tf.keras.Sequential()
            model.fit(frame.repeat(3), epochs=3)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            EPOCHS = 10
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(512).batch(32).repeat(EPOCHS)
            model.fit(train_ds, epochs=EPOCHS)
            """,
            line=6,
            column=1,
            message_contains="10 x 10 = 100",
        ),
        # literals; the repeat before batch/prefetch still decides the length of a pass
        Invalid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat(3).batch(32).prefetch(tf.data.AUTOTUNE)
            model.fit(ds, epochs=3, validation_data=val_ds)
            """,
            line=6,
            column=1,
            message_contains="9 times",
        ),
        # the count passed through a same-module helper's parameter; epochs given positionally
        Invalid(
            """
            import keras
            import tensorflow as tf

            def make_dataset(x, y, epochs, batch_size=32):
                ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000)
                return ds.batch(batch_size).repeat(epochs)

            def main(args):
                model = keras.Sequential([keras.layers.Dense(1)])
                train = make_dataset(x_train, y_train, args.epochs)
                model.fit(train, None, None, args.epochs)
            """,
            line=11,
            column=5,
            message_contains="repeated `args.epochs` times",
        ),
    ]

    METHODS = frozenset({"fit", "fit_generator"})

    ANALYSES = (DataFlow, TrainingCalls)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        flow = self.analysis(DataFlow)
        code = self.ctx.module.code_for_node
        for tc in self.training.on_models(self.METHODS, self.ctx.strict):
            if tc.has_splat:
                continue
            steps = tc.value("steps_per_epoch")
            if steps is not None and not is_none(steps):
                continue
            x, epochs = tc.value("x"), tc.value("epochs")
            if x is None or epochs is None:
                continue  # default epochs=1: one pass of the repeated dataset, as written
            data = flow.data(x, tc.where)
            if data is None or data.kind != DATASET or data.infinite or data.repeat is None:
                continue
            epochs_ref = (epochs, tc.where)
            if not flow.same_value(data.repeat, epochs_ref):
                continue
            n = flow.int_value(epochs, tc.where)
            if n is not None and n <= 1:
                continue
            e = code(epochs).strip()
            total = f"{n} x {n} = {n * n} times" if n is not None else f"{e} x {e} times"
            count_shown = code(flow.through_params(*data.repeat)[0]).strip()
            self.report(
                tc.call,
                f"`{code(x).strip()}` is repeated `{count_shown}` times and `{tc.method}` runs `epochs={e}`: "
                f"the data is seen {total}.",
            )
