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
    from linter.report.nbpos import NotebookLines

    notebooks = NotebookLines()
    out = []
    for f in result.findings:
        if f.cell is None:
            where = f"file={_escape_prop(f.path)},line={f.line},col={f.column},endLine={f.end_line},endColumn={f.end_column}"
        else:
            # GitHub places an annotation on a line of the file: the .ipynb line holding that source line
            file_line = notebooks.file_line(f.path, f.cell, f.line)
            where = f"file={_escape_prop(f.path)}" + (f",line={file_line}" if file_line is not None else "")
        title = _escape_prop(f.code if f.cell is None else f"{f.code} (cell {f.cell}, line {f.line})")
        out.append(f"::error {where},title={title}::{_escape_data(f.code + ' ' + f.message)}")
    return "".join(line + "\n" for line in out)
