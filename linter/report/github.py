"""`--format github`: GitHub Actions workflow annotations, one `::error` line per finding."""
from __future__ import annotations

from linter.report.escape import terminal


def _escape_data(s: str) -> str:
    """GitHub's escaping (line breaks as %0A/%0D), then other control characters shown as
    pictures (no ESC sequence reaches the log; see linter.report.escape)."""
    return terminal(s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def render(result) -> str:
    out = []
    for f in result.findings:
        where = f"file={_escape_prop(f.path)},line={f.line},col={f.column},endLine={f.end_line},endColumn={f.end_column}"
        title = _escape_prop(f.code if f.cell is None else f"{f.code} (cell {f.cell})")
        out.append(f"::error {where},title={title}::{_escape_data(f.code + ' ' + f.message)}")
    return "".join(line + "\n" for line in out)
