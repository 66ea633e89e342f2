"""EPL306 finite-generator-across-epochs: a finite Python generator feeds only the first epoch."""
from __future__ import annotations

import libcst as cst

from linter.analysis.datasets import GENERATOR, DataFlow, is_none
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid


class FiniteGeneratorAcrossEpochs(Rule):
    """
    ## What it does
    Flags `model.fit(gen, epochs=E)` (and Keras 2's `fit_generator`) on a Keras model when `gen`
    is a Python generator known to end -- a same-module generator function whose loops around
    `yield` all walk finite data (`for i in range(0, len(x), batch_size)`, no `while True`), or
    a generator expression over finite data -- `E` is known to be more than 1, and `fit` has
    no `steps_per_epoch`.

    ## Why is this bad
    A generator can be walked once. Epoch 1 uses it up; the later epochs find it empty. Keras 3
    does not restart it: every later epoch replays only the two batches Keras peeked to learn the
    input's structure and warns "Your input ran out of data" -- History still shows E epochs, but
    epochs 2..E each trained on 2 batches. Keras 2 stops training at epoch 2 with the same
    warning.

    ## Example
    ```python
    def batches(x, y, batch_size=32):
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]

    model.fit(batches(x_train, y_train), epochs=10)  # epochs 2-10 see 2 batches each
    ```
    Use instead:
    ```python
    def batches(x, y, batch_size=32):
        while True:
            for i in range(0, len(x), batch_size):
                yield x[i:i + batch_size], y[i:i + batch_size]

    model.fit(batches(x_train, y_train), epochs=10, steps_per_epoch=math.ceil(len(x_train) / 32))
    ```

    ## Fix
    Make the generator endless (`while True:` around its loop) and pass `steps_per_epoch=`, or
    feed a `keras.utils.PyDataset` / `tf.data.Dataset`, which Keras restarts at every epoch. No
    automatic fix: the number of steps is the author's.
    """

    code = "EPL306"
    name = "finite-generator-across-epochs"
    summary = "a finite Python generator given to `fit(epochs>1)` without `steps_per_epoch`: only epoch 1 sees the data"
    claim = (
        "A Python generator is used up by the first epoch and never restarted. Keras 3: every later epoch runs only "
        "the 2 batches Keras peeked at (measured: a generator of 4 batches, epochs=3 -> batches per epoch [4, 2, 2], "
        "\"Your input ran out of data\" warnings, History shows 3 epochs). Keras 2 (tf_keras): epoch 2 runs 0 batches and "
        "training stops (measured [4, 0], History shows 2 epochs)."
    )
    witness = "batches per epoch of `fit(generator, epochs=3)` for a finite generator function and a generator expression"
    fires_on = {"input": ("generator function", "generator expression"), "call": ("fit",)}

    VALID = [
        # an endless generator with steps_per_epoch (the Keras 2 idiom: keras-io, DLwP 1st edition)
        Valid(
            """
            import numpy as np
            from tensorflow import keras

            def generator(data, lookback, batch_size=128):
                i = 0
                while True:
                    if i + batch_size >= len(data):
                        i = 0
                    rows = np.arange(i, i + batch_size)
                    i += len(rows)
                    yield data[rows], data[rows + lookback]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="rmsprop", loss="mae")
            model.fit(generator(float_data, 1440), steps_per_epoch=500, epochs=20)
            """
        ),
        # a finite generator with steps_per_epoch: the author decides how many batches an epoch is
        Valid(
            """
            import keras

            def batches(x, y, batch_size=32):
                for i in range(0, len(x), batch_size):
                    yield x[i:i + batch_size], y[i:i + batch_size]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(batches(x, y), epochs=5, steps_per_epoch=len(x) // 32)
            """
        ),
        # one epoch (the default, or epochs=1): a single pass is all fit needs
        Valid(
            """
            import keras

            def batches(x, y):
                for i in range(0, len(x), 32):
                    yield x[i:i + 32], y[i:i + 32]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(batches(x, y))
            model.fit(batches(x, y), epochs=1)
            """
        ),
        # a PyDataset / Sequence has a length and is restarted every epoch
        Valid(
            """
            import math
            import keras

            class Batches(keras.utils.PyDataset):
                def __init__(self, x, y, batch_size, **kwargs):
                    super().__init__(**kwargs)
                    self.x, self.y, self.batch_size = x, y, batch_size

                def __len__(self):
                    return math.ceil(len(self.x) / self.batch_size)

                def __getitem__(self, idx):
                    lo = idx * self.batch_size
                    return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(Batches(x, y, 32), epochs=10)
            """
        ),
        # a generator over data of unknown length (a parameter nobody passes here), or over an
        # endless iterator: not known to end
        Valid(
            """
            import keras

            def wrap(batches):
                for x, y in batches:
                    yield x / 255.0, y

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(wrap(stream), epochs=10)
            """
        ),
        # a generator expression over itertools.cycle never ends; epochs unknown (not --strict)
        Valid(
            """
            import itertools
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit((b for b in itertools.cycle(batches)), epochs=10, steps_per_epoch=8)
            batches_list = [(x[i:i + 8], y[i:i + 8]) for i in range(0, 64, 8)]
            model.fit((b for b in batches_list), epochs=args.epochs)
            """
        ),
        # tf.data.Dataset.from_generator takes the generator *function*: it calls it every epoch
        Valid(
            """
            import tensorflow as tf

            def gen():
                for i in range(100):
                    yield x[i], y[i]

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_generator(gen, output_signature=sig).batch(10)
            model.fit(ds, epochs=10)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import keras

            def batches(x, y, batch_size=32):
                for i in range(0, len(x), batch_size):
                    yield x[i:i + batch_size], y[i:i + batch_size]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(batches(x_train, y_train), epochs=10)
            """,
            line=9,
            column=1,
            message_contains="get only 2 replayed batches",
        ),
        # a generator expression (the shape of many "feed the model batch by batch" answers)
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            x = np.random.rand(1000, 8)
            y = np.random.rand(1000, 1)
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="sgd", loss="mse")
            model.fit(((x[i:i + 50], y[i:i + 50]) for i in range(0, 1000, 50)), epochs=5)
            """,
            line=8,
            column=1,
            message_contains="generator expression",
        ),
        # the generator object bound to a name first; epochs through a constant
        Invalid(
            """
            import tensorflow as tf
            from tensorflow import keras

            EPOCHS = 20

            def data_generator(paths, labels, batch_size):
                for start in range(0, len(paths), batch_size):
                    batch = paths[start:start + batch_size]
                    yield load_images(batch), labels[start:start + batch_size]

            model = keras.models.load_model("base.keras")
            train_gen = data_generator(train_paths, train_labels, 64)
            history = model.fit(train_gen, epochs=EPOCHS, validation_data=(x_val, y_val))
            """,
            line=13,
            column=11,
            message_contains="epochs 2..20",
        ),
        # Keras 2's fit_generator, epochs positional (generator, steps_per_epoch=None, epochs)
        Invalid(
            """
            from tensorflow import keras

            def gen(samples):
                for s in sorted(samples):
                    yield s

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit_generator(gen(files), None, 4)
            """,
            line=8,
            column=1,
            message_contains="steps_per_epoch",
        ),
        # a generator over a zip of arrays and enumerate: finite; a name bound to a list
        Invalid(
            """
            import numpy as np
            import keras

            x, y = np.load("x.npy"), np.load("y.npy")

            def pairs(xs, ys):
                for i, (a, b) in enumerate(zip(xs, ys)):
                    yield a[None], b[None]

            chunks = [c for c in np.array_split(data, 10)]

            def by_chunk():
                for c in chunks:
                    yield c[:, :-1], c[:, -1:]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(pairs(x, y), epochs=3)
            model.fit(by_chunk(), epochs=3)
            """,
            line=17,
            column=1,
            also=((18, 1),),
            message_contains="Python generator",
        ),
        # as_numpy_iterator() of a finite dataset is a one-pass iterator too
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
            model.fit(ds.as_numpy_iterator(), epochs=4)
            """,
            line=5,
            column=1,
            message_contains="used up by epoch 1",
        ),
        # unknown epochs: only with --strict
        Invalid(
            """
            import keras

            def batches(x, y):
                for i in range(0, len(x), 32):
                    yield x[i:i + 32], y[i:i + 32]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(batches(x, y), epochs=args.epochs)
            """,
            line=8,
            column=1,
            message_contains="epochs",
            strict=True,
        ),
    ]

    METHODS = frozenset({"fit", "fit_generator"})

    ANALYSES = (DataFlow, TrainingCalls)

    def finish(self) -> None:
        flow: DataFlow = self.analysis(DataFlow)
        code = self.ctx.module.code_for_node
        for tc in self.analysis(TrainingCalls).on_models(self.METHODS, self.ctx.strict):
            if tc.has_splat:
                continue
            steps = tc.value("steps_per_epoch")
            if steps is not None and not flow.none_value(steps, tc.where):
                continue
            if tc.arg("initial_epoch") is not None:
                continue
            x = tc.value("x")
            if x is None:
                continue
            data = flow.data(x, tc.where)
            if data is None or data.kind != GENERATOR or not data.finite:
                continue
            epochs_arg = tc.value("epochs")
            epochs = flow.int_value(epochs_arg, tc.where) if epochs_arg is not None else 1
            if epochs is None and not self.ctx.strict:
                continue
            if epochs is not None and epochs <= 1:
                continue
            what = "a generator expression" if isinstance(x, cst.GeneratorExp) else "a Python generator"
            text = code(x).strip()
            shown = f"`{text}`"
            later = {None: "epochs after the first", 2: "epoch 2"}.get(epochs, f"epochs 2..{epochs}")
            self.report(
                tc.call,
                f"{shown} is {what}, used up by epoch 1: {later} get only 2 replayed batches. "
                f"Make it endless and pass `steps_per_epoch`.",
            )
