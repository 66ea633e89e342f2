"""The import statements of a Python text, found without parsing it.

The project index needs each file's imports before anything is parsed (and, on a warm cache,
without parsing at all), so they are found by a scan of the lines that start (after any
indentation) with `import` or `from ... import`, parenthesised and backslash-continued forms
included. A scan can see an import that never runs (in a string, under `if TYPE_CHECKING:`):
that only adds a module whose summary is read; the check itself resolves names through the
imports it parsed.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Optional

_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_DOTS = re.compile(r"^(\.*)[ \t]*([\w.]*)$")


class Import(NamedTuple):
    level: int  # leading dots of a `from` import (0: absolute)
    module: str  # the module named ("" for `from . import x`)
    names: Optional[tuple]  # `from` imports: the names imported ("*" for a star); None for `import m`


def scan(text: str) -> list[Import]:
    """Every import statement of `text`, in order (see the module docstring for the caveats).
    Each line holding the word `import` is looked at (found with str.find: a regex anchored at
    line starts tries every character of the text, ten times slower on 24 MB of sources)."""
    found: list[Import] = []
    size = len(text)
    pos = 0
    while True:
        at = text.find("import", pos)
        if at < 0:
            break
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = size if end < 0 else end
        pos = end
        head = text[start:end].lstrip(" \t")
        if head[:6] == "import" and head[6:7] in (" ", "\t"):
            kind, body_at = "import", end - len(head) + 6
        elif head[:4] == "from" and head[4:5] in (" ", "\t"):
            kind, body_at = "from", end - len(head) + 4
        else:
            continue
        line = text[body_at:end]
        if "(" in line and ")" not in line:  # `from m import (a,\n b)`
            close = text.find(")", body_at)
            end = size if close < 0 else close
            line = text[body_at:end]
            pos = end
        while line.rstrip("\r").endswith("\\") and end < size:  # backslash continuations
            nxt = text.find("\n", end + 1)
            nxt = size if nxt < 0 else nxt
            line = line.rstrip("\r")[:-1] + " " + text[end + 1:nxt]
            end = pos = nxt
        _parse(kind, line, found)
    return found


def _parse(kind: str, line: str, found: list) -> None:
    if "#" in line:
        line = re.sub(r"#[^\n]*", "", line)
    line = line.split(";", 1)[0]
    if kind == "import":
        for part in _split(line):
            name = part.split(" as ", 1)[0].strip() if " as " in part else part.split()[0]
            if _NAME.match(name):
                found.append(Import(0, name, None))
        return
    head, sep, names = line.partition(" import")
    if not sep:
        head, sep, names = line.partition("\timport")
    where = _DOTS.match(head.strip())
    if not sep or where is None:
        return
    level, module = len(where.group(1)), where.group(2)
    if (module and not _NAME.match(module)) or (not module and not level):
        return
    imported = []
    for part in _split(names.replace("(", " ").replace(")", " ")):
        name = part.split()[0]
        if name == "*" or _NAME.match(name):
            imported.append(name)
    if imported:
        found.append(Import(level, module, tuple(imported)))


def _split(text: str) -> list:
    return [p.strip() for p in text.replace("\n", " ").replace("\r", " ").split(",") if p.strip()]
