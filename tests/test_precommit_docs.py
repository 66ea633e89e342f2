"""The README's pre-commit snippet, checked without building hook environments (the slow
`pre-commit run` of that snippet is in test_precommit.py)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_snippet_names_existing_hooks_and_mentions_autoupdate():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## pre-commit", 1)[1].split("\n## ", 1)[0]
    assert "pre-commit autoupdate" in section
    hooks = set(re.findall(r"^- id: (\S+)", (ROOT / ".pre-commit-hooks.yaml").read_text(), re.MULTILINE))
    used = set(re.findall(r"- id: (\S+)", section))
    assert used and used <= hooks, (used, hooks)
    tags = subprocess.run(["git", "tag"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    rev = re.search(r"^\s*rev: (\S+)", section, re.MULTILINE).group(1)
    assert re.fullmatch(r"[0-9a-f]{40}", rev) or rev in tags, f"rev {rev!r} is neither a SHA placeholder nor an existing tag"


def test_fix_hook_reports_only_fixes_and_exits_0_on_findings():
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    fix_entry = re.search(r"- id: epochlint-fix\n(?:  .*\n)*?  entry: (.*)", hooks).group(1)
    assert "--fix-only" in fix_entry
