"""EPL108 removed-fit-arguments: `workers=`/`use_multiprocessing=`/`max_queue_size=` in fit/evaluate/predict."""
from __future__ import annotations

from linter.analysis.calls import WORKER_ARGUMENTS
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid

METHODS = frozenset({"fit", "evaluate", "predict"})
_RAISES = {"fit": "TypeError", "evaluate": "ValueError", "predict": "TypeError"}


class RemovedFitArguments(Rule):
    """
    ## What it does
    Flags `workers=`, `use_multiprocessing=` and `max_queue_size=` given to `fit`, `evaluate`
    or `predict` of a Keras model. (`fit_generator` & co. are EPL106's: Keras 2's generator
    methods took them legitimately.)

    ## Why is this bad
    Keras 3 removed them from the model methods: `fit(..., workers=4)` and `predict(...)` raise
    `TypeError: fit() got an unexpected keyword argument 'workers'`, `evaluate(...)` raises
    `ValueError: Arguments not recognized`. Keras 2 (tf.keras, tf_keras) accepted them and used
    them for generator and `Sequence` inputs only. In Keras 3 they are arguments of the input
    itself: `keras.utils.PyDataset(workers=..., use_multiprocessing=..., max_queue_size=...)`
    (a `Sequence` subclass passes them to `super().__init__(...)`).

    ## Example
    ```python
    model.fit(train_seq, epochs=10, workers=4, use_multiprocessing=True)
    ```
    Use instead:
    ```python
    class TrainSequence(keras.utils.PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            ...

    train_seq = TrainSequence(x, y, 32, workers=4, use_multiprocessing=True)
    model.fit(train_seq, epochs=10)
    ```

    ## Fix
    No automatic fix: where the workers go depends on the input (a `PyDataset` takes them; an
    array or a `tf.data` pipeline never used them, and the argument can simply be deleted).
    """

    code = "EPL108"
    name = "removed-fit-arguments"
    summary = "`workers=`/`use_multiprocessing=`/`max_queue_size=` in fit/evaluate/predict: an error in Keras 3"
    claim = (
        "Keras 3 rejects `workers=`, `use_multiprocessing=` and `max_queue_size=` in the model methods: `fit` and "
        "`predict` raise TypeError \"unexpected keyword argument\", `evaluate` raises ValueError \"Arguments not "
        "recognized\". Keras 2 (tf.keras, tf_keras) accepted all three."
    )
    witness = "fit/evaluate/predict with each of workers=, use_multiprocessing=, max_queue_size=: Keras 3 TypeError/ValueError; Keras 2 runs"
    fires_on = {"argument": WORKER_ARGUMENTS, "call": tuple(sorted(METHODS))}
    fixable = None

    VALID = [
        # Keras 3: the input carries its workers
        Valid(
            """
            import keras

            class Batches(keras.utils.PyDataset):
                def __init__(self, x, y, batch_size, **kwargs):
                    super().__init__(**kwargs)
                    self.x, self.y, self.batch_size = x, y, batch_size

            model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(Batches(x, y, 32, workers=4, use_multiprocessing=True), epochs=10)
            """
        ),
        # Keras 2's generator method took them (its removal is EPL106's finding)
        Valid(
            """
            from tensorflow import keras

            model = keras.models.load_model("m.h5")
            model.fit_generator(train_gen, steps_per_epoch=100, epochs=5, workers=4, use_multiprocessing=True)
            """
        ),
        # not a Keras model (a scikit-learn style estimator)
        Valid(
            """
            import tensorflow as tf
            from mylib import Trainer

            trainer = Trainer()
            trainer.fit(x, y, workers=8)
            """
        ),
        # unknown receiver: silent unless --strict
        Valid(
            """
            import keras

            def train(model, gen):
                model.fit(gen, epochs=3, workers=2)
            """
        ),
        # PyTorch's loader workers
        Valid(
            """
            import torch
            import keras

            loader = torch.utils.data.DataLoader(dataset, batch_size=32, num_workers=4)
            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(loader, epochs=2)
            """
        ),
        # not a training method
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.save("m.keras")
            pool = make_pool(workers=4, max_queue_size=8)
            """
        ),
    ]
    INVALID = [
        # a user's image-classifier training script
        Invalid(
            """
            from tensorflow import keras

            model = keras.models.Sequential()
            model.fit(
                train_generator,
                epochs=epochs,
                validation_data=validation_generator,
                workers=workers,
                use_multiprocessing=True,
            )
            """,
            line=8,
            column=5,
            also=((9, 5),),
            message_contains="gone from `fit()` in Keras 3 (TypeError",
        ),
        # TensorFlow 1.x transfer-learning tutorial, after renaming fit_generator
        Invalid(
            """
            import tensorflow as tf

            base = tf.keras.applications.MobileNetV2(include_top=False)
            model = tf.keras.Sequential([base, tf.keras.layers.Dense(2)])
            history = model.fit(train_generator, steps_per_epoch=steps, epochs=epochs, workers=4, validation_data=val)
            """,
            line=5,
            column=76,
            message_contains="PyDataset",
        ),
        Invalid(
            """
            import keras

            model = keras.models.load_model("best.keras")
            loss, acc = model.evaluate(val_gen, max_queue_size=10, verbose=0)
            """,
            line=4,
            column=37,
            message_contains="`evaluate()` in Keras 3 (ValueError",
        ),
        Invalid(
            """
            import tf_keras

            model = tf_keras.models.load_model("m.h5")
            preds = model.predict(test_gen, workers=1, verbose=1)
            """,
            line=4,
            column=33,
            message_contains="`predict()` in Keras 3 (TypeError",
        ),
        Invalid(
            """
            from tensorflow import keras

            class Validate(keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    self.model.evaluate(self.gen, use_multiprocessing=False)
            """,
            line=5,
            column=39,
            message_contains="Keras 2 took it",
        ),
        Invalid(
            """
            import keras

            def train(model, gen):
                model.fit(gen, epochs=3, workers=2)
            """,
            line=4,
            column=30,
            message_contains="`workers=`",
            strict=True,
        ),
    ]

    ANALYSES = (TrainingCalls,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        for tc, removed in self.training.keywords_on_models(METHODS, WORKER_ARGUMENTS, self.ctx.strict):
            for arg in removed:
                self.report(
                    arg,
                    f"`{arg.keyword.value}=` is gone from `{tc.method}()` in Keras 3 ({_RAISES[tc.method]}; Keras 2 took it): "
                    "set it on the input's `PyDataset`.",
                )
