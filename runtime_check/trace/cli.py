"""`epochlint trace [options] SCRIPT.py [ARGS...]`: run the script instrumented, report per line.

`main(argv) -> int`. This EXECUTES the script, as `python SCRIPT.py ARGS...` would (in a child
Python process); nothing else in epochlint runs checked code. Importing this module imports
neither TensorFlow nor numpy (the child does).

Exit codes (docs/TRACE.md): 0 nothing confirmed and no runtime-only finding, the script
completed; 1 a static finding was confirmed or a runtime-only finding exists (whatever the
script's end); 2 usage error, TensorFlow missing, or trace's own failure; 3 nothing confirmed
but the script did not complete (uncaught exception, sys.exit with a non-zero status, killed,
or stopped by --timeout): the facts so far are reported.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys

INSTALL_HINT = "pip install 'epochlint[runtime]'"
EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INCOMPLETE = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="epochlint trace",
        description="Run SCRIPT.py with Keras/TensorFlow instrumented and report what happened at each line of "
                    "your code (epochs, batches, gradient targets, training flags, traces, optimizers), lined up "
                    "with epochlint's static findings: confirmed, refuted or not reached, plus problems only "
                    "visible at run time. WARNING: this EXECUTES the script, exactly as `python SCRIPT.py ARGS` "
                    "would (its files, network and side effects included).",
        epilog="Exit codes: 0 nothing confirmed; 1 confirmed or runtime-only findings; 2 usage/internal error; "
               "3 the script crashed, exited non-zero or timed out and nothing was confirmed. See docs/TRACE.md.")
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument("--max-steps", type=int, default=5, metavar="N",
                   help="stop each fit() epoch (and each evaluation) after N batches; the number of epochs is "
                        "unchanged (default 5, 0 = no cap). Custom training loops run as written.")
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="stop the script after S seconds and report what ran until then (default 600)")
    p.add_argument("--plot", metavar="DIR", help="write PNG loss curves (per epoch of fit, per step of custom loops)")
    p.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    p.add_argument("--config", metavar="FILE", help="epochlint configuration for the static half (as for check)")
    p.add_argument("--keras2", action="store_true", help="run the script with TF_USE_LEGACY_KERAS=1 (tf_keras)")
    p.add_argument("script", metavar="SCRIPT.py")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments passed to the script")
    return p


def _err(message: str) -> None:
    print(f"epochlint trace: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.max_steps < 0:
        _err("--max-steps must be 0 or more")
        return EXIT_ERROR
    if args.timeout <= 0:
        _err("--timeout must be positive")
        return EXIT_ERROR
    if not os.path.isfile(args.script):
        _err(f"{args.script}: no such file")
        return EXIT_ERROR
    if importlib.util.find_spec("tensorflow") is None:
        _err(f"TensorFlow is not installed: trace runs the script with it. Install the runtime extra: {INSTALL_HINT}")
        return EXIT_ERROR
    if args.plot:
        from runtime_check import plot as verify_plot

        if not verify_plot.available():
            _err(f"--plot needs matplotlib: {INSTALL_HINT}")
            return EXIT_ERROR
    if args.keras2:
        if importlib.util.find_spec("tf_keras") is None:
            _err("--keras2 needs the tf_keras package (pip install tf-keras)")
            return EXIT_ERROR

    from runtime_check.trace import analyze, match, report
    from runtime_check.trace.run import run_script

    script = args.script
    try:
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"} if args.keras2 else None
        run = run_script(script, args.args, args.max_steps, args.timeout, quiet_stdout=args.format != "text", env=env)
    except OSError as exc:
        _err(f"cannot start Python for the script: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:  # the script (in its own process group) was killed
        _err("interrupted")
        return 130
    facts = analyze.Facts(run.events)
    if facts.by_kind.get("install_failed"):
        failed = facts.by_kind["install_failed"][0]
        _err(f"the instrumentation could not be installed: {failed['type']}: {failed['message']}")
        return EXIT_ERROR
    if not facts.by_kind.get("start"):
        _err(f"the traced Python ended before the script started (exit status {run.returncode})")
        return EXIT_ERROR
    observations = facts.observations()
    files = match.local_imports(script)
    for o in observations:
        if o["file"] and os.path.isfile(o["file"]) and os.path.abspath(o["file"]) not in files:
            files.append(os.path.abspath(o["file"]))
    try:
        findings = match.lint([report.display_path(f) for f in files], args.config)
    except Exception as exc:  # noqa: BLE001 - ConfigError and friends: the runtime half still reports
        _err(f"static check failed ({exc}); reporting runtime facts only")
        findings = []
    rows, runtime_only = match.line_up(findings, observations)
    from linter.rules import ALL_RULES

    names = {r.code: r.name for r in ALL_RULES}
    options = {"max_steps": args.max_steps, "timeout": args.timeout, "keras2": args.keras2}
    doc = report.document(script, args.args, options, run, facts, rows, runtime_only, observations, names)
    doc["exit_code"] = report.exit_code(doc)
    if args.plot:
        from runtime_check.trace import plot

        doc["plots"] = [str(p) for p in plot.write(doc, args.plot)]
    if args.format == "json":
        text = json.dumps(doc, indent=1) + "\n"
    elif args.format == "sarif":
        text = report.render_sarif(doc)
    else:
        text = report.render_text(doc)
        if args.plot:
            text += f"wrote {len(doc['plots'])} PNG(s) to {args.plot}\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            _err(f"cannot write {args.output}: {exc}")
            return EXIT_ERROR
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return doc["exit_code"]


if __name__ == "__main__":
    raise SystemExit(main())
