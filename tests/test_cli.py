"""`epochlint check` end to end, through `python -m epochlint` subprocesses (CLI.md): exit codes,
the JSON contract, paths, code selection, statistics, output, stdin, fixes and unreadable files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BAD = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.epochs = 10
model.fit(x, y, nb_epoch=3)  # keep this comment
model.fit_generator(gen, epochs=2)  # legacy API
"""
# only fixable findings
FIXABLE = """\
import tensorflow as tf

model = tf.keras.models.load_model("m.keras")
history = model.fit(
    x,
    y,
    nb_epoch=3,  # was Keras 1
)
model.evaluate_generator(val_gen)  # still here
"""
GOOD = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.fit(x, y, epochs=10)
"""
NO_KERAS = "print('hello')\n"

FINDING_KEYS = {"code", "name", "severity", "message", "path", "line", "column", "end_line", "end_column", "cell", "fix"}


def epochlint(*args: str, cwd: Path, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(
        [sys.executable, "-m", "epochlint", *args], cwd=cwd, input=data, capture_output=True, env=env, timeout=120
    )
    proc.stdout_text = proc.stdout.decode("utf-8", "replace")  # type: ignore[attr-defined]
    proc.stderr_text = proc.stderr.decode("utf-8", "replace")  # type: ignore[attr-defined]
    return proc


def check_json(*args: str, cwd: Path, stdin=None) -> tuple[int, dict]:
    proc = epochlint("check", "--format", "json", "--jobs", "1", "--no-cache", *args, cwd=cwd, stdin=stdin)
    assert proc.returncode in (0, 1), proc.stderr_text
    return proc.returncode, json.loads(proc.stdout_text)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "src" / "good.py").write_text(GOOD, encoding="utf-8")
    (tmp_path / "src" / "plain.py").write_text(NO_KERAS, encoding="utf-8")
    return tmp_path


def found(data: dict) -> list[tuple[str, int, str]]:
    return [(f["path"], f["line"], f["code"]) for f in data["findings"]]


# --------------------------------------------------------------------------- exit codes
def test_exit_0_on_clean_code(project):
    proc = epochlint("check", "src/good.py", cwd=project)
    assert proc.returncode == 0, proc.stdout_text + proc.stderr_text
    assert "All checks passed" in proc.stdout_text


def test_exit_1_on_findings_with_text_report(project):
    proc = epochlint("check", "src/bad.py", cwd=project)
    assert proc.returncode == 1
    assert "src/bad.py:4:1: EPL101" in proc.stdout_text
    assert "model.epochs = 10" in proc.stdout_text  # the source line is shown


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--select", "EPL999", "src"),
        ("check", "--ignore", "NOPE", "src"),
        ("check", "--format", "yaml", "src"),
        ("check", "--no-such-option", "src"),
        ("check", "--config", "missing.toml", "src"),
    ],
    ids=["unknown-code", "unknown-ignore", "unknown-format", "unknown-option", "missing-config"],
)
def test_exit_2_on_usage_errors(project, args):
    proc = epochlint(*args, cwd=project)
    assert proc.returncode == 2
    assert proc.stdout_text == ""
    assert "epochlint" in proc.stderr_text


def test_exit_zero_flag(project):
    proc = epochlint("check", "--exit-zero", "src/bad.py", cwd=project)
    assert proc.returncode == 0
    assert "EPL101" in proc.stdout_text


# --------------------------------------------------------------------------- JSON
def test_json_has_exactly_the_keys_of_cli_md(project):
    code, data = check_json("src", cwd=project)
    assert code == 1
    assert set(data) == {"version", "findings", "files_checked", "files_skipped"}
    assert data["files_checked"] == 2 and data["files_skipped"] == 1  # plain.py has no Keras mention
    for f in data["findings"]:
        assert set(f) == FINDING_KEYS
        assert f["severity"] == "error" and f["cell"] is None
        if f["fix"] is not None:
            assert set(f["fix"]) == {"applicability", "edits"}
            for edit in f["fix"]["edits"]:
                assert set(edit) == {"line", "column", "end_line", "end_column", "content"}
    assert found(data) == [("src/bad.py", 4, "EPL101"), ("src/bad.py", 5, "EPL103"), ("src/bad.py", 6, "EPL106")]
    epl103 = data["findings"][1]
    assert (epl103["column"], epl103["end_column"]) == (17, 27)  # the `nb_epoch=3` argument, 1-based, end exclusive
    assert epl103["fix"] == {
        "applicability": "safe",
        "edits": [{"line": 5, "column": 17, "end_line": 5, "end_column": 25, "content": "epochs"}],
    }
    assert data["findings"][0]["fix"] is None


@pytest.mark.parametrize("arg,expected", [("src", "src/bad.py"), ("src/bad.py", "src/bad.py"), ("./src/bad.py", "./src/bad.py")])
def test_relative_paths_stay_relative(project, arg, expected):
    _, data = check_json(arg, cwd=project)
    assert {f["path"] for f in data["findings"]} == {expected}


def test_absolute_path_stays_absolute(project):
    target = str(project / "src" / "bad.py")
    _, data = check_json(target, cwd=project)
    assert {f["path"] for f in data["findings"]} == {target}


# --------------------------------------------------------------------------- selection
@pytest.mark.parametrize(
    "args,codes",
    [
        ((), ["EPL101", "EPL103", "EPL106"]),
        (("--select", "EPL101"), ["EPL101"]),
        (("--select", "EPL10"), ["EPL101", "EPL103", "EPL106"]),
        (("--select", "EPL2"), []),
        (("--select", "epochs-attribute,EPL106"), ["EPL101", "EPL106"]),
        (("--ignore", "EPL10"), []),
        (("--ignore", "EPL103,EPL106"), ["EPL101"]),
        (("--select", "EPL101", "--extend-select", "EPL106"), ["EPL101", "EPL106"]),
        (("--select", "EPL2", "--extend-select", "EPL1", "--ignore", "EPL106"), ["EPL101", "EPL103"]),
    ],
)
def test_select_ignore_extend_select_with_prefixes(project, args, codes):
    _, data = check_json(*args, "src/bad.py", cwd=project)
    assert [f["code"] for f in data["findings"]] == codes


def test_statistics_counts_per_rule(project):
    (project / "src" / "bad2.py").write_text(BAD, encoding="utf-8")
    proc = epochlint("check", "--statistics", "src", cwd=project)
    assert proc.returncode == 1
    rows = [line.split("\t") for line in proc.stdout_text.splitlines() if "\t" in line]
    assert sorted((r[1], int(r[0])) for r in rows) == [("EPL101", 2), ("EPL103", 2), ("EPL106", 2)]
    assert any(r[1] == "EPL103" and r[2].endswith("[*]") for r in rows)  # fixable marker


def test_output_file(project):
    proc = epochlint("check", "--format", "json", "--output", "report.json", "src", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout_text == ""
    data = json.loads((project / "report.json").read_text(encoding="utf-8"))
    assert [f["code"] for f in data["findings"]] == ["EPL101", "EPL103", "EPL106"]


# --------------------------------------------------------------------------- stdin
def test_stdin_with_stdin_filename(project):
    code, data = check_json("--stdin-filename", "notebooks/train.py", "-", cwd=project, stdin=BAD)
    assert code == 1
    assert found(data) == [("notebooks/train.py", 4, "EPL101"), ("notebooks/train.py", 5, "EPL103"), ("notebooks/train.py", 6, "EPL106")]


def test_stdin_without_filename_reports_dash(project):
    _, data = check_json("-", cwd=project, stdin=BAD)
    assert {f["path"] for f in data["findings"]} == {"-"}


def test_stdin_filename_matches_per_file_ignores(project):
    (project / "pyproject.toml").write_text(
        '[tool.epochlint]\nper-file-ignores = {"legacy/*" = ["EPL103", "EPL106"]}\n', encoding="utf-8"
    )
    _, data = check_json("--stdin-filename", "legacy/old_train.py", "-", cwd=project, stdin=BAD)
    assert [f["code"] for f in data["findings"]] == ["EPL101"]
    _, data = check_json("--stdin-filename", "current/train.py", "-", cwd=project, stdin=BAD)
    assert [f["code"] for f in data["findings"]] == ["EPL101", "EPL103", "EPL106"]


def test_stdin_fix_prints_the_fixed_code(project):
    proc = epochlint("check", "--fix", "--stdin-filename", "t.py", "-", cwd=project, stdin=FIXABLE)
    assert proc.returncode == 0, proc.stderr_text
    assert proc.stdout_text == FIXABLE.replace("nb_epoch=3", "epochs=3").replace("evaluate_generator", "evaluate")


# --------------------------------------------------------------------------- fixes
def test_fix_rewrites_keeping_comments_and_second_fix_changes_nothing(tmp_path):
    target = tmp_path / "train.py"
    target.write_text(FIXABLE, encoding="utf-8")
    proc = epochlint("check", "--fix", "train.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout_text + proc.stderr_text
    fixed = target.read_text(encoding="utf-8")
    assert fixed == FIXABLE.replace("nb_epoch=3", "epochs=3").replace("evaluate_generator", "evaluate")
    assert "# was Keras 1" in fixed and "# still here" in fixed
    again = epochlint("check", "--fix", "train.py", cwd=tmp_path)
    assert again.returncode == 0
    assert target.read_text(encoding="utf-8") == fixed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.py"]  # no temporary files left


def test_fix_exits_1_while_findings_remain(tmp_path):
    target = tmp_path / "train.py"
    target.write_text(BAD, encoding="utf-8")
    proc = epochlint("check", "--fix", "--format", "json", "train.py", cwd=tmp_path)
    assert proc.returncode == 1
    data = json.loads(proc.stdout_text)
    assert [f["code"] for f in data["findings"]] == ["EPL101"]  # EPL101 has no fix
    text = target.read_text(encoding="utf-8")
    assert "model.fit(x, y, epochs=3)  # keep this comment" in text
    assert "model.fit(gen, epochs=2)  # legacy API" in text


def test_diff_prints_and_writes_nothing(tmp_path):
    target = tmp_path / "train.py"
    target.write_text(FIXABLE, encoding="utf-8")
    proc = epochlint("check", "--diff", "train.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert target.read_text(encoding="utf-8") == FIXABLE
    diff = proc.stdout_text
    assert "--- a/train.py" in diff and "+++ b/train.py" in diff
    assert "-    nb_epoch=3,  # was Keras 1" in diff and "+    epochs=3,  # was Keras 1" in diff
    assert "-model.evaluate_generator(val_gen)  # still here" in diff and "+model.evaluate(val_gen)  # still here" in diff


def test_diff_on_clean_file_is_empty_and_exit_0(project):
    proc = epochlint("check", "--diff", "src/good.py", cwd=project)
    assert proc.returncode == 0 and proc.stdout_text == ""


# --------------------------------------------------------------------------- unreadable input
def test_syntax_error_file_among_good_ones(project):
    broken = "import keras\n\nmodel = keras.Sequential()\n\ndef f(:\n    pass\n"
    (project / "src" / "broken.py").write_text(broken, encoding="utf-8")
    code, data = check_json("src", cwd=project)
    assert code == 1
    errors = [f for f in data["findings"] if f["code"] == "EPL000"]
    # libcst alone would say 6:1 (the token after the error); Python's own parser says 5:7
    assert [(f["path"], f["line"], f["column"], f["name"]) for f in errors] == [("src/broken.py", 5, 7, "syntax-error")]
    assert errors[0]["message"] == "cannot parse: invalid syntax"
    assert ("src/bad.py", 4, "EPL101") in found(data)  # the other files are still checked
    assert data["files_checked"] == 3


def test_unindent_error_position_comes_from_ast(project):
    broken = "import keras\nif True:\n        x = 1\n    y = 2\n"
    (project / "src" / "indent.py").write_text(broken, encoding="utf-8")
    _, data = check_json("src/indent.py", cwd=project)
    assert [(f["code"], f["line"]) for f in data["findings"]] == [("EPL000", 4)]


def test_undecodable_file_is_epl000_and_others_still_checked(project):
    (project / "src" / "latin.py").write_bytes(b"import keras\nname = '\xe9t\xe9'\n")
    code, data = check_json("src", cwd=project)
    assert code == 1
    bad = [f for f in data["findings"] if f["path"] == "src/latin.py"]
    assert [(f["code"], f["name"], f["line"]) for f in bad] == [("EPL000", "unreadable-file", 2)]
    assert "utf-8" in bad[0]["message"]
    assert ("src/bad.py", 4, "EPL101") in found(data)


def test_missing_file_is_epl000_not_a_crash(project):
    code, data = check_json("src/nope.py", "src/bad.py", cwd=project)
    assert code == 1
    assert ("src/nope.py", 1, "EPL000") in found(data)
    assert ("src/bad.py", 4, "EPL101") in found(data)


def test_default_path_is_current_directory(project):
    _, data = check_json(cwd=project / "src")
    assert sorted({f["path"] for f in data["findings"]}) == ["bad.py"]


def test_gitignored_files_are_skipped_but_named_files_checked(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".gitignore").write_text("src/bad.py\n", encoding="utf-8")
    _, data = check_json("src", cwd=project)
    assert data["findings"] == []
    _, data = check_json("src/bad.py", cwd=project)
    assert [f["code"] for f in data["findings"]] == ["EPL101", "EPL103", "EPL106"]


def test_strict_flag(tmp_path):
    (tmp_path / "t.py").write_text(textwrap.dedent("""\
        import keras

        def train(model):
            model.epochs = 3
    """), encoding="utf-8")
    _, data = check_json("t.py", cwd=tmp_path)
    assert data["findings"] == []
    _, data = check_json("--strict", "t.py", cwd=tmp_path)
    assert [f["code"] for f in data["findings"]] == ["EPL101"]
