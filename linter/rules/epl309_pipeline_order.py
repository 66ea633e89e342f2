"""EPL309 pipeline-order: `tf.data` steps in an order that freezes or blurs what each epoch sees."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.datasets import DATASET, DataFlow
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

_BATCHES = frozenset({"batch", "padded_batch", "ragged_batch"})


class PipelineOrder(Rule):
    """
    ## What it does
    Flags, in one `tf.data` pipeline (a method chain, or one carried through `ds = ds....`
    assignments):

    - `.batch(...)` followed by `.shuffle(...)` with no shuffle before the batch and no
      `.batch` after the shuffle: the shuffle moves whole batches;
    - `.shuffle(...)` followed by `.cache()` with no shuffle after the cache: the cache keeps
      the first epoch's order;
    - a random `.map(...)` (one calling `tf.random.*`, `tf.image.random_*` or a Keras `Random*`
      layer) followed by `.cache()`: the cache keeps the first epoch's random values;
    - with `--strict` only, `.repeat(...)` followed by `.shuffle(...)`: the shuffle buffer mixes
      epochs. TF's own guides and the Estimator idiom (`ds.repeat().shuffle(n)`) do this on purpose
      (it trades the epoch boundary for throughput), and with `fit` one epoch of a `.repeat(n)`ed
      dataset holds all n copies anyway: on the real-code corpus every such finding was deliberate.

    Reported at the name of the `.shuffle(...)` or `.cache()` call that comes too late.

    ## Why is this bad
    `batch(32).shuffle(n)` reorders batches but never their contents: the same 32 samples train
    together every epoch. `shuffle(n).cache()` replays the cached first pass, so every epoch has
    the same order; `map(augment).cache()` replays the first pass's augmented images, so the
    augmentation happens once. `repeat().shuffle(n)` draws from a buffer that spans the epoch
    boundary: some samples come twice before others come once.

    ## Example
    ```python
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).shuffle(1000)
    train_ds = train_ds.map(augment).cache()
    ```
    Use instead:
    ```python
    train_ds = tf.data.Dataset.from_tensor_slices((x, y)).cache().shuffle(1000).map(augment).batch(32)
    ```

    ## Fix
    Order the steps `cache -> shuffle -> (random) map -> batch -> repeat -> prefetch`. No automatic
    fix: moving a step can change the buffer sizes the author chose.
    """

    code = "EPL309"
    name = "pipeline-order"
    summary = "`tf.data` steps out of order: batch before shuffle, shuffle or random map before cache, repeat before shuffle"
    claim = (
        "`batch(b).shuffle(n)` keeps every batch's contents: measured, the same 5 batches of 4 (in another order) on "
        "two passes. `shuffle(n).cache()` gives the same order on every pass; `map(random op).cache()` the same values "
        "on every pass where the uncached map draws new ones (tf.random.uniform, tf.image.random_flip_left_right, "
        "keras RandomFlip; with a global `tf.random.set_seed` the tf.random ops repeat their values even uncached). "
        "`repeat(2).shuffle(20)` over 20 elements: the first 20 drawn hold only 16 distinct elements. Same on Keras 3 "
        "and Keras 2 (tf.data's behaviour)."
    )
    witness = "batch contents, element order and augmented values over two passes, per order"
    fires_on = {"order": ("batch before shuffle", "shuffle before cache", "random map before cache", "repeat before shuffle")}

    VALID = [
        # the tf.data performance guide order
        Valid(
            """
            import tensorflow as tf

            AUTOTUNE = tf.data.AUTOTUNE
            ds = tf.data.Dataset.from_tensor_slices((x, y))
            ds = ds.cache().shuffle(1000).map(augment, num_parallel_calls=AUTOTUNE).batch(32).repeat().prefetch(AUTOTUNE)
            """
        ),
        # the text-generation tutorial: batch() builds the samples (sequences), then shuffle + batch again
        Valid(
            """
            import tensorflow as tf

            ids_dataset = tf.data.Dataset.from_tensor_slices(all_ids)
            sequences = ids_dataset.batch(seq_length + 1, drop_remainder=True)
            dataset = sequences.map(split_input_target)
            dataset = dataset.shuffle(10000).batch(64, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
            """
        ),
        # shuffled before batching already: shuffling the batches again is harmless
        Valid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).batch(32).shuffle(10)
            """
        ),
        # a deterministic map before cache (decode, resize, normalise) is what cache is for
        Valid(
            """
            import tensorflow as tf

            def preprocess(image, label):
                image = tf.image.resize(image, (224, 224))
                return tf.cast(image, tf.float32) / 255.0, label

            train = tf.data.Dataset.from_tensor_slices((paths, labels)).map(preprocess).cache()
            train = train.shuffle(1000).batch(32)
            """
        ),
        # shuffle before cache, reshuffled after it; random map after cache (keras-io augmentation)
        Valid(
            """
            import keras
            import tensorflow as tf

            augment = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)])
            ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(1000).cache()
            ds = ds.shuffle(1000).map(lambda a, b: (augment(a, training=True), b)).batch(32)
            fixed_order = tf.data.Dataset.range(100).shuffle(100, reshuffle_each_iteration=False).cache()
            """
        ),
        # not a tf.data dataset (a pandas frame has no such methods; unknown: not --strict)
        Valid(
            """
            import tensorflow as tf

            def prepare(ds):
                return ds.batch(32).shuffle(100)

            frame = load_frame()
            frame = frame.cache()
            """
        ),
        # repeat before shuffle (the Estimator input_fn idiom): reported only with --strict
        Valid(
            """
            import tensorflow as tf

            def input_fn():
                titanic = tf.data.experimental.make_csv_dataset(titanic_file, batch_size=32, num_epochs=1)
                return titanic.cache().repeat().shuffle(500).prefetch(tf.data.AUTOTUNE)
            """
        ),
        # the batched data was shuffled inside a helper function (its own pass order changes)
        Valid(
            """
            import tensorflow as tf

            def load(x, y):
                return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x))

            ds = load(x, y).batch(32).shuffle(8)
            """
        ),
        # unbatch between batch and shuffle; window + flat_map (time series)
        Valid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.from_tensor_slices(series).batch(16).unbatch().shuffle(100).batch(16)
            w = tf.data.Dataset.from_tensor_slices(series).window(21, shift=1, drop_remainder=True)
            w = w.flat_map(lambda win: win.batch(21)).shuffle(1000).map(lambda win: (win[:-1], win[-1])).batch(32)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32).shuffle(1000)
            """,
            line=3,
            column=77,
            message_contains="after `.batch()`",
        ),
        # across assignments (the common "batch, then shuffle for good measure" notebook)
        Invalid(
            """
            import tensorflow as tf

            BATCH_SIZE = 64
            train_dataset = tf.data.Dataset.from_tensor_slices((train_images, train_labels))
            train_dataset = train_dataset.batch(BATCH_SIZE)
            train_dataset = train_dataset.shuffle(buffer_size=1024).prefetch(1)
            """,
            line=6,
            column=31,
            message_contains="same samples share a batch",
        ),
        # shuffle then cache: the first epoch's order is replayed
        Invalid(
            """
            import tensorflow as tf

            ds = tf.data.Dataset.from_tensor_slices((x, y))
            ds = ds.shuffle(len(x)).cache().batch(32).prefetch(tf.data.AUTOTUNE)
            """,
            line=4,
            column=25,
            message_contains="first epoch's order",
        ),
        # augmentation cached: a function with tf.image.random_* ops mapped before cache()
        Invalid(
            """
            import tensorflow as tf

            def augment(image, label):
                image = tf.image.random_flip_left_right(image)
                image = tf.image.random_brightness(image, 0.2)
                return image, label

            train = tf.data.Dataset.from_tensor_slices((images, labels))
            train = train.map(augment, num_parallel_calls=tf.data.AUTOTUNE).cache()
            train = train.shuffle(1000).batch(32)
            """,
            line=9,
            column=65,
            message_contains="freezes epoch 1's random values",
        ),
        # a Keras augmentation model in a lambda, cached afterwards (keras-io shape with cache moved)
        Invalid(
            """
            import keras
            import tensorflow as tf

            data_augmentation = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomZoom(0.1)])
            train_ds = keras.utils.image_dataset_from_directory("train", batch_size=32)
            train_ds = train_ds.map(lambda x, y: (data_augmentation(x, training=True), y)).cache()
            """,
            line=6,
            column=80,
            message_contains="`RandomFlip`",
        ),
        # repeat before shuffle: only with --strict (a deliberate trade-off in TF's guides)
        Invalid(
            """
            from tensorflow import data as tfdata

            ds = tfdata.Dataset.range(100).repeat(5).shuffle(100).batch(10)
            """,
            line=3,
            column=42,
            message_contains="after `.repeat()`",
            strict=True,
        ),
        # unknown dataset: only with --strict
        Invalid(
            """
            import tensorflow as tf

            def prepare(ds):
                return ds.batch(32).shuffle(100)
            """,
            line=4,
            column=25,
            message_contains="shuffles whole batches",
            strict=True,
        ),
    ]

    ANALYSES = (DataFlow,)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if func.__class__ is cst.Attribute and func.attr.value in ("shuffle", "cache", "batch", "padded_batch", "ragged_batch"):
            self.candidates.append((node, Site.of(self.ctx)))

    def finish(self) -> None:
        if not self.candidates:
            return
        flow: DataFlow = self.analysis(DataFlow)
        pipelines = []
        for call, site in self.candidates:
            where = flow.where_at(call, site)
            pipelines.append((call, where, flow.steps(call, where)))
        # calls that some later shuffle / batch is applied on top of
        later: dict = {"shuffle": set(), "batch": set()}
        for call, _, steps in pipelines:
            kind = "shuffle" if call.func.attr.value == "shuffle" else "batch" if call.func.attr.value in _BATCHES else None
            if kind is not None:
                for step in steps[:-1]:
                    later[kind].add(id(step.call))
        for call, where, steps in pipelines:
            method = call.func.attr.value
            if method not in ("shuffle", "cache") or not steps or steps[-1].call is not call:
                continue
            message = self._problem(method, call, steps, later, flow)
            if message is None:
                continue
            data = flow.data(call, where)
            if data is None and not self.ctx.strict or data is not None and data.kind != DATASET:
                continue
            self.report(call.func.attr, message)  # the method name: two late steps of one chain stay apart

    def _problem(self, method: str, call: cst.Call, steps: list, later: dict, flow: DataFlow) -> Optional[str]:
        before = steps[:-1]
        if method == "shuffle":
            if id(call) not in later["batch"]:
                for i in range(len(before) - 1, -1, -1):
                    m = before[i].method
                    if m == "unbatch":
                        break
                    if m in _BATCHES:
                        shuffled = any(s.method == "shuffle" and flow.shuffle_reshuffles(s.call, s.where) for s in before[:i])
                        batched = flow.data(before[i].call.func.value, before[i].where)  # what was batched
                        if batched is None and not self.ctx.strict or batched is not None and batched.reshuffles:
                            shuffled = True  # not known to be unshuffled (e.g. shuffled inside a helper function)
                        if not shuffled:
                            return (f"`.shuffle()` after `.{m}()` shuffles whole batches: the same samples share a batch "
                                    f"every epoch. Shuffle before batching.")
                        break
            if self.ctx.strict and any(s.method == "repeat" for s in before):
                return ("`.shuffle()` after `.repeat()` mixes epochs: some samples come twice before others once. "
                        "Shuffle before repeating.")
            return None
        # cache
        for s in before:
            if s.method == "map":
                why = flow.random_map(s.call, s.where)
                if why is not None:
                    return (f"`.cache()` after a random `.map()` ({why}) freezes epoch 1's random values. "
                            f"Cache before the random map.")
        if id(call) not in later["shuffle"] and any(
            s.method == "shuffle" and flow.shuffle_reshuffles(s.call, s.where) for s in before
        ):
            return ("`.cache()` after `.shuffle()` replays the first epoch's order every epoch. Cache first, then shuffle.")
        return None
