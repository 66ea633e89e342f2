"""Throughput of `epochlint check` (EPL1 rules by default) next to a libcst parse-only loop.

Both loops run in this one process over the same files, read from disk and decoded the same
way (PEP 263), so the ratio is meaningful even on a busy machine. Wall-clock and CPU time are
both reported (CPU time is the steadier figure when other processes share the cores). Files
that `check` skips without a parse (no keras/tensorflow mention) are counted as the CLI
counts them: processed, not checked.

    python bench/epl1_throughput.py /tmp/corpus/src/keras-3.15.1-py3-none-any/keras \
        /tmp/corpus/src/tf_keras-2.21.0-py3-none-any/tf_keras [--select EPL1] [--rounds 2]
"""
from __future__ import annotations

import argparse
import gc
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import libcst as cst  # noqa: E402

from linter import runner  # noqa: E402
from linter.config import Settings, split_codes, validate_codes  # noqa: E402
from linter.discovery import FileFinder  # noqa: E402
from linter.source import UnreadableSource  # noqa: E402


def parse_only(paths: list[str]) -> int:
    """Read, decode and parse every file with libcst; returns the number that parsed."""
    parsed = 0
    for path in paths:
        try:
            cst.parse_module(runner.decode(runner.read_file(path), path).text)
            parsed += 1
        except (UnreadableSource, cst.ParserSyntaxError, RecursionError):
            pass
    return parsed


def parse_only_gc_off(paths: list[str]) -> int:
    """The same loop with the cyclic GC off during each parse and one young-generation
    collection after it, as the engine parses (a fair baseline when the engine does that)."""
    parsed = 0
    for path in paths:
        gc.disable()
        try:
            cst.parse_module(runner.decode(runner.read_file(path), path).text)
            parsed += 1
        except (UnreadableSource, cst.ParserSyntaxError, RecursionError):
            pass
        finally:
            gc.enable()
            gc.collect(0)
    return parsed


def check_all(paths: list[str], settings: Settings) -> tuple[int, int, int]:
    """`epochlint check` in-process (what `--jobs 1 --no-cache` runs per file)."""
    checked = skipped = findings = 0
    for path in paths:
        outcome = runner.check_file(path, settings)
        if outcome.result.skipped:
            skipped += 1
        else:
            checked += 1
        findings += len(outcome.result.findings)
    return checked, skipped, findings


def timed(fn, *args):
    gc.collect()
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, time.perf_counter() - w0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--select", default="EPL1", help="codes/prefixes for check (default EPL1)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds of both loops")
    args = ap.parse_args()

    files = [c.path for c in FileFinder().find(args.paths) if c.error is None]
    lines = sum(Path(p).read_bytes().count(b"\n") for p in files)
    settings = Settings(select=validate_codes(split_codes(args.select), "--select"))
    print(f"# {len(files)} files, {lines:,} lines; check --select {args.select}; "
          f"python {platform.python_version()}, libcst {importlib.metadata.version('libcst')}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    best: dict[str, tuple[float, float]] = {}
    for r in range(1, args.rounds + 1):
        parsed, pw, pc = timed(parse_only, files)
        _, gw, gcpu = timed(parse_only_gc_off, files)
        (checked, skipped, found), cw, cc = timed(check_all, files, settings)
        for name, w, c in (("parse", pw, pc), ("parse-gc-off", gw, gcpu), ("check", cw, cc)):
            bw, bc = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(bw, w), min(bc, c))
        print(f"round {r}: parse-only {len(files) / pw:6.1f} files/s wall ({pw:6.1f} s, cpu {pc:6.1f} s, {parsed} parsed) | "
              f"parse-only, gc off per file {len(files) / gw:6.1f} files/s wall ({gw:6.1f} s, cpu {gcpu:6.1f} s) | "
              f"check {len(files) / cw:6.1f} files/s wall ({cw:6.1f} s, cpu {cc:6.1f} s, {checked} checked, "
              f"{skipped} skipped, {found} findings)")
    for name, (w, c) in best.items():
        print(f"best {name:>13}: {len(files) / w:6.1f} files/s wall, {len(files) / c:6.1f} files per cpu-second")
    (pw, pc), (gw, gcpu), (cw, cc) = best["parse"], best["parse-gc-off"], best["check"]
    print(f"ratio check / parse-only: wall {cw / pw:.2f}x, cpu {cc / pc:.2f}x; "
          f"check / parse-only with gc off: wall {cw / gw:.2f}x, cpu {cc / gcpu:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
