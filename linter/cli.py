"""The `epochlint` command: `check`, `verify`, `rules`, `explain`, `server` (see CLI.md).

Exit codes: 0 no findings, 1 findings remain, 2 usage/config/internal error.
"""
from __future__ import annotations

import argparse
import atexit
import gc
import os
import sys
from typing import Optional, Sequence

from linter import __version__
from linter.commands import EXIT_ERROR


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors are exit 2, like argparse, with our prefix
        self.print_usage(sys.stderr)
        print(f"epochlint: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def build_parser() -> argparse.ArgumentParser:
    from linter.report import FORMATS

    p = _Parser(prog="epochlint", description="Find Keras/TensorFlow training code that does not train the way you think.")
    p.add_argument("--version", action="version", version=f"epochlint {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    c = sub.add_parser("check", help="lint files and directories")
    c.add_argument("paths", nargs="*", default=None, metavar="PATH", help='files or directories (default "."); "-" reads stdin')
    c.add_argument("--select", metavar="CODES", help="comma-separated codes or prefixes to enable (replaces the config's)")
    c.add_argument("--ignore", metavar="CODES", help="comma-separated codes or prefixes to disable")
    c.add_argument("--extend-select", metavar="CODES", help="codes or prefixes to enable in addition")
    c.add_argument(
        "--format", "--output-format", dest="format", choices=FORMATS, default="text", metavar="FORMAT",
        help="report format: text (default: the source line and a caret), concise (one line each), json, "
        "sarif (GitHub code scanning), github (workflow annotations)",
    )
    c.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    c.add_argument("--fix", action="store_true", help="apply safe fixes")
    c.add_argument("--unsafe-fixes", action="store_true", help="also apply (or show) unsafe fixes")
    c.add_argument("--fix-only", action="store_true", help="apply fixes and report only what was fixed; exit 0 even when findings remain")
    c.add_argument("--diff", action="store_true", help="print the fixes as a diff; write nothing")
    c.add_argument("--stdin-filename", metavar="NAME", help='path reported (and matched against the config) for "-"')
    c.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    c.add_argument("--statistics", action="store_true", help="count findings per rule, with a total (text, concise, json)")
    c.add_argument("--show-fixes", action="store_true", help="list the fixes: applied per file with --fix, else each finding's fix")
    c.add_argument("--max-seconds", type=float, default=None, metavar="S", help="per-file time limit in seconds (default 50): past it the file is EPL000 too-large")
    c.add_argument("--max-memory", type=int, default=None, metavar="MIB", help="per-file memory limit in MiB (default 2048): past it the file is EPL000 too-large")
    c.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes (default: CPUs; 1 = in-process)")
    c.add_argument("--no-cache", action="store_true", help="do not read or write .epochlint_cache/")
    c.add_argument("--strict", action="store_true", default=None, help="model rules also fire on receivers of unknown type")
    c.add_argument("--config", metavar="FILE", help="pyproject.toml / epochlint.toml to use instead of discovery")
    c.add_argument("--write-baseline", metavar="FILE", help="record the current findings in FILE")
    c.add_argument("--baseline", metavar="FILE", help="report only findings not recorded in FILE")
    c.add_argument("--force-exclude", action="store_true", help="apply `exclude` to files named on the command line too")
    c.add_argument("--verbose", action="store_true", help="timings, skipped files, internal-error tracebacks")

    v = sub.add_parser("verify", help="prove every rule's claim on the installed TensorFlow/Keras", add_help=False)
    v.add_argument("rest", nargs=argparse.REMAINDER)

    t = sub.add_parser("trace", help="RUN a training script instrumented and confirm findings on it (executes it)", add_help=False)
    t.add_argument("rest", nargs=argparse.REMAINDER)

    r = sub.add_parser("rules", help="list the rules")
    r.add_argument("--format", choices=("text", "json"), default="text")

    e = sub.add_parser("explain", help="show a rule's documentation and its witness evidence")
    e.add_argument("code", metavar="CODE")

    s = sub.add_parser("server", help="language server (LSP over stdio) for editors; needs the `server` extra")
    s.add_argument("--debounce-ms", type=float, default=None, metavar="MS", help="quiet time after a change before checking (default 100)")
    return p


_EXIT_FREEZE_REGISTERED = False


def _skip_collections_at_exit() -> None:
    """At exit CPython collects garbage over the whole heap, several times while it tears the
    modules down: with libcst's thousands of classes loaded, that was ~4% of a one-file `check`
    (measured with callgrind, bench/startup.py). What is still alive then is moved out of the
    collector's sight (gc.freeze) by an atexit handler; atexit handlers, flushing and module
    teardown still run, and nothing here relies on a finalizer of a garbage cycle at exit."""
    global _EXIT_FREEZE_REGISTERED
    if not _EXIT_FREEZE_REGISTERED:
        atexit.register(gc.freeze)
        _EXIT_FREEZE_REGISTERED = True


def main(argv: Optional[Sequence[str]] = None) -> int:
    _skip_collections_at_exit()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "verify":
        return _verify(argv[1:])
    if argv and argv[0] == "trace":
        return _trace(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            from linter.commands.check import run_check

            return run_check(args)
        if args.command == "rules":
            from linter.commands.rules import run_rules

            return run_rules(args)
        if args.command == "explain":
            from linter.commands.rules import run_explain

            return run_explain(args)
        if args.command == "server":
            from linter.server import run_server

            return run_server(args)
    except BrokenPipeError:
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    parser.print_help(sys.stderr)
    return EXIT_ERROR


def _runtime(command: str, module: str, argv: list[str]) -> int:
    """`verify` / `trace`: the runtime half, imported only when asked for (it needs TensorFlow)."""
    import importlib

    try:
        entry = importlib.import_module(module).main
    except ImportError as exc:
        print(f"epochlint {command}: the runtime half is not available ({exc}). Install it with: pip install 'epochlint[runtime]'", file=sys.stderr)
        return EXIT_ERROR
    return entry(argv)


def _verify(argv: list[str]) -> int:
    return _runtime("verify", "runtime_check.cli", argv)


def _trace(argv: list[str]) -> int:
    return _runtime("trace", "runtime_check.trace.cli", argv)


if __name__ == "__main__":
    raise SystemExit(main())
