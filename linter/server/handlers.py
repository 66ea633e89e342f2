"""The LSP handlers of `epochlint server`, registered on an `EpochlintServer`.

One function per message: documents (`textDocument/*`, `notebookDocument/*`), configuration
(`workspace/didChangeConfiguration`, `didChangeWatchedFiles`, `didChangeWorkspaceFolders`), code
actions (`textDocument/codeAction`, `codeAction/resolve`), hover and shutdown. Each is wrapped by
`guarded`: an exception is logged and the request answered with nothing, never raised into
pygls. The work itself lives in the server (linter.server.protocol) and the modules it uses.
"""
from __future__ import annotations

import asyncio
import functools
import traceback
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import unquote

from lsprotocol import types

from linter.server import actions, hover
from linter.server.documents import Entry
from linter.server.protocol import DEBOUNCE_SECONDS, EpochlintServer, is_config, is_python, path_of
from linter.server.settings import CONFIG_NAMES


def guarded(default: Any = None) -> Callable:
    """A handler that logs its exception and answers `default` instead of failing."""

    def wrap(fn: Callable) -> Callable:
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(ls: EpochlintServer, params: Any) -> Any:
                try:
                    return await fn(ls, params)
                except Exception:
                    ls.log_message(f"epochlint: {fn.__name__} failed:\n{traceback.format_exc()}", types.MessageType.Error)
                    return default

            return run_async

        @functools.wraps(fn)
        def run(ls: EpochlintServer, params: Any) -> Any:
            try:
                return fn(ls, params)
            except Exception:
                ls.log_message(f"epochlint: {fn.__name__} failed:\n{traceback.format_exc()}", types.MessageType.Error)
                return default

        return run

    return wrap


def create_server(debounce: float = DEBOUNCE_SECONDS) -> EpochlintServer:
    ls = EpochlintServer(debounce)

    @ls.feature(types.INITIALIZE)
    @guarded()
    def initialize(ls: EpochlintServer, params: types.InitializeParams) -> None:
        folders = [f.uri for f in params.workspace_folders or []] or ([params.root_uri] if params.root_uri else [])
        ls.configs.folders = [p for p in (path_of(u) for u in folders) if p]
        ls.configs.folders = [Path(p) for p in ls.configs.folders]
        ls.apply_settings(params.initialization_options)
        caps = params.capabilities.text_document.code_action if params.capabilities.text_document else None
        resolve = caps.resolve_support if caps else None
        ls.resolve_support = bool(resolve and "edit" in (resolve.properties or []))

    @ls.feature(types.INITIALIZED)
    @guarded()
    async def initialized(ls: EpochlintServer, params: types.InitializedParams) -> None:
        ws = ls.client_capabilities.workspace
        watched = ws.did_change_watched_files if ws else None
        if watched and watched.dynamic_registration:
            watchers = [types.FileSystemWatcher(glob_pattern=f"**/{name}") for name in CONFIG_NAMES]
            watchers.append(types.FileSystemWatcher(glob_pattern="**/*.py"))
            ls.client_register_capability(types.RegistrationParams(registrations=[
                types.Registration(id="epochlint-watch", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                   register_options=types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers))
            ]))
        await ls.pull_settings()

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded()
    def did_open(ls: EpochlintServer, params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        if not is_python(doc.uri, doc.language_id):
            return
        ls.changed(ls.store.open(doc.uri, path_of(doc.uri)), 0.0)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded()
    def did_change(ls: EpochlintServer, params: types.DidChangeTextDocumentParams) -> None:
        entry = ls.store.entries.get(params.text_document.uri)
        if entry is not None and not entry.notebook:
            ls.changed(entry, ls.debounce)

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @guarded()
    def did_save(ls: EpochlintServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        if is_config(uri):
            ls.configs.invalidate()
            ls.recheck_all()
            return
        entry = ls.store.entries.get(uri)
        if entry is not None:
            ls.changed(entry, 0.0, dependents=True)
        elif path_of(uri):  # a module saved that is not checked here: whoever imports it
            for dependent in ls.store.dependents(Entry(uri, path_of(uri))):
                ls.schedule(dependent, ls.debounce)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded()
    def did_close(ls: EpochlintServer, params: types.DidCloseTextDocumentParams) -> None:
        entry = ls.store.close(params.text_document.uri)
        if entry is not None:
            ls.clear(entry)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    @guarded()
    def notebook_open(ls: EpochlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        nb = params.notebook_document
        entry = ls.store.open(nb.uri, path_of(nb.uri), notebook=True)
        ls.store.set_cells(nb.uri, (c.document for c in nb.cells))
        ls.changed(entry, 0.0)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    @guarded()
    def notebook_change(ls: EpochlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        entry = ls.store.entries.get(params.notebook_document.uri)
        if entry is not None:
            ls.changed(entry, ls.debounce)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    @guarded()
    def notebook_save(ls: EpochlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        entry = ls.store.entries.get(params.notebook_document.uri)
        if entry is not None:
            ls.schedule(entry, 0.0, force=False)

    @ls.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    @guarded()
    def notebook_close(ls: EpochlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        entry = ls.store.close(params.notebook_document.uri)
        if entry is not None:
            ls.clear(entry)

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded()
    async def did_change_configuration(ls: EpochlintServer, params: types.DidChangeConfigurationParams) -> None:
        if params.settings:  # pushed settings; an empty push means "ask" (VS Code's clients)
            ls.apply_settings(params.settings)
        ls.configs.invalidate()
        ls.recheck_all()
        await ls.pull_settings()

    @ls.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    @guarded()
    def did_change_watched_files(ls: EpochlintServer, params: types.DidChangeWatchedFilesParams) -> None:
        if any(is_config(change.uri) for change in params.changes):
            ls.configs.invalidate()
            ls.recheck_all()
            return
        for change in params.changes:  # a module changed on disk: whoever imports it
            path = path_of(change.uri)
            if path:
                probe = Entry(change.uri, path)
                for dependent in ls.store.dependents(probe):
                    ls.schedule(dependent, ls.debounce)

    @ls.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    @guarded()
    def did_change_folders(ls: EpochlintServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        folders = [Path(p) for p in (path_of(u) for u in ls.workspace.folders) if p]
        ls.configs.folders = folders
        ls.configs.invalidate()
        ls.recheck_all()

    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, actions.FIX_ALL_KIND], resolve_provider=True),
    )
    @guarded()
    async def code_action(ls: EpochlintServer, params: types.CodeActionParams) -> Optional[list]:
        uri = params.text_document.uri
        entry = ls.store.entry_for(uri)
        if entry is None:
            return None
        only = params.context.only
        out: list = []
        if actions.wants(only, types.CodeActionKind.QuickFix):
            version = ls.current_version(uri)
            published = entry.published.get(uri, [])
            requested = []
            for d in actions.our_diagnostics(params.context.diagnostics):
                data = d.data if isinstance(d.data, dict) else None
                if data is None:  # a client that does not send `data` back: ours, by code and range
                    d = next((p for p in published if p.code == d.code and p.range == d.range), d)
                    data = d.data if isinstance(d.data, dict) else None
                if data is not None and data.get("version") != version and data.get("fix"):
                    d = types.Diagnostic(range=d.range, message=d.message, code=d.code, source=d.source,
                                         data={**data, "fix": None})  # stale edits are not offered
                requested.append(d)
            doc = ls.workspace.text_documents.get(unquote(uri))
            out += actions.quick_actions(requested, uri, lambda: doc.source if doc is not None else None, ls.encoding)
        if actions.wants(only, actions.FIX_ALL_KIND) and entry.checked is not None:
            if any(f.fix is not None and f.fix.applicability == "safe" for f in entry.checked.findings):
                if ls.resolve_support:
                    out.append(actions.fix_all_action(None, {"uri": entry.uri}))
                else:
                    edits = await ls.fix_all_edits(entry)
                    if edits:
                        out.append(actions.fix_all_action(edits))
        return out or None

    @ls.feature(types.CODE_ACTION_RESOLVE)
    @guarded()
    async def code_action_resolve(ls: EpochlintServer, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        entry = ls.store.entry_for(str(data.get("uri", "")))
        if action.kind == actions.FIX_ALL_KIND and entry is not None and action.edit is None:
            action.edit = actions.workspace_edit(await ls.fix_all_edits(entry))
        return action

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded()
    def on_hover(ls: EpochlintServer, params: types.HoverParams) -> Optional[types.Hover]:
        entry = ls.store.entry_for(params.text_document.uri)
        if entry is None:
            return None
        return hover.hover(entry.published.get(params.text_document.uri, []), params.position)

    @ls.feature(types.SHUTDOWN)
    @guarded()
    def shutdown(ls: EpochlintServer, params: Any) -> None:
        for entry in ls.store.all():
            if entry.timer is not None:
                entry.timer.cancel()
        ls.checker.shutdown(wait=False, cancel_futures=True)

    return ls
