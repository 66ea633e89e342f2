"""Report formats. Each module renders a `RunResult` to a string; `render` imports the one
`--format` names (FORMATS)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from linter.finding import Finding


@dataclass
class RunResult:
    findings: list[Finding]
    files_checked: int
    files_skipped: int
    fixed: int = 0  # fixes applied by --fix
    lines: dict = field(default_factory=dict)  # path -> {cell or None: list of source lines} for context
    statistics: bool = False
    color: bool = False
    show_fixes: bool = False  # --show-fixes: fixes applied per file (with --fix), else each finding's fix
    unsafe_fixes: bool = False
    fixed_by_path: dict = field(default_factory=dict)  # path -> fixes applied by --fix
    baseline_note: str = ""  # what --write-baseline recorded / --baseline hid, for the summary


def _renderer(fmt: str) -> Callable[[RunResult], str]:
    """The selected format's `render`; only its module is imported (a text report never loads
    json or the SARIF writer)."""
    if fmt == "text":
        from linter.report.text import render
    elif fmt == "concise":
        from linter.report.concise import render
    elif fmt == "json":
        from linter.report.json_format import render
    elif fmt == "github":
        from linter.report.github import render
    elif fmt == "sarif":
        try:
            from linter.report.sarif import render
        except ImportError:
            raise ValueError(f"output format {fmt!r} is not available") from None
    else:
        raise ValueError(f"output format {fmt!r} is not available")
    return render


FORMATS = ("text", "json", "sarif", "github", "concise")


def render(fmt: str, result: RunResult) -> str:
    return _renderer(fmt)(result)
