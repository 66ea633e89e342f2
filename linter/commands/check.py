"""`epochlint check`: settings -> files -> engine -> (baseline) -> report -> exit code."""
from __future__ import annotations

import os
import sys
import time

from linter.config import ConfigError, Settings, resolve_settings, split_codes, validate_codes
from linter.discovery import FileFinder
from linter.commands import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from linter.report import RunResult, render


def _settings(args) -> Settings:
    paths = args.paths or ["."]
    settings = resolve_settings(args.config, paths)
    if args.select:
        settings.select = validate_codes(split_codes(args.select), "--select")
        settings.extend_select = ()
    if args.extend_select:
        settings.extend_select = settings.extend_select + validate_codes(split_codes(args.extend_select), "--extend-select")
    if args.ignore:
        settings.ignore = settings.ignore + validate_codes(split_codes(args.ignore), "--ignore")
    if args.strict:
        settings.strict = True
    return settings


def run_check(args) -> int:
    started = time.perf_counter()
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"epochlint: config error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if (args.max_seconds is not None and args.max_seconds <= 0) or (args.max_memory is not None and args.max_memory < 1):
        print("epochlint: error: --max-seconds and --max-memory must be positive", file=sys.stderr)
        return EXIT_ERROR
    seconds = args.max_seconds if args.max_seconds is not None else settings.max_seconds
    memory = args.max_memory if args.max_memory is not None else settings.max_memory_mib
    if seconds is not None or memory is not None:  # flags win over [tool.epochlint] max-seconds / max-memory
        from linter import limits

        limits.configure(seconds, memory << 20 if memory is not None else None)
    if args.jobs is not None and args.jobs < 1:
        print("epochlint: error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    if getattr(args, "fix_only", False):  # ruff's --fix-only: fix, report only the fixes, exit 0
        args.fix = True
        args.exit_zero = True
    paths = args.paths or ["."]
    if args.statistics and args.format not in ("text", "concise", "json"):
        print(f"epochlint: error: --statistics works with --format text, concise or json, not {args.format}", file=sys.stderr)
        return EXIT_ERROR
    if "-" in paths and len(paths) > 1 and args.fix and not args.diff:
        print('epochlint: error: --fix with "-" writes the fixed stdin to stdout: do not mix "-" with paths', file=sys.stderr)
        return EXIT_ERROR
    finder = None
    if paths != ["-"]:  # files that need no parse need neither libcst nor the engine (pre-commit's usual case)
        finder = FileFinder(settings.exclude, settings.root, args.force_exclude)
        candidates = list(finder.find([p for p in paths if p != "-"]))
        quick = None if "-" in paths or any(c.error for c in candidates) else _prescan_only([c.path for c in candidates], settings)
    else:
        quick = None
    if quick is None:
        from linter import runner

        mode = runner.FixMode(fix=args.fix, unsafe=args.unsafe_fixes, diff=args.diff)

    if quick is not None:
        outcomes = quick
        for warning in finder.warnings:
            from linter.report.escape import terminal

            print(f"epochlint: warning: {terminal(warning)}", file=sys.stderr)
    elif paths == ["-"]:
        outcomes = [runner.check_stdin(args.stdin_filename or "-", settings, mode)]
        if args.fix and not args.diff and outcomes[0].new_bytes is not None:
            sys.stdout.buffer.write(outcomes[0].new_bytes)
            sys.stdout.flush()
    else:
        files = []
        outcomes = []
        if "-" in paths:  # stdin beside files: one more file, named by --stdin-filename
            outcomes.append(runner.check_stdin(args.stdin_filename or "-", settings, mode))
            paths = [p for p in paths if p != "-"]
        for cand in candidates:
            if cand.error:
                outcomes.append(runner.FileOutcome(runner.unreadable(cand.path, cand.error, settings.enabled_codes(cand.path))))
            else:
                files.append(cand.path)
        for warning in finder.warnings:  # as ruff does: an unreadable folder is not silently skipped
            from linter.report.escape import terminal

            print(f"epochlint: warning: {terminal(warning)}", file=sys.stderr)
        outcomes.extend(_run(files, settings, mode, args))
        outcomes.sort(key=lambda o: o.result.path)

    findings = sorted((f for o in outcomes for f in o.result.findings), key=lambda f: f.sort_key())
    if not args.verbose:  # internal-error tracebacks are shown under --verbose only (CLI.md)
        for f in findings:
            f.detail = None
    checked = sum(1 for o in outcomes if not o.result.skipped)
    skipped = sum(1 for o in outcomes if o.result.skipped)
    if not outcomes:  # like ruff: a CI step pointed at the wrong folder must not pass silently
        print("warning: No Python files found under the given path(s)", file=sys.stderr)
    if finder is not None and args.verbose:
        for path, why in finder.skipped_named:
            print(f"epochlint: skipped {path}: {why}", file=sys.stderr)
    baseline_note = ""

    if args.write_baseline or args.baseline:
        from linter import baseline

        lines_by_path = {o.result.path: o.lines for o in outcomes}
        try:
            if args.write_baseline:
                recorded = baseline.write(args.write_baseline, findings, lines_by_path)
                print(f"epochlint: recorded {recorded} finding{'s' if recorded != 1 else ''} in {args.write_baseline}", file=sys.stderr)
                baseline_note = f"Recorded {recorded} finding{'s' if recorded != 1 else ''} in the baseline {args.write_baseline}."
            # what the baseline records is not reported (so --write-baseline alone exits 0)
            compared = baseline.compare(args.baseline or args.write_baseline, findings, lines_by_path)
            findings = compared.new
            if args.baseline and compared.known and not baseline_note:
                n = len(compared.known)
                baseline_note = f"{n} known finding{'s' if n != 1 else ''} hidden by the baseline {args.baseline}."
            if args.verbose and args.baseline:
                print(f"epochlint: baseline {args.baseline}: {len(compared.known)} known finding(s) hidden, {len(compared.gone)} fixed since it was written", file=sys.stderr)
        except baseline.BaselineError as exc:
            print(f"epochlint: baseline error: {exc}", file=sys.stderr)
            return EXIT_ERROR

    result = RunResult(
        findings=findings,
        files_checked=checked,
        files_skipped=skipped,
        fixed=sum(o.fixed for o in outcomes),
        lines={o.result.path: o.lines for o in outcomes if o.lines},
        statistics=args.statistics,
        color=args.output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ and args.format == "text",
        unsafe_fixes=args.unsafe_fixes,
        show_fixes=args.show_fixes,
        fixed_by_path={o.result.path: o.fixed for o in outcomes if o.fixed},
        baseline_note=baseline_note,
    )
    if args.diff:
        diffs = "".join(o.diff for o in outcomes)
        # a patch names files by their bytes (a non-UTF-8 name included), whatever the locale
        sys.stdout.flush()
        sys.stdout.buffer.write(diffs.encode(sys.stdout.encoding or "utf-8", "surrogateescape"))
        sys.stdout.flush()
        if args.verbose:
            print(f"epochlint: {checked} checked, {skipped} skipped", file=sys.stderr)
        return EXIT_FINDINGS if diffs and not args.exit_zero else EXIT_OK
    report = _fix_only_report(result) if getattr(args, "fix_only", False) else render(args.format, result)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(report)
        except OSError as exc:
            print(f"epochlint: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_ERROR
    elif not (paths == ["-"] and args.fix):
        sys.stdout.write(report)
    else:
        sys.stderr.write(report)
    if args.verbose:
        for o in outcomes:
            if o.result.skipped:
                why = getattr(o.result, "reason", "") or "no keras/tensorflow mention"
                print(f"epochlint: skipped {o.result.path} ({why})", file=sys.stderr)
        print(f"epochlint: {checked} files checked, {skipped} skipped in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    if findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _fix_only_report(result: RunResult) -> str:
    """`--fix-only` (the `epochlint-fix` pre-commit hook): what was fixed, not the findings, which
    the `epochlint` hook reports (each finding once). pre-commit fails a hook that changed files."""
    out = []
    if result.fixed:
        out.append(f"Fixed {result.fixed} finding{'s' if result.fixed != 1 else ''}:")
        out.extend(f"- {path}: {k} fix{'es' if k != 1 else ''} applied" for path, k in sorted(result.fixed_by_path.items()))
    return "".join(line + "\n" for line in out)


PRESCAN_ONLY_UP_TO = 64  # files: a pre-commit hook's batch, not a tree


def _prescan_only(files: list[str], settings: Settings) -> "list | None":
    """Outcomes (all skipped) when no file needs a parse, else None: then the engine runs as usual.
    Only plain .py files that decode; anything else (a notebook, EPL000) takes the full path.
    A file that imports a project module mentioning keras/tensorflow needs a parse (its
    imports are scanned and resolved, not parsed: linter.project.index)."""
    from types import SimpleNamespace

    from linter import limits
    from linter.source import UnreadableSource, decode_python, read_bytes

    if len(files) > PRESCAN_ONLY_UP_TO or not all(f.endswith(".py") for f in files):
        return None
    outcomes = []
    for path in files:
        try:
            data = read_bytes(path)
            source = decode_python(data, path)
        except (UnreadableSource, OSError):
            return None
        related = _imports_keras(path, data, source.text, settings)
        if limits.needs_parse(source.text, related):
            return None
        reason = "nothing in it that any rule looks at" if related else "no keras/tensorflow mention in it or in the project modules it imports"
        result = SimpleNamespace(path=path, findings=[], skipped=True, reason=reason)
        outcomes.append(SimpleNamespace(result=result, lines=None, fixed=0, diff="", new_bytes=None))
    return outcomes


def limits_hint(text: str) -> bool:
    from linter.limits import KERAS_HINT

    return KERAS_HINT.search(text) is not None


def _imports_keras(path: str, data: bytes, text: str, settings: Settings) -> bool:
    """Does `path` or a project module it imports (transitively) mention keras or tensorflow?"""
    if "import" not in text or limits_hint(text):
        return limits_hint(text)
    from pathlib import Path

    from linter.project.index import ProjectIndex, begin_run, load

    begin_run()
    config_root = Path(settings.root) if settings.source is not None else None
    return ProjectIndex.for_path(path, config_root).reaches_keras(os.path.abspath(path), data, text, load)


def _run(files: list[str], settings: Settings, mode, args) -> list:
    from linter import parallel

    return parallel.check_files(files, settings, mode, jobs=args.jobs, use_cache=not args.no_cache)
