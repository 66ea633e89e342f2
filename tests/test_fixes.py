"""`check --fix / --unsafe-fixes / --diff` end to end: exit codes, idempotence, atomic writes
(mode kept, no temporary file left, the original untouched when the write fails), fixes that
would break the code are dropped, and encodings survive byte for byte apart from the edit.
EPL900 (unused noqa) is the always-available probe; EPL103/EPL106/EPL201 where those rules exist."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from linter.rules import RULES_BY_CODE

ROOT = Path(__file__).resolve().parent.parent

UNUSED_NOQA = "import keras\n\nmodel = keras.Sequential()\nmodel.fit(x, y, epochs=10)  # noqa: EPL101\n"
FIXED_NOQA = "import keras\n\nmodel = keras.Sequential()\nmodel.fit(x, y, epochs=10)\n"
WITH_EPL101 = "import keras\n\nmodel = keras.Sequential()\nmodel.epochs = 5  # set it\nmodel.fit(x, y)  # noqa: EPL101\n"


def run_cli(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, env=env, input=stdin, capture_output=True)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".epochlint-"))


def test_fix_applies_safe_fixes_and_exits_0_when_nothing_remains(tmp_path):
    f = tmp_path / "train.py"
    f.write_text(UNUSED_NOQA)
    proc = run_cli("check", "--fix", "--no-cache", "train.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout.decode()
    assert f.read_text() == FIXED_NOQA
    assert b"Fixed 1 finding." in proc.stdout
    assert leftovers(tmp_path) == []


def test_fix_exits_1_while_findings_remain(tmp_path):
    f = tmp_path / "train.py"
    f.write_text(WITH_EPL101)
    proc = run_cli("check", "--fix", "--no-cache", "train.py", cwd=tmp_path)
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert "Fixed 1 finding." in out and "EPL101" in out and "EPL900" not in out
    assert f.read_text() == WITH_EPL101.replace("model.fit(x, y)  # noqa: EPL101", "model.fit(x, y)")


def test_second_fix_changes_nothing(tmp_path):
    f = tmp_path / "train.py"
    f.write_text(WITH_EPL101 + UNUSED_NOQA.replace("import keras\n\n", ""))
    first = run_cli("check", "--fix", "--no-cache", "train.py", cwd=tmp_path)
    after_first = f.read_bytes()
    mtime = f.stat().st_mtime_ns
    second = run_cli("check", "--fix", "--no-cache", "train.py", cwd=tmp_path)
    assert b"Fixed 2 findings." in first.stdout
    assert f.read_bytes() == after_first
    assert f.stat().st_mtime_ns == mtime  # not even rewritten
    assert b"Fixed" not in second.stdout
    assert second.returncode == 1  # EPL101 has no fix
    assert run_cli("check", "--diff", "--no-cache", "train.py", cwd=tmp_path).stdout == b""


def test_diff_prints_and_writes_nothing(tmp_path):
    f = tmp_path / "train.py"
    f.write_text(UNUSED_NOQA)
    proc = run_cli("check", "--diff", "--no-cache", "train.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert f.read_text() == UNUSED_NOQA
    diff = proc.stdout.decode()
    assert "--- a/train.py\n+++ b/train.py\n" in diff
    assert "-model.fit(x, y, epochs=10)  # noqa: EPL101\n+model.fit(x, y, epochs=10)\n" in diff
    clean = tmp_path / "clean.py"
    clean.write_text(FIXED_NOQA)
    proc = run_cli("check", "--diff", "--no-cache", "clean.py", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, b"")


def test_fix_keeps_mode_and_leaves_no_temporary_file(tmp_path):
    f = tmp_path / "train.py"
    f.write_text(UNUSED_NOQA)
    os.chmod(f, 0o751)
    proc = run_cli("check", "--fix", "--no-cache", "train.py", cwd=tmp_path)
    assert proc.returncode == 0
    assert stat.S_IMODE(f.stat().st_mode) == 0o751
    assert leftovers(tmp_path) == []
    assert f.read_text() == FIXED_NOQA


def test_fix_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.py"
    real.write_text(UNUSED_NOQA)
    link = tmp_path / "link.py"
    link.symlink_to(real)
    proc = run_cli("check", "--fix", "--no-cache", "link.py", cwd=tmp_path)
    assert proc.returncode == 0
    assert link.is_symlink()
    assert real.read_text() == FIXED_NOQA


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_a_failed_write_leaves_the_original_and_no_temporary_file(tmp_path, monkeypatch, capsys, failing):
    from linter import cli

    f = tmp_path / "train.py"
    f.write_text(UNUSED_NOQA)
    monkeypatch.chdir(tmp_path)

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    code = cli.main(["check", "--fix", "--no-cache", "--jobs", "1", "train.py"])
    out = capsys.readouterr().out
    assert code == 1
    assert "EPL000" in out and "cannot write fixes: No space left on device" in out
    assert f.read_text() == UNUSED_NOQA
    assert leftovers(tmp_path) == []


def test_a_fix_that_breaks_the_code_is_dropped_and_the_others_are_kept(tmp_path, monkeypatch, capsys):
    """A rule bug producing unparseable code must never reach the file."""
    from linter import cli, engine
    from linter.finding import Edit, Finding, Fix

    f = tmp_path / "train.py"
    f.write_text(UNUSED_NOQA)
    monkeypatch.chdir(tmp_path)
    real = engine.check_source

    def with_a_broken_fix(source, options, rules=None, project=None):
        result = real(source, options, rules, project)
        broken = Fix("safe", (Edit(1, 1, 1, 7, "def ("),), "breaks the code")
        result.findings.append(Finding("EPL101", "epochs-attribute", "bogus", source.path, 1, 1, 1, 7, fix=broken))
        return result

    monkeypatch.setattr(engine, "check_source", with_a_broken_fix)
    code = cli.main(["check", "--fix", "--no-cache", "--jobs", "1", "train.py"])
    capsys.readouterr()
    assert code == 1  # the bogus finding remains
    assert f.read_text() == FIXED_NOQA  # EPL900's fix applied, the breaking one not


def test_latin1_with_coding_line_survives_byte_for_byte(tmp_path):
    original = (
        "# -*- coding: latin-1 -*-\n"
        "import keras\n"
        "# Modèle d'entraînement: numéro ½\n"
        "model = keras.Sequential()\n"
        "model.fit(x, y, epochs=10)  # noqa: EPL101\n"
        "label = 'café'\n"
    ).encode("latin-1")
    f = tmp_path / "latin.py"
    f.write_bytes(original)
    proc = run_cli("check", "--fix", "--no-cache", "latin.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert f.read_bytes() == original.replace(b"  # noqa: EPL101", b"")
    assert "Modèle".encode("latin-1") in f.read_bytes()


def test_bom_and_crlf_survive_byte_for_byte(tmp_path):
    original = b"\xef\xbb\xbfimport keras\r\n\r\nmodel = keras.Sequential()  # \xc3\xa9t\xc3\xa9\r\nmodel.fit(x, y, epochs=10)  # noqa: EPL101\r\nprint('done')\r\n"
    f = tmp_path / "bom.py"
    f.write_bytes(original)
    proc = run_cli("check", "--fix", "--no-cache", "bom.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert f.read_bytes() == original.replace(b"  # noqa: EPL101", b"")


def test_stdin_fix_prints_the_fixed_code(tmp_path):
    proc = run_cli("check", "--fix", "--stdin-filename", "train.py", "-", cwd=tmp_path, stdin=UNUSED_NOQA.encode())
    assert proc.stdout.decode() == FIXED_NOQA
    assert proc.returncode == 0


@pytest.mark.skipif("EPL103" not in RULES_BY_CODE or "EPL106" not in RULES_BY_CODE, reason="EPL103/EPL106 not written yet")
def test_keras1_probes_fix_with_comments_kept(tmp_path):
    src = (
        "from keras.models import Sequential\n"
        "\n"
        "model = Sequential()\n"
        "model.compile(optimizer='sgd', loss='mse')\n"
        "model.fit_generator(  # legacy API\n"
        "    gen,\n"
        "    nb_epoch=10,  # ten passes\n"
        ")\n"
    )
    f = tmp_path / "legacy.py"
    f.write_text(src)
    proc = run_cli("check", "--fix", "--no-cache", "legacy.py", cwd=tmp_path)
    fixed = f.read_text()
    assert "model.fit(  # legacy API" in fixed
    assert "    epochs=10,  # ten passes" in fixed
    assert proc.returncode == 0, proc.stdout.decode()
    again = run_cli("check", "--fix", "--no-cache", "legacy.py", cwd=tmp_path)
    assert f.read_text() == fixed and again.returncode == 0


def _has_unsafe_fix() -> bool:
    rule = RULES_BY_CODE.get("EPL201")
    return rule is not None and rule.fixable == "unsafe"


@pytest.mark.skipif(not _has_unsafe_fix(), reason="EPL201's unsafe fix not written yet")
def test_unsafe_fixes_only_with_the_flag(tmp_path):
    src = (
        "import tensorflow as tf\n"
        "\n"
        "with tf.GradientTape() as tape:\n"
        "    predictions = model(x_batch)\n"
        "    loss = tf.keras.losses.MSE(y_batch, predictions)\n"
        "gradients = tape.gradient(loss, model.trainable_variables)\n"
    )
    f = tmp_path / "loop.py"
    f.write_text(src)
    safe_only = run_cli("check", "--fix", "--no-cache", "loop.py", cwd=tmp_path)
    assert f.read_text() == src
    assert safe_only.returncode == 1
    assert b"--unsafe-fixes" in safe_only.stdout  # the summary says how to apply it
    shown = run_cli("check", "--diff", "--unsafe-fixes", "--no-cache", "loop.py", cwd=tmp_path)
    assert b"reduce_mean" in shown.stdout and f.read_text() == src
    applied = run_cli("check", "--fix", "--unsafe-fixes", "--no-cache", "loop.py", cwd=tmp_path)
    assert "reduce_mean" in f.read_text()
    assert applied.returncode == 0, applied.stdout.decode()
    compile(f.read_text(), "loop.py", "exec")


def test_diff_applies_with_git_apply_and_equals_what_fix_writes(tmp_path):
    """--diff is a real patch: no trailing newline, CRLF and a form feed inside a line."""
    originals = {
        "no_newline.py": b"import keras\nmodel = keras.Sequential()\nmodel.fit(x, y, epochs=2)  # noqa: EPL101",
        "crlf.py": b"import keras\r\n\x0c# section\r\nmodel = keras.Sequential()  # noqa: EPL101\r\nprint(1)\r\n",
    }
    for name, data in originals.items():
        (tmp_path / name).write_bytes(data)
    diff = run_cli("check", "--diff", "--no-cache", *originals, cwd=tmp_path)
    assert diff.returncode == 1
    assert b"\\ No newline at end of file" in diff.stdout
    (tmp_path / "fix.patch").write_bytes(diff.stdout)
    applied = subprocess.run(["git", "apply", "--unsafe-paths", "-p1", "fix.patch"], cwd=tmp_path, capture_output=True)
    assert applied.returncode == 0, applied.stderr.decode()
    patched = {name: (tmp_path / name).read_bytes() for name in originals}
    for name, data in originals.items():
        (tmp_path / name).write_bytes(data)
    run_cli("check", "--fix", "--no-cache", *originals, cwd=tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in originals} == patched
    assert patched["crlf.py"] == originals["crlf.py"].replace(b"  # noqa: EPL101", b"")
