"""EPL303 steps-counts-samples: `steps_per_epoch`/`validation_steps` count batches, not samples."""
from __future__ import annotations

import libcst as cst

from linter.analysis.datasets import ARRAY, IN_MEMORY, ITERATOR, DataFlow
from linter.analysis.training_calls import TrainingCall, TrainingCalls
from linter.rules.base import Invalid, Rule, Valid


class StepsCountsSamples(Rule):
    """
    ## What it does
    Flags `steps_per_epoch=` and `validation_steps=` of `fit` (and Keras 2's `fit_generator`) on
    a Keras model when the value is a number of samples: `gen.samples` or `gen.n` of an
    `ImageDataGenerator` iterator, `len(x)` or `x.shape[0]` of an array (also through a name bound
    to one of these), not divided by the batch size.

    ## Why is this bad
    A step is one batch. Set to the sample count, an epoch asks for batch_size times too many
    batches. A finite input runs out ("Your input ran out of data"): Keras 3 cuts every epoch short
    and goes on, tf.keras 2 stops training. A repeated input makes every epoch batch_size times too
    long. Keras 3 with arrays and no `batch_size` derives a batch size of 1 instead.
    Measured (arrays, 8 batches, steps 256): each epoch cut short after 8 batches, with the warning.

    ## Example
    ```python
    train_gen = datagen.flow_from_directory("data/train", batch_size=32)
    model.fit(train_gen, steps_per_epoch=train_gen.samples, epochs=10)
    ```
    Use instead:
    ```python
    model.fit(train_gen, steps_per_epoch=len(train_gen), epochs=10)
    # or math.ceil(train_gen.samples / train_gen.batch_size), or leave it out
    ```

    ## Fix
    Divide by the batch size (`math.ceil(n / batch_size)`), use `len(generator)`, or leave the
    argument out: Keras knows the length of arrays, iterators and `PyDataset`s. No automatic fix.
    """

    code = "EPL303"
    name = "steps-counts-samples"
    summary = "`steps_per_epoch`/`validation_steps` set to a number of samples instead of batches"
    claim = (
        "`steps_per_epoch` counts batches, not samples. Set to the sample count N: with a repeated dataset every epoch "
        "runs N batches (batch_size times too long); with a finite input the data runs out (\"Your input ran out of "
        "data\") -- Keras 3 cuts every epoch short and goes on with the next, Keras 2 (tf_keras) stops training; with "
        "arrays and no `batch_size`, Keras 2 and 3 derive batch_size = ceil(N / steps) = 1 (N steps of one sample each). "
        "`validation_steps` likewise: a finite validation set runs out (same warning), a repeated one is validated for N "
        "batches."
    )
    witness = "batches per epoch with steps_per_epoch (and validation batches with validation_steps) = the sample count, against the batches available"
    fires_on = {"argument": ("steps_per_epoch", "validation_steps")}

    VALID = [
        # RULES.md "Not a finding": len(generator) of an iterator / Sequence, samples // batch_size
        Valid(
            """
            import math
            import tensorflow as tf
            from tensorflow.keras.preprocessing.image import ImageDataGenerator

            datagen = ImageDataGenerator(rescale=1 / 255, validation_split=0.2)
            train_generator = datagen.flow_from_directory("data", batch_size=32, subset="training")
            val_generator = datagen.flow_from_directory("data", batch_size=32, subset="validation")
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(train_generator, steps_per_epoch=len(train_generator),
                      validation_data=val_generator, validation_steps=len(val_generator))
            model.fit(train_generator, steps_per_epoch=train_generator.samples // train_generator.batch_size,
                      validation_data=val_generator,
                      validation_steps=math.ceil(val_generator.n / val_generator.batch_size))
            steps = train_generator.samples // 32
            model.fit(train_generator, steps_per_epoch=steps, epochs=3)
            """
        ),
        # a Sequence subclass: its len() is the number of batches
        Valid(
            """
            import keras

            class Batches(keras.utils.Sequence):
                def __len__(self):
                    return 10

                def __getitem__(self, i):
                    return x[i], y[i]

            model = keras.Sequential([keras.layers.Dense(1)])
            train = Batches()
            model.fit(train, steps_per_epoch=len(train), epochs=3)
            """
        ),
        # an iterator with batch_size=1: samples == batches; steps reduced in place afterwards
        Valid(
            """
            import keras
            import numpy as np
            from keras.preprocessing.image import ImageDataGenerator

            model = keras.Sequential([keras.layers.Dense(1)])
            gen = ImageDataGenerator().flow_from_directory("data", batch_size=1)
            model.fit(gen, steps_per_epoch=gen.samples)
            x_train = np.load("x.npy")
            steps = len(x_train)
            steps //= 64
            model.fit(x_train, y_train, batch_size=64, steps_per_epoch=steps)
            model.fit(x_train, y_train, batch_size=1, steps_per_epoch=len(x_train))
            model.fit(ImageDataGenerator().flow(x_train, y_train, batch_size=1), steps_per_epoch=x_train.shape[0])
            """
        ),
        # len() of a list of files (a generator may yield one batch per file); an unknown receiver
        Valid(
            """
            import keras
            import numpy as np

            files = ["a.npz", "b.npz"]
            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(batches(files), steps_per_epoch=len(files), epochs=2)
            x = np.zeros((100, 4))
            trainer.fit(x, y, steps_per_epoch=len(x))
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf
            from tensorflow.keras.preprocessing.image import ImageDataGenerator

            datagen = ImageDataGenerator(rescale=1.0 / 255)
            train_gen = datagen.flow_from_directory("data/train", target_size=(64, 64), batch_size=32)
            model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
            model.fit(train_gen, steps_per_epoch=train_gen.samples, epochs=10)
            """,
            line=7,
            column=22,
            message_contains="batches",
        ),
        # validation_steps=gen.n; Keras 2's fit_generator with steps given positionally
        Invalid(
            """
            import keras
            from keras.preprocessing.image import ImageDataGenerator

            gen = ImageDataGenerator()
            train = gen.flow(x, y, batch_size=64)
            val = gen.flow(xv, yv)
            model = keras.models.load_model("m.keras")
            model.fit(train, epochs=5, validation_data=val, validation_steps=val.n)
            model.fit_generator(train, train.n, 5)
            """,
            line=8,
            column=49,
            also=((9, 28),),
            message_contains=".n` counts samples: each epoch asks for batch_size times too many.",
        ),
        # len() of an array, .shape[0], and a name bound to a sample count
        Invalid(
            """
            import numpy as np
            from tensorflow import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
            x_train = x_train / 255.0
            model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
            n_train = len(x_train)
            model.fit(x_train, y_train, batch_size=128, epochs=3, steps_per_epoch=n_train,
                      validation_data=(x_test, y_test), validation_steps=x_test.shape[0])
            """,
            line=8,
            column=55,
            also=((9, 45),),
            message_contains="` counts samples: each epoch asks for batch_size times too many.",
        ),
        # arrays without batch_size: Keras derives a batch size of 1
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            x = np.random.rand(256, 4)
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(x, x.sum(axis=1), epochs=2, steps_per_epoch=len(x))
            """,
            line=6,
            column=39,
            message_contains="batch_size = ceil(n / steps) = 1",
        ),
        # .shape[0] of something not known to be an array: only with --strict
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(features, labels, steps_per_epoch=features.shape[0])
            """,
            line=4,
            column=29,
            message_contains="`steps_per_epoch` counts batches, but `features.shape[0]` counts samples",
            strict=True,
        ),
    ]

    METHODS = frozenset({"fit", "fit_generator"})
    ARGUMENTS = ("steps_per_epoch", "validation_steps")

    ANALYSES = (DataFlow, TrainingCalls)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        flow = self.analysis(DataFlow)
        for tc in self.training.on_models(self.METHODS, self.ctx.strict):
            args = [(name, tc.arg(name)) for name in self.ARGUMENTS]
            args = [(name, a) for name, a in args if a is not None]
            if not args:
                continue
            for name, arg in args:
                count = flow.sample_count(arg.value, tc.where)
                if count is None or (not count.known and not self.ctx.strict):
                    continue
                if self._batch_of_one(tc, name, count, flow):
                    continue
                self.report(arg, self._message(tc, name, count, flow))

    @staticmethod
    def _message(tc: TrainingCall, name: str, count, flow: DataFlow) -> str:
        quoted = count.text.split("` (", 1)[0] + "`" if count.text.startswith("`") else count.text
        head = f"`{name}` counts batches, but {quoted} counts samples: "
        x = tc.value("x")
        x_data = flow.data(x, tc.where) if x is not None else None
        if name == "steps_per_epoch" and tc.value("batch_size") is None and x_data is not None and x_data.kind in IN_MEMORY:
            effect = "Keras picks batch_size = ceil(n / steps) = 1, one sample per step."
        else:
            effect = "each epoch asks for batch_size times too many."
        return head + effect

    @staticmethod
    def _batch_of_one(tc: TrainingCall, name: str, count, flow: DataFlow) -> bool:
        """A batch size of 1 makes samples and batches the same number."""
        if count.kind == ITERATOR:
            return count.batch_size is not None and flow.int_value(*count.batch_size) == 1
        fed = tc.value("x" if name == "steps_per_epoch" else "validation_data")
        fed_data = flow.data(fed, tc.where) if fed is not None else None
        if fed_data is not None and fed_data.kind == ITERATOR and fed_data.batch_size is not None:
            return flow.int_value(*fed_data.batch_size) == 1  # e.g. datagen.flow(x_train, batch_size=1)
        if count.kind == ARRAY:
            given = tc.value("batch_size")
            if name == "validation_steps" and tc.value("validation_batch_size") is not None:
                given = tc.value("validation_batch_size")
            return given is not None and flow.int_value(given, tc.where) == 1
        return False
