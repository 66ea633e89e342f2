"""EPL311 float-epochs-or-steps: `epochs=`/`steps_per_epoch=`/... given a float."""
from __future__ import annotations

import libcst as cst

from linter import edits
from linter.analysis.datasets import ITERATOR, DataFlow
from linter.analysis.numbers import known_float, known_int
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

# the integer arguments of each method, as the rule reads them
_ARGUMENTS = {
    "fit": ("epochs", "initial_epoch", "steps_per_epoch", "validation_steps"),
    # Keras 2's `*_generator` methods (gone in Keras 3: EPL106) accept float step counts
    "fit_generator": ("epochs", "initial_epoch"),
    "evaluate": ("steps",),
    "predict": ("steps",),
}
_MATH_CEIL = cst.parse_expression("math.ceil")


class FloatEpochsOrSteps(Rule):
    """
    ## What it does
    Flags `epochs=`, `initial_epoch=`, `steps_per_epoch=`, `validation_steps=` (`fit`) and
    `steps=` (`evaluate`, `predict`) on a Keras model given a value known to be a float: a true
    division `n / batch_size`, a float literal (`epochs=1e3`), `np.ceil(...)`, or a name bound
    to one of these. `n // batch_size`, `math.ceil(...)` and `int(...)` are ints.

    ## Why is this bad
    Keras counts epochs and steps with `range(...)`, which takes only integers: Keras 3 raises
    `TypeError: 'float' object cannot be interpreted as an integer` for every one of these
    arguments -- even `epochs=2.0` -- after the whole script ran up to that point (data loaded,
    model built). Keras 2 raises the same for `epochs` and `initial_epoch` (it accepts float
    step counts). On Keras 2's `fit_generator` only `epochs`/`initial_epoch` are reported:
    `evaluate_generator`/`predict_generator` and the step counts of `fit_generator` take floats
    there, and Keras 3 has none of these methods (EPL106).

    ## Example
    ```python
    train_gen = datagen.flow_from_directory("data/train", batch_size=32)
    model.fit(train_gen, epochs=10, steps_per_epoch=train_gen.samples / 32)  # TypeError
    ```
    Use instead:
    ```python
    model.fit(train_gen, epochs=10, steps_per_epoch=train_gen.samples // 32)
    ```

    ## Fix
    `/` -> `//` when both operands are known integers (safe: Keras needs an int, and this is the
    division the author meant up to rounding). Otherwise wrap the division in `int(math.ceil(...))`
    (unsafe: it rounds up, which keeps the last partial batch; offered when `math` is imported).
    """

    code = "EPL311"
    name = "float-epochs-or-steps"
    summary = "a float given to `epochs`/`initial_epoch`/`steps_per_epoch`/`validation_steps`/`steps`: TypeError"
    claim = (
        "Keras 3: `fit(epochs=2.5)`, `epochs=2.0`, `initial_epoch=1.0`, `steps_per_epoch=64/8`, `validation_steps=8/2` "
        "and `evaluate`/`predict(steps=8/2)` raise TypeError \"'float' object cannot be interpreted as an integer\". "
        "Keras 2 (tf_keras): `epochs` and `initial_epoch` raise the same TypeError; float step counts are accepted."
    )
    witness = "TypeError for each argument given a float (Keras 3); Keras 2: TypeError for epochs/initial_epoch only"
    fixable = "sometimes"
    fires_on = {"argument": ("epochs", "initial_epoch", "steps_per_epoch", "validation_steps", "steps")}

    VALID = [
        # Keras 2's *_generator methods take float step counts (Keras 3 has none of them: EPL106)
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit_generator(gen, steps_per_epoch=n / 32, epochs=5, validation_steps=m / 32)
            model.evaluate_generator(gen, steps=n / 32)
            model.predict_generator(gen, n / 32)
            """,
        ),
        # floor division, math.ceil and int() are ints (the keras-io / TF tutorial spellings)
        Valid(
            """
            import math
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(ds, epochs=10, steps_per_epoch=len(x_train) // 32)
            model.fit(ds, epochs=10, steps_per_epoch=math.ceil(len(x_train) / 32))
            model.fit(ds, epochs=10, steps_per_epoch=int(train_gen.samples / 32))
            model.evaluate(test_ds, steps=int(np.ceil(n_test / 32)))
            """
        ),
        # a float elsewhere: the learning rate, validation_split, a division in another argument
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer=keras.optimizers.Adam(1e-3 / 2), loss="mse")
            model.fit(x, y, epochs=20, batch_size=64, validation_split=0.2, class_weight={0: 1 / 0.3, 1: 1.0})
            """
        ),
        # a name rebound to an int before the call; a name bound on two paths, one of them an int
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            steps = n_samples / 32
            steps = int(steps)
            model.fit(ds, epochs=5, steps_per_epoch=steps)
            if quick:
                epochs = 2
            else:
                epochs = total / 10
            model.fit(ds, epochs=epochs)
            """
        ),
        # not a Keras model (unknown receiver, not --strict); an unknown value
        Valid(
            """
            def train(learner, n):
                learner.fit(data, epochs=n / 10)

            import keras
            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(ds, epochs=config.epochs, steps_per_epoch=config.steps)
            """
        ),
        # a tf.data pipeline with steps as an integer constant; Python 2 style int division kept as int()
        Valid(
            """
            import tensorflow as tf

            BATCH_SIZE = 64
            STEPS_PER_EPOCH = 60000 // BATCH_SIZE
            EPOCHS = 10
            model = tf.keras.models.load_model("m.keras")
            model.fit(train_ds, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, validation_steps=int(10000 / BATCH_SIZE))
            """
        ),
        # round() of one argument is an int; `**` is not known
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(ds, epochs=round(n / 3), steps_per_epoch=2 ** 4)
            """
        ),
    ]
    INVALID = [
        # the ImageDataGenerator tutorial shape: samples / batch_size
        Invalid(
            """
            from tensorflow import keras

            datagen = keras.preprocessing.image.ImageDataGenerator(rescale=1.0 / 255)
            train_gen = datagen.flow_from_directory("data/train", target_size=(150, 150), batch_size=32)
            model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(1)])
            model.fit(train_gen, epochs=10, steps_per_epoch=train_gen.samples / 32)
            """,
            line=6,
            column=33,
            message_contains="TypeError",
            fixed="""
            from tensorflow import keras

            datagen = keras.preprocessing.image.ImageDataGenerator(rescale=1.0 / 255)
            train_gen = datagen.flow_from_directory("data/train", target_size=(150, 150), batch_size=32)
            model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(1)])
            model.fit(train_gen, epochs=10, steps_per_epoch=train_gen.samples // 32)
            """,
        ),
        # a float literal epochs (1e3 reads as "a thousand")
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(x, y, epochs=1e3, verbose=0)
            """,
            line=4,
            column=17,
            message_contains="float literal",
        ),
        # steps computed on a line of their own with len() / BATCH_SIZE: fix at the binding is not ours
        Invalid(
            """
            import tensorflow as tf

            BATCH_SIZE = 32
            steps_per_epoch = len(x_train) / BATCH_SIZE
            validation_steps = len(x_val) / BATCH_SIZE
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(train_ds.repeat(), epochs=5, steps_per_epoch=steps_per_epoch,
                      validation_data=val_ds.repeat(), validation_steps=validation_steps)
            """,
            line=7,
            column=40,
            also=((8, 44),),
            message_contains="holds a true division",
        ),
        # evaluate / predict steps; both operands ints -> `//`
        Invalid(
            """
            import keras

            N_TEST = 10000
            model = keras.models.load_model("m.keras")
            model.evaluate(test_ds, steps=N_TEST / 100)
            model.predict(test_ds, steps=len(x_test) / 100)
            """,
            line=5,
            column=25,
            also=((6, 24),),
            message_contains="`steps=`",
            fixed="""
            import keras

            N_TEST = 10000
            model = keras.models.load_model("m.keras")
            model.evaluate(test_ds, steps=N_TEST // 100)
            model.predict(test_ds, steps=len(x_test) // 100)
            """,
        ),
        # an operand not known to be an int: the unsafe fix rounds up with math.ceil
        Invalid(
            """
            import math
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(ds.repeat(), epochs=5, steps_per_epoch=n_rows / batch_size)
            """,
            line=5,
            column=34,
            message_contains="steps_per_epoch=",
            unsafe=True,
            fixed="""
            import math
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(ds.repeat(), epochs=5, steps_per_epoch=int(math.ceil(n_rows / batch_size)))
            """,
        ),
        # np.ceil returns a float; initial_epoch from a float expression; fit_generator positional epochs
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(x, y, epochs=20, initial_epoch=history_len * 0.5)
            model.fit_generator(gen, 100, np.ceil(n / 32))
            """,
            line=5,
            column=28,
            also=((6, 31),),
            message_contains="float",
        ),
        # unknown receiver: only with --strict
        Invalid(
            """
            import keras

            def train(model, ds, n):
                model.fit(ds, epochs=n / 2)
            """,
            line=4,
            column=19,
            message_contains="TypeError",
            strict=True,
        ),
    ]

    ANALYSES = (DataFlow, TrainingCalls)

    def finish(self) -> None:
        flow: DataFlow = self.analysis(DataFlow)
        sem = self.ctx.semantic
        math_imported = sem.qualified_name(_MATH_CEIL, sem.module_scope) == "math.ceil"
        for tc in self.analysis(TrainingCalls).on_models(tuple(_ARGUMENTS), self.ctx.strict):
            site = tc.site
            for name in _ARGUMENTS[tc.method]:
                arg = tc.arg(name)
                if arg is None:
                    continue
                why = known_float(arg.value, site, sem)
                if why is None:
                    continue
                fix = self._fix(arg.value, site, flow, tc, math_imported)
                self.report(
                    arg,
                    f"`{name}=` gets a float ({why}): `{tc.method}` raises TypeError. Use `//`, `int()` or `math.ceil`.",
                    fix=fix,
                )

    def _fix(self, value, site: Site, flow: DataFlow, tc, math_imported: bool):
        if not (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Divide)):
            return None
        sem = self.ctx.semantic

        def iterator_count(expr, at: Site) -> bool:  # `gen.samples`, `gen.n`, `gen.batch_size` of an iterator
            if isinstance(expr, cst.Attribute) and expr.attr.value in ("samples", "n", "batch_size"):
                d = flow.data(expr.value, tc.where)
                return d is not None and d.kind == ITERATOR
            return False

        if known_int(value.left, site, sem, iterator_count) and known_int(value.right, site, sem, iterator_count):
            return edits.replace(value.operator, "//", "safe", "`/` -> `//` (both operands are ints)")
        text = self.ctx.module.code_for_node(value).strip()
        if math_imported and "#" not in text and "\n" not in text:
            return edits.replace(value, f"int(math.ceil({text}))", "unsafe", "round the division up: `int(math.ceil(...))`")
        return None
