"""EPL310 predictions-misaligned-with-labels: `predict` on shuffling input, labels read separately."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.datasets import DATASET, ITERATOR, DataFlow
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

_ITERATE = frozenset({"unbatch", "as_numpy_iterator", "prefetch"})  # passes over the whole dataset


class PredictionsMisalignedWithLabels(Rule):
    """
    ## What it does
    Flags `model.predict(data)` on a Keras model when `data` shuffles on every pass -- a
    `flow_from_directory` iterator, an `image_dataset_from_directory` /
    `text_dataset_from_directory` dataset without `shuffle=False`, or a dataset after
    `.shuffle(n)` -- and the same scope reads the labels separately: `data.classes` /
    `data.labels`, or a label list built by iterating `data` again (`[y for x, y in data]`,
    `for images, labels in data: y_true.extend(labels)`).

    ## Why is this bad
    `predict` returns predictions in the order it drew the samples; `.classes` is in file
    order, and a second pass over a shuffling dataset draws another order. Comparing the two
    (accuracy, a confusion matrix, a classification report) pairs predictions with other
    samples' labels: a perfect model scores about chance.

    ## Example
    ```python
    test_gen = datagen.flow_from_directory("data/test", target_size=(150, 150), batch_size=32)
    pred = model.predict(test_gen).argmax(axis=1)
    print(confusion_matrix(test_gen.classes, pred))  # rows and columns of other samples
    ```
    Use instead:
    ```python
    test_gen = datagen.flow_from_directory("data/test", target_size=(150, 150), batch_size=32, shuffle=False)
    ```

    ## Fix
    Create the evaluation iterator/dataset with `shuffle=False`, or collect predictions and
    labels in the same pass (`for x, y in ds: preds.append(model(x)); labels.append(y)`). No
    automatic fix: the iterator may also feed training.
    """

    code = "EPL310"
    name = "predictions-misaligned-with-labels"
    summary = "`predict` on a shuffling iterator/dataset compared with labels read separately: predictions misaligned"
    claim = (
        "A shuffling input yields another order on every pass, so `predict`'s rows do not match `.classes` or a second "
        "pass's labels. Measured with a perfect oracle model (32 images, 2 classes): accuracy against `.classes`/`.labels` "
        "of a default `flow_from_directory` iterator and against `[y for x, y in ds]` of a default "
        "`image_dataset_from_directory` dataset or a `.shuffle()`d one 0.44-0.62 (chance), 1.0 with `shuffle=False`; "
        "`text_dataset_from_directory`: two passes give different label orders (same with `shuffle=False`: equal). "
        "Same on Keras 3 and Keras 2."
    )
    witness = "accuracy of a perfect oracle against separately read labels, shuffling vs `shuffle=False` input"
    fires_on = {
        "input": ("flow_from_directory", "image_dataset_from_directory", "text_dataset_from_directory", "shuffle"),
        "labels": ("classes attribute", "second pass"),
    }

    VALID = [
        # shuffle=False (the usual fix, keras-io / Kaggle notebooks)
        Valid(
            """
            from sklearn.metrics import confusion_matrix
            from tensorflow.keras.preprocessing.image import ImageDataGenerator

            test_gen = ImageDataGenerator(rescale=1.0 / 255).flow_from_directory(
                "data/test", target_size=(150, 150), batch_size=32, shuffle=False)
            pred = model.predict(test_gen).argmax(axis=1)
            print(confusion_matrix(test_gen.classes, pred))
            """
        ),
        # predictions and labels from the same pass
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            model = tf.keras.models.load_model("m.keras")
            test_ds = tf.keras.utils.image_dataset_from_directory("test", image_size=(180, 180))
            y_pred, y_true = [], []
            for images, labels in test_ds:
                y_pred.append(np.argmax(model.predict(images), axis=1))
                y_true.append(labels.numpy())
            """
        ),
        # predict on a shuffling dataset without reading labels separately (e.g. to show images)
        Valid(
            """
            import keras

            model = keras.models.load_model("m.keras")
            val_ds = keras.utils.image_dataset_from_directory("val", image_size=(180, 180))
            probabilities = model.predict(val_ds)
            print(val_ds.class_names)
            """
        ),
        # labels read in another function: not the same comparison (and not known)
        Valid(
            """
            import keras

            model = keras.models.load_model("m.keras")
            test_ds = keras.utils.image_dataset_from_directory("test", image_size=(180, 180))

            def predictions():
                return model.predict(test_ds)

            def labels():
                return [y for x, y in test_ds]
            """
        ),
        # the test dataset built without a shuffle; a take(1) loop to look at images
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            model = tf.keras.models.load_model("m.keras")
            test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)
            preds = model.predict(test_ds)
            y_true = np.concatenate([y for x, y in test_ds], axis=0)
            train_ds = tf.keras.utils.image_dataset_from_directory("train")
            for images, labels in train_ds.take(1):
                print(labels)
            """
        ),
        # the iterator is rebuilt with shuffle=False before predict
        Valid(
            """
            from tensorflow.keras.preprocessing.image import ImageDataGenerator

            datagen = ImageDataGenerator(rescale=1.0 / 255)
            gen = datagen.flow_from_directory("data/val", batch_size=32)
            model.fit(gen, epochs=3)
            gen = datagen.flow_from_directory("data/val", batch_size=32, shuffle=False)
            pred = model.predict(gen)
            acc = (pred.argmax(axis=1) == gen.classes).mean()
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            from sklearn.metrics import confusion_matrix
            from tensorflow import keras

            model = keras.models.load_model("cnn.h5")
            datagen = keras.preprocessing.image.ImageDataGenerator(rescale=1.0 / 255)
            test_gen = datagen.flow_from_directory("data/test", target_size=(150, 150), batch_size=32)
            pred = model.predict(test_gen).argmax(axis=1)
            print(confusion_matrix(test_gen.classes, pred))
            """,
            line=7,
            column=8,
            message_contains="`test_gen.classes`",
        ),
        # labels gathered by a second pass over a shuffling image_dataset_from_directory
        Invalid(
            """
            import numpy as np
            import tensorflow as tf

            model = tf.keras.models.load_model("m.keras")
            test_ds = tf.keras.utils.image_dataset_from_directory("test", image_size=(180, 180), batch_size=32)
            y_pred = np.argmax(model.predict(test_ds), axis=1)
            y_true = np.concatenate([y for x, y in test_ds], axis=0)
            print((y_pred == y_true).mean())
            """,
            line=6,
            column=20,
            message_contains="second pass",
        ),
        # a for loop extending a label list (classification-report notebooks)
        Invalid(
            """
            import keras
            from sklearn.metrics import classification_report

            model = keras.models.load_model("m.keras")
            val_ds = keras.utils.image_dataset_from_directory("data", validation_split=0.2, subset="validation", seed=1)
            predictions = model.predict(val_ds)
            true_labels = []
            for images, labels in val_ds:
                true_labels.extend(labels.numpy())
            print(classification_report(true_labels, predictions.argmax(axis=1)))
            """,
            line=6,
            column=15,
            message_contains="image_dataset_from_directory",
        ),
        # .labels, shuffle=True given explicitly, inside a function
        Invalid(
            """
            from tensorflow.keras.preprocessing.image import ImageDataGenerator

            def evaluate(model):
                gen = ImageDataGenerator().flow_from_directory("val", batch_size=16, shuffle=True)
                probs = model.predict(gen)
                return (probs.argmax(axis=1) == gen.labels).mean()
            """,
            line=5,
            column=13,
            message_contains="`gen.labels`",
            strict=True,
        ),
        # a dataset shuffled by hand, labels by unbatching it again
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.models.load_model("m.keras")
            test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).shuffle(1000).batch(64)
            scores = model.predict(test_ds)
            labels = [int(y) for _, y in test_ds.unbatch()]
            """,
            line=5,
            column=10,
            message_contains="`.shuffle()`",
        ),
        # text_dataset_from_directory, positional predict argument via x=
        Invalid(
            """
            import keras

            model = keras.models.load_model("sentiment.keras")
            test_ds = keras.utils.text_dataset_from_directory("aclImdb/test", batch_size=32)
            probs = model.predict(x=test_ds)
            y = []
            for texts, batch_labels in test_ds:
                y += list(batch_labels.numpy())
            """,
            line=5,
            column=9,
            message_contains="text_dataset_from_directory",
        ),
    ]

    ANALYSES = (DataFlow, TrainingCalls)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.label_reads: list = []  # (name, kind text, node, site)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value in ("classes", "labels") and isinstance(node.value, cst.Name):
            self.label_reads.append((node.value.value, f"`{node.value.value}.{node.attr.value}`", node, Site.of(self.ctx)))

    def visit_For(self, node: cst.For) -> None:
        self._pass(node.target, node.iter, [node.body])

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._pass(node.for_in.target, node.for_in.iter, [node.elt])

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._pass(node.for_in.target, node.for_in.iter, [node.elt])

    def _pass(self, target, iterable, bodies) -> None:
        """A loop/comprehension over a dataset name that keeps its labels and not its inputs."""
        name = _iterated_name(iterable)
        if name is None or not isinstance(target, (cst.Tuple, cst.List)) or len(target.elements) < 2:
            return
        names = [e.value.value if isinstance(e.value, cst.Name) else None for e in target.elements]
        first, labels = names[0], [n for n in names[1:] if n is not None]
        used = _Names()
        for b in bodies:
            b.visit(used)
        if labels and any(n in used.seen for n in labels) and (first is None or first == "_" or first not in used.seen):
            self.label_reads.append((name, f"a second pass over `{name}`", iterable, Site.of(self.ctx)))

    def finish(self) -> None:
        if not self.label_reads:
            return
        flow: DataFlow = self.analysis(DataFlow)
        for tc in self.analysis(TrainingCalls).on_models(("predict", "predict_generator"), self.ctx.strict):
            if tc.has_splat:
                continue
            x = tc.value("x")
            if not isinstance(x, cst.Name):
                continue
            data = flow.data(x, tc.where)
            if data is None or data.kind not in (DATASET, ITERATOR) or not data.reshuffles:
                continue
            read = self._label_read(x.value, tc, flow)
            if read is None:
                continue
            self.report(
                tc.call,
                f"`{x.value}` reshuffles every pass ({data.reshuffles}): predictions won't line up with {read}. "
                + ("Drop the `.shuffle()`." if data.reshuffles == "`.shuffle()`" else "Use `shuffle=False`."),
            )

    def _label_read(self, name: str, tc, flow: DataFlow) -> Optional[str]:
        """A label read of the same `name` binding(s) in the predict call's scope."""
        mine = {id(b) for b in flow.reaching(name, tc.where)}
        if not mine:
            return None
        for read_name, text, node, site in self.label_reads:
            if read_name != name or _frame(site.scope) is not _frame(tc.scope):
                continue
            theirs = {id(b) for b in flow.reaching(name, flow.where_at(node, site))}
            if theirs == mine:
                return text
        return None


def _frame(scope):
    """The function/module scope a comprehension belongs to."""
    while scope.kind == "comprehension" and scope.parent is not None:
        scope = scope.parent
    return scope


def _iterated_name(iterable) -> Optional[str]:
    """`ds`, `ds.unbatch()`, `ds.as_numpy_iterator()` -> "ds" (a whole pass over `ds`)."""
    for _ in range(4):
        if isinstance(iterable, cst.Name):
            return iterable.value
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute) and iterable.func.attr.value in _ITERATE:
            iterable = iterable.func.value
            continue
        return None
    return None


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.seen: set = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.seen.add(node.value)
