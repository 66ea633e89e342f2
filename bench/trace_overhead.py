"""Time `epochlint trace` adds over a plain `python SCRIPT.py` (docs/TRACE.md, "Cost").

    python bench/trace_overhead.py [--repeat N] SCRIPT.py ...

For each script: wall and CPU seconds (children included) of `python SCRIPT.py` and of
`epochlint trace --max-steps 0 SCRIPT.py` (the same steps as the plain run: nothing capped),
and of `epochlint trace` with its default --max-steps 5. The median of N runs each.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("scripts", nargs="+")
    args = p.parse_args()
    print("| script | python SCRIPT.py wall / CPU s | trace --max-steps 0 wall / CPU s | added wall / CPU s | "
          "trace (default --max-steps 5) wall / CPU s |")
    print("|---|---|---|---|---|")
    for script in args.scripts:
        rows = {"plain": [], "trace0": [], "trace5": []}
        for _ in range(args.repeat):
            rows["plain"].append(_run([sys.executable, script]))
            rows["trace0"].append(_run([sys.executable, "-m", "epochlint", "trace", "--format", "json",
                                        "--max-steps", "0", script]))
            rows["trace5"].append(_run([sys.executable, "-m", "epochlint", "trace", "--format", "json", script]))
        med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()}
        plain, t0, t5 = med["plain"], med["trace0"], med["trace5"]
        print(f"| {script} | {plain[0]:.1f} / {plain[1]:.1f} | {t0[0]:.1f} / {t0[1]:.1f} | "
              f"{t0[0] - plain[0]:+.1f} / {t0[1] - plain[1]:+.1f} | {t5[0]:.1f} / {t5[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
