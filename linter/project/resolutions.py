"""Import resolution kept between runs, valid while no folder it looked at has changed.

Resolving a module's imports (linter.project.index) asks only the listings of folders (the
file's folder, its package's base, the project root, `root/src`, the packages below them) and,
for a module found further up than the file's folder, whether one of that name is installed
(the `sys.path` entries outside the project). So a module's resolution (its name, base, package
flag and `{dotted: file or None}`), recorded with its content digest, holds on a later run when

- its content digest is the same (the same import statements),
- every folder the recording run listed has the stat signature it had before it was listed (a
  name added, removed or renamed in a folder changes its mtime and ctime; a folder missing then
  is missing still),
- every `sys.path` entry has its signature still, and `sys.path`, the interpreter, the working
  folder and the configuration's root are the same,
- and, as for the stat index (linter.project.stat_cache), no such folder or entry had changed
  within RACY_NS of the time the recording run started (signatures are taken before the
  listings and the installed-module lookups they stand for).

One folder changed (a file created, deleted or renamed anywhere the last runs looked) and the
whole record is dropped: every module is resolved again (its imports scanned from the stat
index, not read) and recorded anew. The record is a section of the stat index's file.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

from linter.project import stat_cache

SECTION = "resolutions"
FORMAT = 1
MAX_NODES = 50_000


def folder_signature(path: str) -> Optional[list]:
    """[mtime, ctime, inode, device] of a folder or file, None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _context(config_root) -> list:
    return [FORMAT, sys.executable, list(sys.path), os.getcwd(), str(config_root) if config_root is not None else None]


def _syspath_signatures() -> dict:
    out = {}
    for p in sys.path:
        ap = os.path.abspath(p or ".")
        out[ap] = folder_signature(ap)
    return out


class Resolutions:
    """The record of one run: `known(path, digest)` gives a module's resolution when the record
    holds (see the module docstring); `learn` adds a module resolved in this run; `section()`
    is what to store (None: nothing new)."""

    def __init__(self, stored: object, config_root=None, started_ns: Optional[int] = None) -> None:
        self.started = stat_cache.now_ns() if started_ns is None else started_ns  # before any listing of this run
        self.context = _context(config_root)
        self.syspath = _syspath_signatures()
        self.syspath_seen = self.started  # when the sys.path signatures were taken
        self.nodes: dict = {}
        self.folders: dict = {}  # folder -> [signature or None, time of the run that listed it]
        self.changed = False
        if self._holds(stored):
            self.nodes = dict(stored["nodes"])  # type: ignore[index]
            self.folders = dict(stored["folders"])  # type: ignore[index]
            self.syspath_seen = stored["syspath_seen"]  # type: ignore[index]
        else:
            self.changed = stored is not None

    def _holds(self, stored: object) -> bool:
        try:
            if not isinstance(stored, dict) or stored.get("context") != self.context or stored.get("syspath") != self.syspath:
                return False
            folders, nodes, syspath_seen = stored.get("folders"), stored.get("nodes"), stored.get("syspath_seen")
            if not isinstance(folders, dict) or not isinstance(nodes, dict) or type(syspath_seen) is not int:
                return False
            for sig in self.syspath.values():  # (equal to the stored ones)
                if sig is not None and syspath_seen - max(sig[0], sig[1]) < stat_cache.RACY_NS:
                    return False
            for folder, (sig, seen) in folders.items():
                now = folder_signature(folder)
                if now != sig:
                    return False
                if sig is not None and (type(seen) is not int or seen - max(sig[0], sig[1]) < stat_cache.RACY_NS):
                    return False  # changed too close to the run that listed it: maybe within one tick
            return True
        except (TypeError, ValueError, AttributeError):
            return False

    def known(self, path: str, digest: Optional[str]) -> Optional[tuple]:
        """(dotted, base, is_package, {dotted: file or None}) of `path` with content `digest`."""
        entry = self.nodes.get(path)
        if entry is None or digest is None:
            return None
        try:
            d, dotted, base, is_package, resolved = entry
            if d != digest or not isinstance(dotted, str) or not isinstance(base, str) or type(is_package) is not bool or not isinstance(resolved, dict):
                return None
            for k, v in resolved.items():
                if not isinstance(k, str) or not (v is None or isinstance(v, str)):
                    return None
            return dotted, base, is_package, resolved
        except (TypeError, ValueError):
            return None

    def learn(self, path: str, digest: Optional[str], dotted: str, base: str, is_package: bool, resolved: dict) -> None:
        if digest is None:
            return
        entry = [digest, dotted, base, is_package, dict(resolved)]
        if self.nodes.get(path) != entry:
            self.nodes[path] = entry
            self.changed = True

    def section(self, listed: dict) -> Optional[dict]:
        """The record to store, given the folders this run listed ({folder: signature taken
        before the listing, or None}); None when nothing changed."""
        for folder, sig in listed.items():
            entry = [sig, self.started]
            old = self.folders.get(folder)
            if old is None or old[0] != sig:
                self.folders[folder] = entry
                self.changed = True
        if not self.changed:
            return None
        nodes = self.nodes
        if len(nodes) > MAX_NODES:
            nodes = dict(list(nodes.items())[-MAX_NODES:])
        return {"context": self.context, "syspath": self.syspath, "syspath_seen": self.syspath_seen, "folders": self.folders, "nodes": nodes}
