"""Where a finding's position is in the editor: virtual lines and code-point columns -> LSP.

Findings count lines from 1 and columns from 1 in code points, on the text the engine checked.
LSP positions count both from 0, and columns in the code units the client and server agreed on
(`general.positionEncodings`): UTF-16 by default, as the LSP requires, so a character outside
the Basic Multilingual Plane (an emoji in a comment) counts two. A `Layout` turns the checked
text's positions into (document URI, LSP position): for a Python file one document; for a
notebook the virtual text `linter.notebook` builds from its code cells, where each virtual line
belongs to a cell (a cell's own document) and the `pass  # epochlint-cell-boundary` line between
two cells is the end of the cell before it. Columns are converted on the line as the editor has
it (the document's own line), so the units are the client's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from linter.suppression import source_lines

UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def units(text: str, encoding: str = UTF16) -> int:
    """Length of `text` in the code units of `encoding`."""
    if encoding == UTF32 or text.isascii():
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def code_points(line: str, column_units: int, encoding: str = UTF16) -> int:
    """The code-point offset in `line` of an LSP column (the inverse of `units`, clamped)."""
    if encoding == UTF32 or line.isascii():
        return min(column_units, len(line))
    seen = 0
    for i, ch in enumerate(line):
        if seen >= column_units:
            return i
        seen += (len(ch.encode("utf-8", "surrogatepass")) if encoding == UTF8 else (2 if ord(ch) > 0xFFFF else 1))
    return len(line)


@dataclass(frozen=True)
class Place:
    uri: str
    line: int  # 0-based
    character: int  # 0-based, in code units


class Layout:
    """Position mapping for one checked source. `docs` maps each document URI to its current
    text (as the client has it); `lines` maps a virtual line (1-based) to (uri, 0-based line in
    that document), None for a cell boundary; `masked` holds the virtual lines that are
    placeholders of IPython syntax (no fix may touch them)."""

    def __init__(self, docs: dict[str, str], lines: Optional[dict[int, Optional[tuple[str, int]]]], default_uri: str,
                 encoding: str = UTF16, masked: frozenset = frozenset(), order: tuple[str, ...] = ()) -> None:
        self.docs = docs
        self._doc_lines = {uri: source_lines(text) for uri, text in docs.items()}
        self.lines = lines  # None: one document, virtual line n is its line n - 1
        self.default_uri = default_uri
        self.encoding = encoding
        self.masked = masked
        self.order = order or tuple(docs)

    def doc_lines(self, uri: str) -> list[str]:
        return self._doc_lines.get(uri, [""])

    def end_of(self, uri: str) -> Place:
        lines = self.doc_lines(uri)
        return Place(uri, len(lines) - 1, units(lines[-1], self.encoding))

    def locate(self, line: int) -> tuple[str, Optional[int]]:
        """(uri, 0-based line) of a virtual line; line None: the end of that document."""
        if self.lines is None:
            return self.default_uri, line - 1
        if line in self.lines:
            target = self.lines[line]
            if target is not None:
                return target
            prev = self.lines.get(line - 1)
            return (prev[0] if prev else self.order[0]), None
        last = max(self.lines) if self.lines else 0
        if line > last and self.order:  # past the last virtual line: the end of the last cell
            return self.lines[last][0] if last and self.lines[last] else self.order[-1], None
        return self.default_uri, None

    def place(self, line: int, column: int) -> Place:
        """An LSP place for a 1-based line and 1-based code-point column of the checked text."""
        uri, line0 = self.locate(line)
        if line0 is None:
            return self.end_of(uri)
        lines = self.doc_lines(uri)
        if line0 >= len(lines):
            return self.end_of(uri)
        text = lines[line0]
        col0 = max(column - 1, 0)
        if col0 > len(text):  # past the end of the line: the end of the line
            return Place(uri, line0, units(text, self.encoding))
        return Place(uri, line0, units(text[:col0], self.encoding))
