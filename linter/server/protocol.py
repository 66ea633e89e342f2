"""Protocol wiring: the pygls language server (state, scheduling, publishing); its LSP
handlers are registered by `linter.server.handlers.create_server`.

Documents: `textDocument/didOpen|didChange|didSave|didClose` for Python files and
`notebookDocument/didOpen|didChange|didSave|didClose` for notebooks (pygls keeps the buffers:
`ls.workspace`). Open and save check at once, a change after `debounce` seconds of quiet (each
change restarts the wait); close clears the document's diagnostics. Checks run one at a time on
one worker thread, so requests (hover, code actions) are answered while a file is checked; a
check whose document changed meanwhile is not published (the newer one is on its way).

Every handler is guarded: an exception is logged (`window/logMessage`) and the request answered
with nothing, and a check that fails becomes the document's EPL000 diagnostic
(`linter.server.checking`), so no document and no request can stop the server. Malformed JSON and
invalid parameters are answered by pygls with JSON-RPC errors.

Configuration (`linter.server.settings`): client settings from `initializationOptions`,
`workspace/didChangeConfiguration` and, from clients that answer it, `workspace/configuration`
per workspace folder; a saved or changed `pyproject.toml`/`epochlint.toml` (a `didSave`, or
`workspace/didChangeWatchedFiles` when the client lets us watch them) drops the config cache;
either re-checks every open document. A module saved (or changed on disk) re-checks the open
documents that import it (`linter.server.documents.DocumentStore.dependents`, answered by the
project index: linter.server.project).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional
from urllib.parse import unquote

from lsprotocol import types
from lsprotocol.types import ResponseError
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from linter import __version__
from linter.server import actions, checking, diagnostics
from linter.server.documents import DocumentStore, Entry
from linter.server.project import hook as project_hook
from linter.server.layout import UTF16
from linter.server.settings import CONFIG_NAMES, ClientSettings, Configs

DEBOUNCE_SECONDS = 0.1
log = logging.getLogger("epochlint.server")


def path_of(uri: str) -> Optional[str]:
    if not uri.startswith("file:"):
        return None
    try:
        return to_fs_path(uri)
    except Exception:
        return None


def is_python(uri: str, language: Optional[str]) -> bool:
    if language:
        return language.lower() in ("python", "ipython")
    return unquote(uri).endswith((".py", ".pyi", ".pyw"))


def is_config(uri: str) -> bool:
    return unquote(uri).rsplit("/", 1)[-1] in CONFIG_NAMES


class _Protocol(LanguageServerProtocol):
    """pygls's protocol, plus: a request whose parameters do not match the LSP types is answered
    with a JSON-RPC error (pygls logs it and never answers, so the client would wait forever)."""

    def structure_message(self, data: Any) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data and isinstance(data["id"], (int, str)):
                message = f"invalid parameters for {data.get('method')!r}: {exc.__cause__ or exc}"
                self._send_response(data["id"], error=ResponseError(code=exc.code, message=message[:2000]))
            raise


class EpochlintServer(LanguageServer):
    def __init__(self, debounce: float = DEBOUNCE_SECONDS) -> None:
        super().__init__(
            "epochlint",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[types.NotebookDocumentFilterWithCells(cells=[types.NotebookCellLanguage(language="python")], notebook="*")],
                save=True,
            ),
            protocol_cls=_Protocol,
        )
        self.debounce = debounce
        self.store = DocumentStore(project_hook())
        self.configs = Configs(on_error=self.warn)
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="epochlint-check")
        self.resolve_support = False

    # ------------------------------------------------------------------ messages
    def log_message(self, message: str, kind: types.MessageType = types.MessageType.Log) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # no client to tell (not initialized, or gone)
            log.warning("%s", message)

    def warn(self, message: str) -> None:
        self.log_message(message, types.MessageType.Warning)
        try:
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))
        except Exception:
            pass

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls's "out of band" errors (a malformed message): logged, not shown in a pop-up."""
        self.log_message(f"epochlint server: {type(error).__name__}: {error}", types.MessageType.Error)

    @property
    def encoding(self) -> str:
        try:
            kind = self.workspace.position_encoding or UTF16
        except RuntimeError:
            return UTF16
        return str(getattr(kind, "value", kind))  # an lsprotocol enum member, or its string

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, entry: Entry) -> Optional[checking.Snapshot]:
        """The entry's current content as the client has it, or None if it is gone."""
        ws = self.workspace
        if not entry.notebook:
            doc = ws.text_documents.get(unquote(entry.uri))
            if doc is None:
                return None
            return checking.Snapshot(entry.uri, entry.path, doc.version, text=doc.source)
        nb = ws.get_notebook_document(notebook_uri=entry.uri)
        if nb is None:
            return None
        cells = []
        for cell in nb.cells:
            doc = ws.text_documents.get(unquote(cell.document))
            text, language = (doc.source, doc.language_id or "python") if doc is not None else ("", "python")
            cells.append(checking.Cell(cell.document, int(cell.kind), language, text))
        self.store.set_cells(entry.uri, (c.uri for c in cells))
        return checking.Snapshot(entry.uri, entry.path, nb.version, cells=tuple(cells))

    def current_version(self, uri: str) -> object:
        entry = self.store.entry_for(uri)
        if entry is None:
            return None
        if entry.notebook:
            nb = self.workspace.get_notebook_document(notebook_uri=entry.uri)
            return nb.version if nb is not None else None
        doc = self.workspace.text_documents.get(unquote(entry.uri))
        return doc.version if doc is not None else None

    # ------------------------------------------------------------------ checking
    def schedule(self, entry: Entry, delay: float = 0.0, force: bool = True) -> None:
        """Check `entry` after `delay` seconds (a newer call replaces a pending one). Without
        `force` (a save), a buffer already checked, or being checked, as it is now is left alone:
        saving after the debounced check costs nothing."""
        if not force and entry.timer is None:
            snap = self.snapshot(entry)
            if snap is not None and (entry.inflight == snap or (entry.checked is not None and entry.checked.snapshot == snap)):
                return
        entry.generation += 1
        if entry.timer is not None:
            entry.timer.cancel()
        loop = asyncio.get_running_loop()
        entry.timer = loop.call_later(delay, self._start, entry)

    def recheck_all(self) -> None:
        for entry in self.store.all():
            self.schedule(entry)

    def _check(self, snap: checking.Snapshot, encoding: str) -> checking.Checked:
        """On the checker thread: settings (file reads) and the check."""
        settings = self.configs.settings_for(snap.path)
        return checking.check(snap, settings, encoding, self.store.project)

    def _start(self, entry: Entry) -> None:
        entry.timer = None
        if self.store.entries.get(entry.uri) is not entry:
            return
        try:
            snap = self.snapshot(entry)
        except Exception:
            self.log_message(f"epochlint: cannot read {entry.uri}: {traceback.format_exc()}", types.MessageType.Error)
            return
        if snap is None:
            return
        if entry.path and snap.cells is None:
            try:
                self.store.project.changed(entry.path, snap.text)
            except Exception:
                self.log_message(f"epochlint: project index: {traceback.format_exc()}", types.MessageType.Error)
        generation = entry.generation
        entry.inflight = snap
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.checker, self._check, snap, self.encoding)
        future.add_done_callback(functools.partial(self._finished, entry, generation))

    def _finished(self, entry: Entry, generation: int, future: "asyncio.Future[checking.Checked]") -> None:
        if entry.generation == generation:
            entry.inflight = None
        if future.cancelled():
            return
        if self.store.entries.get(entry.uri) is not entry or entry.generation != generation:
            return  # closed, or changed again: the newer check publishes
        error = future.exception()
        try:
            if error is not None:
                raise error
            checked = future.result()
            entry.checked = checked
            if checked.error:
                self.log_message(f"epochlint: internal error while checking {checked.snapshot.shown}:\n{checked.error}", types.MessageType.Error)
            published = diagnostics.to_diagnostics(checked.findings, checked.layout, checked.snapshot.version)
        except Exception as exc:  # never lose the document: say what happened on it
            detail = "".join(traceback.format_exception(exc))
            self.log_message(f"epochlint: internal error while checking {entry.uri}:\n{detail}", types.MessageType.Error)
            cells = [c for c, nb in self.store.cells.items() if nb == entry.uri]
            published = {cells[0] if entry.notebook and cells else entry.uri: [self._internal_diagnostic(exc)]}
        self.publish(entry, published)

    @staticmethod
    def _internal_diagnostic(exc: BaseException) -> types.Diagnostic:
        return types.Diagnostic(
            range=types.Range(types.Position(0, 0), types.Position(0, 1)),
            message=f"internal error while checking this file: {type(exc).__name__}: {exc} (please report it)",
            severity=types.DiagnosticSeverity.Error,
            code="EPL000",
            source=diagnostics.SOURCE,
            data={"code": "EPL000", "name": "internal-error", "version": None, "fix": None},
        )

    def publish(self, entry: Entry, published: dict[str, list]) -> None:
        for uri in set(entry.published) - set(published):  # a cell removed since: clear it
            published[uri] = []
        for uri, diags in published.items():
            version = None if entry.notebook else (entry.checked.snapshot.version if entry.checked else None)
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=version))
        entry.published = {uri: diags for uri, diags in published.items() if diags or uri in (entry.checked.layout.order if entry.checked else ())}

    def clear(self, entry: Entry) -> None:
        for uri in entry.published:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        entry.published = {}

    def changed(self, entry: Entry, delay: float, dependents: bool = False) -> None:
        """Check `entry`; with `dependents` (a save: the project index reads modules from
        disk), also the open documents that import it (always checked again: what they import
        changed, not their text)."""
        self.schedule(entry, delay, force=not dependents)
        if dependents:
            for dependent in self.store.dependents(entry):
                self.schedule(dependent, max(delay, self.debounce))

    def apply_settings(self, raw: Any) -> None:
        """Client settings pushed by the client (initializationOptions, didChangeConfiguration)."""
        settings, problems = ClientSettings.from_json(raw)
        for problem in problems:
            self.warn(f"epochlint: ignoring a client setting: {problem}")
        self.configs.client = settings
        if isinstance(raw, dict):
            inner = raw.get("epochlint", raw.get("settings", raw))
            if isinstance(inner, dict) and isinstance(inner.get("debounce"), (int, float)) and not isinstance(inner.get("debounce"), bool):
                self.debounce = max(0.0, float(inner["debounce"]) / 1000.0)  # milliseconds

    async def pull_settings(self) -> None:
        """Ask a client that answers `workspace/configuration` for the `epochlint` section, per
        workspace folder (a folder's answer wins over the global one for its files)."""
        ws = self.client_capabilities.workspace
        if not (ws and ws.configuration):
            return
        folders = list(self.configs.folders)
        items = [types.ConfigurationItem(section="epochlint")]
        items += [types.ConfigurationItem(scope_uri=folder.as_uri(), section="epochlint") for folder in folders]
        answers = await self.workspace_configuration_async(types.ConfigurationParams(items=items))
        answers = list(answers or [])
        if answers and answers[0] is not None:
            self.apply_settings(answers[0])
        per_folder = {}
        for folder, raw in zip(folders, answers[1:]):
            if raw is not None:
                settings, problems = ClientSettings.from_json(raw)
                for problem in problems:
                    self.warn(f"epochlint: ignoring a client setting for {folder}: {problem}")
                per_folder[folder] = settings
        self.configs.per_folder = per_folder
        self.recheck_all()

    # ------------------------------------------------------------------ code actions
    async def checked_now(self, entry: Entry) -> Optional[checking.Checked]:
        """The entry's check for its current content (checked again if it changed since)."""
        snap = self.snapshot(entry)
        if snap is None:
            return None
        if entry.checked is not None and entry.checked.snapshot == snap:
            return entry.checked
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.checker, self._check, snap, self.encoding)

    async def fix_all_edits(self, entry: Entry) -> list:
        checked = await self.checked_now(entry)
        if checked is None:
            return []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.checker, actions.fix_all_edits, checked, self.encoding)
