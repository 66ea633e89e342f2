"""linter.parallel and linter.cache: the pool gives the in-process results in the same order,
failures in workers stay on their file, and the cache is keyed, shared and repaired correctly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from linter import cache as cache_mod
from linter import engine, parallel, runner
from linter.cache import CACHE_DIR_NAME, Cache
from linter.config import Settings
from linter.project.plan import plan
from linter.runner import FixMode

ROOT = Path(__file__).resolve().parent.parent

BAD = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.epochs = 10
model.fit(x, y, nb_epoch=3)
"""
GOOD = """\
import keras

model = keras.Sequential([keras.layers.Dense(1)])
model.fit(x, y, epochs=10)
"""
PLAIN = "print('no deep learning here')\n"
BROKEN = "import keras\ndef f(:\n    pass\n"


def make_tree(root: Path, n: int = 14) -> list[str]:
    """n files cycling through bad/good/plain/broken, as relative paths (the CLI's form)."""
    kinds = [BAD, GOOD, PLAIN, BROKEN]
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = root / f"m{i:02d}.py"
        p.write_text(kinds[i % len(kinds)] + f"# file {i}\n" * (i + 1), encoding="utf-8")
        paths.append(str(p))
    return paths


def comparable(outcomes) -> list:
    """Everything a report shows of each outcome, in order."""
    return [
        (o.result.path, o.result.skipped, [(f.to_json(), f.detail is not None) for f in o.result.findings], o.lines, o.fixed, o.diff)
        for o in outcomes
    ]


def codes(outcome) -> list[str]:
    return [f"{f.code}:{f.name}" for f in outcome.result.findings]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path)


# --------------------------------------------------------------------------- pool
def test_pool_gives_the_in_process_outcomes_in_the_same_order(tmp_path, settings):
    files = make_tree(tmp_path / "src", 14)
    alone = parallel.check_files(files, settings, jobs=1, use_cache=False)
    pooled = parallel.check_files(files, settings, jobs=2, use_cache=False)
    assert [o.result.path for o in pooled] == files
    assert comparable(pooled) == comparable(alone)
    assert any(o.result.findings for o in alone) and any(o.result.skipped for o in alone)
    assert codes(alone[3]) == ["EPL000:syntax-error"]


def test_pool_only_when_it_pays(tmp_path, settings, monkeypatch):
    started = []
    real = parallel._new_pool

    def spy(*args, **kwargs):
        started.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(parallel, "_new_pool", spy)
    few = make_tree(tmp_path / "few", parallel.MIN_FILES_FOR_POOL - 1)
    parallel.check_files(few, settings, jobs=4, use_cache=False)
    many = make_tree(tmp_path / "many", 12)
    parallel.check_files(many, settings, jobs=1, use_cache=False)
    assert started == []
    parallel.check_files(many, settings, jobs=2, use_cache=False)
    assert started == [2]


def test_default_jobs_is_the_usable_cpu_count():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert parallel.default_jobs() == expected


def test_largest_files_are_sent_first(tmp_path):
    files = make_tree(tmp_path / "src", 12)
    Path(files[5]).write_text(BAD * 200, encoding="utf-8")
    chunks = parallel._chunks(files, list(range(12)), jobs=2)
    assert chunks[0][0] == (5, files[5], None, None)  # nothing read yet: the worker reads it
    assert sorted(item[0] for chunk in chunks for item in chunk) == list(range(12))
    data = {i: Path(files[i]).read_bytes() for i in range(12)}  # read for the cache lookup
    chunks = parallel._chunks(files, list(range(12)), jobs=2, data=data)
    assert chunks[0][0] == (5, files[5], data[5], None)


def test_a_rule_crash_in_a_worker_is_that_files_internal_error(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 12)
    expected = comparable(parallel.check_files(files, settings, jobs=1, use_cache=False))
    real = engine.run_rules

    def flaky(source, module, options, rules=None, *rest):
        if source.path.endswith("m04.py"):
            raise ZeroDivisionError("a rule divided by zero")
        return real(source, module, options, rules, *rest)

    monkeypatch.setattr(engine, "run_rules", flaky)  # forked workers inherit it
    pooled = parallel.check_files(files, settings, jobs=2, use_cache=False)
    assert codes(pooled[4]) == ["EPL000:internal-error"]
    finding = pooled[4].result.findings[0]
    assert "ZeroDivisionError: a rule divided by zero" in finding.message
    assert "Traceback" in finding.detail and "flaky" in finding.detail
    got = comparable(pooled)
    assert got[:4] + got[5:] == expected[:4] + expected[5:]


def test_a_dying_worker_costs_only_the_file_that_killed_it(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 12)
    expected = comparable(parallel.check_files(files, settings, jobs=1, use_cache=False))
    real = runner.check_file

    def deadly(path, *args, **kwargs):
        if path.endswith("m07.py"):
            os._exit(3)  # what a segfault in native code looks like to the pool
        return real(path, *args, **kwargs)

    monkeypatch.setattr(runner, "check_file", deadly)
    pooled = parallel.check_files(files, settings, jobs=2, use_cache=False)
    assert codes(pooled[7]) == ["EPL000:internal-error"]
    assert "worker process checking it crashed" in pooled[7].result.findings[0].message
    got = comparable(pooled)
    assert got[:7] + got[8:] == expected[:7] + expected[8:]


def test_a_result_that_cannot_be_sent_back_is_an_internal_error(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 12)
    expected = comparable(parallel.check_files(files, settings, jobs=1, use_cache=False))
    real = runner.check_file

    def unpicklable(path, *args, **kwargs):
        outcome = real(path, *args, **kwargs)
        if path.endswith("m08.py"):
            outcome.diff = lambda: None  # type: ignore[assignment]  # lambdas do not pickle
        return outcome

    monkeypatch.setattr(runner, "check_file", unpicklable)
    pooled = parallel.check_files(files, settings, jobs=2, use_cache=False)
    assert codes(pooled[8]) == ["EPL000:internal-error"]
    assert "pickle" in pooled[8].result.findings[0].message.lower()
    got = comparable(pooled)
    assert got[:8] + got[9:] == expected[:8] + expected[9:]


def test_no_pool_on_this_system_means_in_process(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 12)
    expected = comparable(parallel.check_files(files, settings, jobs=1, use_cache=False))

    def no_pool(*args, **kwargs):
        raise OSError("no /dev/shm")

    monkeypatch.setattr(parallel, "_new_pool", no_pool)
    assert comparable(parallel.check_files(files, settings, jobs=2, use_cache=False)) == expected


def test_an_exception_outside_the_engine_is_an_internal_error(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 3)

    def broken(source, *args, **kwargs):
        raise KeyError("notebook cell")

    monkeypatch.setattr(runner, "check_source", broken)
    outcomes = parallel.check_files(files, settings, jobs=1, use_cache=False)
    assert [codes(o) for o in outcomes] == [["EPL000:internal-error"]] * 3
    assert "KeyError" in outcomes[0].result.findings[0].message


# --------------------------------------------------------------------------- cache
def entries(root: Path) -> list[Path]:
    return sorted((root / CACHE_DIR_NAME).glob("*/*.json"))


def test_warm_run_reads_the_cache_and_checks_nothing(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 6)
    cold = parallel.check_files(files, settings, jobs=1)
    assert len(entries(tmp_path)) == 6
    assert (tmp_path / CACHE_DIR_NAME / ".gitignore").read_text().splitlines()[-1] == "*"

    def must_not_run(*args, **kwargs):
        raise AssertionError("a cache hit must not be checked again")

    monkeypatch.setattr(runner, "check_source", must_not_run)
    warm = parallel.check_files(files, settings, jobs=1)
    assert comparable(warm) == comparable(cold)


def test_warm_run_with_the_pool_and_partial_hits(tmp_path, settings):
    files = make_tree(tmp_path / "src", 14)
    cold = parallel.check_files(files, settings, jobs=2)
    Path(files[0]).write_text(GOOD, encoding="utf-8")
    warm = parallel.check_files(files, settings, jobs=2)
    assert comparable(warm)[1:] == comparable(cold)[1:]
    assert codes(warm[0]) == [] and codes(cold[0]) != []


def test_key_content_config_codes_and_rule_set(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 1)  # BAD: EPL101 and EPL103
    first = parallel.check_files(files, settings, jobs=1)
    assert {f.code for f in first[0].result.findings} >= {"EPL101", "EPL103"}

    # configuration: a different ignore list is a different key
    other = Settings(root=tmp_path, ignore=("EPL101",))
    assert "EPL101" not in {f.code for f in parallel.check_files(files, other, jobs=1)[0].result.findings}
    # codes for that path: per-file-ignores
    per_file = Settings(root=tmp_path, per_file_ignores={"src/*": ("EPL103",)})
    assert "EPL103" not in {f.code for f in parallel.check_files(files, per_file, jobs=1)[0].result.findings}
    # content
    Path(files[0]).write_text(GOOD, encoding="utf-8")
    assert parallel.check_files(files, settings, jobs=1)[0].result.findings == []
    Path(files[0]).write_text(BAD, encoding="utf-8")
    # rule set: a new fingerprint misses everything recorded so far
    monkeypatch.setattr(cache_mod, "_fingerprint", "0" * 32)
    seen = []
    real = runner.check_source
    monkeypatch.setattr(runner, "check_source", lambda source, *a, **k: seen.append(source.path) or real(source, *a, **k))
    parallel.check_files(files, settings, jobs=1)
    assert seen == files


def test_version_is_part_of_the_key(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 1)
    parallel.check_files(files, settings, jobs=1)
    c = Cache.for_settings(settings)
    data = Path(files[0]).read_bytes()
    deps = plan(files, {0: data}, settings).graph.nodes[os.path.abspath(files[0])].skey  # its project context
    assert c.load(files[0], data, settings.enabled_codes(files[0]), deps) is not None
    assert c.load(files[0], data, settings.enabled_codes(files[0])) is None  # another project context
    monkeypatch.setattr(cache_mod, "__version__", "99.0.0")
    assert c.load(files[0], data, settings.enabled_codes(files[0]), deps) is None


def test_fix_and_diff_never_use_the_cache(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 2)

    def forbidden(*args, **kwargs):
        raise AssertionError("the cache is for plain checks only")

    monkeypatch.setattr(Cache, "load", forbidden)
    monkeypatch.setattr(Cache, "store", forbidden)
    parallel.check_files(files, settings, FixMode(diff=True), jobs=1)
    fixed = parallel.check_files(files, settings, FixMode(fix=True), jobs=1)
    assert fixed[0].fixed >= 1  # nb_epoch -> epochs was written
    assert not (tmp_path / CACHE_DIR_NAME).exists()


def test_corrupt_entries_are_ignored_and_rewritten(tmp_path, settings):
    files = make_tree(tmp_path / "src", 4)
    cold = comparable(parallel.check_files(files, settings, jobs=1))
    damaged = entries(tmp_path)
    damaged[0].write_bytes(b"\x00\xffnot json")
    damaged[1].write_text(json.dumps({"key": "k"}), encoding="utf-8")
    damaged[2].write_text(damaged[2].read_text()[:40], encoding="utf-8")  # torn write
    damaged[3].write_text("[]", encoding="utf-8")
    assert comparable(parallel.check_files(files, settings, jobs=1)) == cold
    for entry in entries(tmp_path):
        assert "digest" in json.loads(entry.read_text(encoding="utf-8"))


def test_internal_errors_are_not_cached(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 1)
    monkeypatch.setattr(engine, "run_rules", lambda *a, **k: 1 / 0)
    assert codes(parallel.check_files(files, settings, jobs=1)[0]) == ["EPL000:internal-error"]
    monkeypatch.undo()
    assert "EPL101" in {f.code for f in parallel.check_files(files, settings, jobs=1)[0].result.findings}


def test_an_unwritable_cache_is_no_cache(tmp_path, settings):
    files = make_tree(tmp_path / "src", 2)
    (tmp_path / CACHE_DIR_NAME).write_text("a file where the folder should be", encoding="utf-8")
    outcomes = parallel.check_files(files, settings, jobs=1)
    assert codes(outcomes[0]) and not codes(outcomes[1])


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path, settings):
    files = make_tree(tmp_path / "src", 1)
    path = files[0]
    data = Path(path).read_bytes()
    enabled = settings.enabled_codes(path)
    reference = parallel.check_files(files, settings, jobs=1, use_cache=False)[0]
    c = Cache.for_settings(settings)
    problems = []

    def writer():
        for _ in range(150):
            if not c.store(path, data, enabled, reference):
                problems.append("store failed")

    def reader():
        for _ in range(300):
            got = c.load(path, data, enabled)
            if got is not None and comparable([runner.FileOutcome(*got)]) != comparable([reference]):
                problems.append("partial or wrong entry")

    threads = [threading.Thread(target=f) for f in (writer, writer, reader, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    assert not list((tmp_path / CACHE_DIR_NAME).glob("*/.tmp-*")), "temporary files left behind"


# --------------------------------------------------------------------------- CLI
def cli(*args: str, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    pythonpath = str(ROOT) if extra_path is None else f"{extra_path}{os.pathsep}{ROOT}"
    env = dict(os.environ, PYTHONPATH=pythonpath, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_cli_two_runs_sharing_the_cache_and_jobs_agree(tmp_path):
    project = tmp_path / "project"
    make_tree(project / "src", 14)
    (project / "pyproject.toml").write_text("[tool.epochlint]\nignore = []\n", encoding="utf-8")
    work = project / "src"
    reference = cli("check", "--format", "json", "--jobs", "1", "--no-cache", ".", cwd=work)
    assert reference.returncode == 1, reference.stderr
    assert not (work / CACHE_DIR_NAME).exists() and not (project / CACHE_DIR_NAME).exists()
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    runs = [
        subprocess.Popen([sys.executable, "-m", "epochlint", "check", "--format", "json", "--jobs", jobs, "."], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for jobs in ("1", "2")
    ]
    outputs = [r.communicate(timeout=300) for r in runs]
    for (out, err), r in zip(outputs, runs):
        assert r.returncode == 1, err
        assert out == reference.stdout
    assert (project / CACHE_DIR_NAME / ".gitignore").is_file()  # next to the config, not in cwd
    assert not (work / CACHE_DIR_NAME).exists()
    warm = cli("check", "--format", "json", ".", cwd=work)
    assert warm.stdout == reference.stdout


SITECUSTOMIZE = """\
import linter.engine as engine

_real = engine.run_rules


def run_rules(source, module, options, rules=None, *rest):
    if source.path.endswith("explode.py"):
        raise RuntimeError("rule exploded on purpose")
    return _real(source, module, options, rules, *rest)


engine.run_rules = run_rules
"""


def test_cli_internal_error_traceback_only_with_verbose(tmp_path):
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    (work / "explode.py").write_text(BAD, encoding="utf-8")
    (work / "fine.py").write_text(BAD, encoding="utf-8")
    quiet = cli("check", "--no-cache", "--jobs", "1", "explode.py", "fine.py", cwd=work, extra_path=inject)
    assert quiet.returncode == 1, quiet.stderr
    assert "explode.py:1:1: EPL000" in quiet.stdout and "rule exploded on purpose" in quiet.stdout
    assert "fine.py:4:1: EPL101" in quiet.stdout
    assert "Traceback" not in quiet.stdout + quiet.stderr
    loud = cli("check", "--no-cache", "--jobs", "1", "--verbose", "explode.py", "fine.py", cwd=work, extra_path=inject)
    assert "Traceback (most recent call last)" in loud.stdout and "RuntimeError: rule exploded on purpose" in loud.stdout
    assert "fine.py:4:1: EPL101" in loud.stdout


def test_workers_that_cannot_start_mean_in_process(tmp_path, settings, monkeypatch):
    files = make_tree(tmp_path / "src", 12)
    expected = comparable(parallel.check_files(files, settings, jobs=1, use_cache=False))

    def broken_start(*args):
        os._exit(5)  # e.g. an import that fails in a spawned worker

    monkeypatch.setattr(parallel, "_init_worker", broken_start)
    assert comparable(parallel.check_files(files, settings, jobs=2, use_cache=False)) == expected
