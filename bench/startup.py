"""Start-up of `epochlint check` on one file, against `python -c "import libcst"` (issue 13).

Commands, each a fresh process, run round-robin (one of each per round, so load that comes and
goes hits them all alike), N rounds (default 21); median, quartiles and range of the wall time:

- `python -c pass` and `python -c "import libcst"` (the floor: libcst's import);
- `epochlint check --no-cache small.py`: a 12-line Keras file with one finding (a parse, every
  rule, the text report); `epochlint check small.py`: the same with a warm cache entry;
- `epochlint check utils.py`: a file no rule can fire on (no parse: libcst is never imported).

With `--base REV` the epochlint commands also run from `git archive REV` (same rounds, same
files, its own folder and cache), for a before/after table. `-X importtime` of the no-cache Keras
check follows: module count, self time of linter.* vs libcst.*, the largest entries.
`--write` replaces the block between the `bench/startup.py` markers in bench/RESULTS.md.

    python bench/startup.py [--runs 21] [--base REV] [--write]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from results_block import write_block  # bench/ is sys.path[0] for a script
from run import SMALL_FILE as SMALL  # the same small Keras file bench/run.py times

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench/startup.py: start -->", "<!-- bench/startup.py: end -->"

UTILS = "import os\n\n\ndef helper(x):\n    return os.path.join(x, 'a')\n"


def _tree(rev: str, into: Path) -> Path:
    """The files of revision `rev` (git archive), for the before column."""
    into.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev], check=True, capture_output=True).stdout
    tar = into / "tree.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    tar.unlink()
    return into


def _workdir(parent: Path, name: str) -> Path:
    d = parent / name
    d.mkdir()
    (d / "small.py").write_text(SMALL)
    (d / "utils.py").write_text(UTILS)
    return d


def _run(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run of `cmd`."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{cmd} failed ({code}): {err.decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def _stats(xs: list[float]) -> dict:
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return {"median": statistics.median(xs), "q1": q[0], "q3": q[2], "min": min(xs), "max": max(xs), "n": len(xs)}


def instructions(cmd: list[str], cwd: Path, env: dict, out: Path) -> int:
    """Instructions executed by one run of `cmd` (valgrind's callgrind): the same on a loaded
    machine as on an idle one, unlike seconds."""
    proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd], cwd=cwd, env=env,
                          capture_output=True, text=True)
    for line in proc.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit(f"callgrind gave no count for {cmd}: {proc.stderr[-2000:]}")


IMPORTTIME_RUNS = 5


def importtime(cmd: list[str], cwd: Path, env: dict) -> dict:
    """`-X importtime` of `cmd`, each module's self time the least of IMPORTTIME_RUNS runs."""
    best: dict[str, tuple[int, int]] = {}  # name -> (self us, cumulative us)
    for _ in range(IMPORTTIME_RUNS):
        err = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], cwd=cwd, env=env, capture_output=True, text=True).stderr
        for line in err.splitlines():
            if line.startswith("import time:") and line.count("|") == 2:
                own, cum, name = line[len("import time:"):].split("|")
                if own.strip().isdigit():
                    key = name.strip()
                    if key not in best or int(own) < best[key][0]:
                        best[key] = (int(own), int(cum))
    rows = [(own, cum, name) for name, (own, cum) in best.items()]  # (self us, cumulative us, name)

    def self_ms(prefix: str) -> float:
        return sum(r[0] for r in rows if r[2] == prefix or r[2].startswith(prefix + ".")) / 1000

    return {
        "modules": len(rows),
        "self_ms": sum(r[0] for r in rows) / 1000,
        "linter_ms": self_ms("linter"),
        "libcst_ms": self_ms("libcst"),
        "linter_modules": sorted(r[2] for r in rows if r[2] == "linter" or r[2].startswith("linter.")),
        "top_self": sorted(rows, reverse=True)[:12],
        "top_linter": sorted((r for r in rows if r[2].startswith("linter")), reverse=True)[:8],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--base", help="a git revision to measure beside this checkout (before/after)")
    ap.add_argument("--write", action="store_true", help="replace the bench/startup.py block in bench/RESULTS.md")
    ap.add_argument("--instructions", action="store_true",
                    help="also count each command's instructions once with valgrind (load-independent)")
    ap.add_argument("--bytecode", choices=("yes", "no", "both"), default="both",
                    help="epochlint's own modules from cached bytecode (as installed by pip: yes), compiled from source on "
                         "every run (PYTHONDONTWRITEBYTECODE without a __pycache__: no), or both (default)")
    args = ap.parse_args()
    py = sys.executable
    head_rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "linter", "epochlint.py"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, NO_COLOR="1")
        env.pop("PYTHONPATH", None)
        trees = {"after": ROOT}
        if args.base:
            trees = {"before": _tree(args.base, tmp / "base"), **trees}
        commands: dict[str, tuple[list[str], Path, dict]] = {
            "python -c pass": ([py, "-c", "pass"], tmp, env),
            'python -c "import libcst"': ([py, "-c", "import libcst"], tmp, env),
        }
        modes = {"yes": ("bytecode",), "no": ("source",), "both": ("bytecode", "source")}[args.bytecode]
        for label, tree in trees.items():
            for mode in modes:
                tag = f"{label}, {mode}"
                work = _workdir(tmp, f"{label}-{mode}")
                lint_env = dict(env, PYTHONPATH=str(tree))
                if mode == "bytecode":  # written once (by the cache-filling run), outside the tree
                    lint_env.pop("PYTHONDONTWRITEBYTECODE", None)
                    lint_env["PYTHONPYCACHEPREFIX"] = str(tmp / f"pycache-{label}")
                else:
                    lint_env["PYTHONDONTWRITEBYTECODE"] = "1"
                    if (Path(tree) / "linter" / "__pycache__").exists():
                        raise SystemExit(f"{tree}/linter/__pycache__ exists: 'source' would read it; remove it")
                lint = [py, "-m", "epochlint", "check"]
                commands[f"check --no-cache small.py [{tag}]"] = (lint + ["--no-cache", "small.py"], work, lint_env)
                subprocess.run(lint + ["small.py"], cwd=work, env=lint_env, capture_output=True)  # fill the cache
                commands[f"check small.py, warm cache [{tag}]"] = (lint + ["small.py"], work, lint_env)
                commands[f"check utils.py [{tag}]"] = (lint + ["utils.py"], work, lint_env)
        times: dict[str, list[float]] = {k: [] for k in commands}
        cpu: dict[str, list[float]] = {k: [] for k in commands}
        loads = [os.getloadavg()[0]]
        for i in range(args.runs):
            order = list(commands.items())
            if i % 2:  # alternate the order too: no command always follows the same one
                order.reverse()
            for label, (cmd, cwd, e) in order:
                wall, used = _run(cmd, cwd, e)
                times[label].append(wall)
                cpu[label].append(used)
            loads.append(os.getloadavg()[0])
            print(f"round {i + 1}/{args.runs} load {loads[-1]:.2f}", file=sys.stderr)
        stats = {k: _stats(v) for k, v in times.items()}
        cpu_stats = {k: _stats(v) for k, v in cpu.items()}
        floor = stats['python -c "import libcst"']["median"]
        cpu_floor = cpu_stats['python -c "import libcst"']["median"]
        counts: dict[str, int] = {}
        if args.instructions:
            for label, (cmd, cwd, e) in commands.items():
                if "source]" in label:  # compiling our modules on every run: seconds tell it; skip (slow under valgrind)
                    continue
                counts[label] = instructions(cmd, cwd, e, tmp / "callgrind.out")
                print(f"{label}: {counts[label]:,} instructions", file=sys.stderr)
        imports = {}
        for label in trees:
            imports[label] = importtime(*commands[f"check --no-cache small.py [{label}, {modes[0]}]"])
        utils_imports = importtime(*commands[f"check utils.py [after, {modes[0]}]"])

    lines = [
        START,
        f"Start-up, generated by `python bench/startup.py --runs {args.runs}{' --base ' + args.base if args.base else ''} --bytecode {args.bytecode}{' --instructions' if args.instructions else ''} --write` "
        f"on {time.strftime('%Y-%m-%d %H:%M')} (git {head_rev}{' + uncommitted' if dirty else ''}; {platform.platform()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; load average {min(loads):.2f}-{max(loads):.2f} "
        "during the runs). One fresh process per run, all commands round-robin (order reversed every other round); "
        "wall seconds and CPU seconds (user + system, of the process); ratio = median / median of `import libcst`. small.py = 12-line Keras file with one finding; "
        "utils.py = a file no rule can fire on. bytecode = epochlint's modules from cached .pyc files (as a pip install "
        "leaves them); source = compiled on every run (PYTHONDONTWRITEBYTECODE, no __pycache__: this machine's default "
        "for a checkout). libcst is always loaded from its installed .pyc files.",
        "",
        "| command | N | wall median s | wall q1-q3 s | wall min-max s | wall vs import libcst | CPU median s | CPU vs import libcst |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, s in stats.items():
        c = cpu_stats[label]
        lines.append(
            f"| `{label}` | {s['n']} | {s['median']:.3f} | {s['q1']:.3f}-{s['q3']:.3f} | {s['min']:.3f}-{s['max']:.3f} | "
            f"{s['median'] / floor:.2f}x | {c['median']:.3f} | {c['median'] / cpu_floor:.2f}x |"
        )
    lines.append("")
    if counts:
        base = counts['python -c "import libcst"']
        lines += [
            "Instructions (valgrind callgrind, one run each; independent of the machine's load):",
            "",
            "| command | instructions (M) | vs import libcst |",
            "|---|---|---|",
            *(f"| `{label}` | {n / 1e6:,.1f} | {n / base:.3f}x |" for label, n in counts.items()),
            "",
        ]
    for label, imp in imports.items():
        top = ", ".join(f"{name} {own / 1000:.1f}" for own, _, name in imp["top_self"][:8])
        top_linter = ", ".join(f"{name} {own / 1000:.1f}" for own, _, name in imp["top_linter"][:6])
        lines.append(
            f"`-X importtime` (least of {IMPORTTIME_RUNS} runs per module) of `check --no-cache small.py` [{label}, {modes[0]}]: "
            f"{imp['modules']} modules, {imp['self_ms']:.0f} ms self "
            f"(libcst.* {imp['libcst_ms']:.0f} ms, linter.* {imp['linter_ms']:.0f} ms in {len(imp['linter_modules'])} modules); "
            f"largest self (ms): {top}; largest linter.*: {top_linter}."
        )
        lines.append("")
    lines.append(
        f"`-X importtime` of `check utils.py` [after, {modes[0]}]: {utils_imports['modules']} modules, {utils_imports['self_ms']:.0f} ms self, "
        f"libcst imported: {'yes' if utils_imports['libcst_ms'] else 'no'}."
    )
    lines.append(END)
    block = "\n".join(lines) + "\n"
    print(block)
    if args.write:
        write_block(block, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
