"""`epochlint verify`: run the witnesses and training patterns; the linter CLI dispatches here.

`main(argv) -> int`. Importing this module imports neither TensorFlow nor numpy: both are
loaded inside `main`, so a missing runtime extra becomes exit 2 with the install command.
Exit codes: 0 every claim confirmed, 1 any refuted (or a witness crashed), 2 usage error or
TensorFlow/numpy missing.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from typing import Any

INSTALL_HINT = "pip install 'epochlint[runtime]'"
LEGACY_ENV = "TF_USE_LEGACY_KERAS"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="epochlint verify", description=(
        "Prove each rule's claim on the installed TensorFlow/Keras by running a small witness experiment, "
        "and run the seed article's training patterns side by side."))
    p.add_argument("--rule", action="append", metavar="CODE", default=[],
                   help="run only this rule's witness; a prefix such as EPL2 selects a family (repeatable, "
                        "comma-separated also works). Without --rule the training patterns run too.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--plot", metavar="DIR", help="write PNG loss curves of the training patterns into DIR")
    p.add_argument("--keras2", action="store_true",
                   help=f"also run the witnesses against Keras 2 (tf_keras) in a subprocess with {LEGACY_ENV}=1")
    p.add_argument("--no-patterns", action="store_true", help="skip the training patterns and the seed audit")
    return p


def _err(message: str) -> None:
    print(f"epochlint verify: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for usage errors
        return int(exc.code or 0)
    selectors = [s.strip().upper() for item in args.rule for s in item.split(",") if s.strip()]

    if importlib.util.find_spec("numpy") is None:
        _err(f"numpy is not installed: the runtime verifier needs the runtime extra: {INSTALL_HINT}")
        return 2
    from runtime_check.witnesses import WITNESSES, select

    unknown = [s for s in selectors if not any(code.startswith(s) for code in WITNESSES)]
    if unknown:
        _err(f"no witness matches {', '.join(unknown)} (known: {', '.join(WITNESSES)})")
        return 2
    if args.plot:
        from runtime_check import plot

        if not plot.available():
            _err(f"--plot needs matplotlib: {INSTALL_HINT}")
            return 2
    witnesses = select(selectors)
    with_patterns = not selectors and not args.no_patterns

    from runtime_check import env as env_mod

    started = time.perf_counter()
    # importing TensorFlow takes 10-20 s, with nothing to show: say so (stderr, any --format)
    _err("importing TensorFlow and Keras (10-20 s) ...")
    try:
        env = env_mod.load()
    except env_mod.TensorFlowMissing as exc:
        _err(str(exc))
        return 2
    except ImportError as exc:  # e.g. a broken TensorFlow install
        _err(f"TensorFlow cannot be imported ({exc}); install the runtime extra: {INSTALL_HINT}")
        return 2
    info = {**env.info(), "import_seconds": round(time.perf_counter() - started, 3)}
    _err(f"running {len(witnesses)} witness(es)" + (" and the training patterns" if with_patterns else "") + " ...")
    doc = run_and_report(env, info, witnesses, with_patterns, args.format, started)

    from runtime_check import evidence

    evidence.save(doc["witnesses"], env.keras_version, env.tensorflow_version)
    code = 0 if all(i["confirmed"] for i in doc["patterns"] + doc["witnesses"]) else 1
    if args.plot and doc["patterns"]:
        from runtime_check import plot

        paths = plot.write(doc["patterns"], args.plot, f"Keras {env.keras_version}")
        if args.format == "text":
            print(f"wrote {len(paths)} PNG(s) to {args.plot}")
    elif args.plot and args.format == "text":
        print("--plot: no training patterns ran (they run without --rule), nothing to plot")
    if args.keras2:
        child_code = _run_keras2(argv, args, env, doc)
        code = max(code, child_code) if child_code in (0, 1) else code
    if args.format == "json":
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    sys.stdout.flush()
    return code


def run_and_report(env, info: dict[str, Any], witnesses, with_patterns: bool, fmt: str, started: float) -> dict[str, Any]:
    from runtime_check import report, runner

    def emit(lines: list[str]) -> None:
        if fmt == "text":
            print("\n".join(lines), flush=True)

    emit(report.header(info))
    patterns, results, audit = runner.run(env, witnesses, with_patterns,
                                          on_pattern=lambda p: emit(report.pattern_row(p)),
                                          on_witness=lambda w: emit(report.witness_row(w)))
    doc = report.document(info, patterns, results, audit, time.perf_counter() - started)
    if audit:
        emit(report.audit_lines(audit))
    emit(report.footer(doc))
    return doc


def _run_keras2(argv: list[str], args: argparse.Namespace, env, doc: dict[str, Any]) -> int:
    """Re-run in a subprocess against tf_keras; its results go to doc["keras2"] (JSON) or stdout."""
    if env.keras_major == 2:
        doc["keras2"] = {"skipped": "this run already used Keras 2"}
        return 0
    if importlib.util.find_spec("tf_keras") is None:
        doc["keras2"] = {"skipped": "tf_keras is not installed (pip install tf-keras)"}
        _err("--keras2: tf_keras is not installed (pip install tf-keras); Keras 2 not checked")
        return 0
    child_argv = [a for a in argv if a != "--keras2"]
    child_argv = _without_option(child_argv, "--plot")
    child_argv = _without_option(child_argv, "--format") + ["--format", args.format]
    child_env = {**os.environ, LEGACY_ENV: "1"}
    cmd = [sys.executable, "-m", "runtime_check.cli", *child_argv]
    if args.format == "text":
        print("\nKeras 2 (tf_keras), in a subprocess with TF_USE_LEGACY_KERAS=1:", flush=True)
        proc = subprocess.run(cmd, env=child_env, cwd=_package_parent())
        return proc.returncode
    proc = subprocess.run(cmd, env=child_env, cwd=_package_parent(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    try:
        doc["keras2"] = json.loads(proc.stdout)
    except ValueError:
        doc["keras2"] = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"}
        return 1
    return proc.returncode


def _without_option(argv: list[str], name: str) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == name:
            skip = True
            continue
        if a.startswith(name + "="):
            continue
        out.append(a)
    return out


def _package_parent() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    raise SystemExit(main())
