"""EPL308 shuffled-split-leaks: `take`/`skip` split of a dataset that reshuffles on every pass."""
from __future__ import annotations

import libcst as cst

from linter.analysis.datasets import DATASET, DataFlow
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site


class ShuffledSplitLeaks(Rule):
    """
    ## What it does
    Flags a train/validation (or validation/test) split made with `ds.take(k)` and `ds.skip(k)` on
    the same dataset `ds` when `ds` reshuffles on every pass: it went through
    `.shuffle(n)` without `reshuffle_each_iteration=False`, or it comes from
    `image_dataset_from_directory`/`text_dataset_from_directory` without `shuffle=False` (they
    shuffle with `.shuffle()` inside). Reported at the first of the two calls.

    ## Why is this bad
    `take` and `skip` do not split the data once: each pass over either part runs the whole
    pipeline again, shuffle included, and draws a new order. Every epoch the "validation" part
    holds other samples, most of which the "training" part trained on in earlier epochs (and
    even the first pass of the two parts can overlap): validation scores are inflated by
    leakage. A fixed `seed=` does not help: each pass still draws the next order.

    ## Example
    ```python
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x))
    train_ds = ds.take(800).batch(32)
    val_ds = ds.skip(800).batch(32)  # a different 200 samples every epoch
    ```
    Use instead:
    ```python
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), reshuffle_each_iteration=False)
    train_ds = ds.take(800).shuffle(800).batch(32)
    val_ds = ds.skip(800).batch(32)
    ```

    ## Fix
    Shuffle once for the split (`reshuffle_each_iteration=False`) and shuffle the training
    part again after `take`, or split before shuffling (`keras.utils.split_dataset`, or
    `take`/`skip` on the unshuffled dataset). No automatic fix: where to shuffle is the
    author's choice.
    """

    code = "EPL308"
    name = "shuffled-split-leaks"
    summary = "`take`/`skip` split of a dataset that reshuffles every pass: the split changes every epoch"
    claim = (
        "`ds.shuffle(n)` reshuffles on every pass (also with a seed), and `take(k)`/`skip(k)` re-run it: the two parts "
        "hold different samples on every pass. Measured over 2 passes of 20 elements split 15/5: 9 element ids in "
        "both parts with `.shuffle(20)` (also with `seed=1`), 0 with `reshuffle_each_iteration=False`; "
        "`image_dataset_from_directory` and `text_dataset_from_directory` (default `shuffle=True`, 32 files split "
        "8/24): 13 ids in both parts, 0 with `shuffle=False`. Same on Keras 3 and Keras 2 (tf.data's behaviour)."
    )
    witness = "element ids seen in both parts of a take/skip split over 2 passes, per shuffled source"
    fires_on = {"input": ("shuffle", "image_dataset_from_directory", "text_dataset_from_directory")}

    VALID = [
        # the TF "Load and preprocess images" tutorial: shuffle once, then split
        Valid(
            """
            import tensorflow as tf

            list_ds = tf.data.Dataset.list_files(str(data_dir / "*/*"), shuffle=False)
            list_ds = list_ds.shuffle(image_count, reshuffle_each_iteration=False)
            val_size = int(image_count * 0.2)
            train_ds = list_ds.skip(val_size)
            val_ds = list_ds.take(val_size)
            """
        ),
        # split first, shuffle the training part afterwards
        Valid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.from_tensor_slices((x, y))
            train_ds = ds.take(800).shuffle(800).batch(32)
            val_ds = ds.skip(800).batch(32)
            """
        ),
        # take(1) to look at a batch is not a split
        Valid(
            """
            import tensorflow as tf

            train_ds = tf.keras.utils.image_dataset_from_directory(data_dir, validation_split=0.2, subset="training", seed=123)
            for images, labels in train_ds.take(1):
                print(images.shape)
            """
        ),
        # shuffle=False on the helper; the validation part of subset="both" is not shuffled
        Valid(
            """
            import keras

            val_ds = keras.utils.image_dataset_from_directory("val", shuffle=False)
            test_ds = val_ds.take(5)
            val_ds = val_ds.skip(5)
            train, val = keras.utils.image_dataset_from_directory("data", validation_split=0.2, subset="both", seed=1)
            test = val.take(3)
            val = val.skip(3)
            """
        ),
        # the split is cached after the shuffle (order kept after the first pass): not known
        Valid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).cache()
            train_ds = ds.take(800)
            val_ds = ds.skip(800)
            """
        ),
        # shuffled on one path only; reshuffle_each_iteration from a variable
        Valid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.from_tensor_slices((x, y))
            if shuffle:
                ds = ds.shuffle(1000)
            train_ds, val_ds = ds.take(800), ds.skip(800)
            other = tf.data.Dataset.range(100).shuffle(100, reshuffle_each_iteration=resh)
            a, b = other.take(80), other.skip(80)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x))
            train_ds = ds.take(800).batch(32)
            val_ds = ds.skip(800).batch(32)
            """,
            line=4,
            column=12,
            message_contains="reshuffles on every pass",
        ),
        # the TF transfer-learning tutorial: a test set carved out of a shuffled validation set
        Invalid(
            """
            import tensorflow as tf

            validation_dataset = tf.keras.utils.image_dataset_from_directory(
                validation_dir, shuffle=True, batch_size=32, image_size=(160, 160))
            val_batches = tf.data.experimental.cardinality(validation_dataset)
            test_dataset = validation_dataset.take(val_batches // 5)
            validation_dataset = validation_dataset.skip(val_batches // 5)
            """,
            line=6,
            column=16,
            message_contains="image_dataset_from_directory",
        ),
        # a seed does not make the split fixed
        Invalid(
            """
            import tensorflow as tf

            DATASET_SIZE = 10000
            full = tf.data.TFRecordDataset(files)
            full = full.shuffle(buffer_size=DATASET_SIZE, seed=42)
            train_size = int(0.7 * DATASET_SIZE)
            val_size = int(0.15 * DATASET_SIZE)
            train = full.take(train_size)
            test = full.skip(train_size)
            val = test.skip(val_size)
            test = test.take(val_size)
            """,
            line=8,
            column=9,
            also=((10, 7),),
            message_contains="changes every epoch",
        ),
        # reshuffle_each_iteration=True given explicitly; skip first, inside a function
        Invalid(
            """
            import tensorflow as tf

            def split(x, y, n_val):
                ds = tf.data.Dataset.from_tensor_slices((x, y))
                ds = ds.shuffle(len(x), reshuffle_each_iteration=True).batch(64)
                return ds.skip(n_val), ds.take(n_val)
            """,
            line=6,
            column=12,
            message_contains="`.shuffle()`",
        ),
        # text_dataset_from_directory shuffles by default; split of a prefetched pipeline
        Invalid(
            """
            import keras

            raw = keras.utils.text_dataset_from_directory("aclImdb/train", batch_size=32)
            raw = raw.prefetch(8)
            raw_val = raw.take(100)
            raw_train = raw.skip(100)
            """,
            line=5,
            column=11,
            message_contains="text_dataset_from_directory",
        ),
        # a tuple assignment split; the shuffle in the middle of the chain
        Invalid(
            """
            from tensorflow.data import Dataset

            ds = Dataset.range(1000).map(parse).shuffle(1000).batch(10).prefetch(1)
            train, val = ds.take(80), ds.skip(80)
            """,
            line=4,
            column=14,
            message_contains="`ds`",
        ),
    ]

    ANALYSES = (DataFlow,)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if func.__class__ is cst.Attribute and func.attr.value in ("take", "skip") and isinstance(func.value, cst.Name):
            self.candidates.append((node, Site.of(self.ctx)))

    def finish(self) -> None:
        if not self.candidates:
            return
        flow: DataFlow = self.analysis(DataFlow)
        groups: dict = {}
        for call, site in self.candidates:
            name = call.func.value.value
            where = flow.where_at(call, site)
            bindings = flow.reaching(name, where)
            if not bindings:
                continue
            key = (name, tuple(sorted(id(b) for b in bindings)))
            groups.setdefault(key, []).append((call, where))
        for (name, _), calls in groups.items():
            methods = {c.func.attr.value for c, _ in calls}
            if methods != {"take", "skip"}:
                continue
            first, where = calls[0]
            data = flow.data(first.func.value, where)
            if data is None or data.kind != DATASET or not data.reshuffles:
                continue
            self.report(
                first,
                f"`{name}` reshuffles on every pass ({data.reshuffles}): this take/skip split changes every epoch, "
                f"leaking validation samples into training.",
            )
