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

_CONT = r"(?:[^\n#;\\]|\\\r?\n)*"
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<dots>\.*)[ \t]*(?P<module>[\w.]*)[ \t]+import[ \t]*(?P<names>\([^)]*\)|" + _CONT + r")"
    r"|import[ \t]+(?P<plain>" + _CONT + r"))",
    re.MULTILINE,
)
_NAME = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


class Import(NamedTuple):
    level: int  # leading dots of a `from` import (0: absolute)
    module: str  # the module named ("" for `from . import x`)
    names: Optional[tuple]  # `from` imports: the names imported ("*" for a star); None for `import m`


def scan(text: str) -> list[Import]:
    """Every import statement of `text`, in order (see the module docstring for the caveats)."""
    if "import" not in text:
        return []
    found = []
    for m in _IMPORT.finditer(text):
        if m.group("plain") is not None:
            for part in _split(m.group("plain")):
                name = part.split(" as ", 1)[0].strip() if " as " in part else part.split()[0] if part.split() else ""
                if _NAME.match(name):
                    found.append(Import(0, name, None))
            continue
        module = m.group("module")
        level = len(m.group("dots"))
        if module and not _NAME.match(module):
            continue
        if not module and not level:
            continue
        names = []
        for part in _split(m.group("names").strip("()")):
            name = part.split()[0] if part.split() else ""
            if name == "*" or _NAME.match(name):
                names.append(name)
        if names:
            found.append(Import(level, module, tuple(names)))
    return found


def _split(text: str) -> list:
    text = text.replace("\\\r\n", " ").replace("\\\n", " ")
    text = re.sub(r"#[^\n]*", "", text)
    return [p.strip() for p in text.replace("\n", " ").split(",") if p.strip()]
