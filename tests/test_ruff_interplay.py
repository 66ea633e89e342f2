"""epochlint beside ruff (README "Running with ruff"): with `lint.external = ["EPL"]`, ruff's
noqa rules (RUF100 unused, RUF102 invalid code) leave `# noqa: EPL...` alone under `--fix`, and
epochlint still honours the comment afterwards; without it ruff flags (and --fix deletes) the
codes; the rule-name form makes ruff warn. Skipped when ruff is not installed (it is in the
`test` extra)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> list[str] | None:
    try:
        from ruff.__main__ import find_ruff_bin  # the ruff wheel's own locator

        return [str(find_ruff_bin())]
    except (ImportError, FileNotFoundError):
        found = shutil.which("ruff")
        return [found] if found else None


RUFF = _ruff()
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed (pip install ruff; it is in the test extra)")

SOURCE = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.fit(x_train, y_train, initial_epoch=10, epochs=5)  # noqa: EPL105
"""
NAMED = SOURCE.replace("# noqa: EPL105", "# noqa: initial-epoch-not-below-epochs")


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*RUFF, "check", "--no-cache", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def epochlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", "check", "--no-cache", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_external_epl_keeps_epochlint_noqa_through_ruff_fix(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nexternal = ["EPL"]\n')
    (tmp_path / "train.py").write_text(SOURCE)
    proc = ruff("--select", "RUF100,RUF102", "--fix", "train.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "train.py").read_text() == SOURCE
    after = epochlint("train.py", cwd=tmp_path)
    assert after.returncode == 0, after.stdout


def test_without_external_ruff_flags_the_epl_code_and_fix_loses_the_suppression(tmp_path):
    (tmp_path / "train.py").write_text(SOURCE)
    report = ruff("--select", "RUF100,RUF102", "--output-format", "concise", "train.py", cwd=tmp_path)
    assert "EPL105" in report.stdout and ("RUF100" in report.stdout or "RUF102" in report.stdout), report.stdout
    ruff("--select", "RUF100,RUF102", "--fix", "train.py", cwd=tmp_path)
    assert "EPL105" not in (tmp_path / "train.py").read_text()
    after = epochlint("train.py", cwd=tmp_path)
    assert after.returncode == 1 and "EPL105" in after.stdout  # the finding is back: why the README says external


def test_rule_name_noqa_makes_ruff_warn_but_epochlint_accepts_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nexternal = ["EPL"]\n')
    (tmp_path / "train.py").write_text(NAMED)
    proc = ruff("--select", "RUF100", "train.py", cwd=tmp_path)
    assert "Invalid `# noqa` directive" in proc.stderr, proc.stderr
    assert epochlint("train.py", cwd=tmp_path).returncode == 0
