"""A function's parameters known from the calls other project modules make (issue 10, item 3).

`def train(model, x): model.fit(x, nb_epoch=3)` in lib.py is silent on its own: nothing in
lib.py says what `model` is. When every call of `train` in the modules checked in the same run
passes a known Keras model, `model` is one (linter.project.links); one call passing something
else, any other use of `train` (passed as a value, re-exported, star-imported, `*args`) or a
call that leaves the parameter to its default makes it unknown again, and default mode stays
silent. Fresh and warm cache, one job and a pool, and the cache's invalidation when a caller
changes.
"""
from __future__ import annotations

import pytest

from linter import parallel
from tests.test_project import MODELS, run, write

LIB = """\
def train(model, x, epochs=3):
    model.fit(x, nb_epoch=epochs)
"""
FINDING = [("EPL103", 2)]
MAIN = """\
from models import build_model
from lib import train

train(build_model(), data)
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"models.py": MODELS, "lib.py": LIB, "main.py": MAIN})
    return tmp_path


ALL = ["lib.py", "main.py", "models.py"]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_parameter_every_other_module_passes_a_model(project, jobs, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)
    cold = run(project, ALL, jobs=jobs)
    assert cold == {"lib.py": FINDING, "main.py": [], "models.py": []}
    assert run(project, ALL, jobs=jobs) == cold  # warm
    assert run(project, ALL, jobs=jobs, use_cache=False) == cold


def test_without_the_callers_in_the_run_the_parameter_stays_unknown(project):
    assert run(project, ["lib.py"], use_cache=False) == {"lib.py": []}
    assert run(project, ["lib.py", "models.py"], use_cache=False) == {"lib.py": [], "models.py": []}


@pytest.mark.parametrize(
    "caller",
    [
        "from lib import train\ntrain(object(), data)\n",  # a known non-model
        "from lib import train\ntrain(load_something(), data)\n",  # unknown
        "from lib import train\nhandlers = [train]\n",  # passed around
        "from lib import train\n",  # imported, not called: re-exported, maybe
        "from lib import train as fit_it\nfit_it(*args)\n",  # *args
        "from lib import *\n",  # a star import
        "import lib\nlib.train(x=data, epochs=2)\n",  # the parameter left to its default
        "import lib\nrun_later(lib.train)\n",  # an attribute passed around
        "from lib import train\ndef train_twice(m):\n    train(m, data)\n",  # a parameter nothing is known of
    ],
)
def test_one_other_use_makes_it_unknown(project, caller):
    write(project, {"other.py": caller})
    found = run(project, [*ALL, "other.py"], use_cache=False)
    assert found["lib.py"] == []


@pytest.mark.parametrize(
    "caller",
    [
        "import lib\nfrom models import build_model\nlib.train(build_model(), data)\n",
        "import lib as L\nimport models\nL.train(model=models.build_model(), x=data)\n",
        "from lib import train as fit_it\nfrom models import build_model\nm = build_model()\nfit_it(m, data)\n",
        "from models import build_model\ndef go():\n    from lib import train\n    train(build_model(), data)\n",
    ],
)
def test_every_call_form_that_passes_a_model(project, caller):
    write(project, {"other.py": caller})
    assert run(project, [*ALL, "other.py"], use_cache=False)["lib.py"] == FINDING


def test_same_module_calls_and_other_modules_calls_together(project):
    write(project, {"lib.py": LIB + "train(5, data)\n"})
    assert run(project, ALL, use_cache=False)["lib.py"] == []  # here: a non-model; elsewhere: a model
    write(project, {"lib.py": "from models import build_model\n" + LIB + "train(build_model(), data)\n"})
    assert run(project, ALL, use_cache=False)["lib.py"] == [("EPL103", 3)]


def test_a_changed_caller_invalidates_the_callee_in_the_cache(project):
    assert run(project, ALL)["lib.py"] == FINDING
    write(project, {"main.py": "from lib import train\ntrain(object(), data)\n"})
    assert run(project, ALL)["lib.py"] == []
    write(project, {"main.py": MAIN})
    assert run(project, ALL)["lib.py"] == FINDING
    write(project, {"other.py": "from lib import train\ntrain(None, data)\n"})  # a new caller
    assert run(project, [*ALL, "other.py"])["lib.py"] == []


def test_callers_in_an_import_cycle_are_not_counted(project):
    # lib imports main and main imports lib: members of one cycle do not see each other
    write(project, {"lib.py": "import main\n" + LIB})
    assert run(project, ALL, use_cache=False)["lib.py"] == []


def test_a_callee_is_parsed_once_more_only_when_its_callers_matter(project, monkeypatch):
    from linter import engine

    parses = []
    real = engine.parse_module
    monkeypatch.setattr(engine, "parse_module", lambda text: parses.append(text) or real(text))
    run(project, ALL, use_cache=False)
    assert sorted(parses).count(LIB) == 2  # its own check, then again knowing main.py's call
    parses.clear()
    write(project, {"lib.py": "def train(model, x):\n    return x\n"})  # no rule asks about `model`
    run(project, ALL, use_cache=False)
    assert parses.count("def train(model, x):\n    return x\n") <= 1


def test_a_warm_run_parses_nothing(project, monkeypatch):
    from linter import engine

    run(project, ALL)
    parses = []
    real = engine.parse_module
    monkeypatch.setattr(engine, "parse_module", lambda text: parses.append(text) or real(text))
    assert run(project, ALL)["lib.py"] == FINDING
    assert parses == []


def test_fix_applies_the_fix_a_cross_module_finding_offers(project):
    import os

    from linter.config import Settings
    from linter.runner import FixMode

    old = os.getcwd()
    os.chdir(project)
    try:
        outcomes = parallel.check_files(ALL, Settings(root=project), FixMode(fix=True), jobs=1, use_cache=False)
    finally:
        os.chdir(old)
    assert sum(o.fixed for o in outcomes) == 1
    assert "epochs=epochs" in (project / "lib.py").read_text(encoding="utf-8")
    assert run(project, ALL, use_cache=False)["lib.py"] == []


def test_a_function_its_own_module_passes_around_is_not_checked_again(project, monkeypatch):
    """`handlers = [train]` in lib.py: no call elsewhere can make `model` known, so lib.py is
    not parsed a second time for main.py's call."""
    from linter import engine

    text = LIB + "handlers = [train]\n"
    write(project, {"lib.py": text})
    parses = []
    real = engine.parse_module
    monkeypatch.setattr(engine, "parse_module", lambda t: parses.append(t) or real(t))
    assert run(project, ALL, use_cache=False)["lib.py"] == []
    assert parses.count(text) == 1


def test_a_call_passes_what_reaches_it_not_every_value_of_the_name(project):
    """main.py binds `model` to a Keras model, uses it, then rebinds it to a plain object and
    passes that: the call passes no model (a corpus probe's false EPL101 before)."""
    write(project, {
        "lib.py": "def configure(model, n):\n    model.epochs = n\n    return model\n",
        "main.py": "from models import build_model\nfrom lib import configure\n\nmodel = build_model()\nmodel.fit(x, y, epochs=5)\nmodel = Trainer()\nconfigure(model, 20)\n",
    })
    assert run(project, ALL, use_cache=False)["lib.py"] == []
    write(project, {"main.py": "from models import build_model\nfrom lib import configure\n\nmodel = None\nmodel = build_model()\nconfigure(model, 20)\n"})
    assert run(project, ALL, use_cache=False)["lib.py"] == [("EPL101", 2)]


def test_a_use_above_the_import_is_seen(project):
    """`def later(): pool.map(train, xs)` written above `from lib import train`: that use passes
    `train` around (an escape), even though the walk meets it before the import."""
    write(project, {"other.py": "def later(pool, xs):\n    return pool.map(train, xs)\n\nfrom lib import train\nfrom models import build_model\ntrain(build_model(), data)\n"})
    assert run(project, [*ALL, "other.py"], use_cache=False)["lib.py"] == []
