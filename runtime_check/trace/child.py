"""The child process of `epochlint trace`: install the hooks, then run the user's script.

Run as `python .../runtime_check/trace/child.py FACTS MAX_STEPS SCRIPT [ARGS...]` by
`runtime_check.trace.run`. The script runs as `python SCRIPT [ARGS...]` would run it:
`__name__ == "__main__"`, `sys.argv == [SCRIPT, *ARGS]`, `sys.path[0]` its directory, the
same environment variables. Facts go to FACTS as JSON lines (facts.Sink); the last ones say
how the script ended: `script_end` with `reason` "finished", "exit" (sys.exit, with its
code), "exception" (uncaught, with the user's line) or "timeout" (SIGTERM from the parent at
--timeout). This process exits with the script's own exit status (1 for an uncaught
exception, like Python), or 124 after a timeout.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import traceback

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Timeout(BaseException):
    """Raised in the script's main thread when the parent's --timeout expires."""


def _user_line(tb, classifier) -> dict:
    """The innermost user frame of a traceback."""
    found = {}
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if classifier.kind(filename) == "user" and "__autograph_generated_file" not in filename:
            found = {"file": os.path.abspath(filename), "line": lineno, "function": frame.f_code.co_name}
    return found


def main(argv: list[str]) -> int:
    facts_path, max_steps, script, *args = argv
    # our own package first while we import it, then the path python SCRIPT would have
    sys.path[0] = _PACKAGE_ROOT
    from runtime_check.trace.facts import Sink
    from runtime_check.trace.hooks import Tracer

    sink = Sink(facts_path)
    script_dir = os.path.dirname(os.path.abspath(script))
    sys.path[0] = script_dir
    state = {"done": False}

    def on_term(signum, frame):
        if state["done"]:  # the script is over; only its threads keep the process alive
            sink.emit("killed", reason="timeout", threads=_alive_threads())
            sink.close()
            os._exit(124)
        raise _Timeout()

    signal.signal(signal.SIGTERM, on_term)
    tracer = Tracer(sink, int(max_steps))
    try:
        info = tracer.install()
    except BaseException as exc:  # noqa: BLE001 - e.g. TensorFlow missing
        sink.emit("install_failed", type=type(exc).__name__, message=str(exc)[:1000])
        sink.close()
        return 3
    sink.emit("start", script=os.path.abspath(script), argv=args, pid=os.getpid(), max_steps=int(max_steps),
              python=sys.version.split()[0], **info)

    import runpy

    sys.argv = [script, *args]
    code, end = 0, {"reason": "finished"}
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        status = exc.code
        code = status if isinstance(status, int) else (0 if status is None else 1)
        if status is not None and not isinstance(status, int):
            print(status, file=sys.stderr)
        end = {"reason": "exit", "code": code}
    except _Timeout:
        code, end = 124, {"reason": "timeout"}
    except BaseException as exc:  # noqa: BLE001 - the script's own crash, reported like Python does
        traceback.print_exc()
        code = 1
        end = {"reason": "exception", "type": type(exc).__name__, "message": str(exc)[:1000],
               **_user_line(exc.__traceback__, tracer.sites.classifier)}
    try:
        signal.signal(signal.SIGTERM, on_term)  # the script may have replaced it
        tracer.finalize()
    except _Timeout:
        pass
    except Exception as exc:  # noqa: BLE001
        sink.emit("internal_warning", where="finalize", message=repr(exc)[:300])
    sink.emit("script_end", threads=_alive_threads(), **end)
    state["done"] = True
    sys.stdout.flush()
    sys.stderr.flush()
    if end["reason"] == "timeout":  # stop now: the script's threads must not keep it running
        sink.close()
        os._exit(code)
    return code


def _alive_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
