"""Start-up, guarded structurally (what a run imports), not by timing: bench/startup.py has the
seconds. Each check runs in a fresh interpreter (`linter.cli.main` in `python -c`) that then
reports which of the modules a run should not need it imported."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERAS = "import keras\nmodel = keras.Sequential()\nmodel.epochs = 3\nmodel.fit(x, y)\n"
# not needed to check and report one .py file as text: other formats, fixing, notebooks, the
# TOML parser (no config file here), the guard's pickling, tracebacks (no internal error)
NOT_FOR_A_TEXT_CHECK = (
    "linter.report.sarif", "linter.report.json_format", "linter.report.github", "linter.report.concise",
    "linter.fixes", "linter.notebook", "linter.baseline", "linter.docs", "tomllib", "pickle", "difflib", "traceback",
)


def _imported(tmp_path: Path, argv: list[str], watch: tuple[str, ...]) -> tuple[int, list[str], list[str]]:
    """Exit code, the `watch` modules imported, and every linter.rules/linter.analysis module imported."""
    code = (
        "import json, sys\nfrom linter.cli import main\n"
        f"rc = main({argv!r})\n"
        f"watch = [m for m in {watch!r} if m in sys.modules]\n"
        "analysis = sorted(m for m in sys.modules if m.startswith(('linter.rules.epl', 'linter.analysis.')))\n"
        "print(json.dumps([rc, watch, analysis]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rc, watch_found, analysis = json.loads(proc.stdout.splitlines()[-1])
    return rc, watch_found, analysis


def test_a_text_check_of_one_keras_file_imports_no_other_format_fixer_or_parser(tmp_path):
    (tmp_path / "train.py").write_text(KERAS)
    rc, found, rules = _imported(tmp_path, ["check", "--no-cache", "train.py"], NOT_FOR_A_TEXT_CHECK + ("libcst",))
    assert rc == 1  # the EPL101 finding: the file was checked
    assert found == ["libcst"], found
    assert any(m.startswith("linter.rules.epl") for m in rules)


def test_the_selected_format_is_the_one_imported(tmp_path):
    (tmp_path / "train.py").write_text(KERAS)
    formats = ("linter.report.text", "linter.report.sarif", "linter.report.json_format", "linter.report.github")
    rc, found, _ = _imported(tmp_path, ["check", "--no-cache", "--format", "json", "train.py"], formats)
    assert (rc, found) == (1, ["linter.report.json_format"])


def test_select_imports_only_the_selected_rules(tmp_path):
    (tmp_path / "train.py").write_text(KERAS)
    rc, _, modules = _imported(tmp_path, ["check", "--no-cache", "--select", "EPL101", "train.py"], ())
    assert rc == 1
    assert [m for m in modules if m.startswith("linter.rules.")] == ["linter.rules.epl101_epochs_attribute"]
    # and the default selection loads them all
    _, _, modules = _imported(tmp_path, ["check", "--no-cache", "train.py"], ())
    from linter.rules import ALL_CODES, META_CODES

    assert len([m for m in modules if m.startswith("linter.rules.")]) == len(set(ALL_CODES) - set(META_CODES))


def test_a_run_answered_from_the_cache_imports_neither_libcst_nor_the_rules(tmp_path):
    (tmp_path / "train.py").write_text(KERAS)
    watch = ("libcst", "linter.engine", "linter.semantic")
    first = _imported(tmp_path, ["check", "train.py"], watch)
    assert first[0] == 1 and "libcst" in first[1]  # filled the cache
    rc, found, modules = _imported(tmp_path, ["check", "train.py"], watch)
    assert (rc, found, modules) == (1, [], [])


def test_a_config_file_is_still_read(tmp_path):
    """tomllib is imported lazily: a pyproject with [tool.epochlint] still applies."""
    (tmp_path / "train.py").write_text(KERAS)
    (tmp_path / "pyproject.toml").write_text('[tool.epochlint]\nignore = ["EPL101"]\n')
    rc, found, _ = _imported(tmp_path, ["check", "--no-cache", "train.py"], ("tomllib",))
    assert (rc, found) == (0, ["tomllib"])
