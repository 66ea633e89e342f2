"""Jupyter notebooks (`.ipynb`): code cells -> one virtual Python source for the engine, and back.

Checking. The code cells are joined, in order, into one text (so imports in one cell resolve in
the next), separated by a `pass  # epochlint-cell-boundary` line: a statement of its own, so
that a fix can never merge two cells and a cell left open (an unclosed bracket, a block with no
body) cannot parse as one with the next. (libcst reports such an error at the next token, so it
may be shown at the start of the following cell.) IPython syntax is masked by a
placeholder line of the same indentation (`pass  # epochlint-ipython-line`), which keeps every
line number: line magics (`%time ...`), shell escapes (`!pip ...`, `!!ls`), assignments from them
(`files = !ls`), help (`obj?`, `??obj`), continuation lines of any of these (`\\`), and cell
magics (`%%time`, `%%timeit`, `%%capture`, ... whose body is Python: only the magic line; any
other cell magic, `%%bash` or `%%writefile`, masks the whole cell, as does a cell whose first
line is indented: IPython dedents it). A line that starts with a magic's name and is not Python
on its own is an automagic call (`ls ./data/`, `pip install x`) and is masked too. Only lines
that start a logical line count: `%` continuing an open bracket is the modulo operator. Notebooks whose
kernel language is not Python have no code to check.

Positions. `SourceFile.cells` maps a virtual line to `(cell, line in cell)`. `cell` is the cell's
position in the notebook counting **every** cell (markdown and raw included), 1-based: the
number you reach by counting cells from the top. Reports show `nb.ipynb[cell 3]:2:5`.

Fixing. `render(source, new_text)` splits the fixed virtual text at the boundaries, puts the
IPython lines back, and writes the notebook with everything else untouched: outputs, metadata,
execution counts, key order, and the file's JSON style (indent width or tabs, separators,
`ensure_ascii`, CRLF, trailing newline, BOM), detected from the file. For notebooks written by
Jupyter, nbformat, VS Code and `json.dump(indent=N)` the bytes outside the edited cells are
unchanged. A fix that would move a boundary or drop an IPython line is refused (`NotebookError`).

Unreadable input is an `UnreadableSource` (EPL000 `unreadable-file`): invalid UTF-8 or JSON (at
the JSON error's line and column), JSON that is not a notebook (no `cells` list; nbformat 3),
or a malformed cell.
"""
from __future__ import annotations

import copy
import ast
import json
import re
import warnings
from dataclasses import dataclass, field
from typing import Optional, Union

from linter.finding import Edit, Finding, Fix
from linter.source import SourceFile, UnreadableSource

CELL_BOUNDARY = "pass  # epochlint-cell-boundary"
IPYTHON_MARK = "# epochlint-ipython-line"
# Cell magics whose body is ordinary Python: only the `%%` line is masked.
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "tensorflow_version"})

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_MAGIC_START = re.compile(
    r"""^\s*(?:
        [%!]                                   # %magic, %%cell, !shell, !!shell
      | \?                                     # ?obj, ??obj
      | [\w.*\[\]]+\?{1,2}\s*$                 # obj?, obj.attr??, np.*load*?
      | [\w.\[\],\s()*]+?=\s*[%!]              # files = !ls, t = %timeit -o f()
    )""",
    re.VERBOSE,
)


# IPython's line magics (and shell aliases) that automagic runs without the `%`
_AUTOMAGIC = re.compile(
    r"^\s*(?:ls|cd|pwd|pip|conda|mamba|cat|cp|mv|rm|rmdir|mkdir|clear|less|man|env|load_ext|matplotlib"
    r"|tensorboard|run|time|timeit|who|whos|history|reset|alias|bookmark|pinfo|pycat|sx|sc)"
    r"(?:[ \t]*$|[ \t]+(?![=(\[,:;]))"  # `name args`, never `name = ...` or `name(...`
)


class NotebookError(ValueError):
    """A fixed virtual text that cannot be written back into the notebook."""


@dataclass
class JsonStyle:
    indent: Union[int, str, None] = 1
    separators: tuple[str, str] = (",", ": ")
    ensure_ascii: bool = False
    newline: str = "\n"
    trailing_newline: bool = True
    bom: bool = False

    def dumps(self, data) -> str:
        text = json.dumps(data, indent=self.indent, separators=self.separators, ensure_ascii=self.ensure_ascii)
        if self.trailing_newline:
            text += "\n"
        if self.newline != "\n":
            text = text.replace("\n", self.newline)
        return text

    def encode(self, data) -> bytes:
        raw = self.dumps(data).encode("utf-8")
        return b"\xef\xbb\xbf" + raw if self.bom else raw


@dataclass
class CodeCell:
    index: int  # 0-based position among all cells
    source_was_list: bool
    original: str  # the cell's source as in the file
    masked: list[str]  # original IPython lines (without their line ending), in order
    added_newline: bool  # a "\n" was appended to close the cell's last line


@dataclass
class Notebook:
    data: dict
    style: JsonStyle
    code_cells: list[CodeCell] = field(default_factory=list)
    exact: bool = True  # the style reproduces the original bytes exactly


# --------------------------------------------------------------------------- reading
def lines_of(text: str) -> list[str]:
    """Lines with their endings, split only at \\n, \\r\\n and \\r (as Python's tokenizer does)."""
    return _LINE.findall(text)


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


class _Scanner:
    """Just enough of Python's lexer to know whether a line starts a logical line."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: Optional[str] = None
        self.continued = False

    @property
    def at_logical_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        body = line.rstrip("\r\n")
        i, n = 0, len(body)
        while i < n:
            ch = body[i]
            if self.quote is not None:
                if ch == "\\":
                    i += 2
                    continue
                if body.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                    continue
                i += 1
                continue
            if ch == "#":
                break
            if ch in "\"'":
                triple = body[i:i + 3]
                self.quote = triple if triple in ('"""', "'''") else ch
                i += len(self.quote)
                continue
            if ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        ends_with_backslash = body.endswith("\\") and not body.endswith("\\\\")
        if self.quote in ("'", '"') and not ends_with_backslash:
            self.quote = None  # an unterminated one-line string ends with the line
        self.continued = ends_with_backslash and self.quote is None


def _placeholder(line: str, indent: Optional[str] = None) -> str:
    if indent is None:
        indent = line[: len(line) - len(line.lstrip(" \t"))]
    return f"{indent}pass  {IPYTHON_MARK}{_ending(line) or ''}"


def _syntax_ok(source: str) -> None:
    """ast.parse without the SyntaxWarnings CPython emits for odd but valid code (`1(2)`): a
    notebook's text is the user's, and a warning on our stderr about it is noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        ast.parse(source)


def _parses(source: str) -> bool:
    try:
        _syntax_ok(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _automagic(body: str) -> bool:
    """`ls ./data/`, `pip install x`, `cd dir`: a magic called without `%` (IPython's automagic,
    on by default) is a line that starts with its name and is not Python on its own."""
    if _AUTOMAGIC.match(body) is None or body.rstrip().endswith("\\"):
        return False
    if sum(body.count(c) for c in "([{") > sum(body.count(c) for c in ")]}"):
        return False  # a statement going on past this line (`time if x else (`) is Python
    try:
        _syntax_ok(body.strip())
    except (SyntaxError, ValueError):
        return True
    return False


def mask_ipython(source: str) -> tuple[list[str], list[str]]:
    """(lines with IPython syntax replaced by placeholders, the original masked lines)."""
    lines = lines_of(source)
    masked: list[str] = []
    out: list[str] = []
    first = next((ln for ln in lines if ln.strip()), "")
    code_first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    if code_first[:1] in (" ", "\t") and not _parses(source):
        # IPython removes a cell's leading indentation before running it; a dedented copy would
        # shift every column, so a cell that is not Python as it stands is masked whole (unknown
        # to the rules, never EPL000)
        return [_placeholder(ln, "") for ln in lines], [ln.rstrip("\r\n") for ln in lines]
    if first.lstrip().startswith("%%"):
        name = first.lstrip()[2:].split(None, 1)[0] if first.lstrip()[2:].strip() else ""
        if name not in PYTHON_BODY_CELL_MAGICS:
            return [_placeholder(ln, "") for ln in lines], [ln.rstrip("\r\n") for ln in lines]
    scanner = _Scanner()
    in_magic = False
    magic_indent = ""
    for line in lines:
        body = line.rstrip("\r\n")
        if in_magic or (scanner.at_logical_start and body.strip() and (_MAGIC_START.match(body) or _automagic(body))):
            if not in_magic:
                magic_indent = "" if body.lstrip().startswith("%%") else body[: len(body) - len(body.lstrip(" \t"))]
            out.append(_placeholder(line, magic_indent))
            masked.append(body)
            in_magic = body.endswith("\\")
            continue
        scanner.feed(line)
        out.append(line)
    return out, masked


def detect_style(data: bytes, text: str) -> JsonStyle:
    style = JsonStyle()
    style.bom = data.startswith(b"\xef\xbb\xbf")
    style.newline = "\r\n" if "\r\n" in text else "\n"
    style.trailing_newline = text.endswith("\n")
    body = text.strip()
    m = re.search(r"\n([ \t]+)\S", body)
    if m is None:
        style.indent = None
        style.separators = (",", ":") if re.search(r'":\S', body) and not re.search(r'": ', body) else (", ", ": ")
    else:
        ws = m.group(1)
        style.indent = len(ws) if set(ws) == {" "} else ws
        style.separators = (",", ":") if re.search(r'":[^ ]', body) and not re.search(r'": ', body) else (",", ": ")
    style.ensure_ascii = not any(ord(c) > 127 for c in text) and "\\u" in text
    return style


def notebook_source(data: bytes, shown: str) -> SourceFile:
    """The SourceFile of a notebook's code cells (see the module docstring)."""
    raw = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UnreadableSource(f"not a readable notebook: not UTF-8 ({exc.reason})", line) from None
    if not text.strip():
        raise UnreadableSource("not a Jupyter notebook: the file is empty")
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableSource(f"not a readable notebook: invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise UnreadableSource("not a readable notebook: JSON nested too deeply") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            raise UnreadableSource("not a supported notebook: nbformat 3 (convert it with `jupyter nbconvert --to notebook`)")
        raise UnreadableSource('not a Jupyter notebook: no "cells" list at the top level')
    style = detect_style(data, text)
    notebook = Notebook(nb, style)
    try:
        notebook.exact = style.dumps(nb) == text
    except (TypeError, ValueError, RecursionError):
        notebook.exact = False
    if not _is_python(nb):
        return SourceFile(shown, "", "utf-8", style.bom, {}, notebook)

    pieces: list[str] = []
    cells: dict[int, tuple[int, int]] = {}
    vline = 1
    for index, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict):
            raise UnreadableSource(f"not a valid notebook: cell {index + 1} is not an object")
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list) and all(isinstance(s, str) for s in src):
            original, was_list = "".join(src), True
        elif isinstance(src, str):
            original, was_list = src, False
        else:
            raise UnreadableSource(f"not a valid notebook: cell {index + 1}: \"source\" must be a string or a list of strings")
        lines, masked = mask_ipython(original)
        added = bool(lines) and not _ending(lines[-1])
        if added:
            lines[-1] += "\n"
        if notebook.code_cells:
            # the boundary belongs to the cell before it: a parse error there is that cell's
            prev = notebook.code_cells[-1]
            cells[vline] = (prev.index + 1, max(1, len(lines_of(prev.original))))
            pieces.append(CELL_BOUNDARY + "\n")
            vline += 1
        for n, line in enumerate(lines, 1):
            cells[vline] = (index + 1, n)
            pieces.append(line)
            vline += 1
        notebook.code_cells.append(CodeCell(index, was_list, original, masked, added))
    return SourceFile(shown, "".join(pieces), "utf-8", style.bom, cells, notebook)


def _is_python(nb: dict) -> bool:
    meta = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    for key, field_name in (("kernelspec", "language"), ("language_info", "name")):
        info = meta.get(key)
        if isinstance(info, dict) and isinstance(info.get(field_name), str):
            return info[field_name].lower() in ("python", "python3", "ipython", "python2")
    return True


# --------------------------------------------------------------------------- writing
def cell_texts(source: SourceFile, new_text: str) -> list[tuple[CodeCell, str]]:
    """Each code cell with its source text after the fix (IPython lines put back)."""
    nb: Notebook = source.notebook  # type: ignore[assignment]
    chunks: list[list[str]] = [[]]
    for line in lines_of(new_text):
        if line.rstrip("\r\n") == CELL_BOUNDARY:
            chunks.append([])
        else:
            chunks[-1].append(line)
    if not nb.code_cells:
        if new_text:
            raise NotebookError("this notebook has no code cells to change")
        return []
    if len(chunks) != len(nb.code_cells):
        raise NotebookError("the fix would move a cell boundary")
    out = []
    for cell, lines in zip(nb.code_cells, chunks):
        restored = []
        pending = list(cell.masked)
        for line in lines:
            if line.rstrip("\r\n").endswith(IPYTHON_MARK) and line.lstrip().startswith("pass"):
                if not pending:
                    raise NotebookError(f"cell {cell.index + 1}: the fix would add an IPython placeholder")
                restored.append(pending.pop(0) + _ending(line))
            else:
                restored.append(line)
        if pending:
            raise NotebookError(f"cell {cell.index + 1}: the fix would remove an IPython line")
        text = "".join(restored)
        if cell.added_newline and text.endswith("\n"):
            text = text[:-1]
        out.append((cell, text))
    return out


def render(source: SourceFile, new_text: str) -> bytes:
    """The notebook's bytes with the fixed code cells (everything else as it was)."""
    nb: Notebook = source.notebook  # type: ignore[assignment]
    data = copy.deepcopy(nb.data)  # the SourceFile stays as read
    for cell, text in cell_texts(source, new_text):
        if text == cell.original:
            continue
        data["cells"][cell.index]["source"] = lines_of(text) if cell.source_was_list else text
    return nb.style.encode(data)



# --------------------------------------------------------------------------- positions
def map_finding(source: SourceFile, f: Finding) -> Finding:
    """A finding (and its fix's edits) from virtual lines to (cell, line in cell)."""
    cells = source.cells or {}
    cell, line = cells.get(f.line, (None, f.line))
    _, end_line = cells.get(f.end_line, (cell, f.end_line))
    f.cell, f.line, f.end_line = cell, line, end_line
    if f.fix:
        f.fix = Fix(
            f.fix.applicability,
            tuple(Edit(cells.get(e.line, (0, e.line))[1], e.column, cells.get(e.end_line, (0, e.end_line))[1], e.end_column, e.content) for e in f.fix.edits),
            f.fix.description,
        )
    return f
