"""Making text from checked files safe to print and to encode.

Messages quote the checked code and locations name files: both are data, not output control.
`terminal` is for human-readable reports (text, concise): control characters are shown as
their Unicode control pictures (ESC as `␛`, a line break as `␊`, as ruff does), so no escape
sequence reaches the terminal and no line of output is started by the checked code (a GitHub
workflow command such as `::error` or `::add-mask` only acts at a line start); C1 controls,
bidirectional overrides (Trojan Source) and line/paragraph separators are written as `\\uXXXX`.
`unicode` is for JSON and SARIF: a file name that is not valid UTF-8 (kept by Python as lone
surrogates) becomes `\\xNN` text, which every encoder and JSON parser accepts.
`line_start_path` is a path fit to begin an output line.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_PATH_START = re.compile(r"[\w./~\\-]")


def _surrogate(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _picture(m: "re.Match[str]") -> str:
    ch = m.group()
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟ (␛ for ESC, ␊ for a line feed)
    if code == 0x7F:
        return "\u2421"  # ␡
    if 0xD800 <= code <= 0xDFFF:
        return _surrogate(ch)
    return f"\\u{code:04x}"


def terminal(text: str) -> str:
    """Text from a checked file or a file name, fit for a terminal line (tabs are kept)."""
    return _UNSAFE.sub(_picture, text) if _UNSAFE.search(text) else text


def unicode(text: str) -> str:
    """Valid Unicode for JSON/SARIF: undecodable bytes of a file name as `\\xNN`."""
    return _SURROGATE.sub(lambda m: _surrogate(m.group()), text) if _SURROGATE.search(text) else text


def line_start_path(path: str) -> str:
    """A path for the start of an output line: escaped, and prefixed with `./` unless it starts
    like an ordinary path (a name such as `::error x.py` would otherwise start the line)."""
    shown = terminal(path)
    return shown if _PATH_START.match(shown) else "./" + shown
