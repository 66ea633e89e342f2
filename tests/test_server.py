"""`epochlint server` driven over stdio by a JSON-RPC client, as an editor drives it.

One server process for the module (tests/lsp_client.py): initialize -> didOpen -> diagnostics
(codes, UTF-16 ranges, data) -> code actions (the EPL103 fix, noqa, fix all) -> didChange clears
them -> hover -> notebooks -> malformed requests -> a file that does not parse -> shutdown/exit.
"""
from __future__ import annotations

import json
import sys
import time

import pytest

pytest.importorskip("pygls")

from tests.lsp_client import LspClient, LspError, apply_edits  # noqa: E402

TRAIN = (
    "import keras\n"
    "\n"
    "model = keras.Sequential()\n"
    'model.fit(x, y, note="\U0001F600", nb_epoch=10)\n'
    "model.fit_generator(gen)\n"
)
EVIDENCE = "fit: TypeError (evidence written by the test)"


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    cache = tmp_path_factory.mktemp("cache")
    (cache / "epochlint").mkdir()
    entry = {"confirmed": True, "summary": EVIDENCE, "tensorflow_version": "2.99.0", "measured_at": "2026-12-01T00:00:00+0000"}
    (cache / "epochlint" / "verify-last.json").write_text(json.dumps({"codes": {"EPL103": {"3.99.0": entry}}}))
    return root, cache


@pytest.fixture(scope="module")
def server(workspace):
    root, cache = workspace
    client = LspClient(env={"XDG_CACHE_HOME": str(cache)}, cwd=str(root), args=["--debounce-ms", "50"])
    client.init_result = client.initialize(root)
    yield client
    code = client.close()
    assert code == 0, client.stderr()


_versions: dict[str, int] = {}


def open_doc(server, uri: str, text: str, language: str = "python") -> list:
    mark = server.mark()
    _versions[uri] = 1
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}})
    return server.diagnostics(uri, mark)


def change_doc(server, uri: str, changes: list, version: int = None) -> list:
    """didChange; the diagnostics published for that version."""
    _versions[uri] = version or _versions[uri] + 1
    v = _versions[uri]
    mark = server.mark()
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v}, "contentChanges": changes})
    return server.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri and p.get("version") == v, after=mark)["diagnostics"]


def actions(server, uri: str, diagnostics: list, rng=None, only=None) -> list:
    context = {"diagnostics": diagnostics}
    if only is not None:
        context["only"] = only
    rng = rng or (diagnostics[0]["range"] if diagnostics else {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}})
    return server.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": rng, "context": context}) or []


def test_initialize_announces_the_capabilities(server):
    caps = server.init_result["capabilities"]
    assert server.init_result["serverInfo"]["name"] == "epochlint"
    assert caps["positionEncoding"] == "utf-16"
    assert caps["hoverProvider"]
    assert "source.fixAll.epochlint" in caps["codeActionProvider"]["codeActionKinds"]
    assert "quickfix" in caps["codeActionProvider"]["codeActionKinds"]
    assert caps["notebookDocumentSync"]["notebookSelector"][0]["cells"] == [{"language": "python"}]
    assert caps["textDocumentSync"]["change"] == 2  # incremental


def test_open_fix_change_hover_close(server, workspace):
    root, _ = workspace
    uri = (root / "train.py").as_uri()
    # the buffer is checked, not the disk (there is no train.py on disk at all)
    diags = open_doc(server, uri, TRAIN)
    by_code = {d["code"]: d for d in diags}
    assert sorted(by_code) == ["EPL103", "EPL106"]
    line = TRAIN.splitlines()[3]
    d103 = by_code["EPL103"]
    start = utf16(line[: line.index("nb_epoch")])
    assert start == line.index("nb_epoch") + 1  # the emoji counts two UTF-16 units
    assert d103["range"] == {"start": {"line": 3, "character": start}, "end": {"line": 3, "character": start + len("nb_epoch=10")}}
    assert d103["severity"] == 1 and d103["source"] == "epochlint"
    assert "nb_epoch" in d103["message"]
    assert d103["data"]["fix"]["applicability"] == "safe" and d103["data"]["version"] == 1
    assert by_code["EPL106"]["range"]["start"] == {"line": 4, "character": 0}

    # the quick fix of EPL103, applied as the editor would (an incremental change)
    acts = actions(server, uri, [d103])
    fix = next(a for a in acts if a["kind"] == "quickfix" and "noqa" not in a["title"])
    assert fix["isPreferred"] is True and "epochs" in fix["title"]
    edits = fix["edit"]["changes"][uri]
    fixed = apply_edits(TRAIN, edits)
    assert 'note="\U0001F600", epochs=10)' in fixed
    diags = change_doc(server, uri, [{"range": e["range"], "text": e["newText"]} for e in edits])
    assert [d["code"] for d in diags] == ["EPL106"]

    # hover on the remaining diagnostic; then on EPL103 once it is back
    hover = server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 4, "character": 3}})
    assert hover["contents"]["kind"] == "markdown"
    assert "EPL106" in hover["contents"]["value"] and "Claim" in hover["contents"]["value"]
    assert server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}) is None
    diags = change_doc(server, uri, [{"text": TRAIN}])
    d103 = next(d for d in diags if d["code"] == "EPL103")
    hover = server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": d103["range"]["start"]})
    text = hover["contents"]["value"]
    assert "**EPL103** `keras1-epoch-arguments`" in text
    assert "Keras 1 argument names" in text  # the claim
    assert EVIDENCE in text and "3.99.0" in text  # the last measured evidence, from the verify cache

    # didChange to code without findings clears them
    clean = TRAIN.replace("nb_epoch", "epochs").replace("fit_generator", "fit")
    assert change_doc(server, uri, [{"text": clean}]) == []

    # close: cleared, and the document is forgotten
    mark = server.mark()
    change_doc(server, uri, [{"text": TRAIN}])
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    assert server.diagnostics(uri, mark, predicate=lambda d: d == []) == []
    assert server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 20}}) is None


def test_noqa_and_fix_all_actions(server, workspace):
    root, _ = workspace
    uri = (root / "noqa.py").as_uri()
    text = TRAIN.replace("gen)", "gen)  # noqa: E501")
    diags = open_doc(server, uri, text)
    d103 = next(d for d in diags if d["code"] == "EPL103")
    d106 = next(d for d in diags if d["code"] == "EPL106")
    noqa = next(a for a in actions(server, uri, [d103]) if "noqa" in a["title"])
    after = apply_edits(text, noqa["edit"]["changes"][uri])
    assert after.splitlines()[3].endswith('nb_epoch=10)  # noqa: EPL103')
    # an existing `# noqa:` list gets the code added
    noqa = next(a for a in actions(server, uri, [d106]) if "noqa" in a["title"])
    after = apply_edits(after, noqa["edit"]["changes"][uri])
    assert after.splitlines()[4] == "model.fit_generator(gen)  # noqa: E501, EPL106"
    assert change_doc(server, uri, [{"text": after}]) == []

    # fix all safe: both fixes in one edit (asked for as the source action only)
    diags = change_doc(server, uri, [{"text": text}])
    acts = actions(server, uri, [], only=["source.fixAll"])
    assert [a["kind"] for a in acts] == ["source.fixAll.epochlint"]
    fixed = apply_edits(text, acts[0]["edit"]["changes"][uri])
    assert "nb_epoch" not in fixed and "fit_generator" not in fixed and "epochs=10" in fixed
    # ... and through codeAction/resolve (clients that resolve edits lazily)
    resolved = server.request("codeAction/resolve", {"title": "Fix all", "kind": "source.fixAll.epochlint", "data": {"uri": uri}})
    assert apply_edits(text, resolved["edit"]["changes"][uri]) == fixed
    assert actions(server, uri, diags, only=["refactor"]) == []
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_changes_are_debounced_and_only_the_last_version_is_published(server, workspace):
    root, _ = workspace
    uri = (root / "typing.py").as_uri()
    open_doc(server, uri, TRAIN)
    mark = server.mark()
    for v in range(2, 7):
        _versions[uri] = v
        server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v}, "contentChanges": [{"text": TRAIN + "#" * v + "\n"}]})
    last = server.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri and p.get("version") == 6, after=mark)
    assert len(last["diagnostics"]) == 2
    time.sleep(0.2)
    versions = [m["params"].get("version") for m in server.notifications[mark:] if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri]
    assert versions == [6]
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_a_document_that_does_not_parse_is_epl000_and_the_server_goes_on(server, workspace):
    root, _ = workspace
    uri = (root / "broken.py").as_uri()
    diags = open_doc(server, uri, "import keras\n\ndef train(model:\n    model.fit(x, y)\n")
    assert [d["code"] for d in diags] == ["EPL000"]
    assert diags[0]["range"]["start"]["line"] == 2 and "cannot parse" in diags[0]["message"]
    hover = server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": diags[0]["range"]["start"]})
    assert "**EPL000** `syntax-error`" in hover["contents"]["value"]
    assert not [a for a in actions(server, uri, diags) if "noqa" in a["title"]]  # EPL000 cannot be suppressed
    assert change_doc(server, uri, [{"text": "import keras\n\ndef train(model):\n    model.fit(x, y)\n"}]) == []
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_malformed_messages_do_not_stop_the_server(server, workspace):
    root, _ = workspace
    server.send_raw(b"{this is not json")
    server.send({"id": "bad-params", "method": "textDocument/hover", "params": {"textDocument": {"uri": 42}}})
    bad = server.response("bad-params", raw=True)
    assert bad["error"]["code"] in (-32602, -32603)
    server.send({"id": "unknown", "method": "epochlint/noSuchMethod", "params": {}})
    assert server.response("unknown", raw=True)["error"]["code"] == -32601
    server.notify("textDocument/didChange", {"textDocument": {"uri": "file:///never/opened.py", "version": 3}, "contentChanges": [{"text": "x"}]})
    server.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///nope.py"}})  # missing fields
    with pytest.raises(LspError):
        server.request("textDocument/codeAction", {"textDocument": {"uri": "file:///x.py"}})
    # still serving
    diags = open_doc(server, (root / "after.py").as_uri(), TRAIN)
    assert sorted(d["code"] for d in diags) == ["EPL103", "EPL106"]
    assert server.proc.poll() is None


def test_non_python_documents_are_not_checked(server, workspace):
    root, _ = workspace
    uri = (root / "notes.md").as_uri()
    mark = server.mark()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1, "text": TRAIN}})
    assert server.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 3, "character": 30}}) is None
    assert not any(m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri for m in server.notifications[mark:])


# --------------------------------------------------------------------------- notebooks
def _cell(uri: str, kind: int = 2) -> dict:
    return {"kind": kind, "document": uri}


def test_notebook_sync_positions_per_cell(server, workspace):
    root, _ = workspace
    nb_uri = (root / "train.ipynb").as_uri()
    cells = [f"vscode-notebook-cell:{root / 'train.ipynb'}#C{n}" for n in range(4)]
    texts = [
        "%matplotlib inline\nimport keras\nmodel = keras.Sequential()\n",
        "# Training\nThe model is fitted below.",
        "!pip install keras\nmodel.fit(x, y, nb_epoch=10)",
        "model.fit_generator(gen)\n",
    ]
    kinds = [2, 1, 2, 2]
    mark = server.mark()
    server.notify("notebookDocument/didOpen", {
        "notebookDocument": {"uri": nb_uri, "notebookType": "jupyter-notebook", "version": 1, "cells": [_cell(c, k) for c, k in zip(cells, kinds)]},
        "cellTextDocuments": [{"uri": c, "languageId": "python" if k == 2 else "markdown", "version": 1, "text": t} for c, k, t in zip(cells, kinds, texts)],
    })
    d2 = server.diagnostics(cells[2], mark)
    assert [d["code"] for d in d2] == ["EPL103"]
    assert d2[0]["range"]["start"] == {"line": 1, "character": len("model.fit(x, y, ")}
    d3 = server.diagnostics(cells[3], mark)
    assert [(d["code"], d["range"]["start"]) for d in d3] == [("EPL106", {"line": 0, "character": 0})]
    assert server.diagnostics(cells[0], mark) == []

    # the fix's edit is in the cell's own document
    fix = next(a for a in actions(server, cells[2], d2) if "noqa" not in a["title"])
    assert list(fix["edit"]["changes"]) == [cells[2]]
    fixed = apply_edits(texts[2], fix["edit"]["changes"][cells[2]])
    assert fixed == "!pip install keras\nmodel.fit(x, y, epochs=10)"
    hover = server.request("textDocument/hover", {"textDocument": {"uri": cells[2]}, "position": d2[0]["range"]["start"]})
    assert "EPL103" in hover["contents"]["value"]

    # fix all: an edit per changed cell, IPython lines kept
    acts = actions(server, cells[3], [], only=["source.fixAll.epochlint"])
    changes = acts[0]["edit"]["changes"]
    assert sorted(changes) == sorted([cells[2], cells[3]])
    assert apply_edits(texts[3], changes[cells[3]]) == "model.fit(gen)\n"
    assert apply_edits(texts[2], changes[cells[2]]) == fixed

    # a cell's text changes: its diagnostics go, the others stay where they are
    mark = server.mark()
    server.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": nb_uri, "version": 2},
        "change": {"cells": {"textContent": [{"document": {"uri": cells[2], "version": 2}, "changes": [{"range": fix["edit"]["changes"][cells[2]][0]["range"], "text": "epochs"}]}]}},
    })
    assert server.diagnostics(cells[2], mark) == []
    assert [d["code"] for d in server.diagnostics(cells[3], mark)] == ["EPL106"]

    # a cell removed: its diagnostics are cleared
    mark = server.mark()
    server.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": nb_uri, "version": 3},
        "change": {"cells": {"structure": {"array": {"start": 3, "deleteCount": 1}, "didClose": [{"uri": cells[3]}]}}},
    })
    assert server.diagnostics(cells[3], mark) == []

    # a cell added, with a finding
    new = f"vscode-notebook-cell:{root / 'train.ipynb'}#C9"
    mark = server.mark()
    server.notify("notebookDocument/didChange", {
        "notebookDocument": {"uri": nb_uri, "version": 4},
        "change": {"cells": {"structure": {"array": {"start": 3, "deleteCount": 0, "cells": [_cell(new)]},
                                           "didOpen": [{"uri": new, "languageId": "python", "version": 1, "text": "model.epochs = 5\n"}]}}},
    })
    assert [d["code"] for d in server.diagnostics(new, mark)] == ["EPL101"]

    mark = server.mark()
    server.notify("notebookDocument/didClose", {"notebookDocument": {"uri": nb_uri}, "cellTextDocuments": [{"uri": c} for c in cells[:3] + [new]]})
    assert server.diagnostics(new, mark, predicate=lambda d: d == []) == []


# --------------------------------------------------------------------------- internal errors
def test_an_internal_error_is_a_log_message_and_epl000(tmp_path):
    boom = (
        "import linter.runner as r\n"
        "def boom(source, settings, *a, **k):\n"
        "    print('stray output on stdout')\n"  # must not reach the protocol's channel
        "    if 'boom' in source.text: raise RuntimeError('boom in a rule')\n"
        "    return ORIGINAL(source, settings, *a, **k)\n"
        "ORIGINAL = r.check_source\n"
        "r.check_source = boom\n"
        "from linter.cli import main\n"
        "raise SystemExit(main(['server']))\n"
    )
    client = LspClient(command=[sys.executable, "-c", boom], cwd=str(tmp_path))
    try:
        client.initialize(tmp_path)
        uri = (tmp_path / "boom.py").as_uri()
        mark = client.mark()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "import keras\n# boom\n"}})
        diags = client.diagnostics(uri, mark)
        assert [d["code"] for d in diags] == ["EPL000"]
        assert "internal error" in diags[0]["message"] and "boom in a rule" in diags[0]["message"]
        logged = client.wait_for("window/logMessage", lambda p: "boom in a rule" in p["message"], after=mark)
        assert logged["type"] == 1 and "Traceback" in logged["message"]
        other = (tmp_path / "fine.py").as_uri()
        mark = client.mark()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": other, "languageId": "python", "version": 1, "text": TRAIN}})
        assert sorted(d["code"] for d in client.diagnostics(other, mark)) == ["EPL103", "EPL106"]
        assert "stray output on stdout" in client.stderr()
    finally:
        assert client.close() == 0


def test_an_unsafe_fix_is_marked_and_not_in_fix_all(server, workspace):
    root, _ = workspace
    uri = (root / "step.py").as_uri()
    text = "import tensorflow as tf\n\n@tf.function\ndef train_step(x, y):\n    loss = compute_loss(x, y)\n    print(\"loss\", loss)\n    return loss\n"
    diags = open_doc(server, uri, text)
    (d205,) = [d for d in diags if d["code"] == "EPL205"]
    assert d205["data"]["fix"]["applicability"] == "unsafe"
    fix = next(a for a in actions(server, uri, [d205]) if "noqa" not in a["title"])
    assert "unsafe" in fix["title"] and fix["isPreferred"] is False
    assert "tf.print(" in apply_edits(text, fix["edit"]["changes"][uri])
    assert actions(server, uri, [], only=["source.fixAll"]) == []  # no safe fix: no "fix all"
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_save_checks_only_what_was_not_checked_yet(server, workspace):
    root, _ = workspace
    uri = (root / "saved.py").as_uri()
    open_doc(server, uri, TRAIN)

    def published_after(mark):
        time.sleep(0.4)
        return [m["params"].get("version") for m in server.notifications[mark:] if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri]

    mark = server.mark()
    server.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert published_after(mark) == []  # checked as it is already
    change_doc(server, uri, [{"text": TRAIN.replace("fit_generator", "fit")}])
    mark = server.mark()
    server.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert published_after(mark) == []
    # a change and an immediate save: checked once more, at once (no debounce wait)
    _versions[uri] += 1
    mark = server.mark()
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": _versions[uri]}, "contentChanges": [{"text": TRAIN}]})
    server.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert published_after(mark) == [_versions[uri]]
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_crlf_buffers_keep_their_positions(server, workspace):
    root, _ = workspace
    uri = (root / "crlf.py").as_uri()
    text = TRAIN.replace("\n", "\r\n")
    diags = open_doc(server, uri, text)
    d103 = next(d for d in diags if d["code"] == "EPL103")
    assert d103["range"]["start"]["line"] == 3
    acts = actions(server, uri, [], only=["source.fixAll.epochlint"])
    fixed = apply_edits(text, acts[0]["edit"]["changes"][uri])
    assert fixed == text.replace("nb_epoch", "epochs").replace("fit_generator", "fit")
    server.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
