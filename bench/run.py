"""The speed benchmark: epochlint against the libcst parse floor and peer linters, one corpus,
one run (issue 6).

    python bench/run.py                      # build bench/corpus/ from the wheels, run everything
    python bench/run.py --corpus /tmp/corpus/src --write   # reuse unpacked sources, update RESULTS.md
    python bench/run.py --quick              # every 8th file, no peers: a smoke run

What it does, in order:

1. Corpus. `pip download --no-deps` of keras==3.15.1, tf-keras==2.21.0 and keras-hub==0.32.0
   into bench/corpus/wheels (gitignored), their `.py` files unpacked into bench/corpus/src; or
   `--corpus DIR`. The files are passed to every tool as one explicit, sorted list.
2. A snapshot of the linter (bench/.work/snapshot, byte-compiled like an installed package), so
   that the code measured cannot change during the run and the cache fingerprint stays put.
3. Peers in their own virtual environment, bench/.work/peers (fixit 2.2.1, ruff, pylint), never
   in the project's; a peer that cannot be installed is skipped and the report says so.
4. Timings, each in a fresh process, with wall-clock time, CPU time (user + sys, including worker
   processes) and peak RSS from `wait4`:
   libcst parse-only (default GC, and with epochlint's GC policy); `epochlint check --jobs 1
   --no-cache`; `--jobs 2 --no-cache`; a cold run filling the cache, then a warm run; fixit
   and pylint on a subset (every 10th / 20th file) next to `epochlint --jobs 1` on that subset;
   ruff on everything. Rounds are interleaved and the fastest of each is kept.
5. Memory: libcst parsing the largest file alone vs epochlint on everything, and epochlint on
   growing sets of the smaller files. The pre-check: files with every keras/tensorflow mention
   masked, checked vs parsed. Start-up: one 12-line file as a pre-commit hook runs it, vs
   `python -c "import libcst; parse it"`, plus `-X importtime`.

The machine is shared: the load average is recorded around each timing, and CPU time is the
steadier figure when other processes compete for the cores.
"""
from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
CORPUS = HERE / "corpus"
WHEELS = ("keras==3.15.1", "tf-keras==2.21.0", "keras-hub==0.32.0")
PEERS = {"fixit": "fixit==2.2.1", "ruff": "ruff", "pylint": "pylint"}
RESULTS = HERE / "RESULTS.md"
BLOCK_START = "<!-- bench/run.py: start -->"
BLOCK_END = "<!-- bench/run.py: end -->"

SMALL_FILE = textwrap.dedent(
    """\
    import keras
    from keras import layers

    inputs = keras.Input(shape=(4,))
    outputs = layers.Dense(1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.epochs = 10
    model.fit(x, y)
    print("done")
    history = model.fit(x, y, epochs=5)
    print(history.history)
    """
)

PARSE_ONLY = textwrap.dedent(
    """\
    import gc, json, resource, sys, time
    import libcst
    files = open(sys.argv[1], encoding="utf-8").read().splitlines()
    gc_per_file = sys.argv[2] == "gc-per-file"
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    w, c, errors = time.perf_counter(), cpu(), 0
    for path in files:
        with open(path, "rb") as fh:
            data = fh.read()
        if gc_per_file:
            gc.disable()
        try:
            libcst.parse_module(data)
        except Exception:
            errors += 1
        finally:
            if gc_per_file:
                gc.enable()
                gc.collect(0)
    print(json.dumps({"loop_wall": time.perf_counter() - w, "loop_cpu": cpu() - c, "errors": errors}))
    """
)

PRECHECK = textwrap.dedent(
    """\
    import json, re, resource, sys, time
    import libcst
    from linter.engine import CheckOptions, check_source
    from linter.rules import ALL_CODES
    from linter.source import decode_python
    files = open(sys.argv[1], encoding="utf-8").read().splitlines()
    mask = re.compile(r"keras|tensorflow", re.IGNORECASE)
    opts = CheckOptions(frozenset(ALL_CODES))
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    check = parse = 0.0
    n = skipped = 0
    for path in files:
        with open(path, "rb") as fh:
            data = mask.sub(lambda m: "x" * len(m.group()), fh.read().decode("utf-8", "replace")).encode()
        c = cpu()
        result = check_source(decode_python(data, path), opts)
        check += cpu() - c
        skipped += result.skipped
        c = cpu()
        try:
            libcst.parse_module(data.decode())
        except Exception:
            pass
        parse += cpu() - c
        n += 1
    print(json.dumps({"files": n, "skipped": skipped, "check_cpu": check, "parse_cpu": parse}))
    """
)


@dataclass
class Timing:
    label: str
    wall: float
    cpu: float
    max_rss_mib: float
    returncode: int
    load_before: float
    load_after: float
    extra: dict = field(default_factory=dict)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- set-up
def build_corpus(corpus: Path) -> Path:
    """Download the wheels (once) and unpack their .py files into corpus/src."""
    wheels = corpus / "wheels"
    src = corpus / "src"
    wheels.mkdir(parents=True, exist_ok=True)
    have = sorted(wheels.glob("*.whl"))
    if len(have) < len(WHEELS):
        log(f"pip download --no-deps {' '.join(WHEELS)}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(wheels), *WHEELS], check=True)
        have = sorted(wheels.glob("*.whl"))
    for whl in have:
        target = src / whl.name[: -len(".whl")]
        if target.is_dir():
            continue
        with zipfile.ZipFile(whl) as zf:
            for name in zf.namelist():
                if name.endswith(".py"):
                    zf.extract(name, target)
    return src


def snapshot() -> Path:
    """A byte-compiled copy of the linter as it is now."""
    snap = WORK / "snapshot"
    if snap.exists():
        shutil.rmtree(snap)
    snap.mkdir(parents=True)
    shutil.copytree(REPO / "linter", snap / "linter", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "epochlint.py", snap / "epochlint.py")
    compileall.compile_dir(str(snap), quiet=1)
    (WORK / "epochlint.toml").write_text("# bench: the default configuration, cache under bench/.work/\n", encoding="utf-8")
    return snap


def peers_venv(skip: bool) -> dict[str, Optional[str]]:
    """Install the peers in bench/.work/peers; returns name -> executable, or None + why."""
    status: dict[str, Optional[str]] = {}
    if skip:
        return {name: None for name in PEERS}
    venv = WORK / "peers"
    py = venv / "bin" / "python"
    if not py.exists():
        log("creating bench/.work/peers")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    for name, spec in PEERS.items():
        exe = venv / "bin" / name
        if not exe.exists():
            log(f"pip install {spec} (peers venv)")
            proc = subprocess.run([str(py), "-m", "pip", "install", "-q", spec], capture_output=True, text=True)
            if proc.returncode != 0:
                log(f"cannot install {spec}: {proc.stderr.strip().splitlines()[-1:]} -- skipped")
        status[name] = str(exe) if exe.exists() else None
    return status


def peer_version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# --------------------------------------------------------------------------- measuring
def tree_pss_kib(pid: int) -> int:
    """Proportional set size of a process and all its descendants (shared pages counted once)."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(label: str, cmd: list[str], cwd: Path, env: dict, stdout_path: Optional[Path] = None, timeout: float = 7200, tree: bool = False) -> Timing:
    """Run `cmd`, wait for it with wait4 (CPU time and peak RSS include its worker processes);
    `tree`: also sample the summed PSS of the process and its workers every 50 ms."""
    load_before = os.getloadavg()[0]
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    err = tempfile.TemporaryFile()
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = start + timeout
        peak_pss = 0
        next_sample = start
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if now > deadline:
                proc.kill()
            if tree and now >= next_sample:
                peak_pss = max(peak_pss, tree_pss_kib(proc.pid))
                next_sample = now + 0.05
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if stdout_path:
            out.close()
    err.seek(0)
    stderr = err.read().decode("utf-8", "replace")
    t = Timing(label, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, load_before, os.getloadavg()[0])
    if tree:
        t.extra["peak_tree_pss_mib"] = peak_pss / 1024
    if stderr.strip():
        t.extra["stderr_tail"] = stderr.strip().splitlines()[-1:]
    if proc.returncode not in (0, 1):
        t.extra["stderr"] = stderr[-2000:]
        log(f"  {label}: exit {proc.returncode}: {stderr[-300:]}")
    log(f"  {label}: wall {wall:.2f}s cpu {t.cpu:.2f}s rss {t.max_rss_mib:.0f} MiB (load {load_before:.1f})")
    return t


def best(timings: list[Timing]) -> Timing:
    """The round with the least CPU time (the steadiest figure on a shared machine); its wall
    time is reported with it, and the spread is kept."""
    chosen = min(timings, key=lambda t: t.cpu)
    chosen.extra["rounds"] = [(round(t.wall, 2), round(t.cpu, 2)) for t in timings]
    return chosen


class Bench:
    def __init__(self, args, corpus_src: Path, snap: Path) -> None:
        self.args = args
        self.src = corpus_src
        self.snap = snap
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
        self.env.update(NO_COLOR="1")
        self.lint_env = dict(self.env, PYTHONPATH=str(snap))
        files = sorted(p.relative_to(corpus_src).as_posix() for p in corpus_src.rglob("*.py"))
        self.files = files[:: args.every] if args.every > 1 else files
        self.lists: dict[str, Path] = {}
        self.results: dict = {"timings": {}, "ratios": {}, "notes": []}

    def file_list(self, name: str, files: list[str]) -> Path:
        path = WORK / f"files-{name}.txt"
        path.write_text("\n".join(files) + "\n", encoding="utf-8")
        self.lists[name] = path
        return path

    def epochlint(self, label: str, files: list[str], *flags: str) -> Timing:
        cmd = [sys.executable, "-m", "epochlint", "check", "--config", str(WORK / "epochlint.toml"), "--format", "json", "--exit-zero", *flags, *files]
        out = WORK / f"out-{label.replace(' ', '_')}.json"
        t = measure(label, cmd, self.src, self.lint_env, out, tree=True)
        try:
            report = json.loads(out.read_text(encoding="utf-8"))
            t.extra.update(files_checked=report["files_checked"], files_skipped=report["files_skipped"], findings=len(report["findings"]))
            t.extra["internal_errors"] = sum(1 for f in report["findings"] if f["name"] == "internal-error")
        except (OSError, ValueError, KeyError):
            t.extra["report"] = "unreadable"
        return t

    def parse_only(self, label: str, files_list: Path, gc_mode: str) -> Timing:
        out = WORK / f"out-{label.replace(' ', '_')}.json"
        t = measure(label, [sys.executable, "-c", PARSE_ONLY, str(files_list), gc_mode], self.src, self.env, out)
        t.extra.update(json.loads(out.read_text(encoding="utf-8")))
        return t

    def record(self, key: str, t: Timing) -> None:
        self.results["timings"][key] = asdict(t)

    # ------------------------------------------------------------------ parts
    def core(self) -> None:
        files = self.files
        listing = self.file_list("all", files)
        rounds: dict[str, list[Timing]] = {k: [] for k in ("parse", "parse_gc", "jobs1", "jobs2")}
        cache = WORK / ".epochlint_cache"
        for r in range(self.args.rounds):
            log(f"core round {r + 1}/{self.args.rounds} on {len(files)} files")
            rounds["parse"].append(self.parse_only("libcst parse-only", listing, "default"))
            rounds["jobs1"].append(self.epochlint("epochlint --jobs 1 --no-cache", files, "--jobs", "1", "--no-cache"))
            rounds["jobs2"].append(self.epochlint("epochlint --jobs 2 --no-cache", files, "--jobs", "2", "--no-cache"))
            rounds["parse_gc"].append(self.parse_only("libcst parse-only, GC per file", listing, "gc-per-file"))
        for k, v in rounds.items():
            self.record(k, best(v))
        if cache.exists():
            shutil.rmtree(cache)
        self.record("cold_cache", self.epochlint("epochlint cold, filling the cache (--jobs 2)", files, "--jobs", "2"))
        warm = [self.epochlint("epochlint warm cache (--jobs 2)", files, "--jobs", "2") for _ in range(self.args.rounds)]
        self.record("warm_cache", best(warm))
        warm1 = [self.epochlint("epochlint warm cache (--jobs 1)", files, "--jobs", "1") for _ in range(self.args.rounds)]
        self.record("warm_cache_jobs1", best(warm1))

    def peers(self, peers: dict[str, Optional[str]]) -> None:
        self.results["peers"] = {name: (peer_version(exe) if exe else "not installed: skipped") for name, exe in peers.items()}
        if self.args.skip_peers:
            self.results["notes"].append("peers skipped (--skip-peers)")
            return
        # fixit (trailrunner) skips files that a .gitignore above them excludes, even when they
        # are named, and bench/corpus/ is gitignored: the peers get a copy outside any repository
        outside = Path(tempfile.mkdtemp(prefix="epochlint-bench-peers-"))
        try:
            for f in self.files:
                (outside / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.src / f, outside / f)
            self._peers(peers, outside)
        finally:
            shutil.rmtree(outside, ignore_errors=True)

    def _peers(self, peers: dict[str, Optional[str]], where: Path) -> None:
        if peers.get("ruff"):
            out = WORK / "out-ruff.txt"
            runs = [
                measure("ruff check (default rules, all threads)", [peers["ruff"], "check", "--no-cache", "--isolated", "--exit-zero", "--output-format", "concise", *self.files], where, self.env, out)
                for _ in range(self.args.rounds)
            ]
            t = best(runs)
            t.extra["output_tail"] = out.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            self.record("ruff", t)
        subsets = {"fixit": self.files[:: self.args.fixit_every], "pylint": self.files[:: self.args.pylint_every]}
        src, self.src = self.src, where  # epochlint and the parse loop read the same copies
        try:
            for name, subset in subsets.items():
                exe = peers.get(name)
                if not exe:
                    continue
                self.file_list(name, subset)
                if name == "fixit":
                    cmd = [exe, "lint", *subset]
                else:
                    cmd = [exe, "--jobs=1", "--persistent=n", "--score=n", "--exit-zero", "--reports=n", *subset]
                out = WORK / f"out-{name}.txt"
                t = measure(f"{name} on {len(subset)} files", cmd, where, self.env, out)
                t.extra["output_tail"] = out.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
                self.record(name, t)
                self.record(f"{name}_parse", self.parse_only(f"libcst parse-only on the {name} subset", self.lists[name], "default"))
                self.record(f"{name}_epochlint", self.epochlint(f"epochlint --jobs 1 --no-cache on the {name} subset", subset, "--jobs", "1", "--no-cache"))
        finally:
            self.src = src

    def memory(self) -> None:
        by_size = sorted(self.files, key=lambda f: (self.src / f).stat().st_size)
        largest = by_size[-1]
        self.results["largest_file"] = {"path": largest, "bytes": (self.src / largest).stat().st_size}
        code = "import libcst, sys; libcst.parse_module(open(sys.argv[1], 'rb').read())"
        self.record("mem_libcst_largest", best([measure("libcst parses the largest file alone", [sys.executable, "-c", code, largest], self.src, self.env) for _ in range(2)]))
        self.record("mem_epochlint_largest", self.epochlint("epochlint on the largest file alone", [largest], "--jobs", "1", "--no-cache"))
        # the same mix of sizes, more and more of it: every 8th, every 2nd, all files under 100 kB
        small = sorted(f for f in self.files if (self.src / f).stat().st_size < 100_000)
        for step in (8, 2, 1):
            subset = small[::step]
            self.record(f"mem_small_{step}", self.epochlint(f"epochlint on every {step} of the {len(small)} files under 100 kB", subset, "--jobs", "1", "--no-cache"))
            self.results.setdefault("subset_sizes", {})[f"mem_small_{step}"] = len(subset)

    def precheck(self) -> None:
        listing = self.file_list("precheck", self.files[:: max(1, self.args.precheck_every)])
        out = WORK / "out-precheck.json"
        measure("pre-check vs parse on masked files", [sys.executable, "-c", PRECHECK, str(listing)], self.src, self.lint_env, out)
        self.results["precheck"] = json.loads(out.read_text(encoding="utf-8"))

    def startup(self) -> None:
        small_dir = WORK / "small"
        small_dir.mkdir(exist_ok=True)
        (small_dir / "small.py").write_text(SMALL_FILE, encoding="utf-8")
        shutil.copy2(WORK / "epochlint.toml", small_dir / "epochlint.toml")
        cache = small_dir / ".epochlint_cache"
        base = [sys.executable, "-c", "import libcst; libcst.parse_module(open('small.py', 'rb').read())"]
        lint = [sys.executable, "-m", "epochlint", "check", "small.py"]
        series: dict[str, list[Timing]] = {"python_libcst": [], "epochlint_cold": [], "epochlint_warm": []}
        for _ in range(self.args.startup_runs):
            series["python_libcst"].append(measure("python + libcst parse small.py", base, small_dir, self.env))
            if cache.exists():
                shutil.rmtree(cache)
            series["epochlint_cold"].append(measure("epochlint check small.py (no cache entry)", lint, small_dir, self.lint_env))
            series["epochlint_warm"].append(measure("epochlint check small.py (cached)", lint, small_dir, self.lint_env))
        summary = {}
        for k, v in series.items():
            summary[k] = {"median_wall": statistics.median(t.wall for t in v), "median_cpu": statistics.median(t.cpu for t in v), "max_rss_mib": max(t.max_rss_mib for t in v), "runs": len(v)}
        self.results["startup"] = summary
        imp = subprocess.run([sys.executable, "-X", "importtime", "-m", "epochlint", "check", "--no-cache", "small.py"], cwd=small_dir, env=self.lint_env, capture_output=True, text=True)
        rows = []  # (cumulative microseconds, name with its indentation)
        for line in imp.stderr.splitlines():
            if line.startswith("import time:") and line.count("|") == 2:
                own, cumulative, name = line[len("import time:"):].split("|")
                if own.strip().isdigit():
                    rows.append((int(cumulative), name[1:]))
        top_level = [(us, name) for us, name in rows if not name.startswith(" ")]
        self.results["importtime"] = {
            "total_ms": sum(us for us, _ in top_level) / 1000,
            "top": [(name.strip(), us / 1000) for us, name in sorted(top_level, reverse=True)[:12]],
            "modules": len(rows),
            "heavy_absent": [m for m in ("tensorflow", "keras", "numpy", "pathspec", "asyncio", "concurrent.futures", "multiprocessing") if not any(n.strip() == m for _, n in rows)],
        }


# --------------------------------------------------------------------------- report
def machine() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "libcst": version("libcst"),
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip(),
    }


def ratios(res: dict) -> dict:
    T = res["timings"]
    out = {}

    def r(a, b, what="wall"):
        if a in T and b in T and T[b][what] > 0:
            return T[a][what] / T[b][what]
        return None

    out["jobs1_vs_parse_cpu"] = r("jobs1", "parse", "cpu")
    out["jobs1_vs_parse_wall"] = r("jobs1", "parse", "wall")
    out["jobs1_vs_parse_gc_cpu"] = r("jobs1", "parse_gc", "cpu")
    out["jobs2_vs_jobs1_wall"] = r("jobs2", "jobs1", "wall")
    out["warm_vs_cold_wall"] = r("warm_cache", "jobs1", "wall")
    out["warm_vs_cold_cpu"] = r("warm_cache", "jobs1", "cpu")
    out["warm1_vs_cold_wall"] = r("warm_cache_jobs1", "jobs1", "wall")
    for peer in ("fixit", "pylint"):
        out[f"{peer}_vs_epochlint_cpu"] = r(peer, f"{peer}_epochlint", "cpu")
        out[f"{peer}_vs_epochlint_wall"] = r(peer, f"{peer}_epochlint", "wall")
    out["ruff_vs_jobs1_wall"] = r("ruff", "jobs1", "wall")
    if "mem_libcst_largest" in T and "jobs1" in T:
        out["rss_all_vs_libcst_largest"] = T["jobs1"]["max_rss_mib"] / T["mem_libcst_largest"]["max_rss_mib"]
        out["rss_jobs2_vs_libcst_largest"] = T["jobs2"]["max_rss_mib"] / T["mem_libcst_largest"]["max_rss_mib"]
        pss = T["jobs2"]["extra"].get("peak_tree_pss_mib")
        if pss:
            out["pss_jobs2_all_processes_vs_libcst_largest"] = pss / T["mem_libcst_largest"]["max_rss_mib"]
    if "precheck" in res and res["precheck"]["parse_cpu"]:
        out["precheck_vs_parse"] = res["precheck"]["check_cpu"] / res["precheck"]["parse_cpu"]
    s = res.get("startup")
    if s:
        out["startup_vs_python_libcst_wall"] = s["epochlint_cold"]["median_wall"] / s["python_libcst"]["median_wall"]
        out["startup_vs_python_libcst_cpu"] = s["epochlint_cold"]["median_cpu"] / s["python_libcst"]["median_cpu"]
        out["startup_warm_vs_python_libcst_wall"] = s["epochlint_warm"]["median_wall"] / s["python_libcst"]["median_wall"]
    return {k: v for k, v in out.items() if v is not None}


def markdown(res: dict) -> str:
    m = res["machine"]
    T = res["timings"]
    R = res["ratios"]
    n = res["files"]
    lines = [
        BLOCK_START,
        f"Generated by `python bench/run.py{res['argv']}` on {m['date']} (git {m['git']}): {m['platform']}, "
        f"{m['cpu']}, {m['cpus']} CPUs, {m['memory']}; Python {m['python']}, libcst {m['libcst']}. "
        f"Corpus: {n} files, {res['corpus_bytes'] / 1e6:.1f} MB ({res['corpus']}).",
        "",
        "| run | files | wall s | CPU s | files/s (wall) | peak RSS MiB (one process) | peak PSS MiB (all processes) | load avg before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, t in T.items():
        files = t["extra"].get("files_checked", 0) + t["extra"].get("files_skipped", 0) or res.get("subset_sizes", {}).get(key, n)
        lines.append(
            f"| {t['label']} | {files} | {t['wall']:.2f} | {t['cpu']:.2f} | {files / t['wall']:.1f} | {t['max_rss_mib']:.0f} | "
            f"{t['extra'].get('peak_tree_pss_mib', float('nan')):.0f} | {t['load_before']:.1f} |"
        )
    lines += ["", "| ratio | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in R.items()]
    if "precheck" in res:
        p = res["precheck"]
        lines += ["", f"Pre-check: {p['files']} corpus files with every keras/tensorflow mention masked: {p['skipped']} skipped; "
                  f"read+decode+pre-check {p['check_cpu']:.3f} s CPU vs libcst parse {p['parse_cpu']:.2f} s CPU."]
    if "startup" in res:
        s = res["startup"]
        lines += ["", "Start-up, one 12-line file (median of {} runs each): python + libcst parse {:.3f} s wall / {:.3f} s CPU; "
                  "`epochlint check small.py` {:.3f} s / {:.3f} s (cached: {:.3f} s / {:.3f} s).".format(
                      s["python_libcst"]["runs"], s["python_libcst"]["median_wall"], s["python_libcst"]["median_cpu"],
                      s["epochlint_cold"]["median_wall"], s["epochlint_cold"]["median_cpu"],
                      s["epochlint_warm"]["median_wall"], s["epochlint_warm"]["median_cpu"])]
        imp = res["importtime"]
        lines += [f"`-X importtime`: {imp['modules']} modules, {imp['total_ms']:.0f} ms; largest: "
                  + ", ".join(f"{name} {ms:.0f} ms" for name, ms in imp["top"][:8])
                  + f"; never imported: {', '.join(imp['heavy_absent'])}."]
    lines += ["", "Peers: " + ", ".join(f"{k} {v}" for k, v in res.get("peers", {}).items())]
    for key in ("ruff", "fixit", "pylint"):
        extra = T.get(key, {}).get("extra", {})
        tail = extra.get("output_tail") or extra.get("stderr_tail")
        if tail:
            lines.append(f"Last line of {key}'s output (proof it checked the files): `{tail[0][:160]}`")
    for note in res["notes"]:
        lines.append(f"Note: {note}")
    lines.append(BLOCK_END)
    return "\n".join(lines) + "\n"


def write_results(block: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if BLOCK_START in text and BLOCK_END in text:
        head, rest = text.split(BLOCK_START, 1)
        _, tail = rest.split(BLOCK_END, 1)
        text = head + block.rstrip("\n") + tail
    else:
        text = block + "\n" + text
    RESULTS.write_text(text, encoding="utf-8")


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, help="a folder of unpacked sources (default: build bench/corpus/)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--every", type=int, default=1, help="use every Nth file of the corpus")
    p.add_argument("--fixit-every", type=int, default=10)
    p.add_argument("--pylint-every", type=int, default=20)
    p.add_argument("--precheck-every", type=int, default=4)
    p.add_argument("--startup-runs", type=int, default=7)
    p.add_argument("--skip-peers", action="store_true")
    p.add_argument("--only", default="core,peers,memory,precheck,startup", help="comma-separated parts")
    p.add_argument("--quick", action="store_true", help="every 8th file, one round, no peers")
    p.add_argument("--write", action="store_true", help="update the generated block in bench/RESULTS.md")
    args = p.parse_args(argv)
    if args.quick:
        args.every, args.rounds, args.skip_peers, args.startup_runs = max(args.every, 8), 1, True, 3
    WORK.mkdir(parents=True, exist_ok=True)
    src = args.corpus.resolve() if args.corpus else build_corpus(CORPUS)
    snap = snapshot()
    bench = Bench(args, src, snap)
    parts = set(args.only.split(","))
    peers = peers_venv(args.skip_peers or "peers" not in parts)
    res = bench.results
    res.update(machine=machine(), corpus=str(src), files=len(bench.files), argv="".join(" " + a for a in (argv if argv is not None else sys.argv[1:])))
    res["corpus_bytes"] = sum((src / f).stat().st_size for f in bench.files)
    log(f"{len(bench.files)} files, {res['corpus_bytes'] / 1e6:.1f} MB; snapshot {snap}")
    if "core" in parts:
        bench.core()
    if "peers" in parts:
        bench.peers(peers)
    if "memory" in parts:
        bench.memory()
    if "precheck" in parts:
        bench.precheck()
    if "startup" in parts:
        bench.startup()
    res.setdefault("subset_sizes", {}).update({
        "fixit": len(bench.files[:: args.fixit_every]), "fixit_parse": len(bench.files[:: args.fixit_every]),
        "pylint": len(bench.files[:: args.pylint_every]), "pylint_parse": len(bench.files[:: args.pylint_every]),
        "ruff": len(bench.files), "parse": len(bench.files), "parse_gc": len(bench.files), "mem_libcst_largest": 1,
    })
    res["ratios"] = ratios(res)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (WORK / f"results-{stamp}.json").write_text(json.dumps(res, indent=1), encoding="utf-8")
    block = markdown(res)
    print(block)
    if args.write:
        write_results(block)
        log(f"updated {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
