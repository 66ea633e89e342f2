"""The per-file pipeline: every way a file is checked goes through here.

`--jobs 1`, the pool's workers (`linter.parallel`), the cache, stdin, notebooks and `--fix` all
take the same straight line, and each step is one function:

    read_file     the file's bytes (the only place a file is read; the cache key is computed
                  from the same bytes that are checked)
    decode        bytes -> SourceFile (`.ipynb` through linter.notebook, else PEP 263 text)
    check_source  (fix rounds, linter.fixes) -> engine.check_source: one guarded parse, one
                  walk -> notebook positions mapped to cells -> context lines for the report

`check_file(path, ...)` and `check_stdin(...)` never raise: unreadable input, an unwritable fix
and any exception outside the engine's own guard become that file's EPL000 finding.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from linter.config import Settings
from linter.finding import FileResult
from linter.source import SourceFile, UnreadableSource, decode_python, read_bytes, read_stream

if TYPE_CHECKING:
    from linter.engine import CheckOptions

# linter.engine (libcst, the rules), linter.fixes and linter.notebook are imported where they
# are used: a run answered from the cache never imports libcst (tests/test_startup.py).


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
    from linter.engine import CheckOptions

    return CheckOptions(settings.enabled_codes(path), settings.strict, settings.rule_options)


# --------------------------------------------------------------------------- steps
def read_file(path: str) -> bytes:
    """The bytes of a file to check, or UnreadableSource saying why not."""
    return read_bytes(path)


def decode(data: bytes, path: str) -> SourceFile:
    """Bytes -> the SourceFile the engine checks (a notebook's code cells, or Python text)."""
    if path.endswith(".ipynb"):
        from linter import notebook

        return notebook.notebook_source(data, path)
    return decode_python(data, path)


def context_lines(source: SourceFile) -> dict:
    """{cell or None: source lines}: what text reports and baselines show around a finding."""
    from linter.suppression import source_lines

    lines = source_lines(source.text)
    if not source.cells:
        return {None: lines}
    per_cell: dict = {}
    for vline, (cell, _) in sorted(source.cells.items()):
        if vline - 1 < len(lines):
            per_cell.setdefault(cell, []).append(lines[vline - 1])
    return per_cell


def check_source(source: SourceFile, settings: Settings, mode: FixMode = FixMode(), write: bool = True, project=None) -> FileOutcome:
    """Check one decoded source; with `mode.active`, fix it first (and write it when `write`).

    The fix rounds check the text anyway: the check of the final text is reused for the
    report, so a file is not checked once more after fixing."""
    from linter import engine

    options = options_for(settings, source.path)
    fixed = 0
    diff = ""
    new_bytes = None
    last: list = [None, None]  # text and FileResult of the last check

    def check(current: SourceFile) -> FileResult:
        result = engine.check_source(current, options, project=project)
        last[0], last[1] = current.text, result
        return result

    if mode.active:
        from linter import fixes

        outcome = fixes.fix_source(source, lambda s: check(s).findings, mode.unsafe)
        if outcome.applied and outcome.new_text != source.text:
            if mode.diff:
                diff = fixes.diff_for(source, outcome.new_text)
            else:
                new_bytes = fixes.render(source, outcome.new_text)
                if write:
                    fixes.atomic_write(source.path, new_bytes)
                if source.notebook is not None:  # cells may have moved: read the fixed notebook anew
                    source = decode(new_bytes, source.path)
                else:
                    source = SourceFile(source.path, outcome.new_text, source.encoding, source.bom, source.cells, source.notebook)
                fixed = outcome.applied
    result = last[1] if last[0] is not None and last[0] == source.text else check(source)
    if source.cells:
        from linter import notebook

        result.findings = [notebook.map_finding(source, f) for f in result.findings]
    return FileOutcome(result, context_lines(source) if result.findings else None, fixed, diff, new_bytes)


# --------------------------------------------------------------------------- one file
def check_file(path: str, settings: Settings, mode: FixMode = FixMode(), cache=None, data: Optional[bytes] = None, project=None) -> FileOutcome:
    """Read (unless `data` was read already), look up the cache (a linter.cache.Cache), check,
    store. Never raises. `project` (a linter.project.view.ProjectView) is what the file sees of
    the project modules it imports; its `digest` is part of the cache key, and the summary it
    asks for is stored next to the results."""
    enabled = settings.enabled_codes(path)
    if data is None:
        try:
            data = read_file(path)
        except UnreadableSource as exc:
            return FileOutcome(unreadable(path, str(exc), enabled, exc.line, exc.column))
    deps = project.digest if project is not None else ""
    want = project is not None and project.want_summary
    slot = "callers" if project is not None and getattr(project, "incoming", None) else "check"
    if cache is not None and not want:
        hit = cache.load(path, data, enabled, deps, slot)
        if hit is not None:
            return FileOutcome(*hit)
    outcome = check_bytes(path, data, settings, mode, write=True, project=project)
    if cache is not None:
        cache.store(path, data, enabled, outcome, deps, slot)
        if want and outcome.result.summary is not None and not mode.active:
            cache.store_summary(project.summary_key or deps, outcome.result.summary)
    return outcome


def check_stdin(display: str, settings: Settings, mode: FixMode) -> FileOutcome:
    """Standard input, reported as `display`; a fix is printed by the caller, never written."""
    try:
        data = read_stream(sys.stdin.buffer)
    except UnreadableSource as exc:
        return FileOutcome(unreadable(display, str(exc), settings.enabled_codes(display), exc.line, exc.column))
    return check_bytes(display, data, settings, mode, write=False, project=stdin_view(display, data, settings))


def stdin_view(display: str, data: bytes, settings: Settings):
    """The ProjectView of standard input named `--stdin-filename` (an editor's buffer): the
    project modules it imports, as if the buffer were saved there; None for plain `-`."""
    if display == "-" or not display.endswith(".py"):
        return None
    try:
        from linter.cache import Cache
        from linter.project.plan import plan

        try:
            cache = Cache.for_settings(settings)
        except Exception:
            cache = None
        project = plan([display], {0: data}, settings, cache)
        import os

        node = project.graph.nodes.get(os.path.abspath(display))
        if node is None:
            return None
        project.ensure(project.graph.visible_deps(node))
        return project.view(node)
    except Exception:  # the index is a help, never a reason not to check the buffer
        return None


def check_bytes(path: str, data: bytes, settings: Settings, mode: FixMode, write: bool, project=None) -> FileOutcome:
    """decode -> check_source, never raising."""
    enabled = settings.enabled_codes(path)
    try:
        try:
            source = decode(data, path)
        except UnreadableSource as exc:
            return FileOutcome(unreadable(path, str(exc), enabled, exc.line, exc.column))
        try:
            return check_source(source, settings, mode, write, project)
        except OSError as exc:  # the fixes cannot be written (a read-only file): why, and its findings unfixed
            outcome = check_source(source, settings, FixMode(), write, project)
            outcome.result.findings[:0] = unreadable(path, f"cannot write fixes: {exc.strerror or exc}", enabled).findings
            return outcome
    except Exception as exc:  # a bug outside the engine's own guard (reading a notebook, fixing)
        import traceback

        return internal_error(path, enabled, f"{type(exc).__name__}: {exc}", traceback.format_exc())


# --------------------------------------------------------------------------- EPL000 outcomes
def unreadable(path: str, message: str, enabled: frozenset, line: int = 1, column: int = 1) -> FileResult:
    from linter import engine

    return FileResult(path, engine.epl000(path, "unreadable-file", message, enabled, line, column))


def internal_error(path: str, enabled: frozenset, what: str, detail: Optional[str]) -> FileOutcome:
    from linter import engine

    message = f"internal error while checking this file: {what} (please report it)"
    return FileOutcome(FileResult(path, engine.epl000(path, "internal-error", message, enabled, detail=detail)))
