"""EPL103 keras1-epoch-arguments: `nb_epoch=`, `samples_per_epoch=`, ... are Keras 1 names (TypeError in tf_keras and Keras 3)."""
from __future__ import annotations

import libcst as cst

from linter import edits
from linter.analysis.calls import KERAS1_EPOCH_ARGUMENTS, TRAINING_METHODS, find_argument, positional_count
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid

class Keras1EpochArguments(Rule):
    """
    ## What it does
    Flags the Keras 1 argument names `nb_epoch=`, `samples_per_epoch=`, `nb_val_samples=` and
    `val_samples=` in `fit`, `fit_generator`, `evaluate(_generator)` and `predict(_generator)`
    calls on a Keras model.

    ## Why is this bad
    Keras 2 renamed them (`epochs`, `steps_per_epoch`, `validation_steps`, `steps`), and today's
    Keras rejects the old names: Keras 3 and tf_keras (the Keras 2 of TF 2.16+) raise
    `TypeError: fit() got an unexpected keyword argument 'nb_epoch'` (measured: Keras 3.15.1,
    tf_keras 2.21). The sample counts did not only change name: Keras 1 counted samples,
    Keras 2+ counts batches (steps).

    Older versions only warned, which is why so much published code still runs with these
    names in its logs: standalone (multi-backend) Keras 2.0-2.3 renamed `nb_epoch` in `fit`
    with `UserWarning: The nb_epoch argument in fit has been renamed epochs`, and its
    `fit_generator` converted `samples_per_epoch` (divided by the generator's batch size when
    it had one), `nb_epoch` and `nb_val_samples` (passed on unchanged as `validation_steps`)
    with a "semantics ... is not the same" warning; tf.keras's graph-mode (TF 1.x, and TF 2's
    `training_v1`) `fit` logged the same rename (source: keras-team/keras `engine/training.py`
    and `legacy/interfaces.py` of the 2.x releases; tensorflow `python/keras/engine/training_v1.py`).
    Not measured here: the witness runs Keras 3 and tf_keras only.

    ## Example
    ```python
    model.fit(x_train, y_train, batch_size=32, nb_epoch=10)
    model.fit_generator(gen, samples_per_epoch=2000, nb_epoch=10)
    ```
    Use instead:
    ```python
    model.fit(x_train, y_train, batch_size=32, epochs=10)
    model.fit(gen, steps_per_epoch=2000 // 32, epochs=10)
    ```

    ## Fix
    `nb_epoch=` -> `epochs=` is a safe automatic fix (not offered when `epochs=` is given as
    well). `samples_per_epoch=` / `nb_val_samples=` / `val_samples=` need a division by the
    batch size, so they have no automatic fix: the message says which argument replaces them.
    """

    code = "EPL103"
    name = "keras1-epoch-arguments"
    summary = "`nb_epoch=`/`samples_per_epoch=`/`nb_val_samples=` are Keras 1 names: TypeError in tf_keras and Keras 3"
    claim = (
        "Keras 1 argument names (`nb_epoch=`, `samples_per_epoch=`, `nb_val_samples=`, `val_samples=`) are errors in "
        "tf_keras (Keras 2 for TF 2.16+) and Keras 3: `fit` and `predict` raise TypeError \"unexpected keyword "
        "argument\"; `evaluate` raises TypeError \"Invalid keyword arguments\" (tf_keras) or ValueError \"Arguments not "
        "recognized\" (Keras 3)."
    )
    witness = "fit/evaluate/predict with each of nb_epoch=, samples_per_epoch=, nb_val_samples=, val_samples= raise (TypeError; Keras 3 evaluate: ValueError)"
    fires_on = {"argument": ("nb_epoch", "samples_per_epoch", "nb_val_samples", "val_samples"), "call": ("fit", "evaluate", "predict")}
    fixable = "sometimes"

    VALID = [
        # the current names
        Valid(
            """
            import keras

            model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(x, y, batch_size=32, epochs=10, steps_per_epoch=100, validation_steps=5)
            """
        ),
        # not a Keras model: an old scikit-learn style wrapper keeps its own parameter names
        Valid(
            """
            import tensorflow as tf
            from mylib import Trainer

            trainer = Trainer()
            trainer.fit(x, y, nb_epoch=10)
            """
        ),
        # unknown receiver: silent unless --strict
        Valid(
            """
            from tensorflow import keras

            def train(model, x, y):
                model.fit(x, y, nb_epoch=10)
            """
        ),
        # not a training method
        Valid(
            """
            import keras

            model = keras.models.load_model("m.keras")
            model.save("out.keras", nb_epoch=3)
            """
        ),
    ]
    INVALID = [
        # Keras 1's positional samples_per_epoch: renaming nb_epoch alone would make 1720 steps per epoch
        Invalid(
            """
            from keras.models import Sequential
            model = Sequential()
            model.fit_generator(gen, 1720, nb_epoch=1)
            """,
            line=3,
            column=32,
            message_contains="positional `1720` a sample count",
        ),
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="sgd", loss="mse")
            model.fit(x, y, batch_size=32, nb_epoch=10)  # train
            """,
            line=5,
            column=32,
            message_contains="TypeError",
            fixed="""
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="sgd", loss="mse")
            model.fit(x, y, batch_size=32, epochs=10)  # train
            """,
        ),
        # Keras 1 generator call: three findings, only nb_epoch is fixable
        Invalid(
            """
            from keras.models import Sequential

            model = Sequential()
            model.fit_generator(
                train_gen,
                samples_per_epoch=2000,  # samples, not batches
                nb_epoch=50,
                validation_data=val_gen,
                nb_val_samples=800,
            )
            """,
            line=6,
            column=5,
            also=((7, 5), (9, 5)),
            message_contains="raises TypeError in",
            fixed="""
            from keras.models import Sequential

            model = Sequential()
            model.fit_generator(
                train_gen,
                samples_per_epoch=2000,  # samples, not batches
                epochs=50,
                validation_data=val_gen,
                nb_val_samples=800,
            )
            """,
        ),
        # both spellings given: reported, but renaming would duplicate `epochs=`, so no fix
        Invalid(
            """
            import keras as K

            net = K.models.load_model("m.keras")
            net.fit(x, y, epochs=5, nb_epoch=5)
            """,
            line=4,
            column=25,
            message_contains="already",
        ),
        Invalid(
            """
            import tf_keras

            model = tf_keras.models.load_model("m.h5")
            preds = model.predict_generator(gen, val_samples=1000)
            """,
            line=4,
            column=38,
            message_contains="steps=",
        ),
        Invalid(
            """
            from tensorflow import keras

            class Retrain(keras.callbacks.Callback):
                def on_train_end(self, logs=None):
                    self.model.fit(self.x, self.y, nb_epoch=1)
            """,
            line=5,
            column=40,
            message_contains="`nb_epoch=` is Keras 1's `epochs=`",
        ),
        Invalid(
            """
            import keras

            def train(model, x, y):
                model.fit(x, y, nb_epoch=10)
            """,
            line=4,
            column=21,
            message_contains="`nb_epoch=` is Keras 1's `epochs=`",
            strict=True,
        ),
    ]

    ANALYSES = (TrainingCalls,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        for tc, old in self.training.keywords_on_models(TRAINING_METHODS, KERAS1_EPOCH_ARGUMENTS, self.ctx.strict):
            for arg in old:
                self._report(tc.call, tc.method, arg)

    def _report(self, call: cst.Call, method: str, arg: cst.Arg) -> None:
        old = arg.keyword.value  # type: ignore[union-attr]
        new, renamable = KERAS1_EPOCH_ARGUMENTS[old]
        head = f"`{old}=` is Keras 1's `{new}=`: `{method}()` raises TypeError in tf_keras and Keras 3."
        if renamable:
            if find_argument(call, new)[0] is not None or (method == "fit" and positional_count(call) > 3):
                self.report(arg, f"{head} `{new}=` is already given: delete `{old}=`.")
                return
            if method.endswith("_generator") and positional_count(call) >= 2:
                # `fit_generator(gen, 1720, nb_epoch=1)`: Keras 1 read 1720 as samples per epoch, Keras 2+
                # reads it as steps: renaming alone would train 1720 batches per epoch
                sample = self.ctx.module.code_for_node(call.args[1].value).strip()
                self.report(
                    arg,
                    f"`{old}=` is Keras 1's `{new}=` (TypeError in tf_keras, Keras 3), and positional `{sample}` a sample "
                    f"count: pass `steps_per_epoch={sample} // batch_size`.",
                )
                return
            fix = edits.rename_keyword(arg, new, "safe", f"rename `{old}=` to `{new}=`")
            self.report(arg, f"{head} Use `{new}=`.", fix)
            return
        self.report(arg, f"`{old}=` (Keras 1) raises TypeError in `{method}()` (tf_keras, Keras 3). Pass `{new}=` in batches: samples // batch_size.")

