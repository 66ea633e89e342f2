"""What each file's bytes told the project index, kept between runs: one file per cache.

The index needs, for every module of a run, its content digest (part of every cache key), its
import statements (linter.project.imports) and whether it mentions keras/tensorflow. On a warm
run those come from here, so an unchanged file is not read at all: `StatIndex.lookup(path, st)`
gives them back when the file's stat signature (size, mtime, ctime, inode, device, file type)
is the one they were recorded with.

A signature alone is not proof: a file rewritten within one timestamp tick keeping its size
keeps its signature. As git does for its index ("racy" entries), an entry is trusted only when
it was recorded at least RACY_NS after the file's last change (its mtime and ctime): any later
write then gives a later timestamp, hence another signature. A younger entry is a miss (the
file is read again, and the entry re-recorded with the time of that read, so the next run
trusts it). The time recorded is taken before the file is stat'ed and read.

Storage: `stat-index` (JSON) in the cache's rule-set folder (linter.cache), read once per run and
rewritten (temporary file + os.replace, never half a file for a concurrent run) only when an
entry changed. Concurrent runs may overwrite each other's additions: that costs a read next
time, never a wrong answer, since every entry stands or falls by its own signature. Anything
unreadable, truncated or of another FORMAT is an empty index (rebuilt), never an error. Entries
of files that are gone are dropped; the index holds at most MAX_ENTRIES files.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path
from typing import NamedTuple, Optional

from linter.project.imports import Import

FORMAT = 1  # bump when the entry layout or what a scan finds changes: an older index is ignored
NAME = "stat-index"  # JSON (named apart from the result entries, *.json)
RACY_NS = 2_000_000_000  # timestamps coarser than this (FAT: 2 s) are not supported
MAX_ENTRIES = 50_000


class Scan(NamedTuple):
    """What a file's bytes tell the index (None digest: the file cannot be read)."""

    digest: Optional[str]  # linter.cache.content_digest of its bytes
    imports: tuple  # linter.project.imports.Import
    keras: bool  # its text mentions keras/tensorflow
    decoded: bool  # its bytes decode to text


def content_digest(data: bytes) -> str:
    """The digest of a file's content (the same in every cache key: linter.cache uses it)."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def signature(st: os.stat_result) -> Optional[list]:
    """The stat signature of a regular file (None for anything else: never cached)."""
    if not stat.S_ISREG(st.st_mode):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def now_ns() -> int:
    return time.time_ns()


class StatIndex:
    """The entries of one cache (see the module docstring). `path` None: in memory only."""

    def __init__(self, path: Optional[Path], read=None, write=None) -> None:
        self.path = path
        self._read = read  # path -> bytes or None (linter.cache's guarded reader)
        self._write = write  # (path, bytes) -> bool (atomic)
        self._entries: Optional[dict] = None
        self._sections: dict = {}  # other parts of the file (linter.project.resolutions)
        self._changed = False
        self._gone: set = set()

    # ------------------------------------------------------------------ entries
    def _all(self) -> dict:
        if self._entries is None:
            self._entries = self._load()
        return self._entries

    def _load(self) -> dict:
        if self.path is None or self._read is None:
            return {}
        try:
            raw = self._read(self.path)
            stored = json.loads(raw) if raw is not None else None
        except (OSError, ValueError, RecursionError, MemoryError):
            return {}
        if not isinstance(stored, dict) or stored.get("format") != FORMAT or not isinstance(stored.get("entries"), dict):
            return {}
        self._sections = {k: v for k, v in stored.items() if k not in ("format", "entries")}
        return stored["entries"]

    def section(self, name: str) -> object:
        """Another part of the file, as stored (None when missing: validated by its owner)."""
        self._all()
        return self._sections.get(name)

    def set_section(self, name: str, value: object) -> None:
        self._all()
        if self._sections.get(name) != value:
            self._sections[name] = value
            self._changed = True

    def lookup(self, path: str, st: os.stat_result, with_imports: bool = True) -> Optional[Scan]:
        """The scan recorded for `path` if its signature is `st`'s and the entry is not racy
        (not `with_imports`: its `imports` is None, for a caller that knows their resolution)."""
        entry = self._all().get(path)
        sig = signature(st)
        if entry is None or sig is None:
            return None
        n = len(sig)
        try:
            if len(entry) != n + 5 or entry[:n] != sig or not trusted(entry[n], st):
                return None
            digest, keras, decoded, imports = entry[n + 1:]
            if not (isinstance(digest, str) and type(keras) is bool and type(decoded) is bool and isinstance(imports, list)):
                return None
            return Scan(digest, tuple(_import(i) for i in imports) if with_imports else None, keras, decoded)
        except (TypeError, ValueError, IndexError, KeyError):
            return None  # not what record writes: a miss

    def record(self, path: str, st: os.stat_result, seen_ns: int, scan: Scan) -> None:
        """Remember `scan`, read from `path` after `seen_ns` (taken before `st`)."""
        sig = signature(st)
        if sig is None or scan.digest is None:
            return
        entry = [*sig, seen_ns, scan.digest, scan.keras, scan.decoded, [[i.level, i.module, list(i.names) if i.names is not None else None] for i in scan.imports]]
        entries = self._all()
        if entries.get(path) != entry:
            entries[path] = entry
            self._changed = True

    def paths(self) -> list:
        """The files the index holds an entry of."""
        return list(self._all())

    def forget(self, path: str) -> None:
        """`path` is gone (or no longer a regular file)."""
        if path in self._all():
            self._gone.add(path)
            self._changed = True

    # ------------------------------------------------------------------ storage
    def save(self) -> bool:
        """Write the index when something changed; never raises."""
        if not self._changed or self.path is None or self._write is None:
            return False
        entries = {k: v for k, v in self._all().items() if k not in self._gone}
        if len(entries) > MAX_ENTRIES:  # keep the most recently recorded
            keep = sorted(entries, key=lambda k: _seen(entries[k]), reverse=True)[:MAX_ENTRIES]
            entries = {k: entries[k] for k in keep}
        try:
            payload = json.dumps({**self._sections, "format": FORMAT, "entries": entries}, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):
            return False
        done = bool(self._write(self.path, payload))
        if done:
            self._changed = False
        return done


def trusted(seen_ns: object, st: os.stat_result) -> bool:
    """Was the entry recorded long enough after the file's last change (see the docstring)?"""
    return type(seen_ns) is int and seen_ns - max(st.st_mtime_ns, st.st_ctime_ns) >= RACY_NS


def _seen(entry: object) -> int:
    try:
        return int(entry[-5])  # type: ignore[index]
    except (TypeError, ValueError, IndexError, KeyError):
        return 0


def _import(item: list) -> Import:
    level, module, names = item
    if type(level) is not int or not isinstance(module, str) or not (names is None or (isinstance(names, list) and all(isinstance(n, str) for n in names))):
        raise ValueError("not an import")
    return Import(level, module, tuple(names) if names is not None else None)
