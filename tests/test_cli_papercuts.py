"""What a ruff user trips over (issue 13): empty runs warn, --verbose says why a named path was
skipped, --write-baseline/--baseline wording, --statistics total and JSON, --output-format,
--show-fixes, "-" among paths, --format help."""
from __future__ import annotations

import json
import subprocess

from tests.test_cli import BAD, GOOD, check_json, epochlint

EMPTY_WARNING = "warning: No Python files found under the given path(s)"


def test_empty_directory_warns_on_stderr_and_exits_0(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = epochlint("check", "empty", cwd=tmp_path)
    assert proc.returncode == 0
    assert EMPTY_WARNING in proc.stderr_text
    assert EMPTY_WARNING not in proc.stdout_text


def test_json_empty_run_warns_and_keeps_stdout_json(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = epochlint("check", "--format", "json", "empty", cwd=tmp_path)
    assert proc.returncode == 0 and EMPTY_WARNING in proc.stderr_text
    assert json.loads(proc.stdout_text)["files_checked"] == 0


def test_no_warning_when_a_file_was_looked_at(tmp_path):
    (tmp_path / "plain.py").write_text("print('no keras here')\n")
    proc = epochlint("check", "plain.py", cwd=tmp_path)
    assert proc.returncode == 0 and EMPTY_WARNING not in proc.stderr_text


def _git_repo(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "train.py").write_text(BAD)
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text(BAD)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("import keras\n")
    (tmp_path / "pyproject.toml").write_text('[tool.epochlint]\nexclude = ["legacy/"]\n')
    return tmp_path


def test_verbose_says_why_each_named_path_was_skipped(tmp_path):
    _git_repo(tmp_path)
    proc = epochlint("check", "--verbose", "--no-cache", "generated", "legacy", "docs", cwd=tmp_path)
    assert proc.returncode == 0
    err = proc.stderr_text
    assert "skipped generated: ignored by .gitignore" in err
    assert "skipped legacy: excluded by `exclude`" in err
    assert "skipped docs: no *.py or *.ipynb file" in err
    assert EMPTY_WARNING in err
    quiet = epochlint("check", "--no-cache", "generated", cwd=tmp_path)
    assert "skipped generated" not in quiet.stderr_text and EMPTY_WARNING in quiet.stderr_text


def test_force_excluded_named_file_says_why_under_verbose(tmp_path):
    _git_repo(tmp_path)
    proc = epochlint("check", "--verbose", "--force-exclude", "--no-cache", "legacy/old.py", cwd=tmp_path)
    assert proc.returncode == 0
    assert "skipped legacy/old.py: excluded by `exclude` in the configuration (--force-exclude)" in proc.stderr_text


def test_write_baseline_does_not_say_all_checks_passed(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = epochlint("check", "--no-cache", "--write-baseline", "b.json", "bad.py", cwd=tmp_path)
    assert proc.returncode == 0
    assert "All checks passed" not in proc.stdout_text
    assert "Recorded 3 findings in the baseline b.json." in proc.stdout_text
    again = epochlint("check", "--no-cache", "--baseline", "b.json", "bad.py", cwd=tmp_path)
    assert again.returncode == 0
    assert "All checks passed" not in again.stdout_text
    assert "3 known findings hidden by the baseline b.json." in again.stdout_text


def test_statistics_has_a_total_line(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = epochlint("check", "--no-cache", "--statistics", "bad.py", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout_text.splitlines()
    assert "Found 3 findings in 1 file(s)." in lines


def test_statistics_with_json_is_json(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "bad2.py").write_text(BAD)
    proc = epochlint("check", "--no-cache", "--statistics", "--format", "json", ".", cwd=tmp_path)
    assert proc.returncode == 1
    stats = json.loads(proc.stdout_text)
    assert {(s["code"], s["count"]) for s in stats} == {("EPL101", 2), ("EPL103", 2), ("EPL106", 2)}
    assert {s["code"]: s["fixable"] for s in stats}["EPL103"] is True


def test_statistics_with_sarif_is_a_clear_error(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = epochlint("check", "--statistics", "--format", "sarif", "bad.py", cwd=tmp_path)
    assert proc.returncode == 2 and "--statistics works with" in proc.stderr_text


def test_output_format_is_an_alias_of_format(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = epochlint("check", "--no-cache", "--output-format", "json", "bad.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert len(json.loads(proc.stdout_text)["findings"]) == 3


def test_format_has_help_text(tmp_path):
    proc = epochlint("check", "--help", cwd=tmp_path)
    assert "--output-format" in proc.stdout_text and "workflow annotations" in proc.stdout_text


def test_show_fixes_lists_each_fix_and_what_fix_applied(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = epochlint("check", "--no-cache", "--show-fixes", "bad.py", cwd=tmp_path)
    assert "= fix (safe): rename `nb_epoch=` to `epochs=`" in proc.stdout_text
    plain = epochlint("check", "--no-cache", "bad.py", cwd=tmp_path)
    assert "= fix (" not in plain.stdout_text
    fixed = epochlint("check", "--no-cache", "--fix", "--show-fixes", "bad.py", cwd=tmp_path)
    assert "- bad.py: 2 fixes applied" in fixed.stdout_text


def test_stdin_among_paths(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "good.py").write_text(GOOD)
    code, data = check_json("--stdin-filename", "piped.py", "-", "bad.py", "good.py", cwd=tmp_path, stdin=BAD)
    assert code == 1
    paths = {f["path"] for f in data["findings"]}
    assert paths == {"piped.py", "bad.py"}
    assert not any("no such file" in f["message"] for f in data["findings"])


def test_stdin_among_paths_with_fix_is_a_clear_error(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = epochlint("check", "--fix", "-", "bad.py", cwd=tmp_path, stdin=BAD)
    assert proc.returncode == 2 and 'do not mix "-" with paths' in proc.stderr_text
    assert (tmp_path / "bad.py").read_text() == BAD


def test_fix_only_lists_fixes_not_findings_and_exits_0(tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    proc = epochlint("check", "--no-cache", "--fix-only", "bad.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout_text + proc.stderr_text
    assert proc.stdout_text == "Fixed 2 findings:\n- bad.py: 2 fixes applied\n"
    assert "model.fit(x, y, epochs=3)" in (tmp_path / "bad.py").read_text()
    again = epochlint("check", "--no-cache", "--fix-only", "bad.py", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout_text == ""  # findings remain (EPL101) but are not its to report
