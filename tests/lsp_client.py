"""A small JSON-RPC client that drives `epochlint server` over stdio, as an editor would.

Used by tests/test_server*.py and bench/server.py: the real server in a subprocess, messages
framed with `Content-Length` headers, a reader thread collecting responses and notifications.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent


class LspError(Exception):
    def __init__(self, error: dict) -> None:
        super().__init__(error.get("message"))
        self.error = error


class LspClient:
    def __init__(self, args: Optional[list[str]] = None, env: Optional[dict] = None, cwd: Optional[str] = None,
                 command: Optional[list[str]] = None) -> None:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            command or [sys.executable, "-m", "epochlint", "server", *(args or [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, cwd=cwd or str(ROOT),
        )
        self._next_id = 0
        self.answers: dict[str, Callable[[Any], Any]] = {}  # server -> client requests we answer
        self._responses: dict[Any, dict] = {}
        self.notifications: list[dict] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr: list[bytes] = []
        threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True).start()

    # ------------------------------------------------------------------ wire
    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = out.read(length or 0)
            msg = json.loads(body)
            with self._cond:
                if "id" in msg and "method" not in msg:
                    self._responses[msg["id"]] = msg
                elif "id" in msg:  # a request from the server: `answers[method](params)`, else null
                    answer = self.answers.get(msg["method"])
                    result = answer(msg.get("params")) if answer else None
                    self.send_raw(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}).encode())
                    self.notifications.append(msg)
                else:
                    self.notifications.append(msg)
                self._cond.notify_all()

    def send_raw(self, body: bytes) -> None:
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def send(self, msg: dict) -> None:
        self.send_raw(json.dumps({"jsonrpc": "2.0", **msg}).encode("utf-8"))

    # ------------------------------------------------------------------ API
    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        msg_id = self.request_async(method, params)
        return self.response(msg_id, timeout)

    def request_async(self, method: str, params: Any = None) -> int:
        self._next_id += 1
        self.send({"id": self._next_id, "method": method, "params": params})
        return self._next_id

    def response(self, msg_id: Any, timeout: float = 30.0, raw: bool = False) -> Any:
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no response to request {msg_id}; stderr: {self.stderr()[-2000:]}")
                self._cond.wait(left)
            msg = self._responses.pop(msg_id)
        if raw:
            return msg
        if "error" in msg:
            raise LspError(msg["error"])
        return msg.get("result")

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, "params": params})

    def wait_for(self, method: str, predicate: Callable[[dict], bool] = lambda p: True, timeout: float = 30.0, after: int = 0) -> dict:
        """The params of the first notification `method` (from index `after`) that satisfies
        `predicate`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.notifications[after:]:
                    if msg.get("method") == method and predicate(msg.get("params")):
                        return msg["params"]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no {method} notification; stderr: {self.stderr()[-2000:]}")
                self._cond.wait(left)

    def mark(self) -> int:
        with self._cond:
            return len(self.notifications)

    def diagnostics(self, uri: str, after: int = 0, timeout: float = 30.0, predicate: Callable[[list], bool] = lambda d: True) -> list:
        params = self.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri and predicate(p["diagnostics"]), timeout, after)
        return params["diagnostics"]

    def initialize(self, root: Optional[Path] = None, options: Any = None, capabilities: Optional[dict] = None) -> dict:
        caps = capabilities if capabilities is not None else {
            "textDocument": {
                "publishDiagnostics": {"dataSupport": True},
                "codeAction": {"codeActionLiteralSupport": {"codeActionKind": {"valueSet": ["quickfix", "source"]}}},
                "hover": {"contentFormat": ["markdown"]},
            },
            "notebookDocument": {"synchronization": {}},
            "workspace": {"configuration": False},
        }
        params = {"processId": os.getpid(), "capabilities": caps, "initializationOptions": options}
        if root is not None:
            params["rootUri"] = root.as_uri()
            params["workspaceFolders"] = [{"uri": root.as_uri(), "name": root.name}]
        result = self.request("initialize", params)
        self.notify("initialized", {})
        return result

    def stderr(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def close(self) -> Optional[int]:
        if self.proc.poll() is None:
            try:
                self.request("shutdown", None, timeout=10)
                self.notify("exit", None)
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except Exception:
                pass
        return self.proc.returncode


def _offset(text: str, position: dict) -> int:
    """The string offset of an LSP position (UTF-16 columns) in `text`."""
    import re

    starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    line = position["line"]
    if line >= len(starts):
        return len(text)
    start = starts[line]
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    units = 0
    at = start
    while at < end and units < position["character"]:
        units += 2 if ord(text[at]) > 0xFFFF else 1
        at += 1
    return at


def apply_edits(text: str, edits: list[dict]) -> str:
    """`text` with LSP TextEdits applied (as an editor applies a WorkspaceEdit)."""
    spans = sorted(((_offset(text, e["range"]["start"]), _offset(text, e["range"]["end"]), e["newText"]) for e in edits), reverse=True)
    for a, b, new in spans:
        text = text[:a] + new + text[b:]
    return text
