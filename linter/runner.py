"""Running the engine over many files: per-file options, reading, fixing, collecting.

One function per file (`check_file`) that never raises: unreadable input becomes an EPL000
finding. `check_files` runs it over the discovered files in order.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Iterable, Optional

from linter import engine, fixes
from linter.config import Settings
from linter.engine import CheckOptions, FileResult
from linter.source import SourceFile, UnreadableSource, read_source, read_stream, source_from_bytes
from linter.suppression import source_lines


@dataclass(frozen=True)
class FixMode:
    fix: bool = False
    unsafe: bool = False
    diff: bool = False

    @property
    def active(self) -> bool:
        return self.fix or self.diff


@dataclass
class FileOutcome:
    result: FileResult
    lines: Optional[dict] = None  # {cell or None: lines} when there are findings (text context)
    fixed: int = 0
    diff: str = ""
    new_bytes: Optional[bytes] = None  # fixed content (stdin mode prints it)


def options_for(settings: Settings, path: str) -> CheckOptions:
    return CheckOptions(settings.enabled_codes(path), settings.strict, settings.rule_options)


def _context_lines(source: SourceFile) -> dict:
    if not source.cells:
        return {None: source_lines(source.text)}
    per_cell: dict = {}
    lines = source_lines(source.text)
    for vline, (cell, _) in sorted(source.cells.items()):
        if vline - 1 < len(lines):
            per_cell.setdefault(cell, []).append(lines[vline - 1])
    return per_cell


def check_source_text(source: SourceFile, settings: Settings, mode: FixMode = FixMode(), write: bool = True) -> FileOutcome:
    options = options_for(settings, source.path)
    fixed = 0
    diff = ""
    new_bytes = None
    if mode.active:
        outcome = fixes.fix_source(source, lambda s: engine.check_source(s, options).findings, mode.unsafe)
        if outcome.applied and outcome.new_text != source.text:
            if mode.diff:
                diff = fixes.diff_for(source, outcome.new_text)
            else:
                new_bytes = fixes.render(source, outcome.new_text)
                if write:
                    fixes.atomic_write(source.path, new_bytes)
                if source.notebook is not None:  # cells may have moved: read the fixed notebook anew
                    source = source_from_bytes(new_bytes, source.path)
                else:
                    source = SourceFile(source.path, outcome.new_text, source.encoding, source.bom, source.cells, source.notebook)
                fixed = outcome.applied
    result = engine.check_and_map(source, options)
    return FileOutcome(result, _context_lines(source) if result.findings else None, fixed, diff, new_bytes)


def check_file(path: str, settings: Settings, mode: FixMode = FixMode()) -> FileOutcome:
    enabled = settings.enabled_codes(path)
    try:
        source = read_source(path)
    except UnreadableSource as exc:
        return FileOutcome(engine.unreadable(path, str(exc), exc.line, exc.column, enabled))
    try:
        return check_source_text(source, settings, mode)
    except OSError as exc:  # e.g. the fixed file cannot be written
        return write_refused(source, settings, exc)


def write_refused(source: SourceFile, settings: Settings, exc: OSError) -> FileOutcome:
    """The fixes could not be written (a read-only file, say): why, and the file's findings as
    it is on disk (none of them fixed)."""
    refused = engine.unreadable(source.path, f"cannot write fixes: {exc.strerror or exc}", enabled=settings.enabled_codes(source.path))
    outcome = check_source_text(source, settings, FixMode())
    outcome.result.findings[:0] = refused.findings
    return outcome


def check_stdin(display: str, settings: Settings, mode: FixMode) -> FileOutcome:
    enabled = settings.enabled_codes(display)
    try:
        source = source_from_bytes(read_stream(sys.stdin.buffer), display)
    except UnreadableSource as exc:
        return FileOutcome(engine.unreadable(display, str(exc), exc.line, exc.column, enabled))
    return check_source_text(source, settings, mode, write=False)


def check_files(paths: Iterable[str], settings: Settings, mode: FixMode = FixMode(), jobs: int = 1, cache: bool = True) -> list[FileOutcome]:
    """Check files in the given order. (`jobs`/`cache` are honoured by linter.parallel/cache.)"""
    return [check_file(p, settings, mode) for p in paths]
