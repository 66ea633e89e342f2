"""EPL307 infinite-data-without-steps: validation, `evaluate` or `predict` on endless data without a step count."""
from __future__ import annotations

from linter.analysis.calls import KERAS1_EPOCH_ARGUMENTS
from linter.analysis.datasets import DATASET, GENERATOR, DataFlow
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid


class InfiniteDataWithoutSteps(Rule):
    """
    ## What it does
    Flags data known to never end -- a `tf.data.Dataset` built with `.repeat()` without a count
    (or `make_csv_dataset` without `num_epochs`, `Dataset.counter()`), or a same-module generator
    that loops forever (`while True:` around its `yield`) -- given to a Keras model as
    `validation_data=` without `validation_steps=`, or to `evaluate(...)`/`predict(...)` without
    `steps=`. (EPL301 covers `fit`'s own `x`.)

    ## Why is this bad
    Validation, evaluation and prediction run until their input is exhausted; endless input
    never is. In Keras 3 `fit` finishes its first training epoch and then validates forever;
    `evaluate` and `predict` never return. Keras's own `fit` docstring says so for
    `validation_steps`. tf.keras 2 refuses a repeated dataset with `ValueError: When providing
    an infinite dataset, you must specify the number of steps to run`, but loops forever on an
    endless generator too.

    ## Example
    ```python
    val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(32).repeat()
    model.fit(train_ds, epochs=10, validation_data=val_ds)  # validation never ends
    ```
    Use instead:
    ```python
    model.fit(train_ds, epochs=10, validation_data=val_ds, validation_steps=len(x_val) // 32)
    ```

    ## Fix
    Pass `validation_steps=` (or `steps=` to `evaluate`/`predict`), or drop the `.repeat()` from
    the validation/test pipeline: Keras walks a finite dataset to its end every time. No
    automatic fix: the number of steps is the author's.
    """

    code = "EPL307"
    name = "infinite-data-without-steps"
    summary = "endless data as `validation_data` without `validation_steps`, or to `evaluate`/`predict` without `steps`"
    claim = (
        "Validation, `evaluate` and `predict` run until their input ends. Keras 3: on a `.repeat()`ed dataset or an "
        "endless generator they never end (measured: still running after 10 passes over a 4-batch input, stopped by "
        "a callback). Keras 2 (tf_keras): a repeated dataset raises ValueError \"When providing an infinite dataset, "
        "you must specify the number of steps to run\"; an endless generator never ends either."
    )
    witness = ("validation/evaluate/predict batches counted past 10 passes (stopped by a callback) on a repeated "
               "dataset and an endless generator; Keras 2's ValueError")
    fires_on = {"input": ("dataset", "generator"), "call": ("fit", "evaluate", "predict")}

    VALID = [
        # validation_steps given (the TF "load CSV" / keras-io repeat idiom)
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32).repeat()
            val_ds = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32).repeat()
            model.fit(train_ds, epochs=10, steps_per_epoch=100, validation_data=val_ds, validation_steps=20)
            model.evaluate(val_ds, steps=20)
            """
        ),
        # a finite validation set: Keras walks it to its end every epoch
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            val_ds = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32)
            model.fit(train_ds, epochs=10, validation_data=val_ds)
            model.evaluate(val_ds)
            model.predict(val_ds.repeat(2))
            """
        ),
        # an endless generator with steps (DLwP 1st edition, chapter 6: temperature forecasting)
        Valid(
            """
            from tensorflow import keras

            def generator(data, lookback, min_index, max_index, batch_size=128):
                i = min_index
                while 1:
                    if i + batch_size >= max_index:
                        i = min_index
                    rows = range(i, min(i + batch_size, max_index))
                    i += len(rows)
                    yield data[rows], data[rows][:, 1]

            val_gen = generator(float_data, 1440, 200001, 300000)
            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(train_gen, steps_per_epoch=500, epochs=20, validation_data=val_gen, validation_steps=val_steps)
            model.evaluate(generator(float_data, 1440, 300001, None), steps=100)
            """
        ),
        # a generator that may stop (`break`, `return`), or a `while` with a real condition
        Valid(
            """
            import keras

            def batches(data, limit):
                n = 0
                while True:
                    yield data[n]
                    n += 1
                    if n == limit:
                        break

            def until(data):
                i = 0
                while i < len(data):
                    yield data[i]
                    i += 1

            model = keras.Sequential([keras.layers.Dense(1)])
            model.predict(batches(x, 10))
            model.predict(until(x))
            """
        ),
        # repeated on one path only; a repeat cut by take()
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            test_ds = tf.data.Dataset.from_tensor_slices((xt, yt)).batch(32)
            if forever:
                test_ds = test_ds.repeat()
            model.evaluate(test_ds)
            model.evaluate(test_ds.repeat().take(10))
            """
        ),
        # steps hidden in **kwargs; an unknown receiver (not --strict)
        Valid(
            """
            import tensorflow as tf

            val_ds = tf.data.Dataset.range(10).batch(2).repeat()

            def check(m):
                m.evaluate(val_ds)

            model = tf.keras.models.load_model("m.keras")
            model.fit(train, validation_data=val_ds, **fit_kwargs)
            model.fit_generator(train, nb_epoch=3, validation_data=val_ds, nb_val_samples=320)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            train_ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32).repeat()
            val_ds = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32).repeat()
            model.fit(train_ds, epochs=10, steps_per_epoch=100, validation_data=val_ds)
            """,
            line=7,
            column=53,
            message_contains="validation never ends",
        ),
        # evaluate / predict on a repeated test set without steps
        Invalid(
            """
            import keras
            import tensorflow as tf

            model = keras.models.load_model("model.keras")
            test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(64).repeat()
            loss, acc = model.evaluate(test_ds)
            preds = model.predict(test_ds)
            """,
            line=6,
            column=13,
            also=((7, 9),),
            message_contains="without `steps`",
        ),
        # the endless generator of DLwP 1st edition given as validation data without validation_steps
        Invalid(
            """
            from tensorflow import keras

            def generator(data, lookback, min_index, max_index, batch_size=128):
                i = min_index
                while 1:
                    if i + batch_size >= max_index:
                        i = min_index
                    rows = range(i, min(i + batch_size, max_index))
                    i += len(rows)
                    yield data[rows], data[rows][:, 1]

            model = keras.Sequential([keras.layers.Dense(1)])
            model.fit(generator(float_data, 1440, 0, 200000), steps_per_epoch=500, epochs=20,
                      validation_data=generator(float_data, 1440, 200001, 300000))
            """,
            line=14,
            column=11,
            message_contains="loops forever",
        ),
        # make_csv_dataset repeats forever unless num_epochs is given (TF "load CSV" tutorial shape)
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            test_batches = tf.data.experimental.make_csv_dataset("test.csv", batch_size=32, label_name="y")
            model.evaluate(test_batches)
            """,
            line=5,
            column=1,
            message_contains="num_epochs",
        ),
        # validation_data positional (8th argument of fit), validation_steps=None, Keras 2 fit_generator
        Invalid(
            """
            import tensorflow as tf

            def forever(xs, ys, bs):
                while True:
                    for i in range(0, len(xs), bs):
                        yield xs[i:i + bs], ys[i:i + bs]

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(8).repeat()
            model.fit(x, y, 32, 5, 0, None, 0.0, val, validation_steps=None)
            model.fit_generator(forever(x, y, 32), 100, 5, validation_data=forever(xv, yv, 32))
            """,
            line=10,
            column=38,
            also=((11, 48),),
            message_contains="never ends",
        ),
        # the dataset built by a same-module function; unknown receiver only with --strict
        Invalid(
            """
            import tensorflow as tf

            def make_ds(x, y, training):
                ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
                return ds.repeat()

            def run(model):
                model.evaluate(make_ds(xt, yt, False))
            """,
            line=8,
            column=5,
            message_contains="`.repeat()` without a count",
            strict=True,
        ),
    ]

    ANALYSES = (DataFlow, TrainingCalls)

    def finish(self) -> None:
        flow: DataFlow = self.analysis(DataFlow)
        code = self.ctx.module.code_for_node
        for tc in self.analysis(TrainingCalls).on_models(("fit", "fit_generator"), self.ctx.strict):
            if tc.has_splat:
                continue
            arg = tc.arg("validation_data")
            if arg is None or self._has_steps(tc, "validation_steps", flow):
                continue
            data = flow.data(arg.value, tc.where)
            if _endless(data):
                self.report(
                    arg,
                    f"`{code(arg.value).strip()}` is endless ({data.why}) and `{tc.method}` has no `validation_steps`: "
                    f"validation never ends{_keras2(data)}.",
                )
        for tc in self.analysis(TrainingCalls).on_models(
            ("evaluate", "predict", "evaluate_generator", "predict_generator"), self.ctx.strict
        ):
            if tc.has_splat or self._has_steps(tc, "steps", flow):
                continue
            x = tc.value("x")
            if x is None:
                continue
            data = flow.data(x, tc.where)
            if _endless(data):
                self.report(
                    tc.call,
                    f"`{code(x).strip()}` is endless ({data.why}), and `{tc.method}` without `steps` "
                    f"never ends{_keras2(data)}.",
                )

    @staticmethod
    def _has_steps(tc, name: str, flow: DataFlow) -> bool:
        """`name=` given (not None), or its Keras 1 spelling (`nb_val_samples=`: EPL103's finding)."""
        if any(tc.arg(old) is not None for old, (new, _) in KERAS1_EPOCH_ARGUMENTS.items() if new == name):
            return True
        steps = tc.value(name)
        return steps is not None and not flow.none_value(steps, tc.where)


def _keras2(data) -> str:
    return " (Keras 2: ValueError)" if data.kind == DATASET else ""


def _endless(data) -> bool:
    return data is not None and data.infinite and data.kind in (DATASET, GENERATOR)
