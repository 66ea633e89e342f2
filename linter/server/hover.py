"""Hover on a diagnostic: what `epochlint explain CODE` says, in brief, as Markdown.

For each epochlint diagnostic under the cursor: the code and name, the finding's message, the
rule's summary, its claim (what `epochlint verify` proves on the installed Keras), the last
measured evidence of that claim on this machine (`linter.docs.last_evidence`, read from the
verify cache: no TensorFlow is imported), and a link to the rule's page when its URL is known.
Meta codes (EPL000, EPL900) have no claim or witness: their summary and the page's advice.
"""
from __future__ import annotations

from typing import Iterable, Optional

from lsprotocol import types

from linter.server.diagnostics import SOURCE, rule_href


def rule_markdown(code: str, message: str) -> str:
    from linter.docs import META_DOCS, fix_safety, last_evidence
    from linter.rules import META_CODES, RULES_BY_CODE

    href = rule_href(code)
    if code in META_CODES:
        meta = META_CODES[code]
        out = [f"**{code}** `{meta['name']}`: {message}", "", meta["summary"]]
        fix = META_DOCS.get(code, {}).get("Fix")
        if fix:
            out += ["", f"*Fix:* {fix}"]
    else:
        rule = RULES_BY_CODE.get(code)
        if rule is None:
            return f"**{code}**: {message}"
        evidence = last_evidence(code)
        out = [
            f"**{code}** `{rule.name}`: {message}",
            "",
            rule.summary,
            "",
            f"*Claim* (proven by `epochlint verify`): {rule.claim}",
            "",
            "*Last measured evidence:* " + (
                "\n" + "\n".join(f"- {line}" for line in evidence.splitlines()) if evidence
                else f"not measured yet on this machine: run `epochlint verify --rule {code}`"
            ),
            "",
            f"*Fix:* {fix_safety(rule.fixable)}",
        ]
    out += ["", f"[{code} documentation]({href})" if href else f"More: `epochlint explain {code}`"]
    return "\n".join(out)


def _contains(rng: types.Range, pos: types.Position) -> bool:
    start, end = (rng.start.line, rng.start.character), (rng.end.line, rng.end.character)
    here = (pos.line, pos.character)
    if start == end:  # an empty range still hovers on its character
        return here == start or here == (start[0], start[1] + 1)
    return start <= here <= end


def hover(diagnostics: Iterable[types.Diagnostic], position: types.Position) -> Optional[types.Hover]:
    """The hover for `position` among a document's published diagnostics, or None."""
    parts, seen, ranges = [], set(), []
    for d in diagnostics:
        if d.source != SOURCE or not _contains(d.range, position):
            continue
        key = (d.code, d.message)
        if key in seen:
            continue
        seen.add(key)
        parts.append(rule_markdown(str(d.code), d.message))
        ranges.append(d.range)
    if not parts:
        return None
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)),
        range=ranges[0] if len(ranges) == 1 else None,
    )
