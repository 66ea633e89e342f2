"""Notebook findings in file coordinates, for reports read against the file itself.

GitHub annotations (`--format github`) and SARIF regions must name a line *of the file*: for a
`.ipynb` that is a line of its JSON text, not the line inside a cell (which would put the
annotation in the notebook's JSON header). `NotebookLines.file_line(path, cell, line)` finds
the line of the `.ipynb` where that cell's source line is written: it walks the JSON text with
the standard library's scanner (C speed; outputs and metadata are skipped whole) and records
where each element of each cell's `source` starts. With the usual one-element-per-line layout
that is exactly the source line; in a minified notebook it is the line holding the cell.
"""
from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Optional

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _ws(text: str, i: int) -> int:
    return _WS.match(text, i).end()


def _skip(text: str, i: int) -> int:
    return _DECODER.raw_decode(text, i)[1]


def _source_lines(text: str, i: int, line_at) -> tuple[list[int], int]:
    """File lines of each source line of the `source` value starting at `i` (list or string)."""
    lines: list[int] = []
    if text[i] == '"':
        start = i
        value, i = scanstring(text, i + 1)
        lines.extend([line_at(start)] * (value.count("\n") + 1))
        return lines, i
    if text[i] != "[":
        return lines, _skip(text, i)
    i = _ws(text, i + 1)
    pending = False  # the previous element did not end its line: the next one continues it
    while text[i] != "]":
        start = i
        value, i = scanstring(text, i + 1)
        if not pending:
            lines.append(line_at(start))
        lines.extend([line_at(start)] * value.count("\n"))
        if value.endswith("\n"):
            lines.pop()  # a trailing newline opens the next element's line, not a line of its own
            pending = False
        else:
            pending = True
        i = _ws(text, i)
        if text[i] == ",":
            i = _ws(text, i + 1)
    return lines, i + 1


def cell_line_map(text: str) -> dict[int, list[int]]:
    """{cell number (1-based, every cell): [file line of source line 1, 2, ...]}."""
    newlines = [m.start() for m in re.finditer("\n", text)]
    import bisect

    def line_at(pos: int) -> int:
        return bisect.bisect_right(newlines, pos - 1) + 1

    out: dict[int, list[int]] = {}
    i = _ws(text, 0)
    if text[i:i + 1] != "{":
        return out
    i = _ws(text, i + 1)
    while i < len(text) and text[i] != "}":
        key, i = scanstring(text, i + 1)
        i = _ws(text, _ws(text, i) + 1)  # past ':'
        if key == "cells" and text[i] == "[":
            i = _ws(text, i + 1)
            n = 0
            while text[i] != "]":
                n += 1
                if text[i] != "{":
                    i = _skip(text, i)
                else:
                    i = _ws(text, i + 1)
                    while text[i] != "}":
                        ckey, i = scanstring(text, i + 1)
                        i = _ws(text, _ws(text, i) + 1)
                        if ckey == "source":
                            out[n], i = _source_lines(text, i, line_at)
                        else:
                            i = _skip(text, i)
                        i = _ws(text, i)
                        if text[i] == ",":
                            i = _ws(text, i + 1)
                    i += 1
                i = _ws(text, i)
                if text[i] == ",":
                    i = _ws(text, i + 1)
            i += 1
        else:
            i = _skip(text, i)
        i = _ws(text, i)
        if text[i:i + 1] == ",":
            i = _ws(text, i + 1)
    return out


class NotebookLines:
    """Per-report cache of notebook line maps, read from the files as they are now."""

    def __init__(self) -> None:
        self._maps: dict[str, Optional[dict[int, list[int]]]] = {}

    def file_line(self, path: str, cell: int, line: int) -> Optional[int]:
        if path not in self._maps:
            from linter.source import UnreadableSource, read_bytes

            try:  # read_bytes: a regular file only, size-capped (it may have changed since the check)
                self._maps[path] = cell_line_map(read_bytes(path).decode("utf-8-sig"))
            except (OSError, ValueError, IndexError, UnreadableSource):
                self._maps[path] = None
        lines = (self._maps[path] or {}).get(cell)
        if not lines:
            return None
        return lines[min(max(line, 1), len(lines)) - 1]
