"""The DataFlow facts EPL306-EPL311 rest on (issue 11), asserted directly: generators known to
end or to loop forever, inputs that reshuffle on every pass, pipeline steps through
assignments, random map functions, and float/int expressions. No TensorFlow is imported."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from linter.analysis.datasets import DATASET, GENERATOR, ITERATOR
from linter.analysis.numbers import known_float, known_int
from linter.semantic import SemanticModel, Site
from tests.test_epl3_datasets import analyse, data_of


@pytest.mark.parametrize(
    "body, finite, infinite",
    [
        ("for i in range(0, len(x), 32):\n        yield x[i:i + 32]", True, False),
        ("for a, b in zip(items, range(10)):\n        yield a", True, False),
        ("for f in sorted(os.listdir(d)):\n        yield f", True, False),
        ("while True:\n        for i in range(4):\n            yield i", False, True),
        ("while 1:\n        yield next_batch()", False, True),
        ("for b in itertools.cycle(batches):\n        yield b", False, True),
        ("while True:\n        yield 1\n        if done:\n            break", False, False),  # may stop
        ("while True:\n        yield 1\n        return", False, False),  # may stop
        ("i = 0\n    while i < 10:\n        yield i\n        i += 1", False, False),  # not known
        ("for b in stream:\n        yield b", False, False),  # a parameter nobody passed: not known
        ("yield from other()", False, False),
    ],
)
def test_generator_functions_known_to_end_or_not(body, finite, infinite):
    code = f"import itertools, os\n\ndef gen(stream=None):\n    {body}\n\nprobe(gen())\n"
    d = data_of(code)
    assert d is not None and d.kind == GENERATOR
    assert (d.finite, d.infinite) == (finite, infinite)


def test_generator_expressions_and_loops_over_known_data():
    assert data_of("import numpy as np\nx = np.zeros(3)\nprobe((v for v in x))").finite
    assert data_of("import itertools\nprobe((v for v in itertools.count()))").infinite
    assert not data_of("probe((v for v in unknown))").finite
    # a generator over a parameter is finite when the caller passes finite data
    code = """
    import numpy as np

    def wrap(arr):
        for row in arr:
            yield row

    probe(wrap(np.ones((4, 2))))
    probe(wrap(source))
    """
    assert data_of(code, 0).finite and not data_of(code, 1).finite


@pytest.mark.parametrize(
    "expr, reshuffles",
    [
        ("tf.data.Dataset.range(9).shuffle(9)", True),
        ("tf.data.Dataset.range(9).shuffle(9, seed=1).batch(3).prefetch(1)", True),
        ("tf.data.Dataset.range(9).shuffle(9, reshuffle_each_iteration=True)", True),
        ("tf.data.Dataset.range(9).shuffle(9, reshuffle_each_iteration=False)", False),
        ("tf.data.Dataset.range(9).shuffle(9, 1, False)", False),
        ("tf.data.Dataset.range(9).shuffle(9, reshuffle_each_iteration=flag)", False),
        ("tf.data.Dataset.range(9).shuffle(9).cache()", False),
        ("tf.data.Dataset.range(9).shuffle(9).take(3)", True),
        ("tf.data.Dataset.range(9)", False),
        ("tf.keras.utils.image_dataset_from_directory('d')", True),
        ("tf.keras.utils.image_dataset_from_directory('d', shuffle=False)", False),
        ("tf.keras.utils.text_dataset_from_directory('d', shuffle=True)", True),
        ("tf.keras.utils.audio_dataset_from_directory('d')", False),  # not measured: not known
        ("tf.keras.utils.image_dataset_from_directory('d', **kw)", False),
    ],
)
def test_datasets_that_reshuffle_every_pass(expr, reshuffles):
    d = data_of(f"import tensorflow as tf\nprobe({expr})")
    assert d is not None and d.kind == DATASET
    assert bool(d.reshuffles) == reshuffles


def test_iterators_that_reshuffle_and_the_validation_half_of_subset_both():
    code = """
    from tensorflow.keras.preprocessing.image import ImageDataGenerator
    import keras

    g = ImageDataGenerator()
    probe(g.flow_from_directory("d"))
    probe(g.flow_from_directory("d", (64, 64), "rgb", None, "binary", 32, False))
    probe(g.flow_from_dataframe(df))
    train, val = keras.utils.image_dataset_from_directory("d", validation_split=0.2, subset="both", seed=1)
    probe(train)
    probe(val)
    """
    first, positional_false, dataframe, train, val = (data_of(code, i) for i in range(5))
    assert first.kind == ITERATOR and first.reshuffles
    assert not positional_false.reshuffles
    assert not dataframe.reshuffles  # not measured (pandas): not known
    assert train.reshuffles and not val.reshuffles


def test_steps_follow_assignments_and_a_read_inside_its_own_assignment():
    code = """
    import tensorflow as tf

    ds = tf.data.Dataset.range(9)
    ds = ds.batch(3)
    ds = ds.shuffle(2).prefetch(1)
    probe(ds)
    """
    flow, probes = analyse(code)
    node, where = probes.found[0]
    assert [s.method for s in flow.steps(node, where)] == ["batch", "shuffle", "prefetch"]


def test_random_map_functions():
    code = """
    import keras
    import tensorflow as tf

    aug = keras.Sequential([keras.layers.RandomFlip("horizontal")])
    init = keras.initializers.RandomNormal()

    def augment(x, y):
        return tf.image.random_flip_left_right(x), y

    def outer(x, y):
        return augment(x, y)

    def plain(x, y):
        return tf.image.resize(x, (8, 8)), y

    ds = tf.data.Dataset.range(3)
    probe(ds.map(augment))
    probe(ds.map(outer))
    probe(ds.map(lambda x, y: (aug(x, training=True), y)))
    probe(ds.map(plain))
    probe(ds.map(lambda x: x + tf.random.uniform(())))
    probe(ds.map(lambda x: tf.random.stateless_uniform((), seed=(1, 2))))
    probe(ds.map(lambda x: init((2,))))
    """
    flow, probes = analyse(code)
    got = [flow.random_map(node, where) for node, where in probes.found]
    assert got[0] == got[1] == "`tf.image.random_flip_left_right`"
    assert got[2] == "`RandomFlip`"
    assert got[3] is None
    assert got[4] == "`tf.random.uniform`"
    assert got[5] is None and got[6] is None


def _number_facts(code: str):
    module = cst.parse_module(textwrap.dedent(code).lstrip("\n"))
    sem = SemanticModel(module)
    from linter.engine import _dispatch
    from linter.walker import Walker

    sites = []

    class Probe:
        def visit_Call(self, node):
            if isinstance(node.func, cst.Name) and node.func.value == "probe":
                sites.append((node.args[0].value, Site.here(sem)))

    enter, leave = _dispatch([sem, Probe()])
    Walker(enter, leave, sem.stack).walk(module)
    return [(known_float(e, s, sem), known_int(e, s, sem)) for e, s in sites]


def test_float_and_int_expressions():
    facts = _number_facts("""
    import math
    import numpy as np

    n = len(x)
    half = n / 2
    probe(n / 32)
    probe(n // 32)
    probe(math.ceil(n / 32))
    probe(int(n / 32))
    probe(np.ceil(n / 32))
    probe(1e3)
    probe(half)
    probe(n * 0.8)
    probe(n)
    probe(round(n / 3))
    probe(2 ** 4)
    """)
    floats = [f is not None for f, _ in facts]
    ints = [i for _, i in facts]
    assert floats == [True, False, False, False, True, True, True, True, False, False, False]
    assert ints == [False, True, True, True, False, False, False, False, True, True, False]
