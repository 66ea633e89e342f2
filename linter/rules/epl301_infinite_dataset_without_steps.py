"""EPL301 infinite-dataset-without-steps: `fit` on a `.repeat()`ed dataset needs `steps_per_epoch`."""
from __future__ import annotations

import libcst as cst

from linter.analysis.datasets import DATASET, DataFlow, is_none
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid


class InfiniteDatasetWithoutSteps(Rule):
    """
    ## What it does
    Flags `model.fit(ds, ...)` (and Keras 2's `fit_generator`) on a Keras model when `ds` is a
    `tf.data.Dataset` known to be infinite -- built with `.repeat()` without a count (and not cut
    by `.take(n)` afterwards), `tf.data.Dataset.counter()`/`random()`, or
    `tf.data.experimental.make_csv_dataset` without `num_epochs` -- and `fit` is given no
    `steps_per_epoch`.

    ## Why is this bad
    An epoch of `fit` is one pass over its input. An infinite dataset has no end of a pass: in
    Keras 3 the first epoch never ends (callbacks' `on_epoch_end`, validation and checkpoints
    never run), and tf.keras 2 refuses it with `ValueError: When providing an infinite dataset,
    you must specify the number of steps to run`.

    ## Example
    ```python
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(32).repeat()
    model.fit(train_ds, epochs=10)  # epoch 1 never ends
    ```
    Use instead:
    ```python
    model.fit(train_ds, epochs=10, steps_per_epoch=len(x) // 32)
    ```

    ## Fix
    Pass `steps_per_epoch=` (batches per epoch), or drop `.repeat()`: Keras restarts a finite
    dataset at every epoch by itself. No automatic fix: the number of steps is the author's.
    """

    code = "EPL301"
    name = "infinite-dataset-without-steps"
    summary = "`fit` on an infinite (`.repeat()`ed) dataset without `steps_per_epoch`: the epoch never ends"
    claim = (
        "Keras 3: `fit` on a `.repeat()`ed (infinite) dataset without `steps_per_epoch` never ends its "
        "first epoch (measured: 40 batches of an 8-batch dataset and still in epoch 1). Keras 2 (tf_keras): "
        "`fit` raises ValueError \"When providing an infinite dataset, you must specify the number of steps to run\"."
    )
    witness = "epoch 1 has not ended after several passes over a `.repeat()`ed dataset (Keras 3); ValueError (Keras 2)"
    fires_on = {"call": ("fit",)}

    VALID = [
        # RULES.md "Not a finding": `ds.repeat()` with steps_per_epoch
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()
            model.fit(ds, epochs=5, steps_per_epoch=100)
            """
        ),
        # steps given positionally to Keras 2's fit_generator
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.models.load_model("m.keras")
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()
            model.fit_generator(ds, 100, 5)
            """
        ),
        # a finite repeat, a repeat cut by take(), no repeat at all
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            base = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(base.repeat(2), epochs=5)
            model.fit(base.repeat().take(50), epochs=5)
            model.fit(base, epochs=5)
            """
        ),
        # repeated only on one path: not known to be infinite
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            if forever:
                ds = ds.repeat()
            model.fit(ds, epochs=5)
            """
        ),
        # rebound to a finite dataset before this fit
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.Dataset.range(10).repeat()
            model.fit(ds, steps_per_epoch=10)
            ds = tf.data.Dataset.range(10)
            model.fit(ds, epochs=3)
            """
        ),
        # steps may be in **kwargs; an unknown receiver; something that is not tf.data
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.Dataset.range(10).repeat()
            model.fit(ds, **fit_kwargs)

            def train(m):
                m.fit(ds, epochs=3)

            series = pandas_series.repeat(3)
            model.fit(series.repeat(), epochs=2)
            """
        ),
        # make_csv_dataset with num_epochs is finite
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.experimental.make_csv_dataset("train.csv", batch_size=32, num_epochs=1)
            model.fit(ds, epochs=4)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1024).batch(32).repeat()
            model.fit(train_ds, epochs=10)
            """,
            line=6,
            column=1,
            message_contains="never ends",
        ),
        # the chain built over several statements, x= given by keyword, steps_per_epoch=None
        Invalid(
            """
            import keras
            from tensorflow.data import Dataset

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = Dataset.from_tensor_slices((x, y))
            ds = ds.shuffle(100).batch(32)
            ds = ds.repeat()
            ds = ds.prefetch(2)
            history = model.fit(x=ds, epochs=3, steps_per_epoch=None)
            """,
            line=9,
            column=11,
            message_contains="ValueError",
        ),
        # a same-module function returning the dataset; a Keras 2 fit_generator call
        Invalid(
            """
            import tensorflow as tf
            from tensorflow import keras

            def make_dataset(x, y, batch_size=32):
                ds = tf.data.Dataset.from_tensor_slices((x, y))
                ds = ds.batch(batch_size)
                return ds.repeat()

            model = keras.models.Sequential([keras.layers.Dense(1)])
            model.fit(make_dataset(x, y), epochs=10)
            model.fit_generator(make_dataset(x, y), epochs=10)
            """,
            line=10,
            column=1,
            also=((11, 1),),
            message_contains="the first epoch never ends",
        ),
        # make_csv_dataset repeats forever unless num_epochs is given
        Invalid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.experimental.make_csv_dataset("train.csv", batch_size=32, label_name="y")
            model.fit(ds, epochs=4)
            """,
            line=6,
            column=1,
            message_contains="num_epochs",
        ),
        # unknown receiver: only with --strict
        Invalid(
            """
            import tensorflow as tf

            def train(model, x, y):
                ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
                model.fit(ds, epochs=2)
            """,
            line=5,
            column=5,
            message_contains="`ds` is infinite (`.repeat()` without a count) and `fit` has no `steps_per_epoch`",
            strict=True,
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
            x = tc.value("x")
            if x is None:
                continue
            data = flow.data(x, tc.where)
            if data is None or data.kind != DATASET or not data.infinite:
                continue
            self.report(
                tc.call,
                f"`{code(x).strip()}` is infinite ({data.why}) and `{tc.method}` has no `steps_per_epoch`: "
                f"the first epoch never ends (Keras 2: ValueError).",
            )
