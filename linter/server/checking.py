"""Checking an editor buffer: the unsaved text, never the file on disk.

A `Snapshot` is what the editor has at one version: a Python document's text, or a notebook's
cells (each its own document). `source_of` turns it into the `SourceFile` the engine checks and
the `Layout` that maps findings back to the editor: a notebook goes through
`linter.notebook.notebook_source` (the same code-cell joining, IPython masking and cell map as
`epochlint check nb.ipynb`), fed a notebook built from the cells. `check` runs the CLI's per-file
pipeline (`linter.runner.check_source`, no fix mode: nothing is written) and never raises: an
exception anywhere becomes the document's EPL000 `internal-error` finding and is returned as
`error` for the server to log. Findings stay in the checked text's coordinates (a notebook's
virtual lines), so fixes can be mapped edit by edit.
"""
from __future__ import annotations

import dataclasses
import json
import traceback
from dataclasses import dataclass, field
from typing import Optional

from linter import notebook, runner
from linter.config import Settings
from linter.finding import Finding
from linter.server.layout import UTF16, Layout
from linter.source import SourceFile, UnreadableSource

PYTHON_LANGUAGES = frozenset({"python", "ipython", "python3", ""})
MARKUP, CODE = 1, 2  # lsprotocol NotebookCellKind values


@dataclass(frozen=True)
class Cell:
    uri: str
    kind: int  # MARKUP or CODE
    language: str
    text: str


@dataclass(frozen=True)
class Snapshot:
    uri: str  # the text document's or the notebook's URI
    path: Optional[str]  # file-system path when the URI is a file, else None
    version: object
    text: str = ""
    cells: Optional[tuple[Cell, ...]] = None  # a notebook's cells, in order

    @property
    def shown(self) -> str:
        return self.path or self.uri


@dataclass
class Checked:
    snapshot: Snapshot
    source: SourceFile  # as checked (a notebook's virtual text, with its notebook for fixes)
    layout: Layout
    settings: Settings
    findings: list[Finding] = field(default_factory=list)  # in the checked text's coordinates
    error: Optional[str] = None  # an internal error's traceback, to log


def _notebook_json(cells: tuple[Cell, ...]) -> bytes:
    def cell_type(c: Cell) -> str:
        if c.kind == MARKUP:
            return "markdown"
        return "code" if (c.language or "").lower() in PYTHON_LANGUAGES else "raw"

    nb = {"cells": [{"cell_type": cell_type(c), "metadata": {}, "source": c.text} for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb).encode("utf-8")


def source_of(snap: Snapshot, encoding: str = UTF16) -> tuple[SourceFile, Layout]:
    """The SourceFile to check and the Layout of its findings. UnreadableSource for a notebook
    linter.notebook refuses (it cannot happen for cells it built itself, but is kept)."""
    if snap.cells is None:
        return SourceFile(snap.shown, snap.text), Layout({snap.uri: snap.text}, None, snap.uri, encoding)
    cells = snap.cells
    source = notebook.notebook_source(_notebook_json(cells), snap.shown)
    lines: dict[int, Optional[tuple[str, int]]] = {}
    masked = set()
    for vline, text in enumerate(notebook.lines_of(source.text), 1):
        body = text.rstrip("\r\n")
        if body == notebook.CELL_BOUNDARY:
            lines[vline] = None
            continue
        index, line = (source.cells or {})[vline]
        lines[vline] = (cells[index - 1].uri, line - 1)
        if body.endswith(notebook.IPYTHON_MARK) and body.lstrip().startswith("pass"):
            masked.add(vline)
    docs = {c.uri: c.text for c in cells}
    default = cells[0].uri if cells else snap.uri
    return source, Layout(docs, lines, default, encoding, frozenset(masked), tuple(c.uri for c in cells))


def check(snap: Snapshot, settings: Settings, encoding: str = UTF16, project: Optional[object] = None) -> Checked:
    """Check one snapshot with `settings`; `project` (a hook of linter.server.documents) gives
    the buffer's view of the project modules it imports. Never raises."""
    path = snap.shown
    try:
        source, layout = source_of(snap, encoding)
    except UnreadableSource as exc:
        source, layout = SourceFile(path, ""), Layout({snap.uri: snap.text}, None, snap.uri, encoding)
        return Checked(snap, source, layout, settings, runner.unreadable(path, str(exc), settings.enabled_codes(path), exc.line, exc.column).findings)
    except Exception as exc:  # a bug building the notebook's source
        detail = traceback.format_exc()
        fallback = SourceFile(path, snap.text)
        layout = Layout({c.uri: c.text for c in snap.cells} if snap.cells else {snap.uri: snap.text}, None,
                        snap.cells[0].uri if snap.cells else snap.uri, encoding)
        return Checked(snap, fallback, layout, settings, _internal(path, settings, exc, detail), detail)
    try:
        # a notebook is checked as its virtual text: the findings stay in virtual lines
        checked_source = dataclasses.replace(source, cells=None) if source.cells else source
        view, project_error = _project_view(snap, settings, project)
        if view is not None:
            findings = runner.check_source(checked_source, settings, project=view).result.findings
        else:
            findings = runner.check_source(checked_source, settings).result.findings
    except Exception as exc:  # outside the engine's own guard
        detail = traceback.format_exc()
        return Checked(snap, source, layout, settings, _internal(path, settings, exc, detail), detail)
    error = next((f.detail for f in findings if f.code == "EPL000" and f.name == "internal-error" and f.detail), project_error)
    return Checked(snap, source, layout, settings, findings, error)


def _project_view(snap: Snapshot, settings: Settings, project: Optional[object]) -> tuple[Optional[object], Optional[str]]:
    """(the ProjectView of a document that has a path, or None; the traceback of a failure of the
    project index, which only costs the cross-module facts: the file is still checked alone)."""
    if project is None or not snap.path:
        return None, None
    data = _notebook_json(snap.cells) if snap.cells is not None else snap.text.encode("utf-8", "surrogatepass")
    try:
        return project.view_for(snap.path, data, settings), None
    except Exception:
        return None, "project index (checked without the facts of imported modules):\n" + traceback.format_exc()


def _internal(path: str, settings: Settings, exc: BaseException, detail: str) -> list[Finding]:
    enabled = settings.enabled_codes(path) | {"EPL000"}  # the server always says why a buffer has no findings
    return runner.internal_error(path, enabled, f"{type(exc).__name__}: {exc}", detail).result.findings
