"""The linter reads code and never runs or imports it: files that write a sentinel when run or
imported are linted every way the CLI can (one job, a pool, --fix, --diff, stdin, notebooks,
a project that shadows our own imports), and the sentinel never appears. TensorFlow and Keras
are never imported by linting."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def payload(sentinel: Path, tag: str) -> str:
    """Code that leaves a trace when it runs."""
    return f"import pathlib as _p; _p.Path({str(sentinel)!r}).write_text({tag!r})\n"


def evil_script(sentinel: Path, tag: str) -> str:
    return (
        "import keras\n"
        + payload(sentinel, tag)
        + "import evil_helper  # running this file would also import the helper\n"
        + "model = keras.Sequential([keras.layers.Dense(1)])\n"
        + "model.epochs = 10\n"
        + "model.fit(x, y, nb_epoch=3)\n"
        + "if __name__ == '__main__':\n    " + payload(sentinel, tag + "-main")
    )


@pytest.fixture
def project(tmp_path: Path):
    sentinel = tmp_path / "SENTINEL"
    src = tmp_path / "project"
    src.mkdir()
    for i in range(12):  # enough files for the pool
        (src / f"train_{i:02d}.py").write_text(evil_script(sentinel, f"train_{i}"), encoding="utf-8")
    (src / "evil_helper.py").write_text("import tensorflow as tf\n" + payload(sentinel, "helper"), encoding="utf-8")
    (src / "conftest.py").write_text(payload(sentinel, "conftest"), encoding="utf-8")
    (src / "__init__.py").write_text(payload(sentinel, "package init"), encoding="utf-8")
    (src / "setup.py").write_text("import keras\n" + payload(sentinel, "setup"), encoding="utf-8")
    # modules named like what epochlint itself imports: `python -m` would put them first
    for shadow in ("libcst.py", "pathspec.py", "json.py", "keras.py", "tensorflow.py"):
        (src / shadow).write_text(payload(sentinel, f"shadowing {shadow}"), encoding="utf-8")
    (src / "linter").mkdir()
    (src / "linter" / "__init__.py").write_text(payload(sentinel, "shadowing the linter package"), encoding="utf-8")
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["import keras\n", payload(sentinel, "notebook")]},
            {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["!touch " + str(sentinel) + "\n", "%run evil_helper.py\n", "model = keras.Sequential()\n", "model.epochs = 3\n"]},
        ],
        "metadata": {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (src / "analysis.ipynb").write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return src, sentinel


def epochlint(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize(
    "args",
    [
        ("--jobs", "1", "--no-cache"),
        ("--jobs", "2"),  # pool, and the cache written and then read
        ("--jobs", "2"),
        ("--diff",),
        ("--fix", "--unsafe-fixes", "--jobs", "2"),
    ],
    ids=["in-process", "pool-cold-cache", "pool-warm-cache", "diff", "fix"],
)
def test_linting_never_runs_the_code(project, args):
    src, sentinel = project
    proc = epochlint("check", "--format", "json", *args, ".", cwd=src) if "--diff" not in args else epochlint("check", *args, ".", cwd=src)
    assert proc.returncode == 1, proc.stderr
    assert not sentinel.exists(), f"linted code ran: {sentinel.read_text()}"
    if "--diff" in args:
        assert "+model.fit(x, y, epochs=3)" in proc.stdout
    else:
        report = json.loads(proc.stdout)
        paths = {f["path"] for f in report["findings"]}
        assert {f"train_{i:02d}.py" for i in range(12)} <= paths and "analysis.ipynb" in paths
    if "--fix" in args:
        assert "epochs=3" in (src / "train_00.py").read_text(encoding="utf-8")


def test_stdin_and_named_files_never_run(project):
    src, sentinel = project
    proc = epochlint("check", "--stdin-filename", "piped.py", "-", cwd=src, stdin=evil_script(sentinel, "stdin"))
    assert proc.returncode == 1 and "piped.py:5:1: EPL101" in proc.stdout, proc.stderr
    proc = epochlint("check", "--no-cache", "setup.py", "conftest.py", "__init__.py", "linter/__init__.py", "evil_helper.py", cwd=src)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not sentinel.exists(), f"linted code ran: {sentinel.read_text()}"


CHILD = textwrap.dedent(
    """
    import json, sys
    from linter import parallel
    from linter.config import Settings
    from linter.engine import CheckOptions, check_source
    from linter.rules import ALL_CODES
    from linter.source import SourceFile

    text = open(sys.argv[1], encoding="utf-8").read()
    check_source(SourceFile("train.py", text), CheckOptions(frozenset(ALL_CODES)))
    parallel.check_files(sys.argv[2:], Settings(), jobs=1, use_cache=False)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"tensorflow", "keras", "tf_keras", "torch", "jax", "numpy"})
    print(json.dumps(heavy))
    """
)


def test_linting_in_process_imports_no_tensorflow(project):
    # In a fresh interpreter: the test session itself may have imported TensorFlow (runtime tests).
    src, sentinel = project
    files = sorted(str(p) for p in src.glob("train_*.py"))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", CHILD, files[0], *files], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert not sentinel.exists()
    if "tensorflow" not in sys.modules:  # and here too, when nothing else in this session loaded it
        from linter.engine import CheckOptions, check_source
        from linter.rules import ALL_CODES
        from linter.source import SourceFile

        check_source(SourceFile("train.py", (src / "train_00.py").read_text()), CheckOptions(frozenset(ALL_CODES)))
        assert "tensorflow" not in sys.modules
