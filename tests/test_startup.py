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


GITIGNORE = "__pycache__/\n*.py[cod]\n.venv/\nbuild/\n# a comment\n!build/keep.py\n"


def test_force_exclude_reads_gitignore_without_pathspec_when_no_pattern_can_match(tmp_path):
    """The pre-commit hooks pass `--force-exclude`: a named file is checked against .gitignore.
    pathspec (with typing_extensions and asyncio, ~40 ms) is imported only when a pattern's
    literal text appears in the path; an ignored file is still skipped."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text(GITIGNORE)
    (tmp_path / "train.py").write_text(KERAS)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text(KERAS)
    rc, found, _ = _imported(tmp_path, ["check", "--no-cache", "--force-exclude", "train.py"], ("pathspec",))
    assert (rc, found) == (1, [])
    rc, found, _ = _imported(tmp_path, ["check", "--no-cache", "--force-exclude", "build/gen.py"], ("pathspec",))
    assert (rc, found) == (0, ["pathspec"])  # ignored by `build/`: not checked


def test_the_gitignore_prefilter_never_hides_a_match():
    """Wherever pathspec ignores a path, `_may_match` says it may (it only ever spares the import)."""
    import re
    import warnings

    import pathspec
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from linter.discovery import _may_match

    patterns = st.lists(st.text(alphabet="ab.*?[]/!# \\-", max_size=8), min_size=1, max_size=3)
    paths = st.lists(st.text(alphabet="abAB.-_", min_size=1, max_size=4), min_size=1, max_size=4).map("/".join)

    @settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
    @given(patterns, paths, st.booleans())
    def check(lines, path, is_dir):
        rel = path + ("/" if is_dir else "")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                spec = pathspec.GitIgnoreSpec.from_lines(lines)
            except (ValueError, re.error):  # not a pattern (epochlint then ignores nothing for it)
                return
            if spec.match_file(rel):
                assert _may_match(lines, rel), (lines, rel)

    check()
    assert not _may_match(GITIGNORE.splitlines(), "src/train.py")
    assert _may_match(GITIGNORE.splitlines(), "build/gen.py")


def test_a_gitignore_pattern_pathspec_cannot_compile_ignores_nothing(tmp_path):
    """`[?-.]` made pathspec raise re.error, which escaped as a traceback; now that .gitignore
    ignores nothing, as for any pattern git would not accept."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("[?-.]\n")
    (tmp_path / "train.py").write_text(KERAS)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-m", "epochlint", "check", "--no-cache", "--force-exclude", "train.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "EPL101" in proc.stdout and "Traceback" not in proc.stderr, proc.stderr
