"""The pre-commit hooks (.pre-commit-hooks.yaml) through the real `pre-commit try-repo`.

The repository under test is a snapshot: the package files of this working tree (tracked and
untracked, as `pip install .` would see them) committed to a temporary git repository, so the
test sees the current code whatever the state of the checkout (try-repo would otherwise only
pick up tracked changes). pre-commit builds its own virtual environment with `pip install .`
(the base package: the test checks that no TensorFlow is installed), which needs the package
registry for libcst/pathspec (pip's cache makes repeats faster). Slow (two environments are
built, one per try-repo run); deselect with `-m "not slow"`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PATHS = ("pyproject.toml", "README.md", "LICENSE", "epochlint.py", ".pre-commit-hooks.yaml", "linter", "runtime_check")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="git is needed"),
]

BAD = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.epochs = 3
model.fit(x, y)  # noqa: EPL101
"""
GOOD = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(x, y, epochs=3)
"""
NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": ["!pip install keras\n", "import keras\n", "model = keras.Sequential()\n", "model.fit(x, y, epochs=2)  # noqa: EPL101"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def git(*args: str, cwd: Path) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def snapshot(dest: Path) -> str:
    """Commit the package files of the working tree to a new repository; return the commit."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *PACKAGE_PATHS],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    dest.mkdir()
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "snapshot", cwd=dest)
    return git("rev-parse", "HEAD", cwd=dest).strip()


def try_repo(repo: Path, rev: str, project: Path, files: list[str], pip_log: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(project.parent / "pre-commit-home"), PIP_LOG=str(pip_log), PIP_NO_COMPILE="1", NO_COLOR="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(repo), "--ref", rev, "--color", "never", "--files", *files],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )


def installed(pip_log: Path) -> list[str]:
    lines = [ln for ln in pip_log.read_text().splitlines() if "Successfully installed" in ln]
    assert lines, "pip did not install anything"
    return lines[-1].split("Successfully installed", 1)[1].split()


def status(output: str, name: str) -> str:
    m = re.search(rf"^{re.escape(name)}\.+(Passed|Failed|\(no files to check\)Skipped)$", output, re.MULTILINE)
    assert m, f"no status line for {name!r} in:\n{output}"
    return m.group(1)


@pytest.mark.skipif(subprocess.run([sys.executable, "-m", "pre_commit", "--version"], capture_output=True).returncode != 0, reason="pre-commit is not installed")
def test_hooks_fail_on_a_bad_file_fix_it_and_pass_once_it_is_fixed(tmp_path):
    rev = snapshot(tmp_path / "epochlint-snapshot")
    project = tmp_path / "project"
    project.mkdir()
    git("init", "-q", cwd=project)
    (project / "train.py").write_text(BAD)
    (project / "explore.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n")
    (project / "notes.txt").write_text("model.epochs = 3\n")  # not Python: never passed to the hooks
    git("add", "-A", cwd=project)

    # 1. both hooks (try-repo without a hook id runs all): findings fail, the fix hook edits
    first = try_repo(tmp_path / "epochlint-snapshot", rev, project, ["train.py", "explore.ipynb", "notes.txt"], tmp_path / "pip1.log")
    out = first.stdout + first.stderr
    assert first.returncode == 1, out
    assert status(out, "epochlint") == "Failed"
    assert status(out, "epochlint (fix)") == "Failed"
    assert "files were modified by this hook" in out
    assert out.count("train.py:5:1: EPL101") == 1, out  # reported once: by the epochlint hook, not by the fix hook
    assert "Fixed 2 findings:" in out  # what the fix hook did (EPL900 in train.py, one in the notebook)
    assert "notes.txt" not in out
    fixed_py = (project / "train.py").read_text()
    assert "# noqa" not in fixed_py and "model.epochs = 3" in fixed_py  # EPL900 fixed, EPL101 left to the author
    nb = json.loads((project / "explore.ipynb").read_text())
    assert nb["cells"][0]["source"][-1] == "model.fit(x, y, epochs=2)"  # the notebook was fixed in place
    assert nb["cells"][0]["source"][0] == "!pip install keras\n"
    # the hook environment has the base package only
    packages = installed(tmp_path / "pip1.log")
    assert any(p.startswith("epochlint-") for p in packages) and any(p.startswith("libcst-") for p in packages)
    assert not [p for p in packages if p.lower().startswith(("tensorflow", "keras", "tf-keras", "tf_keras", "numpy"))], packages

    # 2. the author fixes the rest: both hooks pass
    (project / "train.py").write_text(GOOD)
    second = try_repo(tmp_path / "epochlint-snapshot", rev, project, ["train.py", "explore.ipynb"], tmp_path / "pip2.log")
    out = second.stdout + second.stderr
    assert second.returncode == 0, out
    assert status(out, "epochlint") == "Passed"
    assert status(out, "epochlint (fix)") == "Passed"
    assert (project / "train.py").read_text() == GOOD


def readme_config(repo: Path, rev: str) -> str:
    """The README's .pre-commit-config.yaml snippet, with the repository URL and rev filled in."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## pre-commit", 1)[1]
    snippet = section.split("```yaml", 1)[1].split("```", 1)[0]
    assert "<URL of the epochlint repository>" in snippet
    rev_line = re.search(r"^\s*rev: (\S+)", snippet, re.MULTILINE)
    assert rev_line and re.fullmatch(r"[0-9a-f]{40}", rev_line.group(1)), "rev must be a commit SHA placeholder"
    return snippet.replace("<URL of the epochlint repository>", str(repo)).replace(rev_line.group(1), rev)


def run_hooks(project: Path, files: list[str], home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PIP_NO_COMPILE="1", NO_COLOR="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--color", "never", "--files", *files],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.skipif(subprocess.run([sys.executable, "-m", "pre_commit", "--version"], capture_output=True).returncode != 0, reason="pre-commit is not installed")
def test_readme_config_as_pasted_fix_hook_fails_only_by_changing_files_and_baseline_on_both(tmp_path):
    repo = tmp_path / "epochlint-snapshot"
    rev = snapshot(repo)
    project = tmp_path / "project"
    project.mkdir()
    git("init", "-q", cwd=project)
    config = readme_config(repo, rev)
    (project / ".pre-commit-config.yaml").write_text(config)
    # nothing fixable: the fix hook passes, the epochlint hook fails and reports the finding once
    (project / "train.py").write_text(BAD.replace("  # noqa: EPL101", ""))
    git("add", "-A", cwd=project)
    home = tmp_path / "pre-commit-home"
    first = run_hooks(project, ["train.py"], home)
    out = first.stdout + first.stderr
    assert first.returncode == 1, out
    assert status(out, "epochlint (fix)") == "Passed"
    assert status(out, "epochlint") == "Failed"
    assert out.count("train.py:5:1: EPL101") == 1, out

    # a baseline given to both hooks (as the README shows): the recorded finding passes both
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "epochlint", "check", "--write-baseline", ".epochlint-baseline.json", "train.py"], cwd=project, env=env, check=True, capture_output=True)
    with_baseline = config.replace(
        "      - id: epochlint-fix", "      - id: epochlint-fix\n        args: [--baseline, .epochlint-baseline.json]"
    ).replace("      - id: epochlint  ", "      - id: epochlint\n        args: [--baseline, .epochlint-baseline.json]\n       ")
    assert with_baseline.count("--baseline") == 2, with_baseline
    (project / ".pre-commit-config.yaml").write_text(with_baseline)
    git("add", "-A", cwd=project)
    second = run_hooks(project, ["train.py"], home)
    out = second.stdout + second.stderr
    assert second.returncode == 0, out
    assert status(out, "epochlint (fix)") == "Passed" and status(out, "epochlint") == "Passed"
