"""`epochlint rules` and `epochlint explain CODE`: rule metadata and docs from the rule modules."""
from __future__ import annotations

import json
import sys

from linter.rules import ALL_RULES, META_CODES, RULES_BY_CODE, code_for


def rule_rows() -> list[dict]:
    rows = [
        {"code": r.code, "name": r.name, "summary": r.summary, "fixable": r.fixable, "witness": r.witness}
        for r in ALL_RULES
    ]
    rows += [{"code": c, "name": m["name"], "summary": m["summary"], "fixable": "safe" if c == "EPL900" else None, "witness": None} for c, m in META_CODES.items()]
    return sorted(rows, key=lambda r: r["code"])


def run_rules(args) -> int:
    rows = rule_rows()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        fix = {"safe": "[*]", "unsafe": "[!]", "sometimes": "[*]"}.get(r["fixable"] or "", "   ")
        print(f"{r['code']}  {r['name']:<{width}}  {fix}  {r['summary']}")
    print("\n[*] safe fix available   [!] unsafe fix (needs --unsafe-fixes)")
    return 0


def explain_text(code: str) -> str:
    from linter.docs import rule_markdown

    return rule_markdown(RULES_BY_CODE[code], with_evidence=True)


def run_explain(args) -> int:
    code = code_for(args.code)
    if code is None:
        print(f"epochlint: unknown rule {args.code!r} (see `epochlint rules`)", file=sys.stderr)
        return 2
    if code in META_CODES:
        print(f"# {code} {META_CODES[code]['name']}\n\n{META_CODES[code]['summary']}")
        return 0
    print(explain_text(code))
    return 0
