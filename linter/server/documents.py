"""The server's document store: what is open, its last check, what was published for it.

An `Entry` is one checked unit: a Python text document, or a notebook (whose cells are text
documents of their own; a cell's URI leads to its notebook's entry). It keeps the last
`Checked` result and the diagnostics published per document URI (hover and code actions read
them), and the pending debounce timer.

Re-checking dependents: an open document's result can depend on other modules of the project
(issue 10's project index: a model built in `models.py` and fitted in `train.py`). The store asks
its `project` hook which paths import a changed path (`importers`) and which open entries those
are (`dependents`), gives each check the buffer's view of the project (`view_for`), and tells
the hook about buffers (`changed`/`closed`). `linter.server.project.IndexedProject` is the hook
when the project index (linter.project) is installed; `NoProject` otherwise: checks are per
file and nothing depends on anything.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from linter.server.checking import Checked


class NoProject:
    """No cross-module facts: a document's result depends on that document only."""

    def changed(self, path: str, text: str) -> None:
        pass

    def closed(self, path: str) -> None:
        pass

    def importers(self, path: str) -> set[str]:
        return set()

    def view_for(self, path: str, data: bytes, settings: object) -> None:
        return None  # no ProjectView: the check sees this file only


@dataclass
class Entry:
    uri: str  # the text document's or the notebook's URI
    path: Optional[str]  # file-system path, None for an untitled buffer
    notebook: bool = False
    checked: Optional[Checked] = None
    published: dict[str, list] = field(default_factory=dict)  # document URI -> diagnostics
    timer: Any = None  # the pending debounced check (an asyncio TimerHandle)
    generation: int = 0  # bumped by every change: a check of an older generation is not published
    inflight: Any = None  # the snapshot being checked


def norm(path: Optional[str]) -> Optional[str]:
    return os.path.normcase(os.path.realpath(path)) if path else None


class DocumentStore:
    def __init__(self, project: Optional[Any] = None) -> None:
        self.entries: dict[str, Entry] = {}
        self.cells: dict[str, str] = {}  # cell URI -> notebook URI
        self.project = project or NoProject()

    def open(self, uri: str, path: Optional[str], notebook: bool = False) -> Entry:
        entry = self.entries.get(uri)
        if entry is None:
            entry = self.entries[uri] = Entry(uri, path, notebook)
        return entry

    def close(self, uri: str) -> Optional[Entry]:
        entry = self.entries.pop(uri, None)
        if entry is not None:
            if entry.timer is not None:
                entry.timer.cancel()
            for cell in [c for c, nb in self.cells.items() if nb == uri]:
                del self.cells[cell]
            if entry.path:
                self.project.closed(entry.path)
        return entry

    def set_cells(self, notebook_uri: str, cell_uris: Iterable[str]) -> None:
        for cell in [c for c, nb in self.cells.items() if nb == notebook_uri]:
            del self.cells[cell]
        for cell in cell_uris:
            self.cells[cell] = notebook_uri

    def entry_for(self, uri: str) -> Optional[Entry]:
        """The entry of a text document, a notebook, or the notebook holding a cell."""
        entry = self.entries.get(uri)
        if entry is None and uri in self.cells:
            entry = self.entries.get(self.cells[uri])
        return entry

    def dependents(self, entry: Entry) -> list[Entry]:
        """Open entries whose result may change when `entry`'s module changes."""
        if not entry.path:
            return []
        importers = {norm(p) for p in self.project.importers(entry.path)}
        if not importers:
            return []
        return [e for e in self.entries.values() if e is not entry and norm(e.path) in importers]

    def all(self) -> list[Entry]:
        return list(self.entries.values())
