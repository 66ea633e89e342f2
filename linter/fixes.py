"""Applying fixes: `--fix`, `--unsafe-fixes`, `--diff`.

Fixes are text edits computed from libcst node replacements (so comments and formatting
around them survive). They are applied until nothing changes (at most a few rounds), kept
only when the result still parses, and written atomically: a temporary file in the same
folder, the original mode copied, then `os.replace`.
"""
from __future__ import annotations

import difflib
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import Callable, Optional

import libcst as cst

from linter.finding import Edit, Finding
from linter.source import SourceFile

MAX_ROUNDS = 4


@dataclass
class FixOutcome:
    new_text: str
    applied: int  # number of fixes applied


def _offsets(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def apply_edits(text: str, findings: list[Finding], unsafe: bool) -> tuple[str, int]:
    """Apply the fixes of `findings` (virtual-line coordinates), skipping overlapping ones."""
    starts = _offsets(text)

    def off(line: int, col: int) -> int:
        return starts[line - 1] + col - 1

    chosen: list[tuple[int, int, str]] = []
    count = 0
    for f in findings:
        if f.fix is None or (f.fix.applicability != "safe" and not unsafe):
            continue
        spans = [(off(e.line, e.column), off(e.end_line, e.end_column), e.content) for e in f.fix.edits]
        if any(not (b <= s or a >= t) for a, b, _ in spans for s, t, _ in chosen):
            continue  # overlaps an earlier fix: next round
        chosen.extend(spans)
        count += 1
    for a, b, content in sorted(chosen, key=lambda s: s[0], reverse=True):
        text = text[:a] + content + text[b:]
    return text, count


def fix_source(source: SourceFile, check: Callable[[SourceFile], list[Finding]], unsafe: bool) -> FixOutcome:
    """Fix until stable; every round must still parse or its edits are dropped."""
    text = source.text
    applied = 0
    for _ in range(MAX_ROUNDS):
        current = SourceFile(source.path, text, source.encoding, source.bom, source.cells, source.notebook)
        findings = check(current)
        new_text, n = apply_edits(text, findings, unsafe)
        if n == 0 or new_text == text:
            break
        try:
            cst.parse_module(new_text)
        except Exception:
            break  # a fix that breaks the code is never written
        text = new_text
        applied += n
    return FixOutcome(text, applied)


def unified_diff(path: str, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), fromfile=f"a/{path}", tofile=f"b/{path}")
    )


def atomic_write(path: str, data: bytes) -> None:
    """Write via a temporary file in the same folder + rename, keeping the file mode."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target) or "."
    try:
        mode: Optional[int] = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=".epochlint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def render(source: SourceFile, new_text: str) -> bytes:
    """Bytes to write for the fixed text (notebooks keep outputs and metadata)."""
    if source.cells is not None:
        from linter import notebook

        return notebook.render(source, new_text)
    return source.encode(new_text)
