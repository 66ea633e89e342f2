"""The project index's stat cache (linter.project.stat_cache): a warm run reads no unchanged file,
and no shortcut ever gives an answer computed from other bytes than the file holds now.

The racy window (an entry recorded less than RACY_NS after the file's last change is not
trusted) makes every entry of a file written by a test untrusted for two seconds: the tests of
the warm path set it to 0 (`trust_at_once`), and the tests of the window itself give the entry
a signature that cannot tell two contents apart (`coarse_signatures`: size and mtime only, as a
file system with a coarse clock would give).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from linter import runner, source
from linter.cache import CACHE_DIR_NAME, Cache, content_digest
from linter.config import Settings
from linter.project import index as project_index
from linter.project import stat_cache
from linter.project.imports import Import
from linter.project.plan import Project
from linter.project.stat_cache import NAME, RACY_NS, Scan, StatIndex
from tests.test_project import EXPECTED, MODELS, TRAIN, run, write

NO_DROPOUT = MODELS.replace("keras.layers.Dropout(0.5)", "keras.layers.Dense(0.5)  ")  # the same size
STEP = """\
import tensorflow as tf
from models import build_model
model = build_model()
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(model(x))
tape.gradient(loss, model.trainable_variables)
"""


@pytest.fixture
def example(tmp_path):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"models.py": MODELS, "train.py": TRAIN})
    return tmp_path


@pytest.fixture
def reads(monkeypatch):
    """The files read (by the check: runner.read_file; by the index or a node's lazy read:
    linter.source.read_bytes, which runner.read_file calls by another name), in order."""
    seen: list = []
    for module, name in ((runner, "read_file"), (source, "read_bytes")):
        real = getattr(module, name)

        def read(path, real=real):
            seen.append(os.path.basename(str(path)))
            return real(path)

        monkeypatch.setattr(module, name, read)
    return seen


@pytest.fixture
def trust_at_once(monkeypatch):
    monkeypatch.setattr(stat_cache, "RACY_NS", 0)


@pytest.fixture
def coarse_signatures(monkeypatch):
    """Signatures of a file system whose clock is too coarse to tell two writes apart and whose
    files keep their inode (ctime is not compared either): only size and mtime count."""
    monkeypatch.setattr(stat_cache, "signature", lambda st: [st.st_size, st.st_mtime_ns] if stat_cache.stat.S_ISREG(st.st_mode) else None)
    monkeypatch.setattr(stat_cache, "trusted", lambda seen, st: type(seen) is int and seen - st.st_mtime_ns >= stat_cache.RACY_NS)


def stat_index_file(root: Path) -> Path:
    (found,) = (root / CACHE_DIR_NAME).glob(f"*/{NAME}")
    return found


def fake_stat(size=10, mtime=10**18, ctime=None, ino=7, dev=1, regular=True) -> SimpleNamespace:
    return SimpleNamespace(st_mode=0o100644 if regular else 0o010644, st_size=size, st_mtime_ns=mtime, st_ctime_ns=mtime if ctime is None else ctime, st_ino=ino, st_dev=dev)


SCAN = Scan("ab" * 20, (Import(0, "models", ("build_model",)), Import(1, "", ("x", "y")), Import(0, "os.path", None)), True, True)


# --------------------------------------------------------------------------- the index alone
def test_an_entry_is_given_back_for_its_signature_only():
    index = StatIndex(None)
    st = fake_stat()
    index.record("/p/m.py", st, st.st_mtime_ns + RACY_NS, SCAN)
    assert index.lookup("/p/m.py", st) == SCAN
    assert index.lookup("/p/other.py", st) is None
    for changed in (fake_stat(size=11), fake_stat(mtime=st.st_mtime_ns + 1), fake_stat(ctime=st.st_ctime_ns + 1), fake_stat(ino=8), fake_stat(dev=2)):
        assert index.lookup("/p/m.py", changed) is None
    assert index.lookup("/p/m.py", fake_stat(regular=False)) is None  # a FIFO now: never from the index


def test_an_entry_recorded_within_the_racy_window_is_not_trusted():
    index = StatIndex(None)
    st = fake_stat(mtime=10**18, ctime=10**18 + 5)
    index.record("/p/m.py", st, st.st_ctime_ns + RACY_NS - 1, SCAN)  # the same tick as a write could be
    assert index.lookup("/p/m.py", st) is None
    index.record("/p/m.py", st, st.st_ctime_ns + RACY_NS, SCAN)  # read again later: trusted now
    assert index.lookup("/p/m.py", st) == SCAN


def test_the_index_is_one_file_read_back_by_the_next_run(tmp_path):
    cache = Cache(tmp_path, "config")
    first = cache.stat_index()
    st = fake_stat()
    first.record("/p/m.py", st, st.st_mtime_ns + RACY_NS, SCAN)
    assert first.save()
    assert not first.save()  # nothing changed since: not rewritten
    assert [p.name for p in cache.folder.iterdir() if not p.name.startswith(".")] == [NAME]
    assert cache.stat_index().lookup("/p/m.py", st) == SCAN


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"\x00\xffnot json",
        b'{"format": 2, "entries": {"/p/m.py": [10, 1',  # torn write
        b"[]",
        b'{"format": 999, "entries": {}}',
        b'{"format": 2, "entries": []}',
        b'{"format": 2, "entries": {"/p/m.py": {"size": 10}}}',
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, "late", "d", true, true, ""]}}',
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "d", true, true, "x\\tm"]}}',
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "d", true, true, "0\\tm\\t"]}}',
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "d", true, true, "0"]}}',
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "d", true, true, [[0, "m", null]]]}}',
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, null, true, true, ""]}}',
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "d", 1, true, ""]}}',
        b'{"format": 1, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "d", true, true, ""]}}',  # an older format
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "zz", true, true, ""]}}',  # not a digest
        b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "' + b"ab" * 20 + b'", true, true, "-1\\tm"]}}',
    ],
)
def test_a_damaged_index_is_a_miss_never_a_crash(tmp_path, damage):
    cache = Cache(tmp_path, "config")
    cache.folder.mkdir(parents=True)
    (cache.folder / NAME).write_bytes(damage)
    assert cache.stat_index().lookup("/p/m.py", fake_stat()) is None


def test_a_damaged_index_file_is_rebuilt_by_the_next_run(example, trust_at_once, reads):
    run(example, ["train.py"])
    stat_index_file(example).write_bytes(b'{"format": 1, "entries": {"/tr')  # torn
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    assert json.loads(stat_index_file(example).read_bytes())["format"] == stat_cache.FORMAT
    reads.clear()
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    assert reads == []


def test_an_index_of_another_format_is_ignored(example, trust_at_once, reads, monkeypatch):
    run(example, ["train.py"])
    monkeypatch.setattr(stat_cache, "FORMAT", stat_cache.FORMAT + 1)
    reads.clear()
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    assert sorted(reads) == ["models.py", "train.py"]  # read again, not misread


def test_imports_round_trip_through_the_index():
    assert stat_cache.decode_imports(stat_cache.encode_imports(SCAN.imports)) == SCAN.imports
    assert stat_cache.decode_imports(stat_cache.encode_imports(())) == ()


def test_the_digest_is_the_result_caches(tmp_path):
    data = b"import keras\n"
    assert project_index.scan_source(data, data.decode()).digest == content_digest(data)


# --------------------------------------------------------------------------- warm runs
def test_a_warm_run_reads_no_file(example, trust_at_once, reads):
    cold = run(example, ["models.py", "train.py"])
    assert cold == {"models.py": [], "train.py": EXPECTED}
    assert sorted(reads) == ["models.py", "train.py"]  # each read once
    reads.clear()
    assert run(example, ["models.py", "train.py"]) == cold
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    assert reads == []


def test_a_touched_file_is_read_again_but_not_parsed(example, trust_at_once, reads, monkeypatch):
    from linter import engine

    run(example, ["models.py", "train.py"])
    os.utime(example / "models.py")
    os.utime(example / "train.py")
    parses: list = []
    real = engine.parse_module
    monkeypatch.setattr(engine, "parse_module", lambda text: parses.append(text) or real(text))
    reads.clear()
    assert run(example, ["models.py", "train.py"]) == {"models.py": [], "train.py": EXPECTED}
    assert sorted(reads) == ["models.py", "train.py"] and parses == []
    reads.clear()
    assert run(example, ["models.py", "train.py"]) == {"models.py": [], "train.py": EXPECTED}
    assert reads == []  # re-recorded: trusted again


def test_an_edit_is_seen_with_the_index_warm(example, trust_at_once):
    write(example, {"models.py": NO_DROPOUT, "step.py": STEP})
    assert run(example, ["step.py"]) == {"step.py": []}
    assert run(example, ["step.py"]) == {"step.py": []}  # warm
    write(example, {"models.py": MODELS})  # a Dropout added
    assert run(example, ["step.py"]) == {"step.py": [("EPL202", 5)]}
    write(example, {"step.py": STEP.replace("import tensorflow as tf", "import tensorflow as tf  # edited")})
    assert run(example, ["step.py"]) == {"step.py": [("EPL202", 5)]}


def test_renamed_and_deleted_modules_with_the_index_warm(example, trust_at_once):
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    (example / "models.py").rename(example / "nets.py")
    assert run(example, ["train.py"]) == {"train.py": []}
    (example / "nets.py").rename(example / "models.py")
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    (example / "models.py").unlink()
    assert run(example, ["train.py"]) == {"train.py": []}
    assert str(example / "models.py") not in json.loads(stat_index_file(example).read_bytes())["entries"]
    write(example, {"models/__init__.py": MODELS})  # a package now
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}


def test_other_settings_share_the_index_not_the_results(example, trust_at_once):
    write(example, {"loop.py": "import keras\n\ndef train(model, ds):\n    model.fit(ds, nb_epoch=3)\n"})
    assert run(example, ["loop.py"]) == {"loop.py": []}
    assert run(example, ["loop.py"], strict=True) == {"loop.py": [("EPL103", 4)]}
    assert run(example, ["loop.py"]) == {"loop.py": []}


def test_without_the_cache_there_is_no_index(example, trust_at_once, reads):
    run(example, ["train.py"], use_cache=False)
    assert not (example / CACHE_DIR_NAME).exists()
    reads.clear()
    assert run(example, ["train.py"], use_cache=False) == {"train.py": EXPECTED}
    assert sorted(reads) == ["models.py", "train.py"]


# --------------------------------------------------------------------------- the racy window
def rewrite_keeping_size_and_mtime(path: Path, text: str) -> None:
    before = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_a_rewrite_in_the_same_tick_keeping_the_size_is_read_again(example, coarse_signatures):
    write(example, {"models.py": NO_DROPOUT, "step.py": STEP})
    assert run(example, ["step.py"]) == {"step.py": []}
    rewrite_keeping_size_and_mtime(example / "models.py", MODELS)  # same signature, new content
    assert run(example, ["step.py"]) == {"step.py": [("EPL202", 5)]}  # the entry was racy: read again
    rewrite_keeping_size_and_mtime(example / "step.py", STEP.replace("model(x)", "model(y)"))
    assert run(example, ["step.py"]) == {"step.py": [("EPL202", 5)]}


def test_without_the_racy_window_the_same_rewrite_would_be_missed(example, coarse_signatures, trust_at_once):
    """What the test above guards against: a signature that cannot tell the contents apart."""
    write(example, {"models.py": NO_DROPOUT, "step.py": STEP})
    assert run(example, ["step.py"]) == {"step.py": []}
    rewrite_keeping_size_and_mtime(example / "models.py", MODELS)
    assert run(example, ["step.py"]) == {"step.py": []}  # stale: why entries younger than RACY_NS are not trusted


def test_a_file_changed_after_the_index_saw_it_is_never_summarised_under_the_old_key(example, trust_at_once):
    run(example, ["models.py", "train.py"])  # the index knows both
    cache = Cache.for_settings(Settings(root=example))
    project = Project([str(example / "train.py")], {}, None, cache, lazy=True)
    node = project.graph.nodes[str(example / "models.py")]
    assert node.source is None  # not read: the index vouched for it
    write(example, {"models.py": MODELS.replace("Dropout(0.5)", "Dropout(0.25)")})  # changed since
    assert node.data is None and node.text is None  # not the bytes its digest and key stand for
    stored: list = []
    project.cache = SimpleNamespace(load_summary=lambda key: None, store_summary=lambda key, s: stored.append(key))
    assert project.summarize_only(node)["broken"] and stored == []


def test_concurrent_runs_never_see_half_an_index(tmp_path):
    import threading

    cache = Cache(tmp_path, "config")
    st = fake_stat()
    problems: list = []

    def writer(k: int):
        for i in range(60):
            index = cache.stat_index()
            for j in range(50):
                index.record(f"/p/m{k}_{j}.py", st, st.st_mtime_ns + RACY_NS + i, SCAN)
            if not index.save():
                problems.append("save failed")

    def reader():
        for _ in range(120):
            index = cache.stat_index()
            if (cache.folder / NAME).exists() and not index.paths():
                problems.append("a run saw an empty or half-written index")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    assert not list(cache.folder.glob(".tmp-*")), "temporary files left behind"


def test_a_warm_run_of_modules_checked_again_with_their_callers_reads_no_file(tmp_path, trust_at_once, reads, monkeypatch):
    from linter import engine

    (tmp_path / ".git").mkdir()
    lib = "def train(model, x, epochs=3):\n    model.fit(x, nb_epoch=epochs)\n"
    main = "from models import build_model\nfrom lib import train\n\ntrain(build_model(), data)\n"
    write(tmp_path, {"models.py": MODELS, "lib.py": lib, "main.py": main})
    names = ["lib.py", "main.py", "models.py"]
    cold = run(tmp_path, names)
    assert cold == {"lib.py": [("EPL103", 2)], "main.py": [], "models.py": []}  # lib.py's second check
    parses: list = []
    real = engine.parse_module
    monkeypatch.setattr(engine, "parse_module", lambda text: parses.append(text) or real(text))
    reads.clear()
    assert run(tmp_path, names) == cold
    assert reads == [] and parses == []


# --------------------------------------------------------------------------- resolutions kept
from linter.project import resolutions as resolutions_mod  # noqa: E402
from linter.project.resolutions import Resolutions  # noqa: E402


@pytest.fixture
def resolved(monkeypatch):
    """The modules whose imports were resolved (not taken from the record), in order."""
    calls: list = []
    real = project_index.ProjectIndex.resolve_imports

    def counting(self, path, *args, **kwargs):
        calls.append(os.path.basename(str(path)))
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(project_index.ProjectIndex, "resolve_imports", counting)
    return calls


def warm_up(root: Path, names: list) -> dict:
    """Two runs: the first creates .epochlint_cache in the root, a folder the record looked at
    (so the second resolves again and records it as it stays)."""
    run(root, names)
    return run(root, names)


def test_a_warm_run_resolves_nothing(example, trust_at_once, resolved):
    assert warm_up(example, ["train.py"]) == {"train.py": EXPECTED}
    resolved.clear()
    assert run(example, ["train.py"]) == {"train.py": EXPECTED}
    assert resolved == []


def test_a_module_created_where_an_import_looked_is_found(tmp_path, trust_at_once, resolved):
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"train.py": TRAIN})
    assert warm_up(tmp_path, ["train.py"]) == {"train.py": []}  # `models` is nowhere yet
    write(tmp_path, {"models.py": MODELS})
    resolved.clear()
    assert run(tmp_path, ["train.py"]) == {"train.py": EXPECTED}
    assert "train.py" in resolved


def test_without_the_folder_signatures_the_new_module_would_be_missed(tmp_path, trust_at_once, monkeypatch):
    """What the test above guards against."""
    for module in (resolutions_mod, project_index):
        monkeypatch.setattr(module, "folder_signature", lambda path: [0, 0, 0, 0])
    (tmp_path / ".git").mkdir()
    write(tmp_path, {"train.py": TRAIN})
    assert warm_up(tmp_path, ["train.py"]) == {"train.py": []}
    write(tmp_path, {"models.py": MODELS})
    assert run(tmp_path, ["train.py"]) == {"train.py": []}  # stale


def test_a_package_installed_since_is_seen(tmp_path, trust_at_once, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(project_index, "_installed", {})
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    write(project, {"models.py": MODELS, "scripts/train.py": TRAIN})
    assert warm_up(project, ["scripts/train.py"]) == {"scripts/train.py": EXPECTED}  # the root's models.py
    write(site, {"models/__init__.py": "def build_model():\n    return 1\n"})
    monkeypatch.setattr(project_index, "_installed", {})  # (a new process would not remember it)
    assert run(project, ["scripts/train.py"]) == {"scripts/train.py": []}  # the installed one, maybe: unknown


def test_a_racy_folder_is_not_trusted(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    sig = resolutions_mod.folder_signature(str(folder))
    for started, holds in ((max(sig[0], sig[1]), False), (max(sig[0], sig[1]) + RACY_NS, True)):
        record = Resolutions(None, started_ns=started)
        record.syspath_seen = started + RACY_NS * 10**6  # (sys.path is not what this test is about)
        record.learn("/p/m.py", "d", "m", "/p", False, {"models": None})
        section = record.section({str(folder): sig})
        assert (Resolutions(section).known("/p/m.py", "d") is not None) == holds


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.update(context=[*s["context"][:-1], "/elsewhere"]),  # another configuration root
        lambda s: s["syspath"].update({"/new/site": [1, 1, 1, 1]}),
        lambda s: s.update(folders={**s["folders"], "/nonexistent-folder-x": [[1, 1, 1, 1], 0]}),
        lambda s: s.update(nodes=[]),
        lambda s: s.update(folders={"/": "garbage"}),
        lambda s: s.update(syspath_seen="late"),
        lambda s: s.clear(),
    ],
)
def test_a_record_of_another_context_or_damaged_is_dropped(tmp_path, change):
    old = Resolutions(None, started_ns=0)
    old.syspath_seen = 10**30  # trusted as far as time goes
    old.learn("/p/m.py", "d", "m", "/p", False, {"models": None})
    section = old.section({})
    assert Resolutions(section).known("/p/m.py", "d") == ("m", "/p", False, {"models": None})
    change(section)
    assert Resolutions(section).known("/p/m.py", "d") is None


@pytest.mark.parametrize("entry", [None, 3, ["d"], ["d", 1, "/p", False, {}], ["d", "m", "/p", "no", {}], ["d", "m", "/p", False, {"a": 1}], ["d", "m", "/p", False, {1: None}], ["d", "", "/p", False, {}], ["d", "m", "p", False, {}]])
def test_a_damaged_node_of_a_record_is_unknown(entry):
    record = Resolutions(None)
    record.nodes["/p/m.py"] = entry
    assert record.known("/p/m.py", "d") is None
    assert record.known("/p/other.py", "d") is None


def test_no_working_folder_means_no_kept_resolutions_not_a_crash(example, trust_at_once, monkeypatch):
    warm_up(example, ["train.py"])

    def gone():
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(resolutions_mod.os, "getcwd", gone)
    reader = project_index.Reader(Cache.for_settings(Settings(root=example)).stat_index())
    assert reader.resolutions is None and reader.known(str(example / "train.py"), "d") is None


def test_a_well_formed_entry_written_by_hand_is_a_hit(tmp_path):
    """The control of test_a_damaged_index_is_a_miss_never_a_crash: the same entry, well formed."""
    cache = Cache(tmp_path, "config")
    cache.folder.mkdir(parents=True)
    good = b'{"format": 2, "entries": {"/p/m.py": [10, 1000000000000000000, 1000000000000000000, 7, 1, 2000000000000000000, "' + b"ab" * 20 + b'", true, true, "0\\tm\\n1\\t\\tx,y"]}}'
    (cache.folder / NAME).write_bytes(good)
    assert cache.stat_index().lookup("/p/m.py", fake_stat()) == Scan("ab" * 20, (Import(0, "m", None), Import(1, "", ("x", "y"))), True, True)


def test_a_file_created_beside_the_project_keeps_its_resolutions(tmp_path, trust_at_once, resolved):
    """Only folders whose listing can change a resolution are looked at: not the folder holding
    the project root (its marker stops the search for a root; the root's existence needs no listing)."""
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    write(project, {"models.py": MODELS, "train.py": TRAIN})
    assert warm_up(project, ["train.py"]) == {"train.py": EXPECTED}
    (tmp_path / "sibling.txt").write_text("another project's file\n", encoding="utf-8")
    resolved.clear()
    assert run(project, ["train.py"]) == {"train.py": EXPECTED}
    assert resolved == []
