"""Reading a file into text: PEP 263 decoding, BOMs, binary detection.

A `SourceFile` is what the engine checks: the decoded text plus what is needed to write it
back byte-for-byte in its original encoding. Notebooks are turned into a SourceFile by
`linter.notebook` (the `cells` map sends a virtual line back to its cell and cell line);
`linter.runner.decode` picks one or the other.
"""
from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass, field
from typing import Optional


class UnreadableSource(Exception):
    """The file cannot be turned into text; the message says why (for EPL000)."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


@dataclass
class SourceFile:
    path: str  # as reported (relative stays relative)
    text: str
    encoding: str = "utf-8"
    bom: bool = False
    # For notebooks: virtual line (1-based) -> (cell number 1-based, line in cell 1-based).
    cells: Optional[dict[int, tuple[int, int]]] = None
    notebook: Optional[object] = field(default=None, repr=False)

    def encode(self, text: str) -> bytes:
        data = text.encode(self.encoding)
        return (b"\xef\xbb\xbf" + data) if self.bom else data


def decode_python(data: bytes, path: str) -> SourceFile:
    """Decode Python source bytes per PEP 263 (coding cookie, BOM, default UTF-8)."""
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise UnreadableSource("binary file (contains NUL bytes)", line)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # unknown or conflicting coding cookie
        raise UnreadableSource(f"bad encoding declaration: {exc}") from None
    bom = encoding == "utf-8-sig"
    if bom:
        data = data[3:]
        encoding = "utf-8"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        line = 1
        if isinstance(exc, UnicodeDecodeError):
            line = data[: exc.start].count(b"\n") + 1
        raise UnreadableSource(
            f"cannot decode as {encoding} (PEP 263: add a coding line or save as UTF-8): {exc.reason if isinstance(exc, UnicodeDecodeError) else exc}",
            line,
        ) from None
    return SourceFile(path=path, text=text, encoding=encoding, bom=bom)


def read_bytes(path: str) -> bytes:
    """A file's bytes, or UnreadableSource saying why not."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except IsADirectoryError:
        raise UnreadableSource("is a directory, not a file") from None
    except OSError as exc:
        raise UnreadableSource(f"cannot read file: {exc.strerror or exc}") from None

