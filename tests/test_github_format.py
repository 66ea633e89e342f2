"""`--format github` (workflow annotations), `--format concise` and `--output FILE` end to end."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BAD = "import keras\n\nmodel = keras.Sequential()\nmodel.epochs = 10  # 100% wrong\nmodel.fit(x, y)  # noqa: EPL101\n"
# GitHub's workflow-command grammar: ::error key=value,key=value::message, with %, CR, LF
# escaped in the message and also : and , in property values.
ANNOTATION = re.compile(r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),endLine=(?P<end_line>\d+),endColumn=(?P<end_col>\d+),title=(?P<title>[^:]+)::(?P<msg>.*)$")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, env=env, capture_output=True, text=True)


def unescape(s: str) -> str:
    return s.replace("%3A", ":").replace("%2C", ",").replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def test_github_annotations_match_the_json_report(tmp_path):
    (tmp_path / "odd, name: v2.py").write_text(BAD)
    proc = run_cli("check", "--format", "github", "--no-cache", ".", cwd=tmp_path)
    assert proc.returncode == 1
    data = json.loads(run_cli("check", "--format", "json", "--no-cache", ".", cwd=tmp_path).stdout)
    lines = proc.stdout.splitlines()
    assert len(lines) == len(data["findings"]) == 2  # EPL101 and the unused noqa (EPL900)
    for line, f in zip(lines, data["findings"]):
        m = ANNOTATION.match(line)
        assert m, line
        assert unescape(m["file"]) == f["path"]
        assert "," not in m["file"] and ":" not in m["file"]  # escaped in the property value
        assert (int(m["line"]), int(m["col"]), int(m["end_line"]), int(m["end_col"])) == (f["line"], f["column"], f["end_line"], f["end_column"])
        assert m["title"] == f["code"]
        assert unescape(m["msg"]) == f"{f['code']} {f['message']}"


def test_github_escapes_percent_and_newlines(tmp_path):
    from linter.finding import Finding
    from linter.report import RunResult, render

    f = Finding("EPL101", "epochs-attribute", "50% done\nsecond line\r", "a:b,c.py", 3, 1, 3, 5)
    (line,) = render("github", RunResult([f], 1, 0)).splitlines()
    assert line == "::error file=a%3Ab%2Cc.py,line=3,col=1,endLine=3,endColumn=5,title=EPL101::EPL101 50%25 done%0Asecond line%0D"


def test_github_no_findings_prints_nothing(tmp_path):
    (tmp_path / "ok.py").write_text("import keras\nmodel = keras.Sequential()\nmodel.fit(x, y, epochs=3)\n")
    proc = run_cli("check", "--format", "github", "--no-cache", ".", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_concise_one_line_per_finding_and_summary(tmp_path):
    (tmp_path / "train.py").write_text(BAD)
    proc = run_cli("check", "--format", "concise", "--no-cache", "train.py", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("train.py:4:1: EPL101 `model.epochs` is ignored by Keras")
    assert lines[1].startswith("train.py:5:18: EPL900 [*] unused `noqa` directive for EPL101")
    assert lines[2:] == ["Found 2 findings in 1 file(s).", "[*] 1 fixable with `--fix`."]
    assert "|" not in proc.stdout and "^" not in proc.stdout  # no source context in concise


def test_output_file_for_every_format(tmp_path):
    (tmp_path / "train.py").write_text(BAD)
    for fmt in ("text", "concise", "json", "github", "sarif"):
        out = tmp_path / "reports" / f"report.{fmt}"
        out.parent.mkdir(exist_ok=True)
        proc = run_cli("check", "--format", fmt, "--output", str(out), "--no-cache", "train.py", cwd=tmp_path)
        assert proc.returncode == 1, fmt
        assert proc.stdout == "", fmt
        stdout = run_cli("check", "--format", fmt, "--no-cache", "train.py", cwd=tmp_path).stdout
        assert out.read_text(encoding="utf-8") == stdout, fmt
    proc = run_cli("check", "--output", str(tmp_path / "missing" / "dir" / "r.txt"), "--no-cache", "train.py", cwd=tmp_path)
    assert proc.returncode == 2 and "cannot write" in proc.stderr
