"""The project index in the server: cross-module facts for open buffers, and who imports whom.

When `linter.project` (issue 10's project index) is installed, each check of an open document
builds the `Project` of that document, from the editor's buffer (so an import just typed counts)
and the project modules it imports, read from disk; their summaries are kept in memory by
content key (`load_summary`/`store_summary`, the cache interface `Project` asks for), so an
unchanged `models.py` is summarised once per session. The check gets the document's
`ProjectView` (`linter.runner.check_source(..., project=view)`).

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

    def __init__(self) -> None:
        self._summaries: dict[str, dict] = {}
        self._graphs: dict[str, frozenset] = {}  # open document path -> module paths of its graph
        self._lock = threading.Lock()

    # the cache interface linter.project.plan.Project uses for summaries
    def load_summary(self, key: str) -> Optional[dict]:
        return self._summaries.get(key)

    def store_summary(self, key: str, summary: dict) -> None:
        if len(self._summaries) >= self.MAX_SUMMARIES:
            self._summaries.clear()
        self._summaries[key] = summary

    def view_for(self, path: str, data: bytes, settings: Settings) -> Any:
        """The ProjectView of an open document's buffer (`data`: its bytes as a file would hold
        them), with its imports resolved and their summaries ready."""
        from linter.project.plan import Project

        key = os.path.abspath(path)
        config_root = Path(settings.root) if settings.source is not None else None
        project = Project([key], {0: data}, config_root, cache=self)
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


def hook() -> Any:
    """The project hook for the document store: IndexedProject when linter.project exists."""
    if available():
        return IndexedProject()
    from linter.server.documents import NoProject

    return NoProject()
