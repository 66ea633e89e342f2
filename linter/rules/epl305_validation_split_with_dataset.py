"""EPL305 validation-split-with-dataset: `validation_split=` only works with arrays/tensors."""
from __future__ import annotations

import libcst as cst

from linter.analysis.datasets import DataFlow, is_none
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid


class ValidationSplitWithDataset(Rule):
    """
    ## What it does
    Flags `validation_split=` in `fit` on a Keras model when `x` is a `tf.data.Dataset`, a Python
    generator, an `ImageDataGenerator` iterator or a `PyDataset`/`Sequence` instance, and no
    `validation_data=` is given.

    ## Why is this bad
    `fit` makes the split by slicing the last fraction off the input arrays. A dataset or a
    generator cannot be sliced, so `fit` raises `ValueError` ("`validation_split` is only
    supported for Tensors or NumPy arrays") before training starts (Keras 2 and 3).

    ## Example
    ```python
    train_ds = keras.utils.image_dataset_from_directory("data", batch_size=32)
    model.fit(train_ds, epochs=10, validation_split=0.2)  # ValueError
    ```
    Use instead:
    ```python
    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        "data", batch_size=32, validation_split=0.2, subset="both", seed=1)
    model.fit(train_ds, epochs=10, validation_data=val_ds)
    ```

    ## Fix
    Split the data before it becomes a dataset (`validation_split=`/`subset=` of the Keras dataset
    helpers or of `ImageDataGenerator`, `keras.utils.split_dataset`, `.take()`/`.skip()`) and
    pass `validation_data=`. No automatic fix.
    """

    code = "EPL305"
    name = "validation-split-with-dataset"
    summary = "`fit(validation_split=)` with a dataset, generator, iterator or PyDataset raises ValueError"
    claim = (
        "`validation_split=` with a tf.data dataset, generator, ImageDataGenerator iterator or PyDataset raises "
        "ValueError: it is only supported for arrays/tensors (Keras 2 and 3)."
    )
    witness = "`fit(input, validation_split=0.2)` raises ValueError for a dataset, a generator, an ImageDataGenerator iterator and a PyDataset"
    fires_on = {"input": ("dataset", "generator", "iterator", "PyDataset")}

    VALID = [
        # RULES.md "Not a finding": validation_split= with arrays
        Valid(
            """
            import numpy as np
            from tensorflow import keras

            (x_train, y_train), _ = keras.datasets.mnist.load_data()
            model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
            model.fit(x_train / 255.0, y_train, epochs=5, validation_split=0.1)
            x = np.random.rand(100, 3)
            model.fit(x, x.sum(axis=1), validation_split=0.2)
            """
        ),
        # validation_split of the dataset helper / ImageDataGenerator (with subset=) is fine
        Valid(
            """
            import keras
            from keras.preprocessing.image import ImageDataGenerator

            train_ds, val_ds = keras.utils.image_dataset_from_directory(
                "data", validation_split=0.2, subset="both", seed=1)
            model = keras.Sequential([keras.layers.Dense(2)])
            model.fit(train_ds, validation_data=val_ds, epochs=3)
            datagen = ImageDataGenerator(validation_split=0.2)
            train = datagen.flow_from_directory("data", subset="training")
            model.fit(train, validation_data=datagen.flow_from_directory("data", subset="validation"))
            """
        ),
        # validation_data wins over validation_split (no error); split 0 or None; unknown receiver
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(ds, validation_split=0.2, validation_data=val_ds)
            model.fit(ds, validation_split=0.0)
            model.fit(ds, validation_split=None)
            estimator.fit(ds, validation_split=0.2)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import keras

            train_ds = keras.utils.image_dataset_from_directory("data", batch_size=32, image_size=(180, 180))
            model = keras.Sequential([keras.layers.Rescaling(1 / 255), keras.layers.Flatten(), keras.layers.Dense(5)])
            model.fit(train_ds, epochs=10, validation_split=0.2)
            """,
            line=5,
            column=32,
            message_contains="ValueError",
        ),
        # a generator function, a Sequence subclass, an ImageDataGenerator iterator
        Invalid(
            """
            import tensorflow as tf
            from tensorflow.keras.utils import Sequence
            from tensorflow.keras.preprocessing.image import ImageDataGenerator

            def batches(paths):
                for p in paths:
                    yield load(p)

            class Frames(Sequence):
                def __len__(self):
                    return 8

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(batches(files), validation_split=0.1)
            model.fit(Frames(), epochs=2, validation_split=0.25)
            model.fit(ImageDataGenerator().flow_from_directory("data"), validation_split=0.2, validation_data=None)
            """,
            line=14,
            column=27,
            also=((15, 31), (16, 61)),
            message_contains=": `fit` raises ValueError. Pass `validation_data=`.",
        ),
        # a dataset returned by a same-module function and bound to a name
        Invalid(
            """
            import tensorflow as tf
            import tensorflow_datasets as tfds

            def load_split(name):
                ds = tfds.load(name, split="train", as_supervised=True)
                return ds.map(normalize).batch(64)

            def train(epochs):
                model = tf.keras.models.Sequential([tf.keras.layers.Dense(10)])
                data = load_split("mnist")
                return model.fit(data, epochs=epochs, validation_split=0.2)
            """,
            line=11,
            column=43,
            message_contains="`validation_split` needs arrays, but `data` is a tf.data.Dataset",
        ),
    ]

    METHODS = frozenset({"fit"})

    ANALYSES = (DataFlow, TrainingCalls)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        flow = self.analysis(DataFlow)
        code = self.ctx.module.code_for_node
        for tc in self.training.on_models(self.METHODS, self.ctx.strict):
            arg = tc.arg("validation_split")
            x = tc.value("x")
            if arg is None or x is None or is_none(arg.value) or _is_zero(arg.value):
                continue
            validation_data = tc.value("validation_data")
            if (validation_data is not None and not is_none(validation_data)) or tc.has_splat:
                continue  # validation_data overrides validation_split (or may be in **kwargs)
            data = flow.data(x, tc.where)
            if data is None or not data.streamed:
                continue
            self.report(
                arg,
                f"`validation_split` needs arrays, but `{code(x).strip()}` is {data.text}: `fit` raises ValueError. "
                f"Pass `validation_data=`.",
            )


def _is_zero(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.Integer, cst.Float)) and float(node.evaluated_value) == 0.0
