"""Applying fixes: `--fix`, `--unsafe-fixes`, `--diff`.

Fixes are small text edits on the file's own text, made by the builders of `linter.edits`
(so comments and formatting around them survive). They are applied in rounds until nothing
changes, as ruff does: a fix applies whole or not at all, and one whose edits collide with a
fix already taken (overlapping ranges, or two insertions at one point) waits for the next
round, which re-checks the fixed text (so a second `--fix` finds nothing to do, and the count
of applied fixes is the number of fixes really made), kept only when the result still
parses (a round that breaks the code is retried fix by fix), and written atomically: a
temporary file in the same folder, the original mode (and owner, where allowed) copied, then
`os.replace`; on any failure the temporary file is removed and the original is untouched.
A read-only file is refused; a file with several hard links is written in place (same inode).
The text is encoded back exactly as it was read (PEP 263 encoding, BOM, line endings), so the
bytes outside an edit do not change. Notebooks are written back by `linter.notebook.render`.
"""
from __future__ import annotations

import difflib
import errno
from bisect import bisect_left, insort
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import Callable, Optional

from linter import engine, notebook
from linter.edits import line_starts
from linter.finding import Finding
from linter.source import SourceFile

MAX_ROUNDS = 10  # fixes that overlap wait for the next round; a round re-checks the fixed text


@dataclass
class FixOutcome:
    new_text: str
    applied: int  # number of fixes applied
    rejected: int = 0  # fixes dropped because the result would not parse (or not fit a notebook)


def _wanted(f: Finding, unsafe: bool) -> bool:
    return f.fix is not None and bool(f.fix.edits) and (f.fix.applicability == "safe" or (unsafe and f.fix.applicability == "unsafe"))


def _conflict(a: int, b: int, content: str, s: int, t: int, other: str) -> bool:
    """Do edits [a, b) and [s, t) collide? Overlapping ranges do, and so do two insertions at
    one point (their order would be a guess): the later fix waits for the next round, which
    re-checks the fixed text. Ranges that only touch do not collide."""
    return (a == b == s == t) or (a < t and s < b)


class _Taken:
    """The edits chosen so far, sorted, for "does this edit collide with one of them?" in
    O(log n) (a file with 20,000 fixes must not take 20,000² comparisons)."""

    def __init__(self) -> None:
        self.spans: list[tuple[int, int, str]] = []

    def collides(self, a: int, b: int, content: str) -> bool:
        spans = self.spans
        k = bisect_left(spans, (a,))
        if k and _conflict(a, b, content, *spans[k - 1]):
            return True
        while k < len(spans) and (spans[k][0] < b or spans[k][0] == a):
            if _conflict(a, b, content, *spans[k]):
                return True
            k += 1
        return False

    def add(self, span: tuple[int, int, str]) -> None:
        insort(self.spans, span)


def apply_edits(text: str, findings: list[Finding], unsafe: bool) -> tuple[str, int]:
    """Apply the fixes of `findings` (line/column edits, lines ending at \\r\\n, \\r or \\n).
    A fix applies whole or not at all; one that collides with a fix already taken waits for
    the next round. Returns the new text and the number of fixes applied."""
    starts = line_starts(text)

    def off(line: int, col: int) -> int:
        if not 1 <= line <= len(starts):
            raise ValueError(f"edit outside the text (line {line})")
        end = starts[line] if line < len(starts) else len(text)
        at = starts[line - 1] + col - 1
        if not starts[line - 1] <= at <= end:
            raise ValueError(f"edit outside line {line}")
        return at

    taken = _Taken()
    count = 0
    for f in findings:
        if not _wanted(f, unsafe):
            continue
        try:
            spans = [(off(e.line, e.column), off(e.end_line, e.end_column), e.content) for e in f.fix.edits]
        except ValueError:
            continue
        if any(a > b for a, b, _ in spans):
            continue
        if any(taken.collides(*span) for span in spans):
            continue  # collides with an earlier fix: next round
        if any(_conflict(*x, *y) for i, x in enumerate(spans) for y in spans[i + 1:]):
            continue
        for span in spans:
            taken.add(span)
        count += 1
    # left to right, in one join (linear in the text); an insertion at `a` goes before a
    # deletion that starts at `a`, and after one that ends there
    pieces: list[str] = []
    last = 0
    for a, b, content in sorted(taken.spans, key=lambda s: (s[0], s[1] != s[0], s[1])):
        pieces.append(text[last:a])
        pieces.append(content)
        last = b
    pieces.append(text[last:])
    return "".join(pieces), count


def _acceptable(source: SourceFile, text: str) -> bool:
    """The fixed text still parses (and, for a notebook, still fits its cells)."""
    if not engine.parses(text):  # the check's guarded parse (deep nesting, big stack)
        return False
    if source.notebook is not None:
        try:
            notebook.cell_texts(source, text)
        except notebook.NotebookError:
            return False
    return True


def fix_source(source: SourceFile, check: Callable[[SourceFile], list[Finding]], unsafe: bool) -> FixOutcome:
    """Fix until stable. A round whose result does not parse is retried fix by fix, keeping
    only the fixes that leave parseable code; a fix that breaks the code is never written."""
    text = source.text
    applied = rejected = 0
    for _ in range(MAX_ROUNDS):
        current = SourceFile(source.path, text, source.encoding, source.bom, source.cells, source.notebook)
        findings = [f for f in check(current) if _wanted(f, unsafe)]
        new_text, n = apply_edits(text, findings, unsafe)
        if n == 0 or new_text == text:
            break
        if not _acceptable(source, new_text):
            kept: list[Finding] = []
            for f in findings:
                candidate, _ = apply_edits(text, kept + [f], unsafe)
                if candidate != text and _acceptable(source, candidate):
                    kept.append(f)
                else:
                    rejected += 1
            new_text, n = apply_edits(text, kept, unsafe)
            if n == 0 or new_text == text:
                break
        text = new_text
        applied += n
    return FixOutcome(text, applied, rejected)


def unified_diff(path: str, old: str, new: str, label: Optional[str] = None) -> str:
    """A unified diff that `patch` and `git apply` accept: lines split only at \\n, \\r\\n and
    \\r (a form feed stays inside its line), and the "No newline at end of file" marker."""
    label = label or path
    out = []
    diff = difflib.unified_diff(notebook.lines_of(old), notebook.lines_of(new), fromfile=f"a/{label}", tofile=f"b/{label}")
    for n, line in enumerate(diff):
        if n >= 2 and not line.startswith("@@") and not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def diff_for(source: SourceFile, new_text: str) -> str:
    """`--diff` output for one file (per changed cell for a notebook)."""
    if source.notebook is not None:  # one diff per changed cell, labelled `a/nb.ipynb:cell N`
        return "".join(
            unified_diff(source.path, cell.original, text, label=f"{source.path}:cell {cell.index + 1}")
            for cell, text in notebook.cell_texts(source, new_text)
            if text != cell.original
        )
    return unified_diff(source.path, source.text, new_text)


def atomic_write(path: str, data: bytes) -> None:
    """Write via a temporary file in the same folder + rename, keeping the file mode.

    A read-only file is refused (PermissionError saying so), even where the user could write
    it anyway (root): read-only means "do not change". A file with several hard links is
    written in place, so every link keeps seeing one file (a rename would split them)."""
    target = os.path.realpath(path)
    folder = os.path.dirname(target) or "."
    try:
        st: Optional[os.stat_result] = os.stat(target)
    except OSError:
        st = None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise PermissionError(errno.EPERM, "not a regular file; fixes not written")
        if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, f"the file is read-only (mode {stat.S_IMODE(st.st_mode):04o}); fixes not written")
        if st.st_nlink > 1:
            _write_in_place(target, data)
            return
    fd, tmp = tempfile.mkstemp(prefix=".epochlint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(tmp, st.st_uid, st.st_gid)  # keep the owner where we may (root)
                except OSError:
                    pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_in_place(target: str, data: bytes) -> None:
    """Overwrite a hard-linked file's content (same inode), then cut it to the new length."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(data))
        os.fsync(fd)
    finally:
        os.close(fd)


def render(source: SourceFile, new_text: str) -> bytes:
    """Bytes to write for the fixed text (notebooks keep outputs and metadata)."""
    if source.notebook is not None:
        return notebook.render(source, new_text)
    return source.encode(new_text)
