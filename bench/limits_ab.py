"""A/B of linter/limits.py on a corpus: the same `epochlint check --jobs 1 --no-cache` in-process
with the bounds on (default) and off (no pre-scan, no guard, no prediction), in fresh processes.
Prints wall/CPU seconds, peak RSS of the process and of its guard children, files checked and
skipped, and whether the findings are identical.

    python bench/limits_ab.py DIR
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = r'''
import contextlib, io, json, resource, sys, time
sys.path.insert(0, {root!r})
from linter import limits
if {off!r}:
    limits.may_fire = lambda text: True
    limits.GUARD_FROM_BYTES = limits.PREDICT_FROM_BYTES = 1 << 62
from linter.cli import main
buf = io.StringIO()
t0 = time.perf_counter()
with contextlib.redirect_stdout(buf):
    main(["check", "--no-cache", "--jobs", "1", "--format", "json", "--exit-zero", "."])
wall = time.perf_counter() - t0
me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
doc = json.loads(buf.getvalue())
print(json.dumps(dict(wall=wall, cpu=me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime, rss=me.ru_maxrss / 1024,
      child_rss=ch.ru_maxrss / 1024, checked=doc["files_checked"], skipped=doc["files_skipped"],
      findings=sorted((f["path"], f["line"], f["code"]) for f in doc["findings"]))))
'''


def run(corpus: Path, off: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", RUN.format(root=str(ROOT), off=off)], cwd=corpus, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def main() -> int:
    corpus = Path(sys.argv[1])
    on, off = run(corpus, False), run(corpus, True)
    for name, r in (("bounds on", on), ("bounds off", off)):
        print(f"{name}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, peak RSS {r['rss']:.0f} MiB (guard children "
              f"{r['child_rss']:.0f} MiB), {r['checked']} checked, {r['skipped']} skipped, {len(r['findings'])} findings")
    print("same findings:", on["findings"] == off["findings"])
    return 0 if on["findings"] == off["findings"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
