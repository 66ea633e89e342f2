"""EPL304 batch-size-with-dataset: `batch_size=` is ignored when the input batches itself."""
from __future__ import annotations

import libcst as cst

from linter.analysis.datasets import DATASET, GENERATOR, ITERATOR, PYDATASET, DataFlow, is_none
from linter import edits
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid

_WHO_BATCHES = {
    DATASET: "its own `.batch(...)` decides the batch size",
    GENERATOR: "every item the generator yields is one batch",
    ITERATOR: "the iterator's own `batch_size` decides the batch size",
    PYDATASET: "every `__getitem__` returns one batch",
}


class BatchSizeWithDataset(Rule):
    """
    ## What it does
    Flags `batch_size=` given to `fit`, `evaluate` or `predict` of a Keras model when the input
    `x` is a `tf.data.Dataset`, a Python generator, an `ImageDataGenerator` iterator or a
    `PyDataset`/`Sequence` instance.

    ## Why is this bad
    These inputs deliver whole batches; Keras takes them as they come and silently ignores
    `batch_size` (Keras 2 and 3: no error, no warning). Code that "sets the batch size to 64"
    this way still trains with the dataset's batches, and tuning it changes nothing.

    ## Example
    ```python
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
    model.fit(train_ds, epochs=5, batch_size=64)  # batches of 32
    ```
    Use instead:
    ```python
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    model.fit(train_ds, epochs=5)
    ```

    ## Fix
    Safe fix: remove the `batch_size=` argument (it has no effect). Set the batch size where the
    batches are made (`.batch(n)`, `flow_from_directory(batch_size=n)`, the generator).
    """

    code = "EPL304"
    name = "batch-size-with-dataset"
    summary = "`batch_size=` with a dataset, generator, iterator or PyDataset is silently ignored"
    claim = (
        "`batch_size=` given to `fit`/`evaluate`/`predict` with a tf.data dataset, generator, ImageDataGenerator "
        "iterator or PyDataset is silently ignored: the input's own batching wins (Keras 2 and 3)."
    )
    witness = "batches run by fit/evaluate/predict unchanged by batch_size=4, no error and no warning, for a dataset, a generator, an ImageDataGenerator iterator and a PyDataset"
    fires_on = {"input": ("dataset", "generator", "iterator", "PyDataset"), "call": ("fit", "evaluate", "predict")}
    fixable = "safe"

    VALID = [
        # RULES.md "Not a finding": batch_size= with numpy arrays (and lists, tensors, DataFrames)
        Valid(
            """
            import numpy as np
            import pandas as pd
            import tensorflow as tf

            x = np.random.rand(256, 4).astype("float32")
            y = x.sum(axis=1)
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(x, y, batch_size=64, epochs=3)
            model.evaluate(x[:64], y[:64], batch_size=16)
            model.predict([[0.1, 0.2, 0.3, 0.4]], batch_size=1)
            frame = pd.read_csv("data.csv")
            model.fit(frame.values, frame.pop("y"), batch_size=32)
            """
        ),
        # batch_size=None; an unknown input; a receiver that is not a known model
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(ds, batch_size=None)
            model.fit(load_features(), batch_size=32)
            clf.fit(ds, batch_size=32)
            """
        ),
        # the dataset name rebound to arrays before the call
        Valid(
            """
            import keras
            import numpy as np
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(data, epochs=1)
            data = np.stack(rows)
            model.predict(data, batch_size=128)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(train_ds, epochs=5, batch_size=64)
            """,
            line=5,
            column=31,
            message_contains="ignored",
            fixed="""
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(train_ds, epochs=5)
            """,
        ),
        # multi-line call: every comment stays where it was (the removed argument's too), the trailing comma stays
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            train_ds = keras.utils.image_dataset_from_directory("data/train", batch_size=32)
            history = model.fit(
                train_ds,
                epochs=10,  # long enough
                batch_size=32,  # same as the dataset
            )
            """,
            line=8,
            column=5,
            message_contains="`batch_size=32` is ignored",
            fixed="""
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            train_ds = keras.utils.image_dataset_from_directory("data/train", batch_size=32)
            history = model.fit(
                train_ds,
                epochs=10,  # long enough
                # same as the dataset
            )
            """,
        ),
        # in the middle; last without a trailing comma; a generator; a PyDataset; an iterator
        Invalid(
            """
            import keras
            from keras.preprocessing.image import ImageDataGenerator

            class Batches(keras.utils.PyDataset):
                def __len__(self):
                    return 4

            def stream():
                while True:
                    yield x, y

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(stream(), batch_size=16, steps_per_epoch=10)
            model.evaluate(Batches(),
                           batch_size=8)
            model.predict(ImageDataGenerator().flow(x, batch_size=4), batch_size=4, verbose=0)
            """,
            line=13,
            column=21,
            also=((15, 16), (16, 59)),
            message_contains="` is ignored: `",
            fixed="""
            import keras
            from keras.preprocessing.image import ImageDataGenerator

            class Batches(keras.utils.PyDataset):
                def __len__(self):
                    return 4

            def stream():
                while True:
                    yield x, y

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(stream(), steps_per_epoch=10)
            model.evaluate(Batches())
            model.predict(ImageDataGenerator().flow(x, batch_size=4), verbose=0)
            """,
        ),
        # the removed argument is last and the one before it ends in a comment
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.models.load_model("m.keras")
            ds = tf.data.TFRecordDataset(files).map(parse).batch(64)
            model.evaluate(ds,  # held-out records
                           batch_size=64)
            """,
            line=6,
            column=16,
            message_contains="`batch_size=64` is ignored",
            fixed="""
            import tensorflow as tf

            model = tf.keras.models.load_model("m.keras")
            ds = tf.data.TFRecordDataset(files).map(parse).batch(64)
            model.evaluate(ds  # held-out records
                           )
            """,
        ),
        # given by position: reported, not fixed (the arguments after it would shift)
        Invalid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            model.predict(tf.data.Dataset.range(8).batch(2), 2)
            """,
            line=5,
            column=50,
            message_contains="`batch_size=2` is ignored",
        ),
    ]

    METHODS = frozenset({"fit", "evaluate", "predict"})

    ANALYSES = (DataFlow, TrainingCalls)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        flow = self.analysis(DataFlow)
        code = self.ctx.module.code_for_node
        for tc in self.training.on_models(self.METHODS, self.ctx.strict):
            arg = tc.arg("batch_size")
            x = tc.value("x")
            if arg is None or x is None or is_none(arg.value):
                continue
            data = flow.data(x, tc.where)
            if data is None or not data.streamed:
                continue
            fix = removal_fix(tc.call, arg) if arg.keyword is not None else None
            self.report(
                arg,
                f"`batch_size={code(arg.value).strip()}` is ignored: `{code(x).strip()}` is {data.text} and "
                f"{_WHO_BATCHES[data.kind]}.",
                fix,
            )


def removal_fix(call: cst.Call, arg: cst.Arg) -> edits.EditFix:
    """Remove `arg` from `call`; the other arguments' commas and every comment stay."""
    return edits.remove_argument(call, arg, "safe", "remove the ignored `batch_size=` argument")
