"""Hostile input: generated programs never crash the engine, and every kind of bad file gets a
clear result through the CLI (a finding or a skip, exit 0/1, never a traceback), while the
other files of the same run are still checked."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesmith import from_grammar, from_node

from linter.engine import CheckOptions, check_source
from linter.rules import ALL_CODES
from linter.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
ALL = CheckOptions(frozenset(ALL_CODES))
STRICT = CheckOptions(frozenset(ALL_CODES), strict=True)

# Generated code gets a Keras import and a model so that the rules have something to chew on.
PRELUDE = "import keras\nimport tensorflow as tf\nmodel = keras.Sequential()\n"


def assert_no_crash(code: str) -> None:
    for options in (ALL, STRICT):
        result = check_source(SourceFile("generated.py", PRELUDE + code), options)
        for f in result.findings:
            assert f.code != "EPL000" or f.name == "syntax-error", f"{f.message}\n{f.detail}"
            assert f.line >= 1 and f.column >= 1


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles odd code
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_grammar())
def test_generated_source_never_crashes_the_engine(code):
    assert_no_crash(code)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles odd code
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))  # slow to generate
@given(from_node())
def test_generated_syntax_trees_never_crash_the_engine(code):
    assert_no_crash(code)


def test_unparseable_text_is_a_syntax_error_finding():
    result = check_source(SourceFile("bad.py", "import keras\nx = (\n"), ALL)
    assert [(f.code, f.name) for f in result.findings] == [("EPL000", "syntax-error")]


# --------------------------------------------------------------------------- the CLI
BAD = "import keras\nmodel = keras.Sequential()\nmodel.epochs = 3\n"
MB4 = 4 << 20

HOSTILE: dict[str, bytes] = {
    "binary.py": bytes(range(256)) * 64,
    "nul_bytes.py": b"import keras\nx = 1\x00\n",
    "latin1_no_coding.py": "import keras\nname = 'café'\n".encode("latin-1"),
    "coding_line.py": ("# -*- coding: latin-1 -*-\nimport keras\nname = 'café'\nmodel = keras.Sequential()\nmodel.epochs = 3\n").encode("latin-1"),
    "bom_crlf.py": b"\xef\xbb\xbf" + BAD.replace("\n", "\r\n").encode(),
    # 4 MiB, mostly one string; the finding after it shows the whole file was read and checked
    "four_mb.py": ("import keras\nDATA = '" + "x" * MB4 + "'\nmodel = keras.Sequential()\nmodel.epochs = 3\n").encode(),
    "four_mb_no_keras.py": b"x = 1\n" * (MB4 // 6),
    "nested_brackets.py": ("import keras\nx = " + "(" * 1000 + "1" + ")" * 1000 + "\n").encode(),
    "nested_operators.py": ("import keras\nx = " + "-" * 1000 + "1\nmodel = keras.Sequential()\nmodel.epochs = 3\n").encode(),
    "nested_blocks.py": ("import keras\n" + "".join(" " * i + "if x:\n" for i in range(1000)) + " " * 1000 + "pass\n").encode(),
    "empty.py": b"",
    "python2.py": b"import keras\nprint 'hello'\n",
    "broken_notebook.ipynb": b'{"cells": [ {"cell_type": "code", "source": ["import keras"]',
    "no_code_cells.ipynb": json.dumps(
        {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# keras notes"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ).encode(),
    "good_neighbour.py": BAD.encode(),
}

# path -> what the report must say about it: (code, name, line) triples, or "skipped"
EXPECTED = {
    "binary.py": [("EPL000", "unreadable-file", 1)],
    "nul_bytes.py": [("EPL000", "unreadable-file", 2)],
    "latin1_no_coding.py": [("EPL000", "unreadable-file", 2)],
    "coding_line.py": [("EPL101", "epochs-attribute", 5)],
    "bom_crlf.py": [("EPL101", "epochs-attribute", 3)],
    "four_mb.py": [("EPL101", "epochs-attribute", 4)],
    "four_mb_no_keras.py": "skipped",
    "nested_brackets.py": [("EPL000", "syntax-error", 2)],
    "nested_operators.py": [("EPL101", "epochs-attribute", 4)],
    "nested_blocks.py": [("EPL000", "syntax-error", 102)],
    "empty.py": "skipped",
    "python2.py": [("EPL000", "syntax-error", 2)],
    "broken_notebook.ipynb": [("EPL000", "unreadable-file", 1)],
    "no_code_cells.ipynb": "skipped",
    "good_neighbour.py": [("EPL101", "epochs-attribute", 3)],
    "broken_link.py": [("EPL000", "unreadable-file", 1)],
    "loop_a.py": [("EPL000", "unreadable-file", 1)],
    "loop_b.py": [("EPL000", "unreadable-file", 1)],
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    for name, data in HOSTILE.items():
        (root / name).write_bytes(data)
    os.symlink(root / "does_not_exist.py", root / "broken_link.py")
    os.symlink(root / "loop_b.py", root / "loop_a.py")
    os.symlink(root / "loop_a.py", root / "loop_b.py")
    (root / "x.py").mkdir()  # a directory named like a module
    (root / "x.py" / "inside.py").write_bytes(BAD.encode())
    (root / "loop").mkdir()
    (root / "loop" / "inner.py").write_bytes(BAD.encode())
    os.symlink(root / "loop", root / "loop" / "again")  # a directory symlink loop
    return root


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def summarise(report: dict) -> dict:
    by_path: dict = {}
    for f in report["findings"]:
        by_path.setdefault(f["path"], []).append((f["code"], f["name"], f["line"]))
    return by_path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_hostile_directory_gives_a_clear_result_for_every_file(hostile, jobs):
    proc = run_cli("check", "--format", "json", "--no-cache", "--jobs", jobs, ".", cwd=hostile)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    got = summarise(report)
    for name, expected in EXPECTED.items():
        if expected == "skipped":
            assert name not in got, (name, got.get(name))
        else:
            assert got.get(name) == expected, (name, got.get(name))
    assert got.get("x.py/inside.py") == [("EPL101", "epochs-attribute", 3)]
    assert got.get("loop/inner.py") == [("EPL101", "epochs-attribute", 3)]  # once, not once per turn
    assert set(got) == {name for name, e in EXPECTED.items() if e != "skipped"} | {"x.py/inside.py", "loop/inner.py"}
    assert report["files_skipped"] == 3
    messages = {f["path"]: f["message"] for f in report["findings"] if f["code"] == "EPL000"}
    assert "binary" in messages["binary.py"]
    assert "coding line" in messages["latin1_no_coding.py"] or "decode" in messages["latin1_no_coding.py"]
    assert "too many nested parentheses" in messages["nested_brackets.py"]
    assert messages["broken_link.py"] == "broken symbolic link"
    assert messages["loop_a.py"] == "symbolic link loop"


def test_hostile_files_named_one_by_one(hostile):
    names = ["x.py", "broken_link.py", "loop_a.py", "empty.py", "python2.py", "no_code_cells.ipynb", "good_neighbour.py", "missing.py"]
    proc = run_cli("check", "--format", "json", "--no-cache", "--jobs", "1", *names, cwd=hostile)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    got = summarise(json.loads(proc.stdout))
    assert got == {
        "x.py/inside.py": [("EPL101", "epochs-attribute", 3)],
        "broken_link.py": [("EPL000", "unreadable-file", 1)],
        "loop_a.py": [("EPL000", "unreadable-file", 1)],
        "python2.py": [("EPL000", "syntax-error", 2)],
        "good_neighbour.py": [("EPL101", "epochs-attribute", 3)],
        "missing.py": [("EPL000", "unreadable-file", 1)],
    }


def test_hostile_text_report_and_stdin(hostile):
    proc = run_cli("check", "--no-cache", "binary.py", "bom_crlf.py", cwd=hostile)
    assert proc.returncode == 1 and "Traceback" not in proc.stdout + proc.stderr
    assert "binary.py:1:1: EPL000" in proc.stdout and "bom_crlf.py:3:1: EPL101" in proc.stdout
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    piped = subprocess.run(
        [sys.executable, "-m", "epochlint", "check", "--format", "json", "--stdin-filename", "in.py", "-"],
        input=HOSTILE["binary.py"], capture_output=True, env=env, timeout=120, cwd=hostile,
    )
    assert piped.returncode == 1 and b"Traceback" not in piped.stdout + piped.stderr
    assert [f["name"] for f in json.loads(piped.stdout)["findings"]] == ["unreadable-file"]


def test_notebook_inputs_when_notebooks_are_supported():
    from linter.runner import decode
    from linter.source import UnreadableSource

    with pytest.raises(UnreadableSource):
        decode(HOSTILE["broken_notebook.ipynb"], "nb.ipynb")
    empty = decode(HOSTILE["no_code_cells.ipynb"], "nb.ipynb")
    assert check_source(empty, ALL).findings == []
