"""The bundled fixtures: every `# expect: CODE[, CODE]` marker is a finding on that line, and
there are no others. Files under `fixtures/**/good_*.py` carry no markers, so they must be silent.
The whole directory is also checked through the CLI once, as `epochlint check fixtures/` does."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from linter.engine import CheckOptions, check_source
from linter.rules import ALL_CODES
from linter.runner import decode, read_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>EPL\d{3}(?:\s*,\s*EPL\d{3})*)")
PY_FILES = sorted(p for p in FIXTURES.rglob("*.py"))


def expected(text: str) -> set[tuple[int, str]]:
    out = set()
    for n, line in enumerate(text.splitlines(), 1):
        m = EXPECT.search(line)
        if m:
            out.update((n, c.strip()) for c in m.group("codes").split(","))
    return out


@pytest.mark.parametrize("path", PY_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_findings_match_markers(path):
    source = decode(read_file(str(path)), str(path))
    strict = "strict" in path.name
    findings = check_source(source, CheckOptions(frozenset(ALL_CODES), strict)).findings
    got = {(f.line, f.code) for f in findings}
    assert got == expected(source.text), "\n".join(f"{f.line}:{f.column} {f.code} {f.message}" for f in findings)
    if path.name.startswith("good_"):
        assert not findings


def test_every_rule_has_bad_and_good_fixtures():
    from linter.rules import ALL_RULES

    for rule in ALL_RULES:
        folder = FIXTURES / "rules" / rule.code
        assert list(folder.glob("bad_*.py")), f"no bad fixture for {rule.code}"
        assert list(folder.glob("good_*.py")), f"no good fixture for {rule.code}"
        marked = {c for p in folder.glob("bad_*.py") for _, c in expected(p.read_text(encoding="utf-8"))}
        assert rule.code in marked, f"{rule.code}'s bad fixtures expect no {rule.code}"


def test_cli_on_fixtures_reports_exactly_the_markers():
    proc = subprocess.run(
        [sys.executable, "-m", "epochlint", "check", "--format", "json", "--jobs", "1", "--no-cache", "fixtures"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    got = {(Path(f["path"]).as_posix(), f["line"], f["code"]) for f in data["findings"] if f["cell"] is None}
    want = {(p.relative_to(ROOT).as_posix(), line, code) for p in PY_FILES for line, code in expected(p.read_text(encoding="utf-8"))}
    assert got == want
    assert proc.returncode == (1 if want else 0)
