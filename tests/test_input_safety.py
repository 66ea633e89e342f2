"""Issue 16 ("Fix and input safety"): each item's reproduction, end to end where it was found
that way. Fix layouts (every rule on CR/CRLF/form feed/...) are in test_fix_layouts.py."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linter.cache import Cache
from linter.discovery import FileFinder
from linter.rules import ALL_CODES
from linter.source import UnreadableSource, read_bytes

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, env=env, capture_output=True, timeout=timeout)


def out(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout.decode("utf-8", "replace")


# ------------------------------------------------------------------ 1. fixes compose
TWO_FIXES = """import tensorflow as tf
from tensorflow import keras

model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
loss_fn = keras.losses.MeanSquaredError(reduction=None)
opt = keras.optimizers.Adam()

def step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
"""


def test_two_fixes_on_one_expression_land_on_their_own_calls(tmp_path):
    f = tmp_path / "step.py"
    f.write_text(TWO_FIXES)
    proc = run_cli("check", "--no-cache", "--fix", "--unsafe-fixes", "step.py", cwd=tmp_path)
    assert "loss = tf.reduce_mean(loss_fn(y, model(x, training=True)))\n" in f.read_text()
    assert "Fixed 2 findings." in out(proc)
    assert proc.returncode == 0, out(proc)


# ------------------------------------------------------------------ 2, 3. line endings, form feed
@pytest.mark.parametrize(
    "data,expected",
    [
        (b"import tensorflow as tf\rimport keras\rx = 1  # noqa: EPL101\r", b"import tensorflow as tf\rimport keras\rx = 1\r"),
        (b"import tensorflow as tf\r\r\nimport keras\r\r\nx = 1  # noqa: EPL101\r\r\n", b"import tensorflow as tf\r\r\nimport keras\r\r\nx = 1\r\r\n"),
        (b"import tensorflow as tf\nm = tf.keras.metrics.Mean()\n\x0cm.reset_states()\n", b"import tensorflow as tf\nm = tf.keras.metrics.Mean()\n\x0cm.reset_state()\n"),
    ],
    ids=["lone-cr", "cr-crlf", "form-feed"],
)
def test_fix_offsets_are_the_files_own(tmp_path, data, expected):
    f = tmp_path / "t.py"
    f.write_bytes(data)
    proc = run_cli("check", "--no-cache", "--fix", "t.py", cwd=tmp_path)
    assert f.read_bytes() == expected
    assert "Fixed 1 finding." in out(proc)


def test_form_feed_finding_column_is_the_files_own(run_lint):
    (f,) = run_lint("import tensorflow as tf\nm = tf.keras.metrics.Mean()\n\x0cm.reset_states()\n")
    assert (f.line, f.column) == (3, 2)  # the form feed is column 1


# ------------------------------------------------------------------ 4. EPL207 --strict
ACC = """import tensorflow as tf

class Acc(tf.keras.metrics.Metric):
    def reset_states(self):
        pass

    def reset_state(self):
        return self.reset_states()

class Cell(tf.keras.layers.Layer):
    def reset_state(self):
        self.reset_states()

def end(tracker):
    tracker.reset_states()
"""


def test_strict_reset_states_fix_never_rewrites_a_class_method_and_is_unsafe(tmp_path):
    f = tmp_path / "acc.py"
    f.write_text(ACC)
    proc = run_cli("check", "--no-cache", "--strict", "--fix", "--format", "concise", "acc.py", cwd=tmp_path)
    assert f.read_text() == ACC  # nothing is rewritten without --unsafe-fixes
    lines = [line for line in out(proc).splitlines() if "EPL207" in line]
    assert len(lines) == 1 and lines[0].startswith("acc.py:15:5:") and "[*]" not in lines[0]
    run_cli("check", "--no-cache", "--strict", "--fix", "--unsafe-fixes", "acc.py", cwd=tmp_path)
    assert f.read_text() == ACC.replace("tracker.reset_states()", "tracker.reset_state()")


# ------------------------------------------------------------------ 5. comments
def test_noqa_words_after_the_codes_stay_words(tmp_path):
    f = tmp_path / "n.py"
    f.write_text("import tensorflow as tf\nx = 1  # noqa:EPL101 some words after\n")
    run_cli("check", "--no-cache", "--fix", "n.py", cwd=tmp_path)
    assert f.read_text() == "import tensorflow as tf\nx = 1  # some words after\n"


def test_noqa_list_ends_at_the_first_word(run_lint):
    from linter.suppression import parse_directives

    d = parse_directives("x = 1  # noqa: EPL101, E501 because reasons\n")
    assert [c for _, c in d.lines[1].codes] == ["EPL101", "E501"]
    d = parse_directives("x = 1  # noqa: because\n")
    assert d.lines[1].codes == []  # not a bare noqa: suppresses nothing


COMMENTS = """import tensorflow as tf
from tensorflow import keras

model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5)])
ds = tf.data.Dataset.range(8).batch(2)

def step(x):
    with tf.GradientTape() as tape:
        out = model(  # call
            x  # input
        )
    return tape.gradient(out, model.trainable_variables)

model.fit(
    ds,
    batch_size=4,
    # about the epochs
    epochs=2,
)
"""


def test_fixes_keep_every_comment_where_it_was(tmp_path):
    f = tmp_path / "c.py"
    f.write_text(COMMENTS)
    run_cli("check", "--no-cache", "--fix", "c.py", cwd=tmp_path)
    fixed = f.read_text()
    assert "        out = model(  # call\n            x,  # input\n            training=True\n        )\n" in fixed
    assert "model.fit(\n    ds,\n    # about the epochs\n    epochs=2,\n)\n" in fixed


# ------------------------------------------------------------------ 6. hard links, read-only
def test_fix_keeps_hard_links_and_refuses_read_only_files(tmp_path):
    code = "import tensorflow as tf\nm = tf.keras.metrics.Mean()\nm.reset_states()\n"
    linked, other = tmp_path / "linked.py", tmp_path / "other_name.py"
    linked.write_text(code)
    os.link(linked, other)
    ro = tmp_path / "ro.py"
    ro.write_text(code)
    ro.chmod(0o444)
    proc = run_cli("check", "--no-cache", "--fix", "--format", "concise", "linked.py", "ro.py", cwd=tmp_path)
    assert other.read_text() == code.replace("reset_states", "reset_state")  # one file, both names
    assert os.stat(linked).st_ino == os.stat(other).st_ino and os.stat(linked).st_nlink == 2
    assert ro.read_text() == code and stat.S_IMODE(ro.stat().st_mode) == 0o444
    assert "ro.py:1:1: EPL000 cannot write fixes: the file is read-only (mode 0444)" in out(proc)
    assert "ro.py:3:1: EPL207" in out(proc)  # and its findings, unfixed
    assert proc.returncode == 1


# ------------------------------------------------------------------ 7. output injection
INJECT = 'import keras\nmodel = keras.Sequential([])\nmodel.epochs = """\n::error file=x.py,line=1::injected\n\x1b[31mred\n"""\n'


@pytest.mark.parametrize("fmt", ["text", "concise", "github"])
def test_checked_code_never_starts_an_output_line(tmp_path, fmt):
    (tmp_path / "x.py").write_text(INJECT)
    (tmp_path / "::error x.py").write_text(INJECT)
    proc = run_cli("check", "--no-cache", "--format", fmt, ".", cwd=tmp_path)
    text = out(proc)
    assert proc.returncode == 1 and "EPL101" in text
    assert "\x1b" not in text
    if fmt != "github":
        assert "␛[31mred" in text
        assert not [line for line in text.splitlines() if line.startswith("::")]
        assert "./::error x.py:3:1:" in text
    else:  # every line is one of our annotations
        assert all(line.startswith("::error file=") for line in text.splitlines())
        assert len(text.splitlines()) == 2  # one per file: the quoted workflow command is inside a message


def test_non_utf8_file_names_in_sarif_json_and_output_files(tmp_path):
    name = os.fsdecode(b"bad\xff.py")
    (tmp_path / name).write_text(INJECT)
    sarif = run_cli("check", "--no-cache", "--format", "sarif", ".", cwd=tmp_path)
    log = json.loads(sarif.stdout)
    (res,) = log["runs"][0]["results"]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "bad%FF.py"
    data = json.loads(run_cli("check", "--no-cache", "--format", "json", ".", cwd=tmp_path).stdout)
    assert data["findings"][0]["path"] == "bad\\xff.py"
    for fmt in ("text", "concise", "github", "sarif", "json"):
        proc = run_cli("check", "--no-cache", "--format", fmt, "--output", "report.out", ".", cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert b"Traceback" not in proc.stderr
        (tmp_path / "report.out").read_text(encoding="utf-8")


def test_terminal_escaping_unit():
    from linter.report.escape import line_start_path, terminal, unicode

    assert terminal("a\x1b[2Jb\nc\x07\x7f\u202e\tz") == "a␛[2Jb␊c␇␡\\u202e\tz"
    assert unicode(os.fsdecode(b"x\xfe.py")) == "x\\xfe.py"
    assert line_start_path("::add-mask::x.py") == "./::add-mask::x.py"
    assert line_start_path("src/x.py") == "src/x.py" and line_start_path("/abs/x.py") == "/abs/x.py"


# ------------------------------------------------------------------ 8. config problems exit 2
@pytest.mark.parametrize(
    "content",
    [
        b"[project]\nx = " + b"1" * 5000 + b"\n",
        b"[project]\nx = " + b"[" * 50000 + b"]" * 50000 + b"\n",
        b'[tool.epochlint]\nexclude = ["\\\\"]\n',
        b"[tool.epochlint]\nstrict = true\n# caf\xe9\n",
    ],
    ids=["huge-int", "deep-nesting", "bad-exclude", "not-utf8"],
)
def test_config_problems_exit_2_naming_the_file(tmp_path, content):
    (tmp_path / "pyproject.toml").write_bytes(content)
    (tmp_path / "a.py").write_text("import keras\n")
    proc = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "pyproject.toml" in err and "Traceback" not in err


def test_someone_elses_non_utf8_pyproject_is_ignored(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.other]\n# caf\xe9\n")
    (tmp_path / "a.py").write_text("import keras\n")
    assert run_cli("check", "--no-cache", ".", cwd=tmp_path).returncode == 0


def test_gitignore_pattern_git_rejects_does_not_crash(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("\\\n")
    (tmp_path / "a.py").write_text("import keras\n")
    proc = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()


# ------------------------------------------------------------------ 9. cache entries
CODE = b"import keras\nmodel = keras.Sequential()\nmodel.epochs = 5\n"
ENABLED = frozenset(ALL_CODES)


def _stored(tmp_path):
    from linter.runner import FileOutcome
    from linter.engine import FileResult
    from linter.finding import Finding

    cache = Cache(tmp_path, "k")
    path = "a.py"
    finding = Finding("EPL101", "epochs-attribute", "m", path, 3, 1, 3, 5)
    assert cache.store(path, CODE, ENABLED, FileOutcome(FileResult(path, [finding]), {None: ["x"]}))
    entry, _ = cache._entry(path, ENABLED)
    assert cache.load(path, CODE, ENABLED) is not None
    return cache, path, entry


def _mutations():
    yield lambda r: r["result"]["findings"][0].__setitem__("line", "5")
    yield lambda r: r["result"]["findings"][0].__setitem__("line", None)
    yield lambda r: r["result"]["findings"][0].__setitem__("path", 5)
    yield lambda r: r["result"].__setitem__("findings", {})
    yield lambda r: r["result"].__setitem__("findings", [None])
    yield lambda r: r.__setitem__("lines", {"x": 1})
    yield lambda r: r["result"].__setitem__("skipped", "no")
    yield lambda r: r["result"]["findings"][0].__setitem__("fix", {"applicability": "safe", "edits": [{"line": "1"}]})


@pytest.mark.parametrize("mutate", list(_mutations()))
def test_cache_entry_with_wrong_types_is_a_miss(tmp_path, mutate):
    cache, path, entry = _stored(tmp_path)
    record = json.loads(entry.read_bytes())
    mutate(record)
    entry.write_text(json.dumps(record))
    assert cache.load(path, CODE, ENABLED) is None


def test_cache_entry_deep_nesting_fifo_and_device_links_are_misses(tmp_path):
    cache, path, entry = _stored(tmp_path)
    entry.write_text("[" * 100_000 + "]" * 100_000)
    assert cache.load(path, CODE, ENABLED) is None
    entry.unlink()
    os.mkfifo(entry)
    started = time.monotonic()
    assert cache.load(path, CODE, ENABLED) is None
    entry.unlink()
    entry.symlink_to("/dev/zero")
    assert cache.load(path, CODE, ENABLED) is None
    assert time.monotonic() - started < 5
    entry.unlink()
    target = tmp_path / "real.json"
    _, _, e2 = _stored(tmp_path)
    os.replace(e2, target)
    entry.symlink_to(target)  # even a valid entry behind a link is not trusted
    assert cache.load(path, CODE, ENABLED) is None


def test_corrupt_cache_entry_does_not_hide_findings_or_crash_later_runs(tmp_path):
    (tmp_path / "a.py").write_bytes(CODE)
    first = run_cli("check", "--format", "concise", "a.py", cwd=tmp_path)
    assert "EPL101" in out(first)
    (entry,) = (tmp_path / ".epochlint_cache").glob("*/*.json")
    record = json.loads(entry.read_text())
    record["result"]["findings"] = {}
    entry.write_text(json.dumps(record))
    for _ in range(2):
        again = run_cli("check", "--format", "concise", "a.py", cwd=tmp_path)
        assert "EPL101" in out(again) and again.returncode == 1, again.stderr.decode()


# ------------------------------------------------------------------ 10. special files
def test_fifo_and_device_links_are_epl000_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "x.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "rnd.py").symlink_to("/dev/urandom")
    (tmp_path / "ok.py").write_text("import keras\n")
    for args in (["."], ["x.py", "zero.py", "rnd.py"]):
        proc = run_cli("check", "--no-cache", "--format", "concise", *args, cwd=tmp_path, timeout=60)
        text = out(proc)
        assert "x.py:1:1: EPL000 not a regular file but a FIFO (named pipe): not read" in text
        assert "zero.py:1:1: EPL000 not a regular file but a character device" in text
        assert "rnd.py:1:1: EPL000" in text
    with pytest.raises(UnreadableSource, match="FIFO"):
        read_bytes(str(tmp_path / "x.py"))


def test_oversized_source_is_refused_without_reading_it(tmp_path, monkeypatch):
    import linter.source as source

    monkeypatch.setattr(source, "MAX_READ_BYTES", 1000)
    big = tmp_path / "big.py"
    big.write_bytes(b"x = 1\n" * 1000)
    with pytest.raises(UnreadableSource, match="too large"):
        read_bytes(str(big))


def test_unreadable_directory_is_warned(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "a.py").write_text("import keras\n")
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).rstrip("/").endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    finder = FileFinder(root=tmp_path)
    found = [c.path for c in finder.find([str(tmp_path)])]
    assert found == [str(tmp_path / "a.py")]
    assert finder.warnings == [f"cannot read directory {locked}: Permission denied (skipped)"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a 000 directory anyway")
def test_unreadable_directory_warning_on_the_command_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        proc = run_cli("check", "--no-cache", ".", cwd=tmp_path)
        assert "warning: cannot read directory" in proc.stderr.decode()
    finally:
        locked.chmod(0o755)


def test_utf16_cookie_on_an_ascii_file_is_epl000(tmp_path):
    (tmp_path / "u.py").write_bytes(b"# coding: utf-16\nimport keras\nmodel = keras.Sequential()\nmodel.epochs = 3\n")
    proc = run_cli("check", "--no-cache", "--format", "concise", "u.py", cwd=tmp_path)
    assert "u.py:1:1: EPL000 bad encoding declaration: utf-16 is not an ASCII-compatible encoding" in out(proc)


# ------------------------------------------------------------------ 11. what CPython rejects
def test_binary_operator_chain_cpython_rejects_is_epl000(tmp_path):
    (tmp_path / "plus.py").write_text("import keras\nx = " + " + ".join(["a"] * 10_000) + "\n")
    started = time.monotonic()
    proc = run_cli("check", "--no-cache", "--format", "concise", "plus.py", cwd=tmp_path)
    assert "plus.py:1:1: EPL000 cannot parse: nested too deeply (Python itself cannot compile it: RecursionError" in out(proc)
    assert proc.returncode == 1
    assert time.monotonic() - started < 30


def test_stdin_is_read_up_to_the_cap(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([sys.executable, "-m", "epochlint", "check", "--no-cache", "--format", "concise", "-"],
                              cwd=tmp_path, env=env, stdin=zero, capture_output=True, timeout=120)
    assert "-:1:1: EPL000 input too large to check" in out(proc)


def test_a_linked_cache_folder_is_never_used_or_pruned(tmp_path):
    """A repository can ship `.epochlint_cache` as a link (to $HOME, say): pruning "stale rule
    sets" there would delete the user's folders."""
    home = tmp_path / "home"
    precious = home / "precious"
    precious.mkdir(parents=True)
    os.utime(precious, (0, 0))  # old enough to look stale
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".epochlint_cache").symlink_to(home)
    (repo / "a.py").write_bytes(CODE)
    for _ in range(2):
        proc = run_cli("check", "--format", "concise", "a.py", cwd=repo)
        assert "EPL101" in out(proc)
    assert precious.is_dir() and sorted(p.name for p in home.iterdir()) == ["precious"]


def test_prune_removes_only_rule_set_folders(tmp_path):
    cache = Cache(tmp_path, "k")
    stale = cache.root / ("0" * 32)
    other = cache.root / "notes"
    for d in (stale, other):
        d.mkdir(parents=True)
        os.utime(d, (0, 0))
    cache._prepare()
    assert not stale.exists() and other.is_dir()


def test_baseline_with_a_non_utf8_file_name(tmp_path):
    (tmp_path / os.fsdecode(b"bad\xff.py")).write_text(INJECT)
    wrote = run_cli("check", "--no-cache", "--write-baseline", "bl.json", ".", cwd=tmp_path)
    assert wrote.returncode == 0 and b"Traceback" not in wrote.stderr, wrote.stderr
    again = run_cli("check", "--no-cache", "--baseline", "bl.json", ".", cwd=tmp_path)
    assert again.returncode == 0 and "1 known finding hidden by the baseline" in out(again)


def test_diff_names_a_non_utf8_file_by_its_bytes(tmp_path):
    (tmp_path / os.fsdecode(b"b\xffd.py")).write_text("import tensorflow as tf\nm = tf.keras.metrics.Mean()\nm.reset_states()\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", PYTHONIOENCODING="utf-8:strict")
    proc = subprocess.run([sys.executable, "-m", "epochlint", "check", "--no-cache", "--diff", "."], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.startswith(b"--- a/b\xffd.py\n+++ b/b\xffd.py\n")


def test_oversized_gitignore_is_not_read(tmp_path, monkeypatch):
    import linter.discovery as discovery

    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("a.py\n" + "#" * 100 + "\n")
    (tmp_path / "a.py").write_text("import keras\n")
    found = [c.path for c in FileFinder(root=tmp_path).find([str(tmp_path)])]
    assert found == []  # honoured at its normal size
    monkeypatch.setattr(discovery, "MAX_GITIGNORE_BYTES", 50)
    found = [c.path for c in FileFinder(root=tmp_path).find([str(tmp_path)])]
    assert found == [str(tmp_path / "a.py")]
