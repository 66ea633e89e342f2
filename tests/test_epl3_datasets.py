"""linter.analysis.datasets (what a value fed to `fit` is) and the EPL3xx rules built on it:
RULES.md's "Not a finding" items for EPL301-EPL305, import spellings, flow-sensitivity, and
the EPL304 fix's comma/comment handling. No TensorFlow is imported."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from linter.analysis.datasets import (
    ARRAY, DATASET, GENERATOR, ITERATOR, LIST, PYDATASET, DataFlow, Where,
)
from linter.analysis.training_calls import TrainingCall
from linter.engine import CheckOptions, _dispatch, check_source
from linter.fixes import apply_edits
from linter.semantic import SemanticModel, Site
from linter.source import SourceFile
from linter.walker import Walker

from tests.conftest import lint


class _Probes:
    """Collects `probe(expr)` calls with the scope and ancestors they were seen in."""

    def __init__(self, semantic: SemanticModel) -> None:
        self.semantic = semantic
        self.found: list[tuple[cst.BaseExpression, Where]] = []
        self.calls: list[TrainingCall] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.found.append((node.args[0].value, Where(self.semantic.scope, tuple(self.semantic.stack) + (node,), None, self.semantic.seq + 1)))
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("fit", "evaluate", "predict", "fit_generator"):
            self.calls.append(TrainingCall(node, func.attr.value, Site.here(self.semantic)))


def analyse(code: str):
    module = cst.parse_module(textwrap.dedent(code).lstrip("\n"))
    semantic = SemanticModel(module)
    probes = _Probes(semantic)
    enter, leave = _dispatch([semantic, probes])
    Walker(enter, leave, semantic.stack).walk(module)
    return DataFlow(semantic), probes


def data_of(code: str, index: int = -1):
    """What the argument of the `index`-th `probe(...)` call is."""
    flow, probes = analyse(code)
    node, where = probes.found[index]
    return flow.data(node, where)


def kind_of(code: str, index: int = -1):
    d = data_of(code, index)
    return None if d is None else d.kind


TF = "import tensorflow as tf\n"


# --------------------------------------------------------------------------- tf.data chains
@pytest.mark.parametrize(
    "expr",
    [
        "tf.data.Dataset.from_tensor_slices((x, y))",
        "tf.data.Dataset.from_generator(gen, output_signature=sig)",
        "tf.data.Dataset.range(100)",
        "tf.data.Dataset.zip((a, b))",
        "tf.data.TFRecordDataset(files)",
        "tf.data.Dataset.from_tensor_slices(x).map(f).batch(32).shuffle(10).prefetch(1).cache()",
        "tf.data.Dataset.list_files('*.png').interleave(read).padded_batch(4)",
    ],
)
def test_finite_datasets(expr):
    d = data_of(TF + f"probe({expr})")
    assert d is not None and d.kind == DATASET
    assert not d.infinite and d.repeat is None


@pytest.mark.parametrize(
    "expr,why",
    [
        ("tf.data.Dataset.range(8).repeat()", "`.repeat()`"),
        ("tf.data.Dataset.range(8).repeat(None)", "`.repeat()`"),
        ("tf.data.Dataset.range(8).repeat(count=-1)", "`.repeat()`"),
        ("tf.data.Dataset.range(8).repeat().batch(2).map(f).prefetch(2)", "`.repeat()`"),
        ("tf.data.Dataset.range(8).repeat(3).repeat()", "`.repeat()`"),
        ("tf.data.Dataset.range(8).repeat().repeat(2)", "`.repeat()`"),
        ("tf.data.Dataset.range(8).repeat().take(-1)", "`.repeat()`"),
        ("tf.data.Dataset.counter()", "counter"),
        ("tf.data.experimental.make_csv_dataset('a.csv', 32)", "num_epochs"),
        ("tf.data.experimental.make_csv_dataset('a.csv', 32, num_epochs=None)", "num_epochs"),
        ("tf.data.Dataset.zip((a.repeat(), b.repeat()))", "`.repeat()`"),
    ],
)
def test_infinite_datasets(expr, why):
    d = data_of(
        TF
        + """
        a = tf.data.Dataset.range(3)
        b = tf.data.Dataset.range(4)
        """.replace("        ", "")
        + f"probe({expr})"
    )
    assert d is not None and d.kind == DATASET and d.infinite
    assert why in d.why


@pytest.mark.parametrize(
    "expr",
    [
        "tf.data.Dataset.range(8).repeat().take(100)",
        "tf.data.Dataset.range(8).repeat().take_while(pred)",
        "tf.data.Dataset.range(8).repeat().apply(fn)",
        "tf.data.Dataset.zip((tf.data.Dataset.range(8).repeat(), tf.data.Dataset.range(3)))",
        "tf.data.experimental.make_csv_dataset('a.csv', 32, num_epochs=1)",
        "tf.data.experimental.make_csv_dataset('a.csv', 32, **reader_options)",
        "tf.data.Dataset.range(8).repeat(*counts)",
        "tf.data.Dataset.range(8).repeat(count=3)",
    ],
)
def test_infinite_dataset_made_finite(expr):
    d = data_of(TF + f"probe({expr})")
    assert d is not None and d.kind == DATASET and not d.infinite


def test_repeat_count_literal_and_name_and_cut_by_take():
    flow, probes = analyse(
        TF
        + """
EPOCHS = 5
probe(tf.data.Dataset.range(8).repeat(3).batch(2))
probe(tf.data.Dataset.range(8).batch(2).repeat(EPOCHS))
probe(tf.data.Dataset.range(8).repeat(3).take(10))
probe(tf.data.Dataset.range(8).repeat(3).repeat(2))
"""
    )
    (n1, w1), (n2, w2), (n3, w3), (n4, w4) = probes.found
    d1, d2 = flow.data(n1, w1), flow.data(n2, w2)
    assert flow.int_value(*d1.repeat) == 3
    assert flow.int_value(*d2.repeat) == 5
    assert flow.data(n3, w3).repeat is None
    assert flow.data(n4, w4).repeat is None


@pytest.mark.parametrize(
    "imports,prefix",
    [
        ("import tensorflow as tf", "tf.data.Dataset"),
        ("import tensorflow", "tensorflow.data.Dataset"),
        ("from tensorflow.data import Dataset", "Dataset"),
        ("from tensorflow import data as tfdata", "tfdata.Dataset"),
        ("import tensorflow.compat.v2 as tf", "tf.data.Dataset"),
        ("import tensorflow.compat.v1 as tf", "tf.data.Dataset"),
    ],
)
def test_dataset_import_spellings(imports, prefix):
    d = data_of(f"{imports}\nprobe({prefix}.from_tensor_slices(x).repeat())")
    assert d is not None and d.kind == DATASET and d.infinite


def test_a_method_named_like_a_dataset_method_on_something_else_is_unknown():
    assert data_of("import tensorflow as tf\nprobe(series.repeat(3))") is None
    assert data_of("import tensorflow as tf\nprobe(np.repeat(x, 3).batch(2))") is None
    # a local object with the same name as tf's module
    assert data_of("import keras\nclass data:\n    pass\nprobe(data.Dataset.range(3).repeat())") is None


# --------------------------------------------------------------------------- Keras helpers
@pytest.mark.parametrize(
    "code",
    [
        "import keras\nprobe(keras.utils.image_dataset_from_directory('d'))",
        "import keras\nprobe(keras.utils.text_dataset_from_directory('d'))",
        "import keras\nprobe(keras.utils.timeseries_dataset_from_array(x, y, 10))",
        "import keras\nprobe(keras.utils.audio_dataset_from_directory('d'))",
        "import tensorflow as tf\nprobe(tf.keras.preprocessing.image_dataset_from_directory('d'))",
        "import tensorflow as tf\nprobe(tf.keras.utils.image_dataset_from_directory('d').map(f).prefetch(2))",
        "from tensorflow.keras.utils import image_dataset_from_directory as load\nprobe(load('d'))",
        "import tf_keras\nprobe(tf_keras.utils.text_dataset_from_directory('d'))",
        "import tensorflow_datasets as tfds\nprobe(tfds.load('mnist', split='train', as_supervised=True))",
    ],
)
def test_dataset_helpers(code):
    assert kind_of(code) == DATASET


def test_helpers_returning_tuples_are_unpacked():
    code = """
import keras
import tensorflow_datasets as tfds
train_ds, val_ds = keras.utils.image_dataset_from_directory("d", validation_split=0.2, subset="both", seed=1)
(ds_train, ds_test), info = tfds.load("mnist", split=["train", "test"], with_info=True)
left, right = keras.utils.split_dataset(data, left_size=0.8)
whole = keras.utils.image_dataset_from_directory("d", subset="both", validation_split=0.2, seed=1)
splits = tfds.load("mnist")
probe(train_ds)
probe(val_ds)
probe(ds_test)
probe(info)
probe(right)
probe(whole)
probe(splits)
"""
    flow, probes = analyse(code)
    kinds = [(flow.data(n, w) or None) and flow.data(n, w).kind for n, w in probes.found]
    assert kinds == [DATASET, DATASET, DATASET, None, DATASET, None, None]


# --------------------------------------------------------------------------- ImageDataGenerator
def test_image_data_generator_iterators():
    code = """
import tensorflow as tf
from tensorflow.keras.preprocessing.image import ImageDataGenerator
datagen = ImageDataGenerator(rescale=1 / 255, validation_split=0.2)
train = datagen.flow_from_directory("data", target_size=(64, 64), batch_size=16, subset="training")
flowed = datagen.flow(x, y)
frame = tf.keras.preprocessing.image.ImageDataGenerator().flow_from_dataframe(df, "img", "x", "y")
probe(train)
probe(flowed)
probe(frame)
probe(datagen)
probe(other.flow(x, y))
"""
    flow, probes = analyse(code)
    results = [flow.data(n, w) for n, w in probes.found]
    assert [r.kind for r in results[:3]] == [ITERATOR] * 3
    assert flow.int_value(*results[0].batch_size) == 16
    assert results[1].batch_size is None  # the default, 32
    assert results[3].kind == "image-data-generator" and not results[3].streamed
    assert results[4] is None


# --------------------------------------------------------------------------- PyDataset, generators
@pytest.mark.parametrize(
    "base_import,base",
    [
        ("import keras", "keras.utils.PyDataset"),
        ("import keras", "keras.utils.Sequence"),
        ("import tensorflow as tf", "tf.keras.utils.Sequence"),
        ("from tensorflow.keras.utils import Sequence", "Sequence"),
        ("from keras.utils import PyDataset as Base", "Base"),
        ("import tf_keras", "tf_keras.utils.Sequence"),
    ],
)
def test_pydataset_subclasses(base_import, base):
    code = f"""
{base_import}
class Batches({base}):
    def __len__(self):
        return 3
class MoreBatches(Batches):
    pass
probe(Batches(x, y))
probe(MoreBatches())
"""
    flow, probes = analyse(code)
    assert [flow.data(n, w).kind for n, w in probes.found] == [PYDATASET, PYDATASET]


def test_plain_class_and_unknown_base_are_unknown():
    code = """
import keras
class Plain:
    pass
class Other(SomethingImported):
    pass
probe(Plain())
probe(Other())
"""
    flow, probes = analyse(code)
    assert [flow.data(n, w) for n, w in probes.found] == [None, None]


def test_generators():
    code = """
import keras
def batches(n):
    for i in range(n):
        yield x[i], y[i]
def not_a_generator():
    return 3
probe(batches(5))
probe((b for b in chunks))
probe(not_a_generator())
probe(tf_ds.as_numpy_iterator())
"""
    flow, probes = analyse(code)
    results = [flow.data(n, w) for n, w in probes.found]
    assert results[0].kind == GENERATOR and results[1].kind == GENERATOR
    assert results[2] is None and results[3] is None


# --------------------------------------------------------------------------- arrays
def test_arrays_and_lists():
    code = """
import numpy as np
import pandas as pd
from tensorflow import keras
from sklearn.model_selection import train_test_split
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.astype("float32") / 255.0
xa, xb, ya, yb = train_test_split(features, labels, test_size=0.2)
frame = pd.read_csv("a.csv")
rng = np.random.default_rng(0)
probe(x_train)
probe(y_test)
probe(xb)
probe(np.random.rand(10, 3))
probe(frame.values)
probe(frame.pop("y"))
probe([1, 2, 3])
probe([r for r in rows])
probe(x_train[:100])
probe(rng)
probe(keras.utils.to_categorical(y_train, 10))
probe((x_train, x_test))
"""
    flow, probes = analyse(code)
    kinds = [(flow.data(n, w) or None) and flow.data(n, w).kind for n, w in probes.found]
    assert kinds == [ARRAY, ARRAY, ARRAY, ARRAY, ARRAY, ARRAY, LIST, LIST, ARRAY, None, ARRAY, ARRAY]


# --------------------------------------------------------------------------- names and flow
def test_rebinding_is_flow_sensitive():
    code = """
import tensorflow as tf
ds = tf.data.Dataset.range(10)
ds = ds.batch(2)
probe(ds)
ds = ds.repeat()
probe(ds)
ds = ds.take(20)
probe(ds)
"""
    flow, probes = analyse(code)
    infinite = [flow.data(n, w).infinite for n, w in probes.found]
    assert infinite == [False, True, False]


def test_conditional_rebinding_merges_paths():
    code = """
import numpy as np
import tensorflow as tf
ds = tf.data.Dataset.range(10)
if flag:
    ds = ds.repeat()
probe(ds)
if flag:
    other = tf.data.Dataset.range(3).repeat()
else:
    other = tf.data.Dataset.range(4).repeat()
probe(other)
mixed = np.zeros(3)
if flag:
    mixed = tf.data.Dataset.range(3)
probe(mixed)
with strategy.scope():
    inner = tf.data.Dataset.range(3).repeat()
probe(inner)
"""
    flow, probes = analyse(code)
    results = [flow.data(n, w) for n, w in probes.found]
    assert results[0].kind == DATASET and not results[0].infinite  # one path is finite
    assert results[1].infinite  # both branches repeat
    assert results[2] is None  # an array on one path, a dataset on the other
    assert results[3].infinite  # a `with` body always runs


def test_function_returns_parameters_and_tuples():
    code = """
import tensorflow as tf
def make(x, y, epochs=None, batch=32):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    if epochs is None:
        return ds.repeat()
    return ds.repeat(epochs)
def pair():
    train = tf.data.Dataset.range(8).repeat()
    return train, tf.data.Dataset.range(2)
def passthrough(d):
    return d.prefetch(1)
a = make(x, y)
b = make(x, y, 4)
t, v = pair()
probe(a)
probe(b)
probe(t)
probe(v)
probe(passthrough(tf.data.Dataset.range(3).repeat()))
probe(make(x, y, epochs=None))
"""
    flow, probes = analyse(code)
    results = [flow.data(n, w) for n, w in probes.found]
    assert results[0].kind == DATASET and results[0].infinite  # epochs omitted: repeat(None) on both paths
    assert results[1].kind == DATASET and not results[1].infinite  # epochs=4 on one path
    assert results[2].infinite and not results[3].infinite
    assert results[4].infinite
    assert results[5].infinite


def test_attributes_of_self():
    code = """
import tensorflow as tf
class Trainer:
    def __init__(self):
        self.train_ds = tf.data.Dataset.range(8).batch(2).repeat()
    def run(self):
        probe(self.train_ds)
"""
    d = data_of(code)
    assert d.kind == DATASET and d.infinite


def test_same_value_and_int_value():
    code = """
import tensorflow as tf
EPOCHS = 4
ALSO_FOUR = 4
cfg = load_config()
def helper(n):
    return tf.data.Dataset.range(3).repeat(n)
probe(EPOCHS)
probe(ALSO_FOUR)
probe(cfg.epochs)
probe(cfg.epochs)
probe(cfg.steps)
probe(helper(EPOCHS))
"""
    flow, probes = analyse(code)
    refs = probes.found
    assert flow.int_value(*refs[0]) == 4
    assert flow.same_value(refs[0], refs[1])  # same constant
    assert flow.same_value(refs[2], refs[3])  # same attribute of the same binding
    assert not flow.same_value(refs[2], refs[4])
    d = flow.data(*refs[5])
    assert flow.same_value(d.repeat, refs[0])  # through the helper's parameter


# --------------------------------------------------------------------------- sample counts
def test_sample_counts():
    code = """
import math
import numpy as np
import keras
from keras.preprocessing.image import ImageDataGenerator
gen = ImageDataGenerator().flow_from_directory("d", batch_size=8)
x = np.zeros((100, 3))
n = len(x)
class Batches(keras.utils.Sequence):
    pass
seq = Batches()
probe(gen.samples)
probe(gen.n)
probe(len(x))
probe(x.shape[0])
probe(n)
probe(int(len(x)))
probe(len(gen))
probe(len(seq))
probe(gen.samples // gen.batch_size)
probe(math.ceil(len(x) / 32))
probe(unknown.shape[0])
probe(len(files))
probe(x.shape[1])
"""
    flow, probes = analyse(code)
    counts = [flow.sample_count(n, w) for n, w in probes.found]
    assert [c is not None for c in counts] == [True] * 6 + [False] * 4 + [True, False, False]
    assert counts[0].kind == ITERATOR and flow.int_value(*counts[0].batch_size) == 8
    assert all(c.known for c in counts[:6])
    assert not counts[10].known  # `.shape[0]` of an unknown value: --strict only


# --------------------------------------------------------------------------- fit arguments
def test_training_call_arguments_by_keyword_and_position():
    code = """
model.fit(ds, None, 64, 10, steps_per_epoch=5)
model.fit_generator(gen, 100, 3)
model.predict(ds, 16)
model.fit(*args, epochs=2)
model.fit_generator(generator=gen, epochs=2)
"""
    _, probes = analyse(code)
    fit, fitgen, predict, splat, named = probes.calls
    assert fit.value("batch_size").value == "64" and fit.value("epochs").value == "10"
    assert fit.value("steps_per_epoch").value == "5" and fit.value("validation_split") is None
    assert fitgen.value("steps_per_epoch").value == "100" and fitgen.value("epochs").value == "3"
    assert predict.value("batch_size").value == "16"
    assert splat.has_splat and splat.value("x") is None
    assert named.value("x").value == "gen"


# --------------------------------------------------------------------------- RULES.md "Not a finding"
NOT_A_FINDING = {
    "repeat(n) with steps_per_epoch": """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat(10)
        model.fit(ds, epochs=10, steps_per_epoch=50)
    """,
    "ds.repeat() with steps_per_epoch": """
        import keras
        import tensorflow as tf
        model = keras.Sequential([keras.layers.Dense(1)])
        ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100).batch(32).repeat()
        model.fit(ds, epochs=10, steps_per_epoch=len(x) // 32, validation_data=val, validation_steps=5)
    """,
    "steps_per_epoch=len(generator) of a DirectoryIterator": """
        import tensorflow as tf
        from tensorflow.keras.preprocessing.image import ImageDataGenerator
        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        train_generator = ImageDataGenerator(rescale=1 / 255).flow_from_directory("train", batch_size=32)
        model.fit(train_generator, steps_per_epoch=len(train_generator), epochs=5)
    """,
    "steps_per_epoch=len(generator) of a Sequence": """
        import keras
        class Loader(keras.utils.Sequence):
            def __len__(self):
                return 100
        model = keras.Sequential([keras.layers.Dense(1)])
        train_generator = Loader()
        model.fit(train_generator, steps_per_epoch=len(train_generator), epochs=5)
    """,
    "steps_per_epoch=len(generator) of a PyDataset": """
        import keras
        class Loader(keras.utils.PyDataset):
            def __len__(self):
                return 100
        model = keras.Sequential([keras.layers.Dense(1)])
        loader = Loader(workers=2)
        model.fit(loader, steps_per_epoch=len(loader), epochs=5)
    """,
    "samples // batch_size": """
        import keras
        from keras.preprocessing.image import ImageDataGenerator
        model = keras.Sequential([keras.layers.Dense(1)])
        gen = ImageDataGenerator().flow_from_directory("train", batch_size=32)
        model.fit(gen, steps_per_epoch=gen.samples // gen.batch_size,
                  validation_data=gen, validation_steps=gen.samples // 32)
    """,
    "batch_size= with numpy arrays": """
        import numpy as np
        import keras
        model = keras.Sequential([keras.layers.Dense(1)])
        x = np.random.rand(100, 3)
        model.fit(x, x.sum(axis=1), batch_size=16, epochs=2)
        model.evaluate(x, x.sum(axis=1), batch_size=16)
        model.predict(x, batch_size=16)
    """,
    "validation_split= with arrays": """
        import numpy as np
        from tensorflow import keras
        model = keras.Sequential([keras.layers.Dense(1)])
        x = np.random.rand(100, 3)
        model.fit(x, x.sum(axis=1), validation_split=0.2, epochs=2)
    """,
}


@pytest.mark.parametrize("name", sorted(NOT_A_FINDING))
@pytest.mark.parametrize("strict", [False, True])
def test_not_a_finding(name, strict):
    assert lint(NOT_A_FINDING[name], select=["EPL3"], strict=strict) == []


def test_fit_on_a_non_model_is_silent_unless_strict():
    code = """
        import tensorflow as tf
        ds = tf.data.Dataset.range(10).batch(2).repeat()
        def train(learner):
            learner.fit(ds, epochs=3, batch_size=8, validation_split=0.1)
    """
    assert lint(code, select=["EPL3"]) == []
    assert sorted(f.code for f in lint(code, select=["EPL3"], strict=True)) == ["EPL301", "EPL304", "EPL305"]


def test_keras_model_spellings_all_fire():
    for build in (
        "import keras\nmodel = keras.Sequential()",
        "import tensorflow as tf\nmodel = tf.keras.Model(inputs, outputs)",
        "from tensorflow.keras.models import Sequential\nmodel = Sequential()",
        "import tf_keras\nmodel = tf_keras.models.load_model('m')",
        "import keras\nclass Net(keras.Model):\n    pass\nmodel = Net()",
    ):
        code = build + "\nimport tensorflow as tf\nds = tf.data.Dataset.range(10).repeat()\nmodel.fit(ds, epochs=2)\n"
        assert [f.code for f in lint(code, select=["EPL301"])] == ["EPL301"], build


# --------------------------------------------------------------------------- EPL304's fix
def _fix(code: str) -> str:
    text = textwrap.dedent(code).lstrip("\n")
    findings = check_source(SourceFile("x.py", text), CheckOptions(frozenset({"EPL304"}))).findings
    assert findings and all(f.fix is not None for f in findings)
    new, n = apply_edits(text, findings, unsafe=False)
    cst.parse_module(new)  # still valid Python
    return new


PREFIX = "import tensorflow as tf\nmodel = tf.keras.Sequential()\nds = tf.data.Dataset.range(8).batch(2)\n"


@pytest.mark.parametrize(
    "call,fixed",
    [
        ("model.fit(ds, batch_size=4)\n", "model.fit(ds)\n"),
        ("model.fit(ds, batch_size=4, epochs=2)\n", "model.fit(ds, epochs=2)\n"),
        ("model.fit(ds, epochs=2, batch_size=4, )\n", "model.fit(ds, epochs=2, )\n"),
        ("model.fit(batch_size=4, x=ds)\n", "model.fit(x=ds)\n"),
        ("model.fit(\n    ds,\n    batch_size=4,\n)\n", "model.fit(\n    ds,\n)\n"),
        ("model.fit(\n    ds,\n    batch_size=4\n)\n", "model.fit(\n    ds\n)\n"),
        # every comment stays where it was (issue 16), the removed argument's too
        ("model.fit(\n    ds,  # data\n    batch_size=4,  # gone\n)\n", "model.fit(\n    ds,  # data\n    # gone\n)\n"),
        ("model.fit(\n    ds,\n    batch_size=4,  # gone\n    epochs=3,  # kept\n)\n", "model.fit(\n    ds,\n    # gone\n    epochs=3,  # kept\n)\n"),
        ("model.fit(ds,\n          batch_size=4)\n", "model.fit(ds)\n"),
        ("model.fit(ds,  # data\n          batch_size=4)\n", "model.fit(ds  # data\n          )\n"),
        ("if True:\n    model.fit(\n        ds,  # data\n        batch_size=4\n    )\n",
         "if True:\n    model.fit(\n        ds  # data\n    )\n"),
    ],
)
def test_batch_size_removal_keeps_commas_and_comments(call, fixed):
    assert _fix(PREFIX + call) == PREFIX + fixed


def test_batch_size_fix_is_idempotent_and_positional_is_not_fixed():
    once = _fix(PREFIX + "model.evaluate(ds, batch_size=4, verbose=0)\n")
    assert lint(once, select=["EPL304"]) == []
    positional = lint(PREFIX + "model.evaluate(ds, None, 4)\n", select=["EPL304"])
    assert [f.code for f in positional] == ["EPL304"] and positional[0].fix is None


def test_decorated_async_and_numpy_edge_cases():
    code = """
import contextlib
import functools
import numpy as np
import tensorflow as tf
@contextlib.contextmanager
def opened():
    yield handle
@tf.function
def make():
    return tf.data.Dataset.range(3).repeat()
@functools.lru_cache()
def cached():
    return tf.data.Dataset.range(3).repeat()
async def stream():
    yield 1
chunks = np.array_split(x, 10)
probe(opened())
probe(make())
probe(cached())
probe(stream())
probe(np.load("x.npy"))
probe(np.load("d.npz"))
probe(np.load(path))
probe(chunks)
"""
    flow, probes = analyse(code)
    kinds = [(flow.data(n, w) or None) and flow.data(n, w).kind for n, w in probes.found]
    assert kinds == [None, None, DATASET, None, ARRAY, None, None, None]
    flow2, probes2 = analyse(code + "probe(len(chunks))\n")
    assert flow2.sample_count(*probes2.found[-1]) is None  # number of chunks, not samples


def test_dataset_through_helpers_with_conditional_steps_and_keyword_arguments():
    # shapes seen in real training scripts: a dataset passed through helper functions that
    # rebind their parameter conditionally, and a repeat count given by keyword
    code = """
        import tensorflow as tf
        from tensorflow.keras import Model

        def prepare(ds, shuffle=False):
            ds = ds.map(decode)
            if shuffle:
                ds = ds.shuffle(1000)
            ds = ds.batch(32)
            return ds.prefetch(tf.data.AUTOTUNE)

        def configure(ds):
            ds = ds.cache()
            return ds

        def records(path, batch_size, epochs=None):
            ds = tf.data.TFRecordDataset(path).batch(batch_size)
            ds = ds.repeat(epochs)
            return ds

        files = tf.data.Dataset.list_files("train/*.png")
        train_ds = configure(prepare(files.skip(100), shuffle=True))
        model = Model(inputs, outputs)
        model.fit(train_ds, batch_size=32, epochs=40)
        model.fit(records("a.tfrecord", batch_size=8, epochs=cfg.epochs), epochs=cfg.epochs)
        model.fit(records("a.tfrecord", 8), epochs=cfg.epochs)
    """
    code = "cfg = load()\n" + textwrap.dedent(code)
    found = sorted((f.line, f.code) for f in lint(code, select=["EPL3"]))
    assert found == [(25, "EPL304"), (26, "EPL302"), (27, "EPL301")]


def test_splat_arguments_leave_omitted_parameters_unknown():
    code = """
import tensorflow as tf
def make(path, epochs=None):
    return tf.data.TFRecordDataset(path).repeat(epochs)
probe(make("a", **options))
probe(make(*paths))
probe(make("a"))
"""
    flow, probes = analyse(code)
    assert [flow.data(n, w).infinite for n, w in probes.found] == [False, False, True]
