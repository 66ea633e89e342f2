"""Per-file bounds (linter/limits.py): the pre-scan that skips files no rule can fire on, the
memory prediction, the time and memory limits of the guarded check (EPL000 `too-large`), and
workers that die with their parent."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linter import limits
from linter.engine import CheckOptions, check_source
from linter.rules import ALL_CODES, ALL_RULES
from linter.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
ALL = CheckOptions(frozenset(ALL_CODES))
DATA = "import keras\nimport numpy as np\n" + "x = [1, 2, 3]\n" * 100_000  # 1.4 MB of data literals
CALLS = "import keras\nmodel = keras.Sequential()\n" + "model.fit(x, epochs=3)\n"


@pytest.fixture(autouse=True)
def default_limits():
    before = limits.current()
    yield
    limits.configure(before.seconds, before.memory)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_prescan_passes_every_invalid_example(rule):
    """The pre-scan is a necessary condition: no example that must fire is skipped by it."""
    for example in rule.examples()[1]:
        assert limits.may_fire(example.source()), example.source()


def test_prescan_skips_data_literals_without_a_parse(monkeypatch):
    import libcst

    def no_parse(*a, **k):
        raise AssertionError("libcst parse of a file no rule can fire on")

    monkeypatch.setattr(libcst, "parse_module", no_parse)
    started = time.perf_counter()
    result = check_source(SourceFile("data.py", DATA), ALL)
    assert result.skipped and result.findings == []
    assert time.perf_counter() - started < 5  # a regex pass (ms), not a parse (minutes)


@pytest.mark.parametrize(
    "text",
    [
        "import keras\nmodel.epochs = 3\n",
        "import keras\nm = keras.Sequential()\n",
        "import keras\nfor i in range(3): pass\n",
        "import keras\nx = 1  # noqa: EPL101\n",
        "import keras\nx = (\n",  # a syntax error is EPL000: not skipped
        "from keras import (\n    Model,\n)\n",
    ],
)
def test_prescan_keeps_what_may_fire(text):
    assert limits.may_fire(text)


def test_prescan_syntax_error_still_reported():
    result = check_source(SourceFile("bad.py", "import keras\nx = [1, 2\n"), ALL)
    assert [f.code for f in result.findings] == ["EPL000"]


def test_predicted_too_large_names_limit_and_size():
    limits.configure(memory=64 << 20)
    text = CALLS * 0 + "import keras\n" + "model.fit(x, epochs=3)\n" * 8000  # ~180 KB, 80k tokens
    result = check_source(SourceFile("big.py", text), ALL)
    assert [(f.code, f.name) for f in result.findings] == [("EPL000", "too-large")]
    message = result.findings[0].message
    assert "64.0 MiB limit (--max-memory)" in message and "KiB" in message and len(message) <= 200


def test_time_limit_kills_the_check_and_reports_too_large(monkeypatch):
    monkeypatch.setattr(limits, "GUARD_FROM_BYTES", 16 * 1024)
    limits.configure(seconds=0.3)
    text = "import keras\n" + "model.fit(x, epochs=3)\n" * 4000  # ~90 KB: guarded, parse >> 0.3 s
    started = time.perf_counter()
    result = check_source(SourceFile("slow.py", text), ALL)
    elapsed = time.perf_counter() - started
    assert [(f.code, f.name) for f in result.findings] == [("EPL000", "too-large")]
    assert "0.3 s limit (--max-seconds)" in result.findings[0].message
    assert elapsed < 10


def test_memory_limit_in_the_guarded_child(monkeypatch):
    monkeypatch.setattr(limits, "GUARD_FROM_BYTES", 16 * 1024)
    monkeypatch.setattr(limits, "BYTES_PER_TOKEN", 1)  # no prediction: the child meets the limit
    limits.configure(memory=48 << 20)
    text = "import keras\n" + "model.fit(x, epochs=3)\n" * 6000
    result = check_source(SourceFile("hungry.py", text), ALL)
    assert [(f.code, f.name) for f in result.findings] == [("EPL000", "too-large")]
    assert "48.0 MiB memory limit (--max-memory)" in result.findings[0].message


def test_guarded_check_gives_the_same_findings_as_in_process(monkeypatch):
    monkeypatch.setattr(limits, "GUARD_FROM_BYTES", 16 * 1024)
    text = "import keras\nmodel = keras.Sequential()\nmodel.epochs = 3\n" + "y = model.predict(x)\n" * 4000
    assert len(text) >= limits.GUARD_FROM_BYTES
    guarded = check_source(SourceFile("t.py", text), ALL)
    small = check_source(SourceFile("t.py", text[: limits.GUARD_FROM_BYTES // 2]), ALL)
    assert [(f.code, f.line) for f in guarded.findings] == [("EPL101", 3)]
    assert [(f.code, f.line) for f in small.findings] == [("EPL101", 3)]


def _epochlint(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_cli_limits_flags(tmp_path):
    (tmp_path / "slow.py").write_text("import keras\n" + "model.fit(x, epochs=3)\n" * 12000)  # 276 KB: guarded
    proc = _epochlint("check", "--no-cache", "--max-seconds", "0.2", "slow.py", cwd=tmp_path)
    assert proc.returncode == 1 and "EPL000" in proc.stdout and "--max-seconds" in proc.stdout
    bad = _epochlint("check", "--max-memory", "0", "slow.py", cwd=tmp_path)
    assert bad.returncode == 2


# --------------------------------------------------------------------------- process hygiene
def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _slow_project(tmp_path: Path) -> Path:
    for i in range(10):  # enough files for the pool; each a slow parse, guarded (>= 256 KiB)
        (tmp_path / f"slow_{i}.py").write_text(f"import keras\n# {i}\n" + "model.fit(x, epochs=3)\n" * 12000)
    return tmp_path


def _start_and_wait_for_workers(tmp_path: Path) -> tuple[subprocess.Popen, set[int]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "epochlint", "check", "--no-cache", "--jobs", "2", "."],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen |= _descendants(proc.pid)
        if len(seen) >= 3 and proc.poll() is None:  # workers and a guarded child
            break
        time.sleep(0.2)
    assert proc.poll() is None and seen, "the run ended before its workers could be seen"
    time.sleep(0.5)
    return proc, seen | _descendants(proc.pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkill_of_the_parent_leaves_no_worker_alive(tmp_path):
    proc, workers = _start_and_wait_for_workers(_slow_project(tmp_path))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    assert not survivors, f"orphans still running after the parent's SIGKILL: {survivors}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_the_run_and_its_workers_promptly(tmp_path, sig):
    proc, workers = _start_and_wait_for_workers(_slow_project(tmp_path))
    os.kill(proc.pid, sig)
    proc.wait(timeout=15)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.1)
    survivors = [p for p in workers if _alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    assert not survivors


# --------------------------------------------------------------------------- start-up
def test_a_run_where_no_file_needs_a_parse_never_imports_libcst(tmp_path):
    (tmp_path / "utils.py").write_text("import os\n\ndef helper(x):\n    return os.path.join(x, 'a')\n")
    (tmp_path / "consts.py").write_text("import tensorflow as tf\nBATCH = 32\nSIZES = [1, 2, 3]\n")
    code = (
        "import sys\nfrom linter.cli import main\n"
        "rc = main(['check', '--no-cache', 'utils.py', 'consts.py'])\n"
        "print(rc, 'libcst' in sys.modules, 'linter.engine' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines()[-1] == "0 False False", proc.stdout + proc.stderr
    keras_file = tmp_path / "train.py"
    keras_file.write_text("import keras\nmodel = keras.Sequential()\nmodel.epochs = 3\n")
    proc = subprocess.run([sys.executable, "-c", code.replace("'consts.py'", "'train.py'")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines()[-1] == "1 True True", proc.stdout + proc.stderr


def test_codes_and_names_from_module_names_match_the_rule_classes():
    import linter.rules as rules

    assert {code: rules.name_for(code) for code in rules.ALL_CODES if code not in rules.META_CODES} == {
        r.code: r.name for r in rules.ALL_RULES
    }
    assert all(rules.code_for(r.name) == r.code for r in rules.ALL_RULES)


def test_config_keys_set_the_limits_and_flags_win(tmp_path):
    (tmp_path / "slow.py").write_text("import keras\n" + "model.fit(x, epochs=3)\n" * 12000)
    (tmp_path / "pyproject.toml").write_text("[tool.epochlint]\nmax-seconds = 0.2\nmax-memory = 4096\n")
    proc = _epochlint("check", "--no-cache", "slow.py", cwd=tmp_path)
    assert proc.returncode == 1 and "0.2 s limit (--max-seconds)" in proc.stdout, proc.stdout + proc.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.epochlint]\nmax-memory = 1\n")
    proc = _epochlint("check", "--no-cache", "--max-memory", "4096", "--max-seconds", "0.2", "slow.py", cwd=tmp_path)
    assert "0.2 s limit" in proc.stdout  # the flag's 4 GiB, not the file's 1 MiB (which predicts too-large at once)
    (tmp_path / "pyproject.toml").write_text('[tool.epochlint]\nmax-seconds = "soon"\n')
    bad = _epochlint("check", "slow.py", cwd=tmp_path)
    assert bad.returncode == 2 and "max-seconds: expected a positive number" in bad.stderr


_RESERVED: list = []


def _reserve_a_stack():
    """What the engine's `prepare` does: reserve 1 GiB of address space (the big-stack thread's
    stack) that the check will not use."""
    import mmap

    _RESERVED.append(mmap.mmap(-1, 1 << 30))


def _reserve_a_stack_and_use_some_memory():
    """A guarded check: the stack is reserved (once), and the parse really uses memory."""
    import types

    if not _RESERVED:
        _reserve_a_stack()
    used = bytearray(64 << 20)
    return types.SimpleNamespace(findings=[], size=len(used))


def test_address_space_reserved_before_the_limit_is_not_counted_against_the_file():
    # A 1 MB training script needs about 1.2 GiB to parse; before the reserve was counted, the
    # child got the 2 GiB limit minus the 1 GiB stack reservation and died in libcst's parser.
    limits.configure(memory=256 << 20)
    source = SourceFile("big.py", "x" * limits.GUARD_FROM_BYTES)  # guarded; one token, not predicted
    with pytest.raises((limits.TooLarge, RuntimeError)):
        limits.bounded(source, _reserve_a_stack_and_use_some_memory)
    result = limits.bounded(source, _reserve_a_stack_and_use_some_memory, prepare=_reserve_a_stack)
    assert result.findings == [] and result.size == 64 << 20


def test_a_one_megabyte_training_script_is_checked_not_refused(tmp_path):
    lines = ["import keras"]
    while sum(len(line) + 1 for line in lines) < 1_000_000:
        lines += ["model = keras.Sequential([keras.layers.Dense(8)])", "model.epochs = 2"]
    (tmp_path / "big.py").write_text("\n".join(lines) + "\n")
    proc = _epochlint("check", "--no-cache", "--select", "EPL000,EPL101", "--format", "json", "big.py", cwd=tmp_path)
    import json

    codes = {f["code"] for f in json.loads(proc.stdout)["findings"]}
    assert codes == {"EPL101"}, proc.stdout[:500] + proc.stderr[-500:]
