"""Edit builders for fixes, and the map from libcst positions to the file's own text.

A rule describes a fix with the builders below (`rename_keyword`, `rename_attribute`,
`replace_callee`, `add_keyword`, `remove_argument`, `wrap`, `keep_inner`; `+`/`combine` join
several into one all-or-nothing fix). A builder records which
nodes it is anchored to and what to insert or delete next to them; the engine resolves it, once
the positions of the anchors are known, into a few small text edits on the file's own text:

- only tokens are inserted or deleted, so every comment stays where it was (an argument line
  that becomes empty goes; a comment on it stays, at the argument's indentation);
- offsets are taken in the text as read (`TextMap`): libcst's rendering of a module is not
  always the file (it drops a form feed at a line start, a lone CR at the end, trailing blank
  lines), so positions measured on the rendering are carried over to the text;
- lines end at `\\r\\n`, `\\r` or `\\n`, as Python counts them (`split_lines`), everywhere
  edits are written or read;
- edits are small and local, so two fixes on one expression (wrap `loss_fn(...)`, add
  `training=True` to the `model(x)` inside it) touch different offsets and apply together.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import libcst as cst

from linter.finding import Edit, Fix

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HSPACE = " \t\x0c"

Span = tuple[int, int]  # [start, end) offsets in the file's text
Resolved = list[tuple[int, int, str]]  # (start, end, content) edits in the file's text


def split_lines(text: str) -> list[str]:
    """Lines as Python counts them (no line break kept); form feeds stay inside their line."""
    return _LINE_BREAK.split(text)


def line_starts(text: str) -> list[int]:
    """Offset of the first character of every line (lines end at \\r\\n, \\r or \\n)."""
    return [0, *(m.end() for m in _LINE_BREAK.finditer(text))]


class Unaligned(Exception):
    """libcst's rendering holds text the file does not: positions cannot be carried over."""


def _common_run(a: str, i: int, b: str, j: int) -> int:
    """Length of the common run of a[i:] and b[j:] (doubling, then halving: compared in C)."""
    limit = min(len(a) - i, len(b) - j)
    step, k = 64, 0
    while k < limit:  # doubling: find a slice that differs
        size = min(step, limit - k)
        if a[i + k:i + k + size] != b[j + k:j + k + size]:
            break
        k += size
        step *= 2
    else:
        return limit
    lo, hi = k, min(k + step, limit)  # the first difference is in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[i + lo:i + mid] == b[j + lo:j + mid]:
            lo = mid
        else:
            hi = mid
    return lo if a[i + lo:i + lo + 1] != b[j + lo:j + lo + 1] else hi


def _align(code: str, text: str) -> list[tuple[int, int]]:
    """Breakpoints (code offset, shift): from that code offset on, text offset = code offset +
    shift. `code` must be `text` with some characters left out (what libcst drops); each run
    of left-out characters is skipped up to the next occurrence of the expected character."""
    points: list[tuple[int, int]] = [(0, 0)]
    i = j = 0
    n = len(code)
    while True:
        k = _common_run(code, i, text, j)
        i += k
        j += k
        if i >= n:
            return points
        found = text.find(code[i], j + 1)
        if found < 0:
            raise Unaligned()
        j = found
        points.append((i, j - i))


class TextMap:
    """libcst positions (1-based line, 0-based column in the module's rendering) -> offsets in
    the file's text -> 1-based (line, column) in the text."""

    def __init__(self, text: str, code: Optional[str] = None) -> None:
        self.text = text
        self.code = text if code is None or code == text else code
        self.points = None if self.code is text else _align(self.code, text)
        self._keys = None if self.points is None else [p[0] for p in self.points]
        self._starts: Optional[list[int]] = None
        self._code_starts: Optional[list[int]] = None

    @property
    def starts(self) -> list[int]:
        """Line starts of the text (computed on first use: most files never need them)."""
        if self._starts is None:
            self._starts = line_starts(self.text)
        return self._starts

    @property
    def code_starts(self) -> list[int]:
        if self._code_starts is None:
            self._code_starts = self.starts if self.code is self.text else line_starts(self.code)
        return self._code_starts

    def offset(self, line: int, column0: int) -> int:
        """Text offset of a libcst position."""
        starts = self.code_starts
        if not 1 <= line <= len(starts):
            raise ValueError(f"position outside the module (line {line})")
        return self.from_code(starts[line - 1] + column0)

    def from_code(self, at: int) -> int:
        """Text offset of an offset in libcst's rendering."""
        at = min(at, len(self.code))
        if self.points is None:
            return at
        return at + self.points[bisect_right(self._keys, at) - 1][1]

    def span(self, rng) -> Span:
        """Text offsets of a libcst CodeRange."""
        return self.offset(rng.start.line, rng.start.column), self.offset(rng.end.line, rng.end.column)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a text offset."""
        k = bisect_right(self.starts, offset) - 1
        return k + 1, offset - self.starts[k] + 1

    def edit(self, start: int, end: int, content: str) -> Edit:
        l1, c1 = self.line_col(start)
        l2, c2 = self.line_col(end)
        return Edit(l1, c1, l2, c2, content)


# --------------------------------------------------------------------------- text scanning
def _skip_trivia(text: str, i: int) -> int:
    """The next offset at or after `i` that is not whitespace, a line break, a comment or a
    backslash continuation (inside brackets, where arguments live)."""
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in _HSPACE or ch in "\r\n":
            i += 1
        elif ch == "#":
            while i < n and text[i] not in "\r\n":
                i += 1
        elif ch == "\\" and i + 1 < n and text[i + 1] in "\r\n":
            i += 1
        else:
            return i
    return i


def _skip_hspace(text: str, i: int) -> int:
    while i < len(text) and text[i] in _HSPACE:
        i += 1
    return i


def _back_hspace(text: str, i: int) -> int:
    while i > 0 and text[i - 1] in _HSPACE:
        i -= 1
    return i


def _line_start(text: str, i: int) -> int:
    return max(text.rfind("\n", 0, i), text.rfind("\r", 0, i)) + 1


def _line_break_at(text: str, i: int) -> str:
    if text.startswith("\r\n", i):
        return "\r\n"
    return text[i] if i < len(text) and text[i] in "\r\n" else ""


def _line_end(text: str, i: int) -> int:
    """Offset of the line break (or the end of the text) of the line holding `i`."""
    m = _LINE_BREAK.search(text, i)
    return m.start() if m else len(text)


def _nearest_break(text: str, i: int) -> str:
    """The line break this file uses around `i` (for an inserted line)."""
    m = _LINE_BREAK.search(text, i) or _LINE_BREAK.search(text)
    return m.group() if m else "\n"


def _leads_line(text: str, i: int) -> bool:
    return text[_line_start(text, i):i].strip(_HSPACE) == ""


def _delete_token(text: str, s: int, e: int) -> Span:
    """Delete [s, e) and the layout it leaves behind: a line left with nothing goes whole (its
    line break too); a comment after it stays, at its place; trailing blanks go."""
    after = _skip_hspace(text, e)
    at_end = after >= len(text) or text[after] in "\r\n"
    if at_end and _leads_line(text, s):
        return _line_start(text, s), after + len(_line_break_at(text, after))
    if at_end:
        return _back_hspace(text, s), after
    if text[after] == "#":  # the comment stays: at the argument's place, or after the code before
        return (s, after) if _leads_line(text, s) else (_back_hspace(text, s), e)
    return s, after


# --------------------------------------------------------------------------- the fix type
Position = Callable[[cst.CSTNode], Span]  # a node -> its [start, end) in the file's text


@dataclass(frozen=True)
class EditFix:
    """A fix as a function of node positions. `anchors` are the nodes whose positions it needs;
    `build(text, position)` returns the edits (offsets in the file's text)."""

    applicability: str  # "safe" | "unsafe"
    anchors: tuple[cst.CSTNode, ...]
    build: Callable[[str, Position], Resolved]
    description: str = ""

    def resolve(self, text: str, position: Position, tmap: TextMap) -> Fix:
        edits = sorted(self.build(text, position))
        return Fix(self.applicability, tuple(tmap.edit(a, b, c) for a, b, c in edits), self.description)

    def __add__(self, other: "EditFix") -> "EditFix":
        """Both fixes as one (all their edits or none)."""
        def build(text: str, position: Position) -> Resolved:
            return [*self.build(text, position), *other.build(text, position)]

        return EditFix(self.applicability, self.anchors + other.anchors, build, self.description or other.description)


# --------------------------------------------------------------------------- builders
def replace(node: cst.CSTNode, new_text: str, applicability: str = "safe", description: str = "") -> EditFix:
    """Replace the node's own text (not the whitespace or comments around it)."""
    def build(text: str, position: Position) -> Resolved:
        s, e = position(node)
        return [(s, e, new_text)]

    return EditFix(applicability, (node,), build, description)


def rename_keyword(arg: cst.Arg, new: str, applicability: str = "safe", description: str = "") -> EditFix:
    """`old=value` -> `new=value`."""
    assert arg.keyword is not None
    return replace(arg.keyword, new, applicability, description or f"rename `{arg.keyword.value}=` to `{new}=`")


def rename_attribute(attribute: cst.Attribute, new: str, applicability: str = "safe", description: str = "") -> EditFix:
    """`obj.old` -> `obj.new` (a method call's name too)."""
    return replace(attribute.attr, new, applicability, description or f"rename `.{attribute.attr.value}` to `.{new}`")


def replace_callee(call: cst.Call, new_func: str, applicability: str = "safe", description: str = "") -> EditFix:
    """`f(...)` -> `new_func(...)`, the arguments untouched."""
    return replace(call.func, new_func, applicability, description)


def wrap(expr: cst.BaseExpression, func: str, applicability: str = "safe", description: str = "") -> EditFix:
    """`expr` -> `func(expr)`: two insertions, so fixes inside `expr` still apply."""
    def build(text: str, position: Position) -> Resolved:
        s, e = position(expr)
        return [(s, s, f"{func}("), (e, e, ")")]

    return EditFix(applicability, (expr,), build, description or f"wrap in `{func}(...)`")


def keep_inner(outer: cst.BaseExpression, inner: cst.BaseExpression, applicability: str = "safe", description: str = "") -> EditFix:
    """`outer` -> the `inner` expression it contains (`loss.numpy()` -> `loss`): the text of
    `outer` before and after `inner` goes. No fix when that text holds a comment."""
    def build(text: str, position: Position) -> Resolved:
        s, e = position(outer)
        a, b = position(inner)
        if not s <= a <= b <= e:
            raise ValueError("inner expression outside the outer one")
        if "#" in text[s:a] or "#" in text[b:e]:
            raise ValueError("a comment would be deleted")
        return [(s, a, ""), (b, e, "")] if s < a else [(b, e, "")]

    return EditFix(applicability, (outer, inner), build, description or "keep the inner expression")


def add_keyword(call: cst.Call, name: str, value: str, applicability: str = "safe", description: str = "") -> EditFix:
    """Append `name=value` to the call's arguments. A call laid out one argument per line gets
    the new argument on a line of its own, after the last argument's comment."""
    new = f"{name}={value}"
    args = list(call.args)
    anchors: tuple[cst.CSTNode, ...] = (args[-1],) if args else (call.func,)

    def build(text: str, position: Position) -> Resolved:
        if not args:
            p = _skip_trivia(text, position(call.func)[1])
            if p >= len(text) or text[p] != "(":
                raise ValueError("no `(` after the callee")
            return [(p + 1, p + 1, new)]
        s, e = position(args[-1])
        j = _skip_trivia(text, e)
        comma = j < len(text) and text[j] == ","
        if comma and text[e:j].strip(_HSPACE):
            raise ValueError("comment between the last argument and its comma")
        after = _skip_hspace(text, j + 1 if comma else e)
        own_line = after >= len(text) or text[after] in "\r\n#"
        if not own_line:
            return [(j + 1, j + 1, f" {new},")] if comma else [(e, e, f", {new}")]
        start = _line_start(text, s)
        indent = text[start:_skip_hspace(text, start)]
        if not _leads_line(text, s):
            indent += "    "
        end = _line_end(text, after)
        line = _nearest_break(text, end) + indent + new + ("," if comma else "")
        if comma:
            return [(end, end, line)]
        if end == e:  # nothing between the argument and the line break: one insertion
            return [(e, e, "," + line)]
        return [(e, e, ","), (end, end, line)]

    return EditFix(applicability, anchors, build, description or f"add `{new}`")


def remove_argument(call: cst.Call, arg: cst.Arg, applicability: str = "safe", description: str = "") -> EditFix:
    """Remove `arg` and one comma; the other arguments, their commas and every comment stay."""
    args = list(call.args)
    i = next(k for k, a in enumerate(args) if a is arg)
    prev = args[i - 1] if i > 0 else None
    own_comma = isinstance(arg.comma, cst.Comma)

    def build(text: str, position: Position) -> Resolved:
        s, e = position(arg)
        spans: list[Span]
        if own_comma:
            c = _skip_trivia(text, e)
            if c >= len(text) or text[c] != ",":
                raise ValueError("comma not found")
            if text[e:c].strip(_HSPACE):  # a comment or line break before the comma
                spans = [_delete_token(text, c, c + 1), _delete_token(text, s, e)]
            else:
                spans = [_delete_token(text, s, c + 1)]
        elif prev is None:
            spans = [_delete_token(text, s, e)]
        else:  # the last argument, without a trailing comma: the previous argument's comma goes
            pe = position(prev)[1]
            c = _skip_trivia(text, pe)
            if c >= len(text) or text[c] != ",":
                raise ValueError("comma not found")
            if "#" not in text[pe:s]:  # only blanks and line breaks in between: they go too
                spans = [(pe, e)]
            else:
                spans = [(c, c + 1), _delete_token(text, s, e)]
        return [(a, b, "") for a, b in spans]

    return EditFix(applicability, (arg, *((prev,) if prev is not None else ())), build, description or "remove the argument")


def combine(fixes: Sequence[EditFix]) -> EditFix:
    """Several builders' edits as one fix (all or nothing)."""
    out = fixes[0]
    for f in fixes[1:]:
        out = out + f
    return out
