"""Project-wide analysis (issue 10, item 2): dataset builders and metric factories.

A dataset built, or a metric made, in another module of the project must get the same answers
from `DataFlow` and `Metrics` as a local definition: each case below is checked against the same
code written in one module. Unknown stays unknown (silent): a builder steered by its callers'
flags or reading their arguments, a third-party module named like a project module, an import
cycle, a name rebound locally, a metric another module owns (EPL208 cannot see its resets).
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from linter import parallel
from linter.analysis.datasets import DATASET, Data, Where, fact_data
from linter.analysis.metrics import ProjectMetric, _project_metric
from linter.engine import _dispatch
from linter.project import index as project_index
from linter.project.summary import summarize
from linter.semantic import SemanticModel
from linter.walker import Walker
from tests.test_project import run, write

DATA = """\
import tensorflow as tf

BATCH = 32

def make_ds(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat()

def make_finite(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)

def make_flagged(x, y, repeat=True):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    if repeat:
        ds = ds.repeat()
    return ds

def make_counted(x, y, epochs=None):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat(epochs)

def make_five(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).repeat(5)

def make_train(x, y):
    return make_flagged(x, y, repeat=True)

def wrap(ds):
    return ds.batch(BATCH).repeat()

def make_unknown(path):
    return load_somehow(path)

def make_splits(x, y):
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(100).batch(BATCH).repeat()
    val = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    return train, val

train_ds = tf.data.Dataset.from_tensor_slices((X, Y)).batch(BATCH).repeat()
"""

HEAD = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\n"


def _local(body: str) -> str:
    """The same training code with the builders defined in the file itself."""
    return DATA + "\n" + HEAD + body


def _imported(body: str, how: str = "from data import *") -> str:
    return how + "\n" + HEAD + body


def check_both(tmp_path: Path, body: str, how: str = "from data import *", strict: bool = False) -> list:
    """Findings of `body` in train.py importing data.py; asserts a local copy finds the same
    (codes and the lines relative to the training code)."""
    (tmp_path / ".git").mkdir(exist_ok=True)
    body = textwrap.dedent(body)
    write(tmp_path, {"data.py": DATA, "train.py": _imported(body, how), "local.py": _local(body)})
    found = run(tmp_path, ["train.py", "local.py"], use_cache=False, strict=strict)
    offset_imported = len(_imported("", how).splitlines())
    offset_local = len(_local("").splitlines())
    imported = [(c, line - offset_imported) for c, line in found["train.py"]]
    local = [(c, line - offset_local) for c, line in found["local.py"]]
    assert imported == local, (imported, local)
    return imported


# --------------------------------------------------------------------------- datasets: must fire
@pytest.mark.parametrize("how, call", [
    ("from data import make_ds", "make_ds(x, y)"),
    ("from data import make_ds as build", "build(x, y)"),
    ("import data", "data.make_ds(x, y)"),
    ("import data as d", "d.make_ds(x, y)"),
    ("from data import *", "make_ds(x, y)"),
])
def test_epl301_fires_on_an_imported_infinite_builder(tmp_path, how, call):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"data.py": DATA, "train.py": _imported(f"model.fit({call}, epochs=10)\n", how)})
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": [("EPL301", 5)]}


def test_the_same_answers_as_a_local_builder(tmp_path):
    body = """\
    model.fit(make_ds(x, y), epochs=10)
    model.fit(make_finite(x, y), epochs=10)
    ds = make_ds(x, y)
    model.fit(ds.take(100), epochs=10)
    model.fit(ds, epochs=3)
    tr, va = make_splits(x, y)
    model.fit(tr, validation_data=va, epochs=2)
    model.fit(train_ds, epochs=2)
    model.fit(make_finite(x, y), batch_size=64)
    model.fit(make_five(x, y), epochs=5)
    """
    found = check_both(tmp_path, body)
    assert found == [("EPL301", 1), ("EPL301", 5), ("EPL301", 7), ("EPL301", 8), ("EPL304", 9), ("EPL302", 10)]


def test_a_module_level_dataset_by_attribute(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"data.py": DATA, "train.py": _imported("model.fit(data.train_ds, epochs=2)\n", "import data")})
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": [("EPL301", 5)]}


def test_a_builder_re_exported_by_a_package(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {
        "pkg/__init__.py": "from .data import make_ds\n",
        "pkg/data.py": DATA,
        "train.py": _imported("model.fit(make_ds(x, y), epochs=2)\n", "from pkg import make_ds"),
    })
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": [("EPL301", 5)]}


def test_a_builder_built_on_another_modules_builder(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {
        "data.py": DATA,
        "pipeline.py": "from data import make_finite\n\ndef train_input(x, y):\n    return make_finite(x, y).repeat()\n",
        "train.py": _imported("model.fit(train_input(x, y), epochs=2)\n", "from pipeline import train_input"),
    })
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": [("EPL301", 5)]}


def test_a_finite_generator_function_from_another_module(tmp_path):
    gen = "def batches(x):\n    for i in range(10):\n        yield x[i], x[i]\n"
    body = "model.fit(batches(x), epochs=5)\n"
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"gens.py": "import keras\n" + gen, "train.py": _imported(body, "from gens import batches"),
                     "local.py": HEAD + gen + body})
    found = run(tmp_path, ["train.py", "local.py"], use_cache=False)
    assert [c for c, _ in found["train.py"]] == [c for c, _ in found["local.py"]] == ["EPL306"]


# --------------------------------------------------------------------------- datasets: stay silent
def test_builders_steered_or_fed_by_their_callers_are_unknown(tmp_path):
    body = """\
    model.fit(make_flagged(x, y), epochs=10)
    model.fit(make_counted(x, y), epochs=10)
    model.fit(make_train(x, y), epochs=10)
    model.fit(wrap(ds), epochs=10)
    model.fit(make_unknown("a.csv"), epochs=10)
    """
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"data.py": DATA, "train.py": _imported(textwrap.dedent(body))})
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": []}
    summary = _summary(DATA)["names"]
    for name in ("make_flagged", "make_train", "make_counted", "wrap", "make_unknown"):
        assert "data" not in summary.get(name, {}), name


def test_a_name_rebound_locally_is_not_the_imported_builder(tmp_path):
    body = "def make_ds(x, y):\n    return x\n\nmodel.fit(make_ds(x, y), epochs=10)\n"
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"data.py": DATA, "train.py": _imported(body, "from data import make_ds")})
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": []}


def test_an_installed_module_named_like_the_project_module(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write(site, {"data/__init__.py": "def make_ds(x, y):\n    return x\n"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(project_index, "_installed", {})
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    train = _imported("model.fit(make_ds(x, y), epochs=10)\n", "from data import make_ds")
    write(project, {"data.py": DATA, "train.py": train, "scripts/train.py": train})
    assert run(project, ["train.py"], use_cache=False) == {"train.py": [("EPL301", 5)]}  # the script's folder wins
    assert run(project, ["scripts/train.py"], use_cache=False) == {"scripts/train.py": []}  # the installed one


def test_an_import_cycle(tmp_path):
    (tmp_path / ".git").mkdir()
    a = "import tensorflow as tf\nimport b\n\ndef make(x):\n    return tf.data.Dataset.range(x).repeat()\n"
    b = HEAD + "import a\n\nmodel.fit(a.make(3), epochs=2)\n"
    write(tmp_path, {"a.py": a, "b.py": b, "train.py": _imported("model.fit(make(3), epochs=2)\n", "from a import make")})
    found = run(tmp_path, ["a.py", "b.py", "train.py"], use_cache=False)
    assert found == {"a.py": [], "b.py": [], "train.py": [("EPL301", 5)]}  # unknown inside the cycle


def test_changing_a_builder_changes_the_importers_result_with_a_warm_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)  # the pool even for one file
    (tmp_path / ".git").mkdir()
    train = _imported("model.fit(make_ds(x, y), epochs=10)\n", "from data import make_ds")
    write(tmp_path, {"data.py": DATA.replace(".batch(BATCH).repeat()\n\ndef make_finite", ".batch(BATCH)\n\ndef make_finite"), "train.py": train})
    assert run(tmp_path, ["train.py"]) == {"train.py": []}
    assert run(tmp_path, ["train.py"]) == {"train.py": []}  # warm
    write(tmp_path, {"data.py": DATA})  # `.repeat()` added
    assert run(tmp_path, ["train.py"]) == {"train.py": [("EPL301", 5)]}
    assert run(tmp_path, ["train.py"], jobs=2) == {"train.py": [("EPL301", 5)]}


# --------------------------------------------------------------------------- metrics
METRICS = """\
import keras

train_loss = keras.metrics.Mean(name="train_loss")

def make_acc():
    return keras.metrics.SparseCategoricalAccuracy()

def make_thing():
    return object()

class F1(keras.metrics.Metric):
    def update_state(self, y, p):
        pass

class Resettable(keras.metrics.Metric):
    def reset_states(self):
        pass
"""


def test_epl207_on_imported_metrics_factories_and_classes(tmp_path):
    body = """\
    train_loss.reset_states()
    make_acc().reset_states()
    F1().reset_states()
    Resettable().reset_states()
    make_thing().reset_states()

    class Mine(F1):
        pass

    Mine().reset_states()
    """
    (tmp_path / ".git").mkdir()
    body = textwrap.dedent(body)
    write(tmp_path, {"mets.py": METRICS, "train.py": "from mets import *\n" + body, "local.py": METRICS + body})
    found = run(tmp_path, ["train.py", "local.py"], use_cache=False)
    shift = len(METRICS.splitlines()) - 1
    assert found["train.py"] == [("EPL207", 2), ("EPL207", 3), ("EPL207", 4), ("EPL207", 11)]
    assert [(c, line - shift) for c, line in found["local.py"]] == found["train.py"]


def test_epl208_on_a_metric_from_an_imported_factory(tmp_path):
    body = """\
    acc = make_acc()
    for epoch in range(10):
        for x, y in batches:
            acc.update_state(y, model(x))
    """
    (tmp_path / ".git").mkdir()
    body = textwrap.dedent(body)
    write(tmp_path, {"mets.py": METRICS, "train.py": "from mets import make_acc\n" + HEAD + body,
                     "local.py": METRICS + HEAD + body})
    found = run(tmp_path, ["train.py", "local.py"], use_cache=False)
    assert found["train.py"] == [("EPL208", 8)]
    assert found["local.py"] == [("EPL208", len((METRICS + HEAD).splitlines()) + 4)]


def test_epl208_leaves_a_metric_another_module_owns_alone(tmp_path):
    # mets.py may reset its own `train_loss` (e.g. in a function train.py calls): not followed
    body = "for epoch in range(10):\n    for x, y in batches:\n        train_loss.update_state(model(x))\n"
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"mets.py": METRICS + "\ndef reset():\n    train_loss.reset_state()\n",
                     "train.py": "from mets import train_loss\n" + HEAD + body})
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": []}


# --------------------------------------------------------------------------- the facts themselves
def _summary(text: str) -> dict:
    module = cst.parse_module(text)
    sem = SemanticModel(module)
    enter, leave = _dispatch([sem])
    Walker(enter, leave, sem.stack).walk(module)
    return summarize(sem)


def test_the_summary_facts_are_small_json():
    names = _summary(DATA)["names"]
    assert names["make_ds"]["data"] == {"kind": "dataset", "infinite": True, "why": "`.repeat()` without a count"}
    assert names["make_finite"]["data"] == {"kind": "dataset"}
    assert names["make_five"]["data"] == {"kind": "dataset", "repeat": 5}
    assert names["make_splits"]["data"] == {"items": [
        {"kind": "dataset", "infinite": True, "why": "`.repeat()` without a count", "reshuffles": "`.shuffle()`"},
        {"kind": "dataset"},
    ]}
    assert names["train_ds"]["data"]["infinite"] is True
    flows = _summary(
        "import keras\nimport config\n\ndef get(d):\n"
        "    return keras.preprocessing.image.ImageDataGenerator().flow_from_directory(d, batch_size=config.BATCH)\n"
    )["names"]
    assert flows["get"]["data"] == {"kind": "iterator", "batch_size": None, "reshuffles": "`flow_from_directory` shuffles by default"}
    metrics = _summary(METRICS)["names"]
    assert metrics["train_loss"]["metric"] == {"class": "keras.metrics.Mean", "defines": []}
    assert metrics["make_acc"]["metric"] == {"class": "keras.metrics.SparseCategoricalAccuracy", "defines": []}
    assert metrics["F1"]["metric"] == {"class": "", "defines": ["update_state"]}
    assert metrics["Resettable"]["metric"] == {"class": "", "defines": ["reset_states"]}
    assert "metric" not in metrics.get("make_thing", {})
    for summary in (names, metrics):
        assert json.loads(json.dumps(summary)) == summary


def test_a_malformed_fact_from_a_cache_file_is_unknown():
    where = Where(None, ())  # type: ignore[arg-type]
    for fact in (None, 3, "dataset", {}, {"kind": "bogus"}, {"kind": "dataset", "repeat": "5"},
                 {"kind": "dataset", "repeat": -1}, {"kind": "dataset", "batch_size": True},
                 {"kind": "dataset", "why": 3}, {"items": "x"}):
        assert fact_data(fact, (), where) is None, fact
    assert fact_data({"items": [None, {"kind": "dataset"}]}, (1,), where) == Data(DATASET)
    given = fact_data({"kind": "iterator", "batch_size": None}, (), where)  # given, value unknown
    assert given is not None and given.batch_size is not None and not isinstance(given.batch_size[0], cst.Integer)
    assert fact_data({"items": [{"kind": "dataset"}]}, (3,), where) is None
    assert _project_metric({"class": 3}, False) is None and _project_metric([], True) is None
    assert _project_metric({"class": "", "defines": ["reset_states", "bogus"]}, True) == ProjectMetric("", frozenset({"reset_states"}), True)


# --------------------------------------------------------------------------- random map functions
AUGMENT = """\
import keras
import tensorflow as tf

def augment(image, label):
    return tf.image.random_flip_left_right(image), label

def scale(image, label):
    return image / 255.0, label

def maybe_augment(image, label, training=True):
    if training:
        image = tf.image.random_flip_left_right(image)
    return image, label

flipper = keras.Sequential([keras.layers.RandomFlip("horizontal")])
"""


def test_epl309_a_random_map_function_from_another_module(tmp_path):
    body = """\
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    a = ds.map(augment).cache()
    b = ds.map(lambda i, l: (flipper(i), l)).cache()
    c = ds.map(scale).cache()
    """
    (tmp_path / ".git").mkdir()
    body = textwrap.dedent(body)
    write(tmp_path, {"augment.py": AUGMENT, "train.py": "import tensorflow as tf\nfrom augment import *\n" + body,
                     "local.py": AUGMENT + body})
    found = run(tmp_path, ["train.py", "local.py"], use_cache=False)
    assert found["train.py"] == [("EPL309", 4), ("EPL309", 5)]
    shift = len(AUGMENT.splitlines()) - 2
    assert [(c, line - shift) for c, line in found["local.py"]] == found["train.py"]


def test_a_map_function_a_flag_steers_is_not_known_random(tmp_path):
    (tmp_path / ".git").mkdir()
    train = "import tensorflow as tf\nfrom augment import maybe_augment\n\nds = tf.data.Dataset.range(3).map(maybe_augment).cache()\n"
    write(tmp_path, {"augment.py": AUGMENT, "train.py": train})
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": []}
    names = _summary(AUGMENT)["names"]
    assert names["augment"]["random"] == "`tf.image.random_flip_left_right`"
    assert names["flipper"]["random"] == "`RandomFlip`"
    assert "random" not in names.get("maybe_augment", {}) and "random" not in names.get("scale", {})
