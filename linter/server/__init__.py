"""`epochlint server`: a language server (LSP over stdio), so findings appear in the editor.

Built on pygls 2 / lsprotocol (the optional `server` extra: `pip install 'epochlint[server]'`);
nothing here is imported by `epochlint check`. The modules, each owning one concern:

    protocol     the pygls server: snapshots of open buffers, debounced checks on one checker
                 thread, publishing, settings pulls
    handlers     the LSP handlers (documents, notebooks, configuration, code actions, hover)
    documents    the store of open documents, their last check and published diagnostics, and
                 the "re-check dependents" hook for a project index
    checking     an editor buffer (or a notebook's cells) -> SourceFile -> the CLI's per-file
                 pipeline (linter.runner), never raising
    layout       checked-text positions -> LSP positions (cells, UTF-16/UTF-8/UTF-32 columns)
    diagnostics  findings -> LSP diagnostics (code, severity, range, href, `data` for actions)
    actions      quick fixes, "fix all safe" (source.fixAll.epochlint), `# noqa: CODE`
    hover        the rule's summary, claim and last measured evidence, as Markdown
    settings     `[tool.epochlint]` discovery per document, client settings on top
    project      the project index (linter.project) for open buffers, when it is installed
"""
from __future__ import annotations

import sys


def run_server(args) -> int:
    """Serve LSP on stdin/stdout until the client says `exit` (exit code 0 after `shutdown`)."""
    try:
        from linter.server.handlers import create_server
    except ImportError as exc:
        print(f"epochlint server: the language server needs pygls and lsprotocol ({exc}). Install them with: pip install 'epochlint[server]'", file=sys.stderr)
        return 2
    debounce = getattr(args, "debounce_ms", None)
    server = create_server() if debounce is None else create_server(debounce / 1000.0)
    # stdout is the protocol's channel: a stray print (a warning, a rule's debug output) would
    # corrupt it, so anything printed goes to stderr, which editors show as the server's log
    channel_in, channel_out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr
    server.start_io(channel_in, channel_out)
    return 0
