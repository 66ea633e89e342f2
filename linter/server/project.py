"""The project index in the server: cross-module facts for open buffers, and who imports whom.

When `linter.project` (issue 10's project index) is installed, each check of an open document
builds the `Project` of that document, from the editor's buffer (so an import just typed counts)
and the project modules it imports, read from disk. Their summaries are looked up by content
key (`load_summary`/`store_summary`, the cache interface `Project` asks for) in memory, then in
the CLI's cache (`linter.cache.Cache` of the document's settings: `.epochlint_cache/`, shared
with `epochlint check` both ways), so an unchanged `models.py` is summarised once. The check
gets the document's `ProjectView` (`linter.runner.check_source(..., project=view)`).

`importers(path)` answers the store's "who depends on this module?" (linter.server.documents):
the open documents whose last project graph contains `path`. The server re-checks them when
`path` is saved or changes on disk (imported modules are read from disk: an unsaved edit to
`models.py` reaches `train.py` when it is saved).

Without `linter.project`, `hook()` returns the store's `NoProject` and checks are per file.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Optional

from linter.config import Settings


def available() -> bool:
    try:
        import linter.project.plan  # noqa: F401
    except ImportError:
        return False
    return True


class IndexedProject:
    """The project hook backed by linter.project (see the module docstring)."""

    MAX_SUMMARIES = 5000  # content-keyed summaries kept in memory (a summary is small JSON)

    def __init__(self, use_disk_cache: bool = True) -> None:
        self._summaries: dict[str, dict] = {}
        self._graphs: dict[str, frozenset] = {}  # open document path -> module paths of its graph
        self._lock = threading.Lock()
        self._disk: dict[tuple, Any] = {}  # (root, config key) -> linter.cache.Cache
        self.use_disk_cache = use_disk_cache

    def _disk_cache(self, settings: Settings) -> Any:
        if not self.use_disk_cache:
            return None
        key = (str(settings.root), settings.key())
        if key not in self._disk:
            try:
                from linter.cache import Cache

                cache = Cache.for_settings(settings)
                self._disk[key] = cache if hasattr(cache, "load_summary") else None
            except Exception:
                self._disk[key] = None
        return self._disk[key]

    def view_for(self, path: str, data: bytes, settings: Settings) -> Any:
        """The ProjectView of an open document's buffer (`data`: its bytes as a file would hold
        them), with its imports resolved and their summaries ready."""
        from linter.project.plan import Project

        key = os.path.abspath(path)
        config_root = Path(settings.root) if settings.source is not None else None
        project = Project([key], {0: data}, config_root, cache=_Summaries(self._summaries, self._disk_cache(settings), self.MAX_SUMMARIES))
        view = project.view_for(key)
        with self._lock:
            self._graphs[key] = frozenset(project.graph.nodes)
        return view

    # the store's hook
    def changed(self, path: str, text: str) -> None:
        pass  # the next check of `path` builds its project from the buffer

    def closed(self, path: str) -> None:
        with self._lock:
            self._graphs.pop(os.path.abspath(path), None)

    def importers(self, path: str) -> set[str]:
        key = os.path.abspath(path)
        with self._lock:
            return {doc for doc, modules in self._graphs.items() if doc != key and key in modules}


class _Summaries:
    """Summaries by content key: in memory, then the CLI's cache on disk (read and written)."""

    def __init__(self, memo: dict, disk: Any, limit: int) -> None:
        self.memo, self.disk, self.limit = memo, disk, limit

    def load_summary(self, key: str) -> Optional[dict]:
        found = self.memo.get(key)
        if found is None and self.disk is not None:
            try:
                found = self.disk.load_summary(key)
            except Exception:
                found = None
            if found is not None:
                self._remember(key, found)
        return found

    def store_summary(self, key: str, summary: dict) -> None:
        self._remember(key, summary)
        if self.disk is not None:
            try:
                self.disk.store_summary(key, summary)
            except Exception:  # an unwritable cache folder costs the next session a parse, no more
                pass

    def _remember(self, key: str, summary: dict) -> None:
        if len(self.memo) >= self.limit:
            self.memo.clear()
        self.memo[key] = summary


def hook() -> Any:
    """The project hook for the document store: IndexedProject when linter.project exists."""
    if available():
        return IndexedProject()
    from linter.server.documents import NoProject

    return NoProject()
