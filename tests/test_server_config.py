"""`epochlint server` configuration: `[tool.epochlint]` per workspace folder, client settings
on top (select/ignore/strict), and re-checks when either changes. Also the units of the server
that need no process: positions, noqa edits, minimal edits, settings, the dependents hook, and
that `epochlint check` never imports pygls."""
from __future__ import annotations

import subprocess
import time
import sys

import pytest

pytest.importorskip("pygls")


from linter.server import actions  # noqa: E402
from linter.server.checking import Cell, Snapshot, check, source_of  # noqa: E402
from linter.server.documents import DocumentStore  # noqa: E402
from linter.server.layout import UTF8, UTF16, UTF32, code_points, units  # noqa: E402
from linter.server.settings import ClientSettings, Configs  # noqa: E402
from tests.lsp_client import ROOT, LspClient  # noqa: E402

TRAIN = "import keras\nmodel = keras.Sequential()\nmodel.fit(x, y, nb_epoch=10)\nmodel.fit_generator(gen)\n"
UNKNOWN = "import keras\ndef train(model):\n    model.fit(x, y, nb_epoch=3)\n"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("folders")
    a, b = base / "a", base / "b"
    a.mkdir()
    b.mkdir()
    (a / "pyproject.toml").write_text('[project]\nname = "a"\n\n[tool.epochlint]\nselect = ["EPL103"]\n')
    (b / "epochlint.toml").write_text('ignore = ["EPL103"]\n')
    return a, b


@pytest.fixture(scope="module")
def server(folders):
    a, b = folders
    client = LspClient(cwd=str(a.parent), args=["--debounce-ms", "20"])
    caps = {"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}}, "textDocument": {}}
    client.init_result = client.request("initialize", {
        "processId": None, "capabilities": caps, "rootUri": a.as_uri(),
        "workspaceFolders": [{"uri": a.as_uri(), "name": "a"}, {"uri": b.as_uri(), "name": "b"}],
    })
    client.notify("initialized", {})
    yield client
    assert client.close() == 0, client.stderr()


def codes_after(server, uris, mark):
    return {u: sorted(d["code"] for d in server.diagnostics(u, mark)) for u in uris}


def test_config_per_folder_client_settings_and_rechecks(server, folders):
    a, b = folders
    # config files are watched (dynamic registration accepted by the client)
    reg = server.wait_for("client/registerCapability")
    globs = [w["globPattern"] for w in reg["registrations"][0]["registerOptions"]["watchers"]]
    assert "**/pyproject.toml" in globs and "**/epochlint.toml" in globs

    ua, ub = (a / "train.py").as_uri(), (b / "train.py").as_uri()
    mark = server.mark()
    for uri in (ua, ub):
        server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": TRAIN}})
    assert codes_after(server, [ua, ub], mark) == {ua: ["EPL103"], ub: ["EPL106"]}

    # client settings: ignore adds to each folder's config; every open document is re-checked
    mark = server.mark()
    server.notify("workspace/didChangeConfiguration", {"settings": {"epochlint": {"ignore": ["EPL106"]}}})
    assert codes_after(server, [ua, ub], mark) == {ua: ["EPL103"], ub: []}
    # select replaces the config's selection
    mark = server.mark()
    server.notify("workspace/didChangeConfiguration", {"settings": {"epochlint": {"select": ["EPL106"]}}})
    assert codes_after(server, [ua, ub], mark) == {ua: ["EPL106"], ub: ["EPL106"]}

    # a config file changes on disk: the watcher's notification re-checks
    (a / "pyproject.toml").write_text('[tool.epochlint]\nignore = ["EPL106"]\n')
    mark = server.mark()
    server.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": (a / "pyproject.toml").as_uri(), "type": 2}]})
    assert codes_after(server, [ua, ub], mark) == {ua: [], ub: ["EPL106"]}

    # a broken config: said once, and the folder is checked with the defaults (+ client settings)
    (b / "epochlint.toml").write_text("select = [\n")
    mark = server.mark()
    server.notify("textDocument/didSave", {"textDocument": {"uri": (b / "epochlint.toml").as_uri()}})
    assert codes_after(server, [ub], mark) == {ub: ["EPL106"]}
    shown = server.wait_for("window/showMessage", lambda p: "config error" in p["message"], after=mark)
    assert "epochlint.toml" in shown["message"]

    # strict from the client: a receiver of unknown type
    uc = (a / "loop.py").as_uri()
    mark = server.mark()
    server.notify("workspace/didChangeConfiguration", {"settings": {"epochlint": {"strict": False}}})
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uc, "languageId": "python", "version": 1, "text": UNKNOWN}})
    assert server.diagnostics(uc, mark) == []
    mark = server.mark()
    server.notify("workspace/didChangeConfiguration", {"settings": {"epochlint": {"strict": True, "select": "EPL1"}}})
    assert [d["code"] for d in server.diagnostics(uc, mark)] == ["EPL103"]

    # bad client settings are said, not fatal
    mark = server.mark()
    server.notify("workspace/didChangeConfiguration", {"settings": {"epochlint": {"select": ["NOPE1"], "strict": "yes"}}})
    server.wait_for("window/showMessage", lambda p: "NOPE1" in p["message"], after=mark)
    server.wait_for("window/showMessage", lambda p: "strict" in p["message"], after=mark)
    assert [d["code"] for d in server.diagnostics(ua, mark)] == ["EPL103"]  # defaults, a's ignore


def test_a_file_in_a_folder_added_later_gets_that_folders_config(tmp_path):
    client = LspClient(cwd=str(tmp_path), args=["--debounce-ms", "0"])
    try:
        client.initialize(tmp_path / "first")
        later = tmp_path / "later"
        (later / "sub").mkdir(parents=True)
        (later / "pyproject.toml").write_text('[tool.epochlint]\nper-file-ignores = {"sub/*" = ["EPL103"]}\n')
        client.notify("workspace/didChangeWorkspaceFolders", {"event": {"added": [{"uri": later.as_uri(), "name": "later"}], "removed": []}})
        uri = (later / "sub" / "t.py").as_uri()
        mark = client.mark()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": TRAIN}})
        assert [d["code"] for d in client.diagnostics(uri, mark)] == ["EPL106"]  # per-file-ignores relative to its root
    finally:
        assert client.close() == 0


def test_settings_pulled_per_folder_with_workspace_configuration(folders, tmp_path):
    a, b = folders
    c = tmp_path / "c"
    c.mkdir()
    answers = {"global": {"ignore": ["EPL106"]}, c.as_uri(): {"select": ["EPL106"]}}
    client = LspClient(cwd=str(tmp_path), args=["--debounce-ms", "20"])
    client.answers["workspace/configuration"] = lambda params: [answers.get(item.get("scopeUri", "global")) for item in params["items"]]
    try:
        client.request("initialize", {"processId": None, "capabilities": {"workspace": {"configuration": True}},
                                      "workspaceFolders": [{"uri": c.as_uri(), "name": "c"}, {"uri": (tmp_path / "d").as_uri(), "name": "d"}]})
        client.notify("initialized", {})
        uc, ud = (c / "t.py").as_uri(), (tmp_path / "d" / "t.py").as_uri()
        mark = client.mark()
        for uri in (uc, ud):
            client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": TRAIN}})
        # c's own answer (select EPL106) wins over the global one there; d gets the global ignore
        assert client.diagnostics(uc, mark, predicate=lambda d: [x["code"] for x in d] == ["EPL106"])
        assert client.diagnostics(ud, mark, predicate=lambda d: [x["code"] for x in d] == ["EPL103"])
        # an empty didChangeConfiguration: the server asks again
        answers[c.as_uri()] = {"select": ["EPL103"]}
        mark = client.mark()
        client.notify("workspace/didChangeConfiguration", {"settings": None})
        assert client.diagnostics(uc, mark, predicate=lambda d: [x["code"] for x in d] == ["EPL103"])
    finally:
        assert client.close() == 0


# --------------------------------------------------------------------------- units
def test_units_and_code_points():
    line = 'x = "\U0001F600é"; y'
    assert units(line[:7], UTF16) == 8 and units(line[:7], UTF8) == 11 and units(line[:7], UTF32) == 7
    for enc in (UTF8, UTF16, UTF32):
        for i in range(len(line) + 1):
            assert code_points(line, units(line[:i], enc), enc) == i


def test_noqa_edit_cases():
    text = 'import keras\nm.fit(x, nb_epoch=1)  # noqa: E501 because\ns = """\nm.fit(nb_epoch=1)\n"""\nm.fit(x,\n      nb_epoch=1)\na = 1 + \\\n  m.fit(nb_epoch=2)\n'
    rng, new = actions.noqa_edit(text, 1, "EPL103")
    assert new == ", EPL103" and rng.start.character == len("m.fit(x, nb_epoch=1)  # noqa: E501")
    assert actions.noqa_edit(text, 2, "EPL103") is None  # the line ends inside a string
    rng, new = actions.noqa_edit(text, 6, "EPL103")  # inside brackets: a comment is fine
    assert new == "  # noqa: EPL103"
    assert actions.noqa_edit(text, 7, "EPL103") is None  # a backslash continuation
    assert actions.noqa_edit("m.fit()  # noqa\n", 0, "EPL103") is None  # bare noqa: suppressed already


def test_minimal_edit_keeps_crlf_pairs_and_units():
    old, new = "a = 1\r\nb = '\U0001F600'\r\nc = 3\r\n", "a = 1\r\nb = '\U0001F600'\r\nc = 4\r\n"
    edit = actions.minimal_edit(old, new)
    assert (edit.range.start.line, edit.range.start.character, edit.new_text) == (2, 4, "4")
    edit = actions.minimal_edit("x\r\ny\r\n", "x\r\n\r\ny\r\n")
    assert edit.range.start.character in (0, 1) and edit.range.start.line in (0, 1)
    assert actions.minimal_edit("same", "same") is None


def test_client_settings_parsing():
    s, problems = ClientSettings.from_json({"settings": {"select": "EPL1, EPL2", "ignore": ["EPL106"], "strict": True}})
    assert s.select == ("EPL1", "EPL2") and s.ignore == ("EPL106",) and s.strict is True and problems == []
    s, problems = ClientSettings.from_json({"epochlint": {"select": 3, "strict": 1}})
    assert s == ClientSettings() and len(problems) == 2
    assert ClientSettings.from_json(None) == (ClientSettings(), [])


def test_settings_are_found_per_document_and_cached(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "pyproject.toml").write_text('[tool.epochlint]\nignore = ["EPL106"]\n')
    configs = Configs()
    configs.folders = [tmp_path]
    assert "EPL106" not in configs.settings_for(str(tmp_path / "p" / "x.py")).enabled_codes()
    assert "EPL106" in configs.settings_for(str(tmp_path / "q.py")).enabled_codes()
    assert configs.settings_for(str(tmp_path / "q.py")).root == tmp_path  # the folder, as the CLI's cwd
    (tmp_path / "pyproject.toml").write_text('[tool.epochlint]\nignore = ["EPL103"]\n')
    assert "EPL103" in configs.settings_for(str(tmp_path / "q.py")).enabled_codes()  # cached discovery
    configs.invalidate()
    assert "EPL103" not in configs.settings_for(str(tmp_path / "q.py")).enabled_codes()


def test_a_notebook_snapshot_maps_virtual_lines_to_cells():
    cells = (Cell("c0", 2, "python", "import keras\nmodel = keras.Sequential()"), Cell("c1", 1, "markdown", "# hi"),
             Cell("c2", 2, "python", "%time x = 1\nmodel.fit(x, nb_epoch=2)\n"))
    snap = Snapshot("nb", None, 1, cells=cells)
    source, layout = source_of(snap)
    assert layout.locate(1) == ("c0", 0) and layout.locate(3) == ("c0", None)  # the boundary: end of c0
    assert layout.locate(5) == ("c2", 1) and 4 in layout.masked
    checked = check(snap, Configs().settings_for(None))
    (f,) = checked.findings
    assert f.code == "EPL103" and layout.place(f.line, f.column).uri == "c2"


def test_the_store_rechecks_dependents_the_project_hook_names(tmp_path):
    class Project:
        def changed(self, path, text):
            pass

        def closed(self, path):
            pass

        def importers(self, path):
            return {str(tmp_path / "train.py")} if path.endswith("models.py") else set()

    store = DocumentStore(Project())
    models = store.open("file:///models", str(tmp_path / "models.py"))
    train = store.open("file:///train", str(tmp_path / "train.py"))
    other = store.open("file:///other", str(tmp_path / "other.py"))
    assert store.dependents(models) == [train]
    assert store.dependents(train) == [] and store.dependents(other) == []
    assert DocumentStore().dependents(models) == []  # no project index: nothing depends on anything


def test_check_never_imports_the_server(tmp_path):
    f = tmp_path / "t.py"
    f.write_text(TRAIN)
    code = f"import sys; from linter.cli import main; main(['check', '--no-cache', {str(f)!r}]); print(sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol', 'cattrs') or m.startswith('linter.server')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT), env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr


def test_server_help_and_missing_pygls(tmp_path):
    out = subprocess.run([sys.executable, "-m", "epochlint", "server", "--help"], capture_output=True, text=True, cwd=str(ROOT))
    assert out.returncode == 0 and "--debounce-ms" in out.stdout
    (tmp_path / "pygls").mkdir()
    (tmp_path / "pygls" / "__init__.py").write_text("raise ImportError('pygls is not installed here')\n")
    out = subprocess.run([sys.executable, "-c", "from linter.cli import main; raise SystemExit(main(['server']))"],
                         capture_output=True, text=True, cwd=str(ROOT), env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": ""})
    assert out.returncode == 2 and "pip install 'epochlint[server]'" in out.stderr


def test_diagnostics_link_the_rule_page_when_the_url_is_known(monkeypatch):
    from linter.server import diagnostics

    snap = Snapshot("file:///t.py", None, 7, text=TRAIN)
    checked = check(snap, Configs().settings_for(None))
    monkeypatch.setattr(diagnostics, "rule_href", lambda code: f"https://example.invalid/rules/{code}.md")
    (d103,) = [d for d in diagnostics.to_diagnostics(checked.findings, checked.layout, 7)["file:///t.py"] if d.code == "EPL103"]
    assert d103.code_description.href == "https://example.invalid/rules/EPL103.md"
    assert d103.data["version"] == 7 and d103.data["fix"]["edits"][0]["newText"] == "epochs"
    monkeypatch.setattr(diagnostics, "rule_href", lambda code: None)
    (d103,) = [d for d in diagnostics.to_diagnostics(checked.findings, checked.layout, 7)["file:///t.py"] if d.code == "EPL103"]
    assert d103.code_description is None


def test_a_failing_project_index_costs_only_the_cross_module_facts():
    class Broken:
        def view_for(self, path, data, settings):
            raise RuntimeError("index exploded")

    snap = Snapshot("file:///w/t.py", "/w/t.py", 1, text=TRAIN)
    checked = check(snap, Configs().settings_for(None), project=Broken())
    assert sorted(f.code for f in checked.findings) == ["EPL103", "EPL106"]
    assert "index exploded" in checked.error


MODELS = "import keras\n\n\ndef build_model():\n    return keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.5), keras.layers.Dense(1)])\n"
TRAIN_IMPORTING = "from models import build_model\n\nmodel = build_model()\nmodel.fit(x, y, nb_epoch=10)\n"


@pytest.mark.skipif(not __import__("linter.server.project", fromlist=["available"]).available(), reason="no project index (linter.project)")
def test_saving_an_imported_module_rechecks_the_open_documents_that_import_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n')
    models = tmp_path / "models.py"
    models.write_text(MODELS)
    client = LspClient(cwd=str(tmp_path), args=["--debounce-ms", "20"])
    try:
        client.initialize(tmp_path)
        train, other = (tmp_path / "train.py").as_uri(), (tmp_path / "other.py").as_uri()
        mark = client.mark()
        # the buffer never names keras: the model comes from models.py, through the index
        client.notify("textDocument/didOpen", {"textDocument": {"uri": train, "languageId": "python", "version": 1, "text": TRAIN_IMPORTING}})
        client.notify("textDocument/didOpen", {"textDocument": {"uri": other, "languageId": "python", "version": 1, "text": "import keras\nx = 1\n"}})
        assert [d["code"] for d in client.diagnostics(train, mark)] == ["EPL103"]
        client.diagnostics(other, mark)
        # models.py's summary went to the CLI's cache too (the next `epochlint check` is warm)
        assert list((tmp_path / ".epochlint_cache").rglob("summary-*.json"))
        # models.py edited in the editor and saved: train.py (which imports it) is checked again
        client.notify("textDocument/didOpen", {"textDocument": {"uri": models.as_uri(), "languageId": "python", "version": 1, "text": MODELS}})
        broken = "def build_model():\n    return None\n"
        models.write_text(broken)
        client.notify("textDocument/didChange", {"textDocument": {"uri": models.as_uri(), "version": 2}, "contentChanges": [{"text": broken}]})
        mark = client.mark()
        client.notify("textDocument/didSave", {"textDocument": {"uri": models.as_uri()}})
        assert client.diagnostics(train, mark) == []  # no longer known to be a model: silent
        time.sleep(0.3)
        assert not any(m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == other for m in client.notifications[mark:])
        # and a change on disk that the client reports (another tool wrote it)
        models.write_text(MODELS)
        mark = client.mark()
        client.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": models.as_uri(), "type": 2}]})
        assert [d["code"] for d in client.diagnostics(train, mark)] == ["EPL103"]
    finally:
        assert client.close() == 0


def test_utf8_columns_when_the_client_asks_for_them(tmp_path):
    client = LspClient(cwd=str(tmp_path), args=["--debounce-ms", "0"])
    try:
        result = client.request("initialize", {"processId": None, "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]}}})
        client.notify("initialized", {})
        assert result["capabilities"]["positionEncoding"] == "utf-8"
        uri = (tmp_path / "t.py").as_uri()
        text = 'import keras\nmodel = keras.Sequential()\nmodel.fit(x, "\U0001F600é", nb_epoch=10)\n'
        mark = client.mark()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
        (d,) = client.diagnostics(uri, mark)
        line = text.splitlines()[2]
        assert d["range"]["start"] == {"line": 2, "character": len(line[: line.index("nb_epoch")].encode("utf-8"))}
    finally:
        assert client.close() == 0


def test_action_kind_filter_takes_strings_and_enum_members():
    from lsprotocol.types import CodeActionKind

    assert actions.wants([CodeActionKind.Source], actions.FIX_ALL_KIND)
    assert actions.wants(["source.fixAll"], actions.FIX_ALL_KIND)
    assert not actions.wants(["source.organizeImports"], actions.FIX_ALL_KIND)
    assert actions.wants(None, CodeActionKind.QuickFix) and not actions.wants(["refactor"], CodeActionKind.QuickFix)


def test_summaries_come_from_memory_then_the_cli_cache():
    from linter.server.project import _Summaries

    class Disk:
        def __init__(self):
            self.stored = {"k1": {"from": "disk"}}

        def load_summary(self, key):
            return self.stored.get(key)

        def store_summary(self, key, summary):
            self.stored[key] = summary

    class Broken:
        def load_summary(self, key):
            raise OSError("unreadable")

        store_summary = load_summary

    memo, disk = {}, Disk()
    s = _Summaries(memo, disk, limit=2)
    assert s.load_summary("k1") == {"from": "disk"} and memo == {"k1": {"from": "disk"}}
    s.store_summary("k2", {"new": 1})
    assert disk.stored["k2"] == {"new": 1} and memo["k2"] == {"new": 1}
    s.store_summary("k3", {"new": 2})  # over the limit: memory starts again, the disk keeps all
    assert memo == {"k3": {"new": 2}} and len(disk.stored) == 3
    quiet = _Summaries({}, Broken(), limit=5)
    assert quiet.load_summary("x") is None
    quiet.store_summary("x", {"a": 1})
    assert quiet.load_summary("x") == {"a": 1}
