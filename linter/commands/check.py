"""`epochlint check`: settings -> files -> engine -> (baseline) -> report -> exit code."""
from __future__ import annotations

import os
import sys
import time

from linter import runner
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
    if args.jobs is not None and args.jobs < 1:
        print("epochlint: error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    if getattr(args, "fix_only", False):  # ruff's --fix-only: fix, report only the fixes, exit 0
        args.fix = True
        args.exit_zero = True
    mode = runner.FixMode(fix=args.fix, unsafe=args.unsafe_fixes, diff=args.diff)
    paths = args.paths or ["."]
    if args.statistics and args.format not in ("text", "concise", "json"):
        print(f"epochlint: error: --statistics works with --format text, concise or json, not {args.format}", file=sys.stderr)
        return EXIT_ERROR
    if "-" in paths and len(paths) > 1 and args.fix and not args.diff:
        print('epochlint: error: --fix with "-" writes the fixed stdin to stdout: do not mix "-" with paths', file=sys.stderr)
        return EXIT_ERROR
    finder = None

    if paths == ["-"]:
        outcomes = [runner.check_stdin(args.stdin_filename or "-", settings, mode)]
        if args.fix and not args.diff and outcomes[0].new_bytes is not None:
            sys.stdout.buffer.write(outcomes[0].new_bytes)
            sys.stdout.flush()
    else:
        finder = FileFinder(settings.exclude, settings.root, args.force_exclude)
        files = []
        outcomes = []
        if "-" in paths:  # stdin beside files: one more file, named by --stdin-filename
            outcomes.append(runner.check_stdin(args.stdin_filename or "-", settings, mode))
            paths = [p for p in paths if p != "-"]
        for cand in finder.find(paths):
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
                print(f"epochlint: skipped {o.result.path} (no keras/tensorflow mention)", file=sys.stderr)
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


def _run(files: list[str], settings: Settings, mode: runner.FixMode, args) -> list[runner.FileOutcome]:
    from linter import parallel

    return parallel.check_files(files, settings, mode, jobs=args.jobs, use_cache=not args.no_cache)
