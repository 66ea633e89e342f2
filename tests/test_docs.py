"""Rule documentation end to end: `epochlint rules` (table and JSON), `epochlint explain`, and
docs/rules/*.md + the README rules table generated from the rule modules. The staleness test
fails until `python -m linter.docs --write` is rerun after a rule is added or changed."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from linter.rules import ALL_CODES, ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "rules"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_docs_and_readme_table_are_up_to_date():
    proc = run("-m", "linter.docs", "--check")
    assert proc.returncode == 0, f"stale rule docs (run `python -m linter.docs --write`):\n{proc.stdout}"


def test_generation_writes_every_page_and_check_spots_changes(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# project\n\nintro\n")
    proc = run("-m", "linter.docs", "--write", str(tmp_path / "rules"), "--readme", str(readme))
    assert proc.returncode == 0, proc.stderr
    pages = sorted(p.name for p in (tmp_path / "rules").glob("*.md"))
    assert pages == sorted([f"{c}.md" for c in ALL_CODES] + ["README.md"])
    from linter.docs import generate

    for name, content in generate().items():  # what the generator makes (committed: test above)
        assert (tmp_path / "rules" / name).read_text() == content, name
    assert readme.read_text().startswith("# project\n\nintro\n\n<!-- epochlint-rules-table:start")
    assert run("-m", "linter.docs", "--check", str(tmp_path / "rules"), "--readme", str(readme)).returncode == 0
    # a hand edit, a page of a code that does not exist and a changed table are all reported
    (tmp_path / "rules" / "EPL101.md").write_text("edited\n")
    (tmp_path / "rules" / "EPL999.md").write_text("old\n")
    readme.write_text(readme.read_text().replace("| [EPL101]", "| [EPL1O1]"))
    proc = run("-m", "linter.docs", "--check", str(tmp_path / "rules"), "--readme", str(readme))
    assert proc.returncode == 1
    assert "EPL101.md: out of date" in proc.stdout and "EPL999.md: no such rule any more" in proc.stdout
    assert "rules table out of date" in proc.stdout
    # --write repairs all of it, idempotently
    run("-m", "linter.docs", "--write", str(tmp_path / "rules"), "--readme", str(readme))
    assert not (tmp_path / "rules" / "EPL999.md").exists()
    assert run("-m", "linter.docs", "--check", str(tmp_path / "rules"), "--readme", str(readme)).returncode == 0
    assert "wrote" not in run("-m", "linter.docs", "--write", str(tmp_path / "rules"), "--readme", str(readme)).stdout


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_page_has_its_sections(rule):
    from linter.docs import generate

    page = generate()[f"{rule.code}.md"]
    assert page.startswith(f"# {rule.code} {rule.name}\n\n{rule.summary}\n")
    for heading in ("## What it does", "## Why is this bad", "## Example", "## Fix safety", "## Claim (proven by `epochlint verify`)", "## Witness"):
        assert heading in page, f"{rule.code}: no '{heading}' (the rule's docstring needs the sections of ARCHITECTURE.md)"
        body = page.split(heading, 1)[1].split("\n## ", 1)[0].strip()
        assert body, f"{rule.code}: empty '{heading}'"
    assert "```python" in page.split("## Example", 1)[1]


def test_rules_table_and_json():
    text = run("-m", "epochlint", "rules")
    assert text.returncode == 0
    rows = json.loads(run("-m", "epochlint", "rules", "--format", "json").stdout)
    assert [r["code"] for r in rows] == list(ALL_CODES)
    for r in rows:
        assert set(r) == {"code", "name", "summary", "fixable", "witness", "doc"}
        assert r["doc"] == f"docs/rules/{r['code']}.md"
        mark = {"safe": "[*]", "sometimes": "[*]", "unsafe": "[!]"}.get(r["fixable"] or "", "   ")
        line = next(ln for ln in text.stdout.splitlines() if ln.startswith(r["code"] + " "))
        assert re.match(rf"^{r['code']}  {re.escape(r['name'])}\s+{re.escape(mark)}  {re.escape(r['summary'])}$", line), line
    assert {r["code"] for r in rows if r["witness"]} == {r.code for r in ALL_RULES}


def test_explain_prints_the_page_by_code_or_name():
    from linter.rules import RULES_BY_CODE

    rule = RULES_BY_CODE["EPL101"]
    by_code = run("-m", "epochlint", "explain", "EPL101")
    by_name = run("-m", "epochlint", "explain", "epochs-attribute")
    lower = run("-m", "epochlint", "explain", "epl101")
    assert by_code.returncode == by_name.returncode == lower.returncode == 0
    assert by_code.stdout == by_name.stdout == lower.stdout
    # the committed page, plus the evidence measured on this machine (or how to measure it)
    page = (DOCS / "EPL101.md").read_text()
    assert by_code.stdout.startswith(page.rstrip("\n"))
    assert "## Last measured evidence" in by_code.stdout
    assert rule.claim in by_code.stdout
    meta = run("-m", "epochlint", "explain", "EPL900")
    assert meta.returncode == 0 and meta.stdout == (DOCS / "EPL900.md").read_text()
    unknown = run("-m", "epochlint", "explain", "EPL999")
    assert unknown.returncode == 2 and "unknown rule 'EPL999'" in unknown.stderr


def test_readme_links_every_rule_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in ALL_CODES:
        assert f"[{code}](docs/rules/{code}.md)" in readme
        assert (DOCS / f"{code}.md").is_file()


def test_rules_md_tables_are_generated_from_the_rules(tmp_path):
    """docs/RULES.md: hand-written prose around tables generated from ALL_RULES (claim, witness,
    firing conditions); the default --check covers the committed file (test above)."""
    from linter.docs import CATALOG_END, CATALOG_START, catalog_markdown

    committed = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    assert f"{CATALOG_START}\n{catalog_markdown()}{CATALOG_END}" in committed
    for rule in ALL_RULES:
        row = next(ln for ln in committed.splitlines() if ln.startswith(f"| [{rule.code}]"))
        assert " ".join(rule.claim.split()).replace("|", "\\|") in row
    rules_md = tmp_path / "RULES.md"
    rules_md.write_text("# Rule catalog\n\nprose\n" + committed[committed.index(CATALOG_START):].replace("| [EPL304]", "| [EPL3O4]"))
    args = ("--readme", "", "--rules-md", str(rules_md))
    pages = str(tmp_path / "rules")
    assert run("-m", "linter.docs", "--write", pages, "--readme", "").returncode == 0
    proc = run("-m", "linter.docs", "--check", pages, *args)
    assert proc.returncode == 1 and "rule catalog tables out of date" in proc.stdout
    run("-m", "linter.docs", "--write", pages, *args)
    assert run("-m", "linter.docs", "--check", pages, *args).returncode == 0
    assert rules_md.read_text().startswith("# Rule catalog\n\nprose\n")
