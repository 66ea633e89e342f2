"""Rule documentation rendered from the rule classes (docs/rules/EPLxxx.md and `explain`)."""
from __future__ import annotations

from typing import Optional

SECTIONS = ("What it does", "Why is this bad", "Example", "Fix")


def last_evidence(code: str) -> Optional[str]:
    try:
        from runtime_check.evidence import last_summary
    except ImportError:
        return None
    try:
        return last_summary(code)
    except Exception:
        return None


def rule_markdown(rule, with_evidence: bool = False) -> str:
    sections = rule.doc_sections()
    fix = {"safe": "Safe fix available.", "unsafe": "Unsafe fix (only with `--unsafe-fixes`).", "sometimes": "A safe fix is available in some cases."}.get(rule.fixable or "", "No automatic fix.")
    out = [f"# {rule.code} {rule.name}", "", rule.summary, ""]
    for title in SECTIONS:
        if title in sections:
            out += [f"## {title}", "", sections[title], ""]
    out += ["## Fix safety", "", fix, ""]
    out += ["## Claim (proven by `epochlint verify`)", "", rule.claim, ""]
    out += ["## Witness", "", rule.witness, ""]
    if with_evidence:
        ev = last_evidence(rule.code)
        out += ["## Last measured evidence", "", ev or "not measured yet on this machine: run `epochlint verify --rule " + rule.code + "`", ""]
    return "\n".join(out).rstrip() + "\n"
