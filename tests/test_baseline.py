"""`check --write-baseline FILE` / `check --baseline FILE` end to end: recorded findings stay
hidden when code moves, new ones are reported, fixed ones drop out, duplicates are counted,
notebooks work, and a bad baseline file is exit 2 with a message naming it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LEGACY = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.epochs = 10
model.fit(x, y)
"""


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, env=env, capture_output=True, text=True)


def findings(proc: subprocess.CompletedProcess) -> list[tuple[str, int, str]]:
    return [(Path(f["path"]).as_posix().removeprefix("./"), f["line"], f["code"]) for f in json.loads(proc.stdout)["findings"]]


def check(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli("check", "--format", "json", "--no-cache", *args, cwd=tmp_path)


def test_write_baseline_records_findings_and_exits_0(tmp_path):
    (tmp_path / "train.py").write_text(LEGACY)
    (tmp_path / "broken.py").write_text("import keras\ndef f(:\n")
    proc = check(tmp_path, "--write-baseline", "epochlint-baseline.json", ".")
    doc = json.loads((tmp_path / "epochlint-baseline.json").read_text())
    assert doc["epochlint_baseline"] == 1
    (entry,) = doc["findings"]
    assert (entry["code"], entry["path"], entry["line"], entry["cell"]) == ("EPL101", "train.py", 5, None)
    assert len(entry["fingerprint"]) == len(entry["line_fingerprint"]) == 24
    assert "recorded 1 finding in epochlint-baseline.json" in proc.stderr
    # what is recorded is not reported; EPL000 is never recorded, so it still is
    assert findings(proc) == [("broken.py", 2, "EPL000")]
    assert proc.returncode == 1
    (tmp_path / "broken.py").unlink()
    assert check(tmp_path, "--baseline", "epochlint-baseline.json", ".").returncode == 0


def test_recorded_findings_survive_line_shifts_and_new_ones_are_reported(tmp_path):
    src = tmp_path / "train.py"
    src.write_text(LEGACY)
    assert check(tmp_path, "--write-baseline", "base.json", "train.py").returncode == 0
    # code inserted above: the finding moves from line 5 to line 10, still suppressed
    shifted = LEGACY.replace("import keras\n", "import keras\nimport numpy as np\n\nx = np.zeros((8, 1))\ny = x\n\n", 1)
    src.write_text(shifted)
    proc = check(tmp_path, "--baseline", "base.json", "train.py")
    assert (findings(proc), proc.returncode) == ([], 0)
    # a neighbouring line edited: matched by the flagged line alone
    src.write_text(shifted.replace('model.compile(optimizer="adam", loss="mse")', 'model.compile(optimizer="sgd", loss="mae")'))
    assert findings(check(tmp_path, "--baseline", "base.json", "train.py")) == []
    # a new finding is reported, the recorded one still hidden
    src.write_text(shifted + "\nother = keras.Sequential()\nother.epochs = 3\n")
    proc = check(tmp_path, "--baseline", "base.json", "train.py")
    assert findings(proc) == [("train.py", 14, "EPL101")]
    assert proc.returncode == 1
    # the baseline also works from another directory (paths are relative to the baseline file)
    (tmp_path / "sub").mkdir()
    proc = run_cli("check", "--format", "json", "--no-cache", "--baseline", "../base.json", "../train.py", cwd=tmp_path / "sub")
    assert [(line, code) for _, line, code in findings(proc)] == [(14, "EPL101")]


def test_duplicates_are_counted_and_fixed_findings_drop_out(tmp_path):
    src = tmp_path / "train.py"
    dup = "model.epochs = 10\n"
    src.write_text(LEGACY + dup + dup)  # three identical findings (lines 5, 7, 8)
    assert check(tmp_path, "--write-baseline", "base.json", ".").returncode == 0
    assert len(json.loads((tmp_path / "base.json").read_text())["findings"]) == 3
    # a fourth identical one is new
    src.write_text(LEGACY + dup + dup + dup)
    proc = check(tmp_path, "--baseline", "base.json", ".")
    assert [code for _, _, code in findings(proc)] == ["EPL101"] and proc.returncode == 1
    # two fixed: nothing new, and --verbose says what the baseline hid and what was fixed
    src.write_text(LEGACY)
    proc = check(tmp_path, "--baseline", "base.json", "--verbose", ".")
    assert (findings(proc), proc.returncode) == ([], 0)
    assert "1 known finding(s) hidden, 2 fixed since it was written" in proc.stderr
    # the fixed ones are not credit: re-adding one after a rewrite of the baseline reports it
    assert check(tmp_path, "--write-baseline", "base.json", ".").returncode == 0
    src.write_text(LEGACY + dup)
    assert len(findings(check(tmp_path, "--baseline", "base.json", "."))) == 1


def test_other_files_and_codes_are_not_confused(tmp_path):
    (tmp_path / "a.py").write_text(LEGACY)
    assert check(tmp_path, "--write-baseline", "base.json", ".").returncode == 0
    (tmp_path / "b.py").write_text(LEGACY)  # the same text in another file is a new finding
    proc = check(tmp_path, "--baseline", "base.json", ".")
    assert findings(proc) == [("b.py", 5, "EPL101")]


def test_notebook_findings_survive_new_cells_above(tmp_path):
    def nb(cells):
        return json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": c} for c in cells],
                           "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)

    path = tmp_path / "train.ipynb"
    path.write_text(nb(["import keras\n", "model = keras.Sequential()\nmodel.epochs = 10\n"]))
    assert check(tmp_path, "--write-baseline", "base.json", ".").returncode == 0
    assert json.loads((tmp_path / "base.json").read_text())["findings"][0]["cell"] == 2
    path.write_text(nb(["import keras\n", "%pip install keras\n", "print('setup')\n", "model = keras.Sequential()\nmodel.epochs = 10\n"]))
    assert findings(check(tmp_path, "--baseline", "base.json", ".")) == []
    path.write_text(nb(["import keras\n", "model = keras.Sequential()\nmodel.epochs = 10\n", "m2 = keras.Sequential()\nm2.epochs = 1\n"]))
    proc = check(tmp_path, "--baseline", "base.json", ".")
    assert [(f["cell"], f["line"]) for f in json.loads(proc.stdout)["findings"]] == [(3, 2)]


def test_baseline_combines_with_other_formats(tmp_path):
    (tmp_path / "train.py").write_text(LEGACY)
    assert check(tmp_path, "--write-baseline", "base.json", ".").returncode == 0
    (tmp_path / "train.py").write_text(LEGACY + "model.epochs = 3\n")
    proc = run_cli("check", "--format", "concise", "--no-cache", "--baseline", "base.json", ".", cwd=tmp_path)
    lines = [ln for ln in proc.stdout.splitlines() if "EPL101" in ln]
    assert len(lines) == 1 and ":7:1: EPL101" in lines[0]
    assert "Found 1 finding" in proc.stdout


def test_bad_baseline_files_are_exit_2_with_a_message(tmp_path):
    (tmp_path / "train.py").write_text(LEGACY)
    cases = {
        "missing.json": None,
        "broken.json": "{\n  \"epochlint_baseline\": 1,\n",
        "other.json": '{"version": "0.1.0", "findings": []}',
        "future.json": '{"epochlint_baseline": 99, "findings": []}',
        "entries.json": '{"epochlint_baseline": 1, "findings": [{"code": "EPL101"}]}',
    }
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_text(content)
        proc = run_cli("check", "--no-cache", "--baseline", name, ".", cwd=tmp_path)
        assert proc.returncode == 2, name
        assert proc.stderr.startswith("epochlint: baseline error: ") and name in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert "No such file" in run_cli("check", "--baseline", "missing.json", ".", cwd=tmp_path).stderr
    assert "broken.json:3:1: invalid JSON" in run_cli("check", "--baseline", "broken.json", ".", cwd=tmp_path).stderr
    # an unwritable baseline path is exit 2 as well, and nothing is left behind
    proc = run_cli("check", "--no-cache", "--write-baseline", "no/such/dir/base.json", ".", cwd=tmp_path)
    assert proc.returncode == 2 and "cannot write no/such/dir/base.json" in proc.stderr
