"""EPL106 removed-generator-methods: `fit_generator` & co. are gone in Keras 3 (AttributeError)."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter import edits
from linter.analysis.calls import KERAS1_ARGUMENTS, WORKER_ARGUMENTS
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid

REPLACEMENTS = {"fit_generator": "fit", "evaluate_generator": "evaluate", "predict_generator": "predict"}


class RemovedGeneratorMethods(Rule):
    """
    ## What it does
    Flags calls of `fit_generator`, `evaluate_generator` and `predict_generator` on a Keras model.

    ## Why is this bad
    Keras 3 removed them: the call raises `AttributeError: 'Functional' object has no attribute
    'fit_generator'`. In Keras 2 (tf.keras, `tf_keras`) they still exist but are deprecated and
    only forward to `fit`/`evaluate`/`predict`, which have accepted Python generators,
    `keras.utils.Sequence`/`PyDataset` and `tf.data` datasets since TensorFlow 2.1.

    ## Example
    ```python
    model.fit_generator(train_gen, steps_per_epoch=100, epochs=10, validation_data=val_gen)
    ```
    Use instead:
    ```python
    model.fit(train_gen, steps_per_epoch=100, epochs=10, validation_data=val_gen)
    ```

    ## Fix
    Rename the method (`fit_generator` -> `fit`, `evaluate_generator` -> `evaluate`,
    `predict_generator` -> `predict`; a `generator=` keyword becomes `x=`). The automatic fix is
    safe and offered only when nothing else has to change: no Keras 1 arguments (`nb_epoch=`,
    `samples_per_epoch=`, ..., see EPL103), no `workers=`/`use_multiprocessing=`/`max_queue_size=`
    (Keras 3 moved them to `PyDataset`), no `*args`/`**kwargs`, and at most one positional
    argument (the positional order of `fit` differs from `fit_generator`'s).
    """

    code = "EPL106"
    name = "removed-generator-methods"
    summary = "`fit_generator`/`evaluate_generator`/`predict_generator` are removed in Keras 3; use fit/evaluate/predict"
    claim = (
        "`fit_generator`, `evaluate_generator` and `predict_generator` are removed in Keras 3 (AttributeError); "
        "`fit`/`evaluate`/`predict` take generators, tf.data and PyDataset. Keras 2 (tf_keras): they still exist "
        "(deprecated; `fit_generator` trains, with a deprecation warning)."
    )
    witness = "hasattr(model, 'fit_generator') is False in Keras 3 (True in Keras 2); fit(generator) trains"
    fires_on = {"method": ("fit_generator", "evaluate_generator", "predict_generator")}
    fixable = "sometimes"

    VALID = [
        Valid(
            """
            import keras

            model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            model.fit(train_gen, steps_per_epoch=100, epochs=10)
            model.evaluate(val_gen, steps=10)
            """
        ),
        # a class of one's own with a method of that name
        Valid(
            """
            import tensorflow as tf

            class Trainer:
                def fit_generator(self, gen):
                    for batch in gen:
                        pass

            Trainer().fit_generator(batches())
            """
        ),
        # unknown receiver: silent unless --strict
        Valid(
            """
            from tensorflow import keras

            def train(model, gen):
                return model.fit_generator(gen, epochs=3)
            """
        ),
        # only calls are flagged: a feature test is fine
        Valid(
            """
            import tf_keras as keras

            model = keras.models.load_model("m.h5")
            legacy = hasattr(model, "fit_generator")
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.models.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            history = model.fit_generator(  # legacy API
                train_gen,  # a keras.utils.Sequence
                steps_per_epoch=100,
                epochs=10,
            )
            """,
            line=5,
            column=11,
            message_contains="AttributeError",
            fixed="""
            import tensorflow as tf

            model = tf.keras.models.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            history = model.fit(  # legacy API
                train_gen,  # a keras.utils.Sequence
                steps_per_epoch=100,
                epochs=10,
            )
            """,
        ),
        Invalid(
            """
            from keras.models import Model as M
            from keras.layers import Dense, Input

            inp = Input(shape=(4,))
            net = M(inp, Dense(1)(inp))
            loss = net.evaluate_generator(generator=val_gen, steps=5)
            """,
            line=6,
            column=8,
            message_contains="`net.evaluate_generator()` was removed in Keras 3 (AttributeError",
            fixed="""
            from keras.models import Model as M
            from keras.layers import Dense, Input

            inp = Input(shape=(4,))
            net = M(inp, Dense(1)(inp))
            loss = net.evaluate(x=val_gen, steps=5)
            """,
        ),
        Invalid(
            """
            import keras.applications

            model = keras.applications.ResNet50(weights=None)
            preds = model.predict_generator(test_gen, steps=len(test_gen))
            """,
            line=4,
            column=9,
            message_contains="`model.predict_generator()` was removed in Keras 3 (AttributeError",
            fixed="""
            import keras.applications

            model = keras.applications.ResNet50(weights=None)
            preds = model.predict(test_gen, steps=len(test_gen))
            """,
        ),
        # worker arguments: Keras 3's fit rejects them, so no automatic fix
        Invalid(
            """
            import tensorflow.compat.v2 as tf

            model = tf.keras.models.load_model("m.keras")
            model.fit_generator(train_gen, epochs=5, workers=4, use_multiprocessing=True)
            """,
            line=4,
            column=1,
            message_contains="workers",
        ),
        # positional steps_per_epoch: fit's second positional is `y`, so no automatic fix
        Invalid(
            """
            import keras

            model = keras.saving.load_model("m.keras")
            model.fit_generator(train_gen, 100, 10)
            """,
            line=4,
            column=1,
            message_contains="positional",
        ),
        # a Keras 1 argument remains (EPL103): no fix
        Invalid(
            """
            import keras

            model = keras.Sequential()
            model.fit_generator(train_gen, samples_per_epoch=2000, epochs=3)
            """,
            line=4,
            column=1,
            message_contains="EPL103",
        ),
        Invalid(
            """
            import tensorflow as tf

            class Evaluate(tf.keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    self.model.evaluate_generator(self.val_gen)
            """,
            line=5,
            column=9,
            message_contains="`self.model.evaluate_generator()` was removed in Keras 3 (AttributeError",
            fixed="""
            import tensorflow as tf

            class Evaluate(tf.keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    self.model.evaluate(self.val_gen)
            """,
        ),
        # a parameter annotated as a Keras model
        Invalid(
            """
            from tensorflow import keras

            def score(model: keras.Model, gen) -> float:
                return model.evaluate_generator(gen)
            """,
            line=4,
            column=12,
            message_contains="`model.evaluate_generator()` was removed in Keras 3 (AttributeError",
            fixed="""
            from tensorflow import keras

            def score(model: keras.Model, gen) -> float:
                return model.evaluate(gen)
            """,
        ),
        Invalid(
            """
            import keras

            def train(model, gen):
                return model.fit_generator(gen, epochs=3)
            """,
            line=4,
            column=12,
            message_contains="`model.fit_generator()` was removed in Keras 3 (AttributeError",
            strict=True,
        ),
    ]

    ANALYSES = (TrainingCalls,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.training: TrainingCalls = self.analysis(TrainingCalls)

    def finish(self) -> None:
        code = self.ctx.module.code_for_node
        for tc in self.training.on_models(REPLACEMENTS, self.ctx.strict):
            call = tc.call
            func: cst.Attribute = call.func  # type: ignore[assignment]
            old = func.attr.value
            new = REPLACEMENTS[old]
            receiver = code(func.value).strip()
            message = f"`{receiver}.{old}()` was removed in Keras 3 (AttributeError). Call `{receiver}.{new}(...)`."
            blocker = fix_blocker(call)
            if blocker is not None:
                self.report(call, f"{message} No automatic fix: {blocker}.")
                continue
            self.report(call, message, rename_fix(call, new))


def fix_blocker(call: cst.Call) -> Optional[str]:
    """Why renaming alone would not be a correct fix, or None when it would be."""
    keywords = [a.keyword.value for a in call.args if a.keyword is not None]
    if any(a.star for a in call.args):
        return "`*args`/`**kwargs` may hold arguments it does not take"
    keras1 = sorted(k for k in keywords if k in KERAS1_ARGUMENTS)
    if keras1:
        return f"convert Keras 1 {_some(keras1)} first (EPL103)"
    workers = sorted(k for k in keywords if k in WORKER_ARGUMENTS)
    if workers:
        return f"{_some(workers)} moved to `keras.utils.PyDataset`"
    if sum(1 for a in call.args if a.keyword is None) > 1:
        return "its positional order differs (name the arguments)"
    return None


def _some(keywords: list) -> str:
    """Two keyword names and how many more: the message stays one glance long without cutting
    the method name it is about (EPL103/EPL108 report each keyword on its own)."""
    shown = ", ".join(f"`{k}=`" for k in keywords[:2])
    return shown if len(keywords) <= 2 else f"{shown} and {len(keywords) - 2} more"


def rename_fix(call: cst.Call, new: str) -> edits.EditFix:
    func: cst.Attribute = call.func  # type: ignore[assignment]
    parts = [edits.rename_attribute(func, new, "safe", f"rename `{func.attr.value}` to `{new}`")]
    parts += [edits.rename_keyword(arg, "x") for arg in call.args if arg.keyword is not None and arg.keyword.value == "generator"]
    return edits.combine(parts)
