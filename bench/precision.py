"""Findings on a corpus of real code, before and after a change: what to triage.

    python bench/precision.py CORPUS_DIR                 # this checkout vs HEAD~1
    python bench/precision.py CORPUS_DIR --base 09703e2  # this checkout vs a revision
    python bench/precision.py CORPUS_DIR --base 09703e2 --strict

The corpus is whatever real Keras code you have unpacked outside the repository (public
repositories' .py and .ipynb files; never commit it). The base revision is checked out with
`git worktree add --detach` into a temporary folder and removed afterwards; both versions run as
`python -m epochlint check --no-cache --jobs 1 --format json --exit-zero CORPUS_DIR` with their own
code first on PYTHONPATH. The report gives the counts per code for each version, then every
finding that only one of them reports (`-` gone, `+` new), with the first line of its message:
each of those is a line of the triage a closing note owes (true or false, and why).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def findings(checkout: Path, corpus: Path, strict: bool) -> dict:
    cmd = [sys.executable, "-m", "epochlint", "check", "--no-cache", "--jobs", "1", "--format", "json", "--exit-zero"]
    if strict:
        cmd.append("--strict")
    env = dict(os.environ, PYTHONPATH=str(checkout), NO_COLOR="1")
    proc = subprocess.run([*cmd, str(corpus)], cwd=checkout, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"epochlint failed in {checkout} (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def key(f: dict) -> tuple:
    return (f["code"], f["path"], f.get("cell") or 0, f["line"], f["column"])


def show(f: dict, corpus: Path) -> str:
    path = os.path.relpath(f["path"], corpus)
    where = f"{path}[cell {f['cell']}]" if f.get("cell") else path
    return f"{f['code']} {where}:{f['line']}:{f['column']} {f['message'][:110]}"


def compare(before: dict, after: dict, corpus: Path) -> list[str]:
    lines = []
    for name, data in (("before", before), ("after", after)):
        counts = Counter(f["code"] for f in data["findings"])
        lines.append(f"{name}: {data['files_checked']} files, {len(data['findings'])} findings " + " ".join(f"{c}={n}" for c, n in sorted(counts.items())))
    old = {key(f): f for f in before["findings"]}
    new = {key(f): f for f in after["findings"]}
    lines += [f"- {show(old[k], corpus)}" for k in sorted(set(old) - set(new))]
    lines += [f"+ {show(new[k], corpus)}" for k in sorted(set(new) - set(old))]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", type=Path)
    p.add_argument("--base", default="HEAD~1", help="git revision to compare with (default HEAD~1)")
    p.add_argument("--strict", action="store_true")
    args = p.parse_args(argv)
    corpus = args.corpus.resolve()
    with tempfile.TemporaryDirectory(prefix="epochlint-base-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(base), args.base], check=True)
        try:
            before = findings(base, corpus, args.strict)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], check=False)
    after = findings(REPO, corpus, args.strict)
    print("\n".join(compare(before, after, corpus)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
