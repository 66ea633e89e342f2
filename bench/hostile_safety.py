"""Hostile inputs of issue 16 (fix and input safety): each one built in a temporary folder and
checked by `epochlint check --no-cache` in a fresh process; wall time and peak RSS (wait4).

    python bench/hostile_safety.py          # prints the Markdown rows for bench/RESULTS.md

Before the fixes of issue 16 these hung (FIFOs), ate memory without bound (/dev/zero links,
24 GB for a cache entry), crashed with a traceback (pyproject, cache) or passed code CPython
rejects after a minute of parsing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = "import keras\nmodel = keras.Sequential()\nmodel.epochs = 5\n"


def run(args: list[str], cwd: Path, timeout: float = 300) -> tuple[float, float, int, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "epochlint", "check", "--format", "concise", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return time.perf_counter() - start, 0.0, -1, "TIMEOUT"
    seconds = time.perf_counter() - start
    # communicate() reaped the child; its peak RSS is in RUSAGE_CHILDREN only as a maximum over
    # all children, so each input runs in a fresh helper that reports its own child's maximum
    text = (out.decode("utf-8", "replace") + err.decode("utf-8", "replace")).strip().splitlines()
    first = next((line for line in text if "EPL000" in line or "error" in line.lower() or line.startswith("Fixed")), text[0] if text else "")
    return seconds, 0.0, proc.returncode, first


def measured(args: list[str], cwd: Path) -> tuple[float, float, int, str]:
    """`run` in a child process of its own, so RUSAGE_CHILDREN's peak is this input's."""
    import multiprocessing as mp
    import resource

    def target(q):
        seconds, _, rc, first = run(args, cwd)
        q.put((seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc, first))

    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=target, args=(q,))
    p.start()
    result = q.get()
    p.join()
    return result


def cases(d: Path):
    fifo = d / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "x.py")
    yield "FIFO named x.py (walked)", "-", [str(fifo)], d

    zero = d / "zero"
    zero.mkdir()
    (zero / "zero.py").symlink_to("/dev/zero")
    (zero / "rnd.py").symlink_to("/dev/urandom")
    yield "x.py -> /dev/zero and /dev/urandom", "-", ["zero.py", "rnd.py"], zero

    big = d / "big"
    big.mkdir()
    with open(big / "big.py", "wb") as fh:
        fh.truncate(65 << 20)  # sparse: 65 MiB of NULs, over the 64 MiB cap
    yield "65 MiB source file (sparse)", "65 MiB", ["big.py"], big

    plus = d / "plus"
    plus.mkdir()
    (plus / "plus.py").write_text("import keras\nx = " + " + ".join(["a"] * 10_000) + "\n")
    yield "10k-term `a + a + ...` (CPython rejects)", f"{(plus / 'plus.py').stat().st_size // 1024} KiB", ["plus.py"], plus

    many = d / "many"
    many.mkdir()
    (many / "many.py").write_text("import tensorflow as tf\nm = tf.keras.metrics.Mean()\n" + "m.reset_states()\n" * 20_000)
    yield "20,000 fixable `m.reset_states()`, `--fix`", f"{(many / 'many.py').stat().st_size // 1024} KiB", ["--fix", "many.py"], many

    u16 = d / "u16"
    u16.mkdir()
    (u16 / "u.py").write_bytes(b"# coding: utf-16\n" + CODE.encode())
    yield "`coding: utf-16` cookie on ASCII", "-", ["u.py"], u16

    for label, content in (
        ("pyproject.toml: 5,000-digit integer", b"[project]\nx = " + b"1" * 5000 + b"\n"),
        ("pyproject.toml: 50k-deep arrays", b"[project]\nx = " + b"[" * 50000 + b"]" * 50000 + b"\n"),
        ('pyproject.toml: exclude = ["\\\\"]', b'[tool.epochlint]\nexclude = ["\\\\"]\n'),
    ):
        cfg = d / f"cfg{len(label)}"
        cfg.mkdir()
        (cfg / "pyproject.toml").write_bytes(content)
        (cfg / "a.py").write_text(CODE)
        yield label, f"{len(content) // 1024} KiB", ["a.py"], cfg

    for label, make in (
        ("cache entry: 100k-deep array", lambda e: e.write_text("[" * 100_000 + "]" * 100_000)),
        ("cache entry: FIFO", lambda e: (e.unlink(), os.mkfifo(e))),
        ("cache entry -> /dev/zero", lambda e: (e.unlink(), e.symlink_to("/dev/zero"))),
        ('cache entry: right key, "findings": {}', lambda e: e.write_text(json.dumps({**json.loads(e.read_text()), "result": {**json.loads(e.read_text())["result"], "findings": {}}}))),
    ):
        c = d / f"cache{len(label)}"
        c.mkdir()
        (c / "a.py").write_text(CODE)
        run(["a.py"], c)  # fills the cache
        (entry,) = (c / ".epochlint_cache").glob("*/*.json")
        make(entry)
        yield label, "-", ["a.py"], c


def main() -> None:
    print("| input (issue 16) | size | seconds | peak MiB | result (first line) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, size, args, cwd in cases(Path(tmp)):
            no_cache = [] if label.startswith("cache") else ["--no-cache"]
            seconds, peak, rc, first = measured(no_cache + args, cwd)
            first = first.replace(tmp + "/", "").replace("|", "\\|")
            if len(first) > 110:
                first = first[:107] + "..."
            print(f"| {label} | {size} | {seconds:.2f} | {peak:.0f} | exit {rc}: {first} |")


if __name__ == "__main__":
    main()
