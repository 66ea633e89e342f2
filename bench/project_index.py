"""The project index's costs (issue 10): a pre-commit run on one file of a 200-module project,
and a whole project cold vs warm.

    python bench/project_index.py [--runs 7] [--modules 200]

A project is generated in a temporary folder: a package of MODULES modules importing each other
(each imports the next two: a chain deep enough to give the dependency order work), a models.py
with a Keras builder, and train.py importing it and three package modules. Timed, each in a
fresh process (CPU = user + sys from wait4, median of the runs):

- `python -c "import libcst"` (the floor the issue measures against);
- `epochlint check train.py` as the pre-commit hook runs it, with a warm cache (the hook's usual
  case: the index scans and resolves train.py's imports, reads each imported module's cached
  summary, and the result entry is a hit);
- the same with no cache entry (models.py summarised: its one parse);
- `epochlint check --jobs 1 .` cold (fresh cache) and warm.

    python bench/project_index.py --corpus /tmp/benchcorpus/src [--cold-runs 1] [--runs 7] [--write]

measures a real corpus instead (issue 10's "a warm run within 0.01x of cold"), copied to a
temporary folder (its `.epochlint_cache` is the copy's): `check --jobs 1 .` cold (no cache,
filling it), then once more (the first warm run: the cold run created `.epochlint_cache` in the
root, a folder the kept import resolutions looked at, and recorded the files it read within
the racy window of their cache entries, if any), then the steady warm runs. `--write` puts the
figures in bench/RESULTS.md (bench/results_block.py).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import measure  # noqa: E402

MODELS = """\
import keras

def build_model():
    return keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
"""
TRAIN = """\
from models import build_model
from pkg.m000 import helper_000
from pkg import m001, m002

model = build_model()
model.fit(x, y, nb_epoch=10)
for fold in range(5):
    model.fit(x, y, epochs=10)
"""


def make_project(root: Path, modules: int) -> None:
    (root / ".git").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.epochlint]\n", encoding="utf-8")
    pkg = root / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    for i in range(modules):
        a, b = (i + 1) % modules, (i + 2) % modules
        imports = f"from pkg.m{a:03d} import helper_{a:03d}\nfrom . import m{b:03d}\n" if i + 2 < modules else ""
        body = "".join(f"\ndef helper_{i:03d}_{k}(x):\n    return [x] * {k}\n" for k in range(8))
        text = f'"""module {i}"""\n{imports}import tensorflow as tf\n\ndef helper_{i:03d}(x):\n    return tf.constant(x)\n{body}'
        (pkg / f"m{i:03d}.py").write_text(text, encoding="utf-8")
    (root / "models.py").write_text(MODELS, encoding="utf-8")
    (root / "train.py").write_text(TRAIN, encoding="utf-8")


BLOCK_START = "<!-- bench/project_index.py --corpus: start -->"
BLOCK_END = "<!-- bench/project_index.py --corpus: end -->"
LINT = [sys.executable, "-c", "import sys; from linter.cli import main; sys.exit(main())", "check"]


def corpus_mode(corpus: Path, cold_runs: int, runs: int, write: bool) -> int:
    """Cold vs warm `check --jobs 1 .` on a copy of `corpus` (see the module docstring)."""
    import datetime as dt
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(HERE.parent), NO_COLOR="1")
    files = sum(1 for _ in corpus.rglob("*.py"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        shutil.copytree(corpus, root, ignore=shutil.ignore_patterns(".epochlint_cache"))
        cache = root / ".epochlint_cache"
        cold, first, warm, floor = [], [], [], []
        for _ in range(cold_runs):
            if cache.exists():
                shutil.rmtree(cache)
            cold.append(measure("cold", [*LINT, "--jobs", "1", "."], root, env))
            first.append(measure("first warm", [*LINT, "--jobs", "1", "."], root, env))
        for _ in range(runs):
            warm.append(measure("warm", [*LINT, "--jobs", "1", "."], root, env))
            floor.append(measure("python -c pass", [sys.executable, "-c", "pass"], root, env))
    med = {name: (statistics.median(t.cpu for t in ts), statistics.median(t.wall for t in ts)) for name, ts in (("cold", cold), ("first warm", first), ("warm", warm), ("python -c pass", floor))}
    load = statistics.median(t.load_before for t in cold + warm)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    lines = [
        BLOCK_START,
        f"**Warm vs cold on the bench corpus** ({files:,} files, `python bench/project_index.py --corpus {corpus}`, "
        f"git {commit}, {dt.date.today()}, load average ~{load:.1f}; CPU = user + sys of the process, median of "
        f"{cold_runs} cold and {runs} warm runs):",
        "",
        "| run | CPU s | wall s |",
        "|---|---|---|",
        *(f"| `check --jobs 1 .` {name} | {cpu:.3f} | {wall:.3f} |" if name != "python -c pass" else f"| `python -c pass` (interpreter start-up) | {cpu:.3f} | {wall:.3f} |" for name, (cpu, wall) in med.items()),
        "",
        f"warm / cold CPU = **{med['warm'][0] / med['cold'][0]:.4f}** (target 0.01); first warm run / cold = {med['first warm'][0] / med['cold'][0]:.4f}.",
        BLOCK_END,
    ]
    block = "\n".join(lines) + "\n"
    print(block)
    if write:
        from results_block import write_block

        write_block(block, BLOCK_START, BLOCK_END)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--modules", type=int, default=200)
    p.add_argument("--corpus", type=Path, help="measure cold vs warm on this folder's sources instead (see the docstring)")
    p.add_argument("--cold-runs", type=int, default=1)
    p.add_argument("--write", action="store_true", help="with --corpus: write the figures to bench/RESULTS.md")
    args = p.parse_args()
    if args.corpus is not None:
        return corpus_mode(args.corpus.resolve(), args.cold_runs, args.runs, args.write)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent), NO_COLOR="1")
    lint = LINT
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        make_project(root, args.modules)
        cache = root / ".epochlint_cache"
        series: dict = {"import libcst": [], "check train.py, warm": [], "check train.py, no cache entry": [], "check --jobs 1 ., cold": [], "check --jobs 1 ., warm": []}
        for _ in range(args.runs):
            series["import libcst"].append(measure("import libcst", [sys.executable, "-c", "import libcst"], root, env))
            if cache.exists():
                shutil.rmtree(cache)
            series["check train.py, no cache entry"].append(measure("train.py cold", [*lint, "train.py"], root, env))
            series["check train.py, warm"].append(measure("train.py warm", [*lint, "train.py"], root, env))
            shutil.rmtree(cache)
            series["check --jobs 1 ., cold"].append(measure("project cold", [*lint, "--jobs", "1", "."], root, env))
            series["check --jobs 1 ., warm"].append(measure("project warm", [*lint, "--jobs", "1", "."], root, env))
        floor = statistics.median(t.cpu for t in series["import libcst"])
        floor_wall = statistics.median(t.wall for t in series["import libcst"])
        print(f"\n{args.modules + 2} modules, median of {args.runs} runs (CPU s / wall s / ratio to `import libcst` CPU, wall)")
        print("| run | CPU | wall | CPU / import libcst | wall / import libcst |")
        print("|---|---|---|---|---|")
        for name, ts in series.items():
            cpu, wall = statistics.median(t.cpu for t in ts), statistics.median(t.wall for t in ts)
            print(f"| {name} | {cpu:.3f} | {wall:.3f} | {cpu / floor:.2f} | {wall / floor_wall:.2f} |")
        cold = statistics.median(t.cpu for t in series["check --jobs 1 ., cold"])
        warm = statistics.median(t.cpu for t in series["check --jobs 1 ., warm"])
        print(f"\nwhole project: warm / cold CPU = {warm / cold:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
