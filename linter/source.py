"""Reading a file into text: PEP 263 decoding, BOMs, binary detection.

A `SourceFile` is what the engine checks: the decoded text plus what is needed to write it
back byte-for-byte in its original encoding. Notebooks are turned into a SourceFile by
`linter.notebook` (the `cells` map sends a virtual line back to its cell and cell line);
`linter.runner.decode` picks one or the other.
"""
from __future__ import annotations

import codecs
import io
import os
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
    if codecs.lookup(encoding).name.startswith(("utf-16", "utf-32")):
        # a coding line can only name an ASCII-compatible encoding: CPython decodes the whole
        # file as UTF-16/32 and fails; the checker would see only garbage (and skip the file)
        raise UnreadableSource(f"bad encoding declaration: {encoding} is not an ASCII-compatible encoding, so Python cannot compile this file")
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


MAX_READ_BYTES = 64 << 20  # a "source file" larger than this is not read (EPL000)


def read_capped(fd: int, limit: int) -> Optional[bytes]:
    """All of `fd`'s bytes when there are at most `limit` of them (a file may grow while it is
    read), else None."""
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > limit else b"".join(chunks)


def read_bytes(path: str) -> bytes:
    """A regular file's bytes, or UnreadableSource saying why not. A FIFO, a device (a link to
    /dev/zero) or a socket is refused before a byte is read: the open does not block, the file
    type is checked on the open descriptor, and at most MAX_READ_BYTES are read."""
    from linter.discovery import special_file_error

    try:
        problem = special_file_error(os.stat(path).st_mode)  # before opening: opening a device can act
    except OSError as exc:
        raise UnreadableSource(f"cannot read file: {exc.strerror or exc}") from None
    if problem is not None:
        raise UnreadableSource(problem)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except IsADirectoryError:
        raise UnreadableSource("is a directory, not a file") from None
    except OSError as exc:
        raise UnreadableSource(f"cannot read file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        problem = special_file_error(st.st_mode)  # again on what was opened (it may have been swapped)
        if problem is not None:
            raise UnreadableSource(problem)
        if st.st_size > MAX_READ_BYTES:
            raise UnreadableSource(f"file too large to check ({st.st_size // (1 << 20)} MiB; the limit is {MAX_READ_BYTES >> 20} MiB)")
        data = read_capped(fd, MAX_READ_BYTES)
        if data is None:
            raise UnreadableSource(f"file too large to check (over {MAX_READ_BYTES >> 20} MiB)")
        return data
    except OSError as exc:
        raise UnreadableSource(f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_stream(stream) -> bytes:
    """At most MAX_READ_BYTES of a binary stream (stdin), or UnreadableSource."""
    data = stream.read(MAX_READ_BYTES + 1)
    if len(data) > MAX_READ_BYTES:
        raise UnreadableSource(f"input too large to check (over {MAX_READ_BYTES >> 20} MiB)")
    return data

