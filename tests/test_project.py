"""Project-wide analysis (issue 10): names imported from other modules of the project.

The issue's example (a model built in models.py, trained in train.py) and every import form the
index resolves, through `parallel.check_files` (the path `epochlint check` takes) with a fresh
and a warm cache, one job and a pool, and through the pre-commit hook's command line given only
train.py. Then the cache's invalidation by a change, a rename or a deletion of an imported module.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linter import parallel
from linter.config import Settings
from linter.project import index as project_index
from linter.project.imports import scan

ROOT = Path(__file__).resolve().parent.parent

MODELS = """\
import keras

def build_model():
    return keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
"""
TRAIN = """\
from models import build_model

model = build_model()
model.fit(x, y, nb_epoch=10)
for fold in range(5):
    model.fit(x, y, epochs=10)
"""


def write(root: Path, files: dict) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")


def run(root: Path, names: list, jobs: int = 1, use_cache: bool = True, strict: bool = False, monkeypatch=None) -> dict:
    """{path relative to root: [(code, line)]} for the files named (relative to root)."""
    settings = Settings(root=root, strict=strict)
    old = os.getcwd()
    os.chdir(root)
    try:
        outcomes = parallel.check_files(names, settings, jobs=jobs, use_cache=use_cache)
    finally:
        os.chdir(old)
    return {o.result.path: [(f.code, f.line) for f in o.result.findings] for o in outcomes}


@pytest.fixture
def example(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"models.py": MODELS, "train.py": TRAIN})
    return tmp_path


EXPECTED = [("EPL103", 4), ("EPL104", 6)]


# --------------------------------------------------------------------------- the example
@pytest.mark.parametrize("jobs", [1, 2])
def test_the_example_fresh_and_warm_cache(example, jobs, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)  # the pool even for two files
    cold = run(example, ["models.py", "train.py"], jobs=jobs)
    assert cold == {"models.py": [], "train.py": EXPECTED}
    assert run(example, ["models.py", "train.py"], jobs=jobs) == cold  # warm
    assert run(example, ["train.py"], jobs=jobs) == {"train.py": EXPECTED}  # models.py not named
    assert run(example, ["train.py"], jobs=jobs, use_cache=False) == {"train.py": EXPECTED}


def test_the_example_through_the_pre_commit_hook_command_given_only_train_py(example):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    cmd = [sys.executable, "-c", "import sys; from linter.cli import main; sys.exit(main())", "check", "--force-exclude", "--output-format", "concise", "train.py"]
    for _ in ("cold", "warm"):
        proc = subprocess.run(cmd, cwd=example, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "train.py:4:17: EPL103" in proc.stdout and "train.py:6:5: EPL104" in proc.stdout, proc.stdout


def test_without_the_index_the_example_is_silent_so_the_test_means_something(example):
    write(example, {"models.py": "def build_model():\n    return object()\n"})
    assert run(example, ["train.py"], use_cache=False) == {"train.py": []}


# --------------------------------------------------------------------------- import forms
@pytest.mark.parametrize(
    "files, checked",
    [
        (  # relative import inside a package
            {"pkg/__init__.py": "", "pkg/models.py": MODELS, "pkg/train.py": TRAIN.replace("from models", "from .models")},
            "pkg/train.py",
        ),
        (  # from x import *
            {"net.py": MODELS, "train.py": TRAIN.replace("from models import build_model", "from net import *")},
            "train.py",
        ),
        (  # a package re-exporting through its __init__.py
            {"pkg/__init__.py": "from .models import build_model\n", "pkg/models.py": MODELS, "train.py": TRAIN.replace("from models", "from pkg")},
            "train.py",
        ),
        (  # __init__ star-importing, then imported as a package
            {"pkg/__init__.py": "from .models import *\n", "pkg/models.py": MODELS, "train.py": TRAIN.replace("from models", "from pkg")},
            "train.py",
        ),
        (  # import pkg.mod as m; m.build_model()
            {"pkg/__init__.py": "", "pkg/models.py": MODELS, "train.py": TRAIN.replace("from models import build_model", "import pkg.models as m").replace("build_model()", "m.build_model()")},
            "train.py",
        ),
        (  # import network; network.build_model()
            {"network.py": MODELS, "train.py": TRAIN.replace("from models import build_model", "import network").replace("build_model()", "network.build_model()")},
            "train.py",
        ),
        (  # src layout, script in a sub-folder
            {"pyproject.toml": "", "src/proj/__init__.py": "", "src/proj/models.py": MODELS, "scripts/train.py": TRAIN.replace("from models", "from proj.models")},
            "scripts/train.py",
        ),
        (  # a module-level model imported from another module
            {"models.py": MODELS + "\nmodel = build_model()\n", "train.py": TRAIN.replace("import build_model", "import model").replace("model = build_model()\n", "")},
            "train.py",
        ),
        (  # a builder calling a builder of a third module
            {"models.py": MODELS, "factory.py": "from models import build_model\n\ndef make():\n    return build_model()\n", "train.py": TRAIN.replace("from models import build_model", "from factory import make").replace("build_model()", "make()")},
            "train.py",
        ),
    ],
    ids=["relative", "star", "init-reexport", "init-star", "import-as", "module-attribute", "src-layout", "module-level-model", "two-hops"],
)
def test_import_forms(tmp_path, files, checked):
    (tmp_path / ".git").mkdir()
    write(tmp_path, files)
    found = run(tmp_path, [checked], use_cache=False)[checked]
    assert [code for code, _ in found] == ["EPL103", "EPL104"], found


def test_a_model_class_from_another_module(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {
        "nets.py": "import keras\n\nclass Net(keras.Model):\n    def call(self, x):\n        return x\n",
        "train.py": "from nets import Net\n\nnet = Net()\nnet.fit(x, y, nb_epoch=3)\n",
    })
    assert run(tmp_path, ["train.py"], use_cache=False) == {"train.py": [("EPL103", 4)]}


def test_dropout_in_an_imported_builder_reaches_epl202(tmp_path):
    (tmp_path / ".git").mkdir()
    step = """\
    import tensorflow as tf
    from models import build_model
    model = build_model()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    tape.gradient(loss, model.trainable_variables)
    """
    write(tmp_path, {"models.py": MODELS, "step.py": step})
    assert run(tmp_path, ["step.py"], use_cache=False) == {"step.py": [("EPL202", 5)]}


# --------------------------------------------------------------------------- hard cases
def test_an_import_cycle_between_two_modules(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {
        "a.py": "import keras\nimport b\n\ndef build():\n    return keras.Sequential()\n\nb.make().fit(x, nb_epoch=1)\n",
        "b.py": "import keras\nimport a\n\ndef make():\n    return a.build()\n\nm = keras.Sequential()\nm.fit(x, nb_epoch=1)\n",
        "train.py": "from a import build\n\nbuild().fit(x, nb_epoch=2)\n",
    })
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 1)
    one = run(tmp_path, ["a.py", "b.py", "train.py"], jobs=1, use_cache=False)
    two = run(tmp_path, ["a.py", "b.py", "train.py"], jobs=2, use_cache=False)
    assert one == two
    # inside the cycle the other module is unknown (silent), outside it is known
    assert one == {"a.py": [], "b.py": [("EPL103", 8)], "train.py": [("EPL103", 3)]}


def test_a_module_that_does_not_parse(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"models.py": MODELS + "def broken(:\n", "train.py": TRAIN})
    assert run(tmp_path, ["train.py"]) == {"train.py": []}  # unknown: silent, and no EPL000 for models.py
    both = run(tmp_path, ["models.py", "train.py"])
    assert [c for c, _ in both["models.py"]] == ["EPL000"] and both["train.py"] == []


def test_a_name_shadowed_locally(tmp_path):
    (tmp_path / ".git").mkdir()
    shadowed = "from models import build_model\n\ndef build_model():\n    return object()\n\n" + TRAIN.split("\n", 2)[2]
    rebound = TRAIN.replace("model = build_model()", "build_model = make_something\nmodel = build_model()")
    write(tmp_path, {"models.py": MODELS, "shadowed.py": shadowed, "rebound.py": rebound})
    assert run(tmp_path, ["shadowed.py", "rebound.py"], use_cache=False) == {"shadowed.py": [], "rebound.py": []}


def test_an_installed_module_with_the_name_of_a_project_module(tmp_path, monkeypatch):
    site = tmp_path / "site"
    write(site, {"models/__init__.py": "def build_model():\n    return 1\n"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(project_index, "_installed", {})
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    write(project, {"models.py": MODELS, "train.py": TRAIN, "scripts/train.py": TRAIN})
    # next to the script: Python puts the script's folder first, the local models.py wins
    assert run(project, ["train.py"], use_cache=False) == {"train.py": EXPECTED}
    # scripts/train.py run as a script imports the installed models: unknown, silent
    assert run(project, ["scripts/train.py"], use_cache=False) == {"scripts/train.py": []}
    monkeypatch.setattr(project_index, "_installed", {})
    sys.path.remove(str(site))
    # nothing installed under that name: the project root's models.py is the only candidate
    assert run(project, ["scripts/train.py"], use_cache=False) == {"scripts/train.py": EXPECTED}


def test_a_parameter_known_from_every_call(tmp_path):
    (tmp_path / ".git").mkdir()
    train = """\
    from models import build_model

    def train(model, ds):
        model.fit(ds, nb_epoch=3)

    train(build_model(), ds)
    train(model=build_model(), ds=ds)
    """
    write(tmp_path, {"models.py": MODELS, "train.py": train, "mixed.py": train + "train(5, ds)\n", "passed.py": train + "handlers = [train]\n"})
    found = run(tmp_path, ["train.py", "mixed.py", "passed.py"], use_cache=False)
    assert found == {"train.py": [("EPL103", 4)], "mixed.py": [], "passed.py": []}


# --------------------------------------------------------------------------- pre-check
def test_a_file_without_keras_is_checked_when_an_imported_module_has_it(example, capsys):
    from linter import cli

    write(example, {"plain.py": "import os\n\ndef f(x):\n    return os.path.join(x)\n", "bad.py": "def f(:\n    pass\n"})
    old = os.getcwd()
    os.chdir(example)
    try:
        code = cli.main(["check", "--no-cache", "--verbose", "--output-format", "concise", "train.py", "plain.py", "bad.py"])
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    assert code == 1
    assert "train.py:4:17: EPL103" in out
    assert "bad.py:1:7: EPL000" in out  # no keras in it, skipped by the pre-check: still EPL000
    assert "skipped plain.py (no keras/tensorflow mention in it or in the project modules it imports)" in err


# --------------------------------------------------------------------------- cache
def test_changing_an_imported_module_invalidates_the_importer(tmp_path):
    (tmp_path / ".git").mkdir()
    step = "import tensorflow as tf\nfrom models import build_model\nmodel = build_model()\nwith tf.GradientTape() as tape:\n    loss = tf.reduce_mean(model(x))\ntape.gradient(loss, model.trainable_variables)\n"
    write(tmp_path, {"models.py": MODELS.replace("keras.layers.Dropout(0.5), ", ""), "step.py": step})
    assert run(tmp_path, ["step.py"]) == {"step.py": []}
    assert run(tmp_path, ["step.py"]) == {"step.py": []}  # warm
    write(tmp_path, {"models.py": MODELS})  # a Dropout added
    assert run(tmp_path, ["step.py"]) == {"step.py": [("EPL202", 5)]}
    assert run(tmp_path, ["step.py"]) == {"step.py": [("EPL202", 5)]}  # warm again


def test_renaming_or_deleting_an_imported_module_invalidates_the_importer(example):
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    (example / "models.py").rename(example / "nets.py")
    assert run(example, ["train.py"]) == {"train.py": []}
    (example / "nets.py").rename(example / "models.py")
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    (example / "models.py").unlink()
    assert run(example, ["train.py"]) == {"train.py": []}
    write(example, {"models/__init__.py": MODELS})  # a package now
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}


def test_a_warm_run_parses_nothing(example, monkeypatch):
    from linter import engine

    run(example, ["models.py", "train.py"])
    parses = []
    real = engine.parse_module
    monkeypatch.setattr(engine, "parse_module", lambda text: parses.append(text) or real(text))
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    assert run(example, ["models.py", "train.py"]) == {"models.py": [], "train.py": EXPECTED}
    assert parses == []


def test_each_module_is_parsed_once_per_cold_run(example, monkeypatch):
    from linter import engine

    parses = []
    real = engine.parse_module
    monkeypatch.setattr(engine, "parse_module", lambda text: parses.append(text) or real(text))
    run(example, ["models.py", "train.py"], use_cache=False)
    assert sorted(parses) == sorted([MODELS, TRAIN])
    parses.clear()
    run(example, ["train.py"], use_cache=False)  # models.py is summarised: its one parse
    assert sorted(parses) == sorted([MODELS, TRAIN])


# --------------------------------------------------------------------------- the scan
def test_the_import_scan():
    text = "import a.b as c, d\nfrom . import x\nfrom ..pkg.m import (\n    y,  # why\n    z as w,\n)\nif T:\n    from q import *\ns = 'import nothing'\n"
    assert [tuple(i) for i in scan(text)] == [
        (0, "a.b", None), (0, "d", None), (1, "", ("x",)), (2, "pkg.m", ("y", "z")), (0, "q", ("*",)),
    ]


def test_stdin_named_like_a_project_file_sees_the_project(example):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    cmd = [sys.executable, "-c", "import sys; from linter.cli import main; sys.exit(main())", "check", "--output-format", "concise", "--stdin-filename", "train.py", "-"]
    proc = subprocess.run(cmd, cwd=example, env=env, input=TRAIN, capture_output=True, text=True, timeout=120)
    assert "train.py:4:17: EPL103" in proc.stdout and "train.py:6:5: EPL104" in proc.stdout, proc.stdout + proc.stderr


def test_verbose_gives_each_skipped_file_its_reason(example, capsys):
    from linter import cli

    write(example, {"consts.py": "import keras\nBATCH = 32\n", "plain.py": "import os\n"})
    old = os.getcwd()
    os.chdir(example)
    try:
        cli.main(["check", "--no-cache", "--verbose", "consts.py", "plain.py"])  # the pre-scan-only path
        cli.main(["check", "--no-cache", "--verbose", "consts.py", "plain.py", "train.py"])  # the engine's
    finally:
        os.chdir(old)
    err = capsys.readouterr().err
    assert err.count("skipped consts.py (nothing in it that any rule looks at)") == 2, err
    assert err.count("skipped plain.py (no keras/tensorflow mention in it or in the project modules it imports)") == 2, err


def test_the_api_a_long_lived_caller_uses(example):
    from linter.project.plan import Project

    project = Project.for_path(example / "train.py")
    summary = project.summary_of(example / "models.py")
    assert summary["names"]["build_model"]["kind"] == "function" and summary["names"]["build_model"]["model"] is True
    assert summary["names"]["build_model"]["contents"]["training"] == ["Dropout"]
    view = project.view_for(example / "train.py")
    assert view.fact("models.build_model")["model"] is True
    (example / "models.py").write_text("def build_model():\n    return 3\n", encoding="utf-8")
    project.invalidate(example / "models.py")
    assert project.view_for(example / "train.py").fact("models.build_model") is None  # no keras: nothing known


def test_a_parameter_gets_the_contents_every_call_passes(tmp_path):
    (tmp_path / ".git").mkdir()
    step = """\
    import tensorflow as tf
    from models import build_model

    def train_step(model, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        return tape.gradient(loss, model.trainable_variables)

    train_step(build_model(), x, y)
    """
    plain = MODELS.replace("keras.layers.Dropout(0.5), ", "")
    write(tmp_path, {"models.py": MODELS, "step.py": step, "plain/models.py": plain, "plain/step.py": step})
    assert run(tmp_path, ["step.py"], use_cache=False) == {"step.py": [("EPL202", 6)]}
    # the layers are known and hold no Dropout: not even --strict suspects them
    assert run(tmp_path, ["plain/step.py"], use_cache=False, strict=True) == {"plain/step.py": []}


# --------------------------------------------------------------------------- roots and package chains
def test_setup_py_marks_the_project_root_and_an_unimportable_folder_ends_the_package_chain(tmp_path):
    """A repository cloned as `owner+repo/` (or `my-project/`) with an `__init__.py` at its top
    and only a setup.py: its packages are imported from the repository's folder."""
    repo = tmp_path / "owner+repo"
    repo.mkdir()
    write(repo, {
        "setup.py": "from setuptools import setup\nsetup()\n",
        "__init__.py": "",
        "pkg/__init__.py": "",
        "pkg/models.py": MODELS,
        "pkg/task/__init__.py": "",
        "pkg/task/train.py": TRAIN.replace("from models import", "from pkg.models import"),
    })
    assert project_index.find_root(repo / "pkg" / "task" / "train.py") == repo
    assert project_index.module_name(repo / "pkg" / "task" / "train.py")[:2] == ("pkg.task.train", str(repo))
    assert run(repo, ["pkg/task/train.py"], use_cache=False) == {"pkg/task/train.py": EXPECTED}
