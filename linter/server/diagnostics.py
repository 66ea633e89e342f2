"""Findings -> LSP diagnostics, per document URI.

Each diagnostic carries the code, a severity (the finding's: error, warning, information),
the range (0-based lines, columns in the negotiated code units: `linter.server.layout`), the
message, `source: "epochlint"`, `codeDescription.href` to the rule's page when the project's
repository URL is known (`linter.docs.rule_doc_uri`), the `Unnecessary` tag for EPL900 (an unused
`noqa`, which editors fade), and `data`: what a code action needs without checking again, i.e.
the code, the version the diagnostic was computed for, and the fix as LSP text edits (with its
applicability and description), or None when the rule has no fix here.

Everything here is plain JSON-shaped dicts and lsprotocol types; nothing is sent from here.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

from lsprotocol import types

from linter.finding import Finding, Fix
from linter.server.layout import Layout

SOURCE = "epochlint"
SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


@lru_cache(maxsize=None)
def rule_href(code: str) -> Optional[str]:
    """The rule page's URL, or None while the project's repository URL is unknown."""
    try:
        from linter.docs import rule_doc_uri

        return rule_doc_uri(code)
    except Exception:
        return None


def lsp_range(start, end) -> types.Range:
    return types.Range(types.Position(start.line, start.character), types.Position(end.line, end.character))


def range_json(start, end) -> dict:
    return {"start": {"line": start.line, "character": start.character}, "end": {"line": end.line, "character": end.character}}


def fix_edits(fix: Fix, layout: Layout) -> Optional[list[dict]]:
    """A fix's edits as [{uri, range, newText}], or None when one cannot be placed in the editor
    (it touches a masked IPython line, or spans two notebook cells)."""
    out = []
    for e in fix.edits:
        if layout.masked and any(line in layout.masked for line in range(e.line, e.end_line + 1)):
            return None
        start, end = layout.place(e.line, e.column), layout.place(e.end_line, e.end_column)
        if start.uri != end.uri:
            return None
        out.append({"uri": start.uri, "range": range_json(start, end), "newText": e.content})
    return out


def to_diagnostic(f: Finding, layout: Layout, version: object) -> tuple[str, types.Diagnostic]:
    """(the URI the finding belongs to, its diagnostic)."""
    start = layout.place(f.line, f.column)
    end = layout.place(f.end_line, f.end_column)
    if end.uri != start.uri:  # never a range across two cells
        end = layout.end_of(start.uri)
    if (end.line, end.character) < (start.line, start.character):
        end = start
    fix = None
    if f.fix is not None and f.fix.edits:
        edits = fix_edits(f.fix, layout)
        if edits is not None:
            fix = {"applicability": f.fix.applicability, "description": f.fix.description, "edits": edits}
    href = rule_href(f.code)
    diagnostic = types.Diagnostic(
        range=lsp_range(start, end),
        message=f.message,
        severity=SEVERITY.get(f.severity, types.DiagnosticSeverity.Error),
        code=f.code,
        code_description=types.CodeDescription(href=href) if href else None,
        source=SOURCE,
        tags=[types.DiagnosticTag.Unnecessary] if f.code == "EPL900" else None,
        data={"code": f.code, "name": f.name, "version": version, "fix": fix},
    )
    return start.uri, diagnostic


def to_diagnostics(findings: list[Finding], layout: Layout, version: object) -> dict[str, list[types.Diagnostic]]:
    """Diagnostics for every document of the layout (an empty list clears a document's)."""
    out: dict[str, list[types.Diagnostic]] = {uri: [] for uri in layout.order}
    for f in findings:
        uri, diagnostic = to_diagnostic(f, layout, version)
        out.setdefault(uri, []).append(diagnostic)
    return out
