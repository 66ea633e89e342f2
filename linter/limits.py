"""Per-file bounds: no file can hang a run or take it down with the OOM killer.

Three steps, cheapest first, all before (or around) libcst's parse of a file:

1. `may_fire(text)`: a regex pre-scan. Every rule looks at a call, an attribute, a loop, a
   `with`, a definition or a decorator, and EPL900 at a `noqa` comment; a file with none of them
   outside its import lines (a module of data literals: `x = [1, 2, 3]` many times over) cannot
   produce a finding, so it is skipped without a libcst parse, like a file that never names
   Keras (below SYNTAX_CHECK_BELOW, CPython's own compiler still looks for a syntax error,
   which is EPL000).
2. `predicted_too_large(text)`: libcst's tree costs about BYTES_PER_TOKEN bytes per token
   (measured: 1.0-2.5 KB/token on stdlib modules and dense generated files); a file whose tokens
   alone would need more than the memory limit is refused at once (EPL000 `too-large`).
3. `bounded(...)`: a file of GUARD_FROM_BYTES (256 KiB) or more is checked in a forked child with an
   address-space limit (current size + the memory limit) and a wall-clock deadline; past either,
   the child is killed and the file gets EPL000 `too-large` naming the limit and its size. The
   same code runs in pool workers and in-process. Smaller files (every real training script)
   run directly: no fork.

Limits are process-wide (`configure`, from `--max-seconds` / `--max-memory`), inherited by forked
workers. `die_with_parent()` makes a worker (and a guard child) die when its parent dies
(Linux PR_SET_PDEATHSIG), so a CI timeout's SIGKILL of `epochlint` leaves no orphan parsing on.
"""
from __future__ import annotations

import os
import re
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import Optional

DEFAULT_MAX_SECONDS = 50.0  # with start-up and the pre-scan, a file at the limit ends within a minute
DEFAULT_MAX_MEMORY = 2 << 30  # 2 GiB
# Below this a file is checked directly: its parse takes seconds and a few hundred MiB at most
# (measured on keras/src: a guard per 64 KiB file cost +11% CPU over 770 files; at 256 KiB, none)
GUARD_FROM_BYTES = 256 * 1024
PREDICT_FROM_BYTES = 128 * 1024
SYNTAX_CHECK_BELOW = 1 << 20  # a skipped file below this is still compiled, for EPL000
BYTES_PER_TOKEN = 2600

_TOKEN = re.compile(r"\w+|[^\w\s]")
_COMMENT = re.compile(r"#[^\n]*")  # comments are trivia in libcst's tree: not counted
# import statements (one line, unparenthesised) say nothing a rule looks at
_IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+[\w., \t]+$", re.MULTILINE)
# a call or attribute (`name(` `name.` `)(` `].`), a loop, with, def, class, lambda, a decorator, noqa
_INTERESTING = re.compile(
    r"(?<![\d.\w])[A-Za-z_]\w*[ \t]*(?:\\\r?\n[ \t]*)?[.(]|[)\]}][ \t]*[.(]"
    r"|\b(?:for|while|with|def|class|lambda|async|await)\b|@|noqa"
)


@dataclass(frozen=True)
class Limits:
    seconds: float = DEFAULT_MAX_SECONDS
    memory: int = DEFAULT_MAX_MEMORY


_limits = Limits()


def configure(seconds: Optional[float] = None, memory: Optional[int] = None) -> Limits:
    global _limits
    _limits = Limits(seconds if seconds is not None else _limits.seconds, memory if memory is not None else _limits.memory)
    return _limits


def current() -> Limits:
    return _limits


# --------------------------------------------------------------------------- 1. pre-scan
KERAS_HINT = re.compile(r"keras|tensorflow")  # the engine's pre-check (a file naming neither is skipped)


def needs_parse(text: str, related: bool = False) -> bool:
    """Would the engine parse this text? A file that mentions keras/tensorflow, or imports a
    project module that does (`related`), when a rule could fire in it (`may_fire`); any other
    file only when CPython cannot compile it (its syntax error is EPL000, checked or not)."""
    if related or KERAS_HINT.search(text) is not None:
        return may_fire(text)
    return len(text) < SYNTAX_CHECK_BELOW and not _compiles(text)


def may_fire(text: str) -> bool:
    """Could any rule report anything in this text (EPL000 for a syntax error included)? False
    only when it certainly cannot; a file above SYNTAX_CHECK_BELOW is not compiled for that."""
    if _INTERESTING.search(text) is not None and _INTERESTING.search(_IMPORT_LINE.sub("", text)) is not None:
        return True
    return len(text) < SYNTAX_CHECK_BELOW and not _compiles(text)


def _compiles(text: str) -> bool:
    """Does CPython compile it (its parser and compiler: "too many statically nested blocks" is
    the compiler's)? Milliseconds for a small file."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, "<epochlint-prescan>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# --------------------------------------------------------------------------- 2. prediction
def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def predicted_too_large(text: str, limits: Optional[Limits] = None) -> Optional[str]:
    """The EPL000 message when parsing `text` would need more than the memory limit, else None."""
    limits = limits or _limits
    if len(text) < PREDICT_FROM_BYTES or len(text) * BYTES_PER_TOKEN <= limits.memory:
        return None  # fewer tokens than characters: cannot be over (no need to count them)
    tokens = sum(1 for _ in _TOKEN.finditer(_COMMENT.sub("", text)))
    need = tokens * BYTES_PER_TOKEN
    if need <= limits.memory:
        return None
    return (
        f"file too large to check: {_size(len(text.encode('utf-8', 'replace')))}, {tokens:,} tokens would need about "
        f"{_size(need)} to parse, over the {_size(limits.memory)} limit (--max-memory)"
    )


# --------------------------------------------------------------------------- 3. the guard
def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _vm_size() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(extra: int) -> None:
    try:
        import resource

        base = _vm_size()
        if base:
            limit = base + extra
            resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (ImportError, ValueError, OSError):
        pass


def _child(write_fd: int, fn, args, prepare) -> None:
    """In the forked child: `prepare()`, then run `fn(*args)` under the memory limit and send
    back the result. The limit is address space on top of what the child has once prepared:
    `prepare` reserves what `fn` would otherwise reserve under the limit without using it (the
    big-stack thread's 1 GiB stack), or a file would get about 1 GiB less than it is allowed."""
    try:
        die_with_parent()
        try:  # an allocation failure in libcst's native parser aborts with a Rust backtrace on
            devnull = os.open(os.devnull, os.O_WRONLY)  # stderr: the parent reports EPL000 instead
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            pass
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
        try:
            import faulthandler

            faulthandler.disable()  # an allocation abort at the limit is expected, not a crash to dump
        except (ImportError, RuntimeError):
            pass
        if prepare is not None:
            prepare()
        import pickle  # here and in `bounded`: only a guarded (big) file needs it

        _limit_memory(_limits.memory)
        try:
            result = fn(*args)
            for f in result.findings:
                f.node_fix = None  # libcst nodes stay here
            payload = pickle.dumps(("ok", result))
        except MemoryError:
            payload = pickle.dumps(("memory", None))
        except Exception as exc:
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
        view = memoryview(payload)
        while view:
            n = os.write(write_fd, view)
            view = view[n:]
    except BaseException:
        os._exit(3)
    os._exit(0)


class TooLarge(Exception):
    """The file is over a limit; the message (for EPL000 too-large) names the limit and the size."""


def bounded(source, fn, *args, prepare=None):
    """`fn(*args)` (which checks `source`, returning a FileResult) within the per-file limits;
    raises TooLarge past one. `prepare()` runs in the guarded child before the limit is set
    (see `_child`)."""
    limits = _limits
    text = source.text
    message = predicted_too_large(text, limits)
    if message is not None:
        raise TooLarge(message)
    size = len(text)
    if size < GUARD_FROM_BYTES or not hasattr(os, "fork"):
        return fn(*args)
    shown = _size(len(text.encode("utf-8", "replace")))
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        _child(write_fd, fn, args, prepare)
    os.close(write_fd)
    chunks: list[bytes] = []
    timed_out = False
    try:
        deadline = time.monotonic() + limits.seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], min(left, 1.0))
            if ready:
                data = os.read(read_fd, 1 << 20)
                if not data:
                    break
                chunks.append(data)
    finally:
        os.close(read_fd)
        if timed_out or not chunks:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise TooLarge(f"file too large to check: {shown} took over the {limits.seconds:g} s limit (--max-seconds)")
    if chunks:
        import pickle

        kind, result = pickle.loads(b"".join(chunks))
        if kind == "ok":
            return result
        if kind == "error":
            raise RuntimeError(f"the check of this file failed: {result}")
    elif not (os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGKILL, signal.SIGABRT)):
        # no answer and not killed for memory (the kernel's OOM kill, an allocation abort)
        raise RuntimeError(f"the check of this file crashed (wait status {status})")
    raise TooLarge(f"file too large to check: this {shown} file needed more than the {_size(limits.memory)} memory limit (--max-memory)")
