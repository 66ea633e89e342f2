"""Report formats. Each module renders a `RunResult` to a string; `REPORTERS` maps
`--format` names to them."""
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


def _load() -> dict[str, Callable[[RunResult], str]]:
    from linter.report import concise, github, json_format, text

    reporters = {"text": text.render, "concise": concise.render, "json": json_format.render, "github": github.render}
    try:
        from linter.report import sarif

        reporters["sarif"] = sarif.render
    except ImportError:
        pass
    return reporters


FORMATS = ("text", "json", "sarif", "github", "concise")


def render(fmt: str, result: RunResult) -> str:
    reporters = _load()
    if fmt not in reporters:
        raise ValueError(f"output format {fmt!r} is not available")
    return reporters[fmt](result)
