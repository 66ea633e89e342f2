"""Timing of `epochlint verify` (runtime_check): the whole command in a fresh process, TensorFlow
import included, as a user runs it; per-witness and per-pattern seconds from its JSON.

    python bench/verify_bench.py [--runs N] [--keras2] [--markdown]

Each run is `python -m runtime_check.cli --format json` in a subprocess with a throw-away
$XDG_CACHE_HOME. Wall-clock numbers depend on what else the machine is doing, so the load
average before and after each run is printed with it (2-core machines: compare runs made at
load < 1). `--markdown` prints a section for bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0


def one_run(legacy: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    with tempfile.TemporaryDirectory() as cache:
        env["XDG_CACHE_HOME"] = cache
        load_before = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "runtime_check.cli", "--format", "json"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"verify failed with exit {proc.returncode}:\n{proc.stderr[-2000:]}")
    doc = json.loads(proc.stdout)
    return {"doc": doc, "exit": proc.returncode, "wall": wall, "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}


def describe(run: dict) -> list[str]:
    doc = run["doc"]
    items = [(w["code"], w["seconds"]) for w in doc["witnesses"]] + [(p["name"], p["seconds"]) for p in doc["patterns"]]
    slow_w = max(doc["witnesses"], key=lambda w: w["seconds"])
    slow_p = max(doc["patterns"], key=lambda p: p["seconds"])
    lines = [f"Keras {doc['keras_version']} / TensorFlow {doc['tensorflow_version']}: exit {run['exit']}, "
             f"wall {run['wall']:.1f} s (budget {BUDGET_SECONDS:.0f} s), CPU {run['cpu']:.1f} s, "
             f"TensorFlow import {doc['import_seconds']:.1f} s, load average {run['load_before']:.1f} -> {run['load_after']:.1f}",
             f"  patterns {sum(p['seconds'] for p in doc['patterns']):.1f} s (slowest {slow_p['name']} {slow_p['seconds']:.2f} s), "
             f"witnesses {sum(w['seconds'] for w in doc['witnesses']):.1f} s (slowest {slow_w['code']} {slow_w['seconds']:.2f} s)"]
    lines.append("  " + ", ".join(f"{name} {sec:.2f}" for name, sec in items))
    return lines


def markdown(runs: list[dict]) -> str:
    out = ["## verify", "",
           f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
           f"Python {platform.python_version()}. Date: {time.strftime('%Y-%m-%d')}. "
           "Command: `python -m runtime_check.cli --format json` in a fresh process (TensorFlow import included).", "",
           "| Keras | exit | wall s | CPU s | TF import s | patterns s | witnesses s | slowest witness | slowest pattern | load avg |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        d = run["doc"]
        sw = max(d["witnesses"], key=lambda w: w["seconds"])
        sp = max(d["patterns"], key=lambda p: p["seconds"])
        out.append(f"| {d['keras_version']} | {run['exit']} | {run['wall']:.1f} | {run['cpu']:.1f} | {d['import_seconds']:.1f} | "
                   f"{sum(p['seconds'] for p in d['patterns']):.1f} | {sum(w['seconds'] for w in d['witnesses']):.1f} | "
                   f"{sw['code']} {sw['seconds']:.2f} | {sp['name']} {sp['seconds']:.2f} | "
                   f"{run['load_before']:.1f} -> {run['load_after']:.1f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--keras2", action="store_true", help="also time a run against tf_keras (TF_USE_LEGACY_KERAS=1)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    runs = []
    for legacy in ([False, True] if args.keras2 else [False]):
        for _ in range(args.runs):
            run = one_run(legacy)
            runs.append(run)
            print("\n".join(describe(run)), flush=True)
    if args.markdown:
        print()
        print(markdown(runs))
    over = [r for r in runs if r["wall"] > BUDGET_SECONDS]
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
