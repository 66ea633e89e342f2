"""Notebooks through the CLI: code cells checked with IPython syntax masked, positions per cell
(cell = 1-based position among all cells), `--fix`/`--diff` writing back only the edited source
while outputs, metadata and the file's JSON formatting stay byte for byte, and broken notebooks
giving EPL000 (never a traceback)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, env=env, input=stdin, capture_output=True)


def check_json(path: str, cwd: Path, *extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    proc = run_cli("check", "--format", "json", "--no-cache", *extra, path, cwd=cwd)
    assert proc.stderr == b"", proc.stderr.decode()
    return json.loads(proc.stdout), proc


def code(source, outputs=None, count=None):
    return {"cell_type": "code", "execution_count": count, "metadata": {}, "outputs": outputs or [], "source": source}


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


OUTPUT = {"name": "stdout", "output_type": "stream", "text": ["Epoch 1/1 — loss 0.96\n"]}
PNG = {"data": {"image/png": "iVBORw0KGgo=\n", "text/plain": ["<Figure>"]}, "metadata": {"needs_background": "light"}, "output_type": "display_data"}


def sample() -> dict:
    """A notebook with markdown, magics, shell lines, help, outputs and three findings."""
    return {
        "cells": [
            markdown(["# Training\n", "Ünïcode in markdown.\n"]),
            code(["%matplotlib inline\n", "!pip install -q keras\n", "import keras\n", "import numpy as np"], [OUTPUT], 1),
            markdown("Build the model."),
            code(
                [
                    "model = keras.Sequential([keras.layers.Dense(1)])\n",
                    "files = !ls data/\n",
                    "model.summary?\n",
                    "for epoch in range(3):\n",
                    "    !echo training \\\n",
                    "        more\n",
                    "    %time model.fit(x, y)\n",
                    "ratio = (10\n",
                    "         % 3)\n",
                    "model.epochs = 10  # the misconception\n",
                    "model.fit(x, y)  # noqa: EPL101",
                ],
                [PNG],
                2,
            ),
            code("%%time\nmodel.epochs = 20\n", [], 3),
            code("%%bash\necho 'not python (\n", [], None),
            code([], [], None),
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "version": "3.11.7"},
            "colab": {"provenance": []},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# The writers users' notebooks come from: nbformat/Jupyter (indent 1, sorted keys, raw UTF-8),
# VS Code-like (indent 1, insertion order), json.dump(indent=2/4, ASCII escapes), tabs, CRLF,
# minified, no trailing newline, and "source" as one string instead of a list.
WRITERS = {
    "nbformat": lambda nb: json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
    "vscode": lambda nb: json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
    "indent2-ascii": lambda nb: json.dumps(nb, indent=2) + "\n",
    "indent4-no-newline": lambda nb: json.dumps(nb, indent=4, ensure_ascii=False),
    "tabs": lambda nb: json.dumps(nb, indent="\t", ensure_ascii=False) + "\n",
    "crlf": lambda nb: (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").replace("\n", "\r\n"),
    "minified": lambda nb: json.dumps(nb, separators=(",", ":"), ensure_ascii=False),
}


def source_as_strings(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if isinstance(cell["source"], list):
            cell["source"] = "".join(cell["source"])
    return nb


def write(path: Path, nb: dict, writer: str = "nbformat") -> bytes:
    data = WRITERS[writer](nb).encode("utf-8")
    path.write_bytes(data)
    return data


def test_findings_carry_cell_and_line_in_cell(tmp_path):
    write(tmp_path / "train.ipynb", sample())
    data, proc = check_json("train.ipynb", tmp_path)
    got = [(f["code"], f["cell"], f["line"], f["column"]) for f in data["findings"]]
    # cell numbers count every cell (markdown included); lines are inside the cell
    assert got == [("EPL101", 4, 10, 1), ("EPL900", 4, 11, 18), ("EPL101", 5, 2, 1)]
    assert proc.returncode == 1
    text = run_cli("check", "--no-cache", "train.ipynb", cwd=tmp_path).stdout.decode()
    assert "train.ipynb[cell 4]:10:1: EPL101" in text
    assert "10 | model.epochs = 10  # the misconception" in text
    concise = run_cli("check", "--format", "concise", "--no-cache", "train.ipynb", cwd=tmp_path).stdout.decode()
    assert "train.ipynb[cell 5]:2:1: EPL101 " in concise


def test_ipython_syntax_is_skipped_not_an_error(tmp_path):
    nb = {
        "cells": [
            code(["import tensorflow as tf\n", "?tf.keras\n", "tf.keras.Model??\n", "np.*load*?\n", "%%timeit\n"]),
            code("%%writefile train.py\nimport keras\nmodel = keras.Sequential()\nmodel.epochs = 3\n"),
            code("x = %time 1\n!!ls\n%load_ext tensorboard\nif True:\n    %tensorboard --logdir logs\n"),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write(tmp_path / "magic.ipynb", nb)
    data, proc = check_json("magic.ipynb", tmp_path)
    # no EPL000: every IPython line was masked; %%writefile's body is another file, not checked
    assert data["findings"] == [] and proc.returncode == 0


def expected_after_fix(nb: dict) -> dict:
    expected = copy.deepcopy(nb)
    src = expected["cells"][3]["source"]
    if isinstance(src, list):
        src[-1] = "model.fit(x, y)"
    else:
        expected["cells"][3]["source"] = src.replace("model.fit(x, y)  # noqa: EPL101", "model.fit(x, y)")
    return expected


def test_fix_writes_back_only_the_edit_whatever_wrote_the_notebook(tmp_path):
    """One notebook per writer style, with list and string sources, fixed in one run."""
    variants = {}
    for writer in WRITERS:
        for kind, nb in (("list", sample()), ("string", source_as_strings(sample()))):
            name = f"{writer}-{kind}.ipynb"
            variants[name] = (writer, nb, write(tmp_path / name, nb, writer))

    diff = run_cli("check", "--diff", "--no-cache", ".", cwd=tmp_path)
    assert diff.returncode == 1
    assert all((tmp_path / name).read_bytes() == raw for name, (_, _, raw) in variants.items())  # nothing written
    text = diff.stdout.decode()
    for name in variants:
        assert f"--- a/{name}:cell 4\n+++ b/{name}:cell 4\n" in text.replace("./", "")
    marker = "\\ No newline at end of file\n"  # a cell's last line has no newline
    assert text.count(f"-model.fit(x, y)  # noqa: EPL101\n{marker}+model.fit(x, y)\n{marker}") == len(variants)

    proc = run_cli("check", "--fix", "--no-cache", ".", cwd=tmp_path)
    assert proc.returncode == 1  # the two EPL101 of each notebook remain
    assert f"Fixed {len(variants)} findings." in proc.stdout.decode()
    for name, (writer, nb, _) in variants.items():
        path = tmp_path / name
        assert path.read_bytes() == WRITERS[writer](expected_after_fix(nb)).encode("utf-8"), name
        # magics, shell lines, outputs and metadata are all still there
        back = json.loads(path.read_text(encoding="utf-8"))
        assert back["cells"][3]["outputs"] == [PNG] and back["cells"][1]["outputs"] == [OUTPUT]
        assert back["metadata"] == nb["metadata"]
        joined = "".join(back["cells"][3]["source"])
        assert "files = !ls data/\n" in joined and "    !echo training \\\n        more\n" in joined and "model.summary?\n" in joined

    fixed = {name: (tmp_path / name).read_bytes() for name in variants}
    again = run_cli("check", "--fix", "--no-cache", ".", cwd=tmp_path)
    assert b"Fixed" not in again.stdout
    assert {name: (tmp_path / name).read_bytes() for name in variants} == fixed  # a second --fix changes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(variants)  # no temporary files


def test_fix_keeps_a_bom_and_the_file_mode(tmp_path):
    path = tmp_path / "bom.ipynb"
    data = b"\xef\xbb\xbf" + WRITERS["nbformat"](sample()).encode("utf-8")
    path.write_bytes(data)
    os.chmod(path, 0o640)
    run_cli("check", "--fix", "--no-cache", "bom.ipynb", cwd=tmp_path)
    assert path.read_bytes() == data.replace(b'"model.fit(x, y)  # noqa: EPL101"', b'"model.fit(x, y)"')
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["bom.ipynb"]


def test_noqa_and_file_level_suppression_work_in_cells(tmp_path):
    nb = sample()
    nb["cells"][3]["source"][9] = "model.epochs = 10  # noqa: EPL101\n"
    write(tmp_path / "a.ipynb", nb)
    data, _ = check_json("a.ipynb", tmp_path)
    assert [(f["code"], f["cell"], f["line"]) for f in data["findings"]] == [("EPL900", 4, 11), ("EPL101", 5, 2)]
    nb["cells"].insert(0, code("# epochlint: noqa\n"))
    write(tmp_path / "a.ipynb", nb)
    data, proc = check_json("a.ipynb", tmp_path)
    assert data["findings"] == [] and proc.returncode == 0


def test_syntax_error_is_reported_in_its_cell(tmp_path):
    nb = {"cells": [markdown("x"), code("import keras\n"), code("m = keras.Sequential()\nx = = 1\ny = 2\n"), code("x = 1\n")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    write(tmp_path / "broken.ipynb", nb)
    data, proc = check_json("broken.ipynb", tmp_path)
    (f,) = data["findings"]
    assert (f["code"], f["name"], f["cell"]) == ("EPL000", "syntax-error", 3)
    assert 2 <= f["line"] <= 3  # libcst's raw_line can be one past the error line (engine's note)
    assert proc.returncode == 1
    # a cell left open cannot swallow the next one: still one EPL000, no traceback
    nb["cells"][2] = code("model = keras.Sequential(\n")
    write(tmp_path / "broken.ipynb", nb)
    data, proc = check_json("broken.ipynb", tmp_path)
    assert [(f["code"], f["name"]) for f in data["findings"]] == [("EPL000", "syntax-error")]
    assert data["findings"][0]["cell"] in (3, 4)


BROKEN = {
    "truncated": (b'{"cells": [', "invalid JSON", (1, 12)),
    "bad-comma": (b'{\n  "cells": [\n    {"cell_type": "code",,}\n  ]\n}\n', "invalid JSON", (3, 26)),
    "json-list": (b"[1, 2, 3]", 'no "cells" list', (1, 1)),
    "nbformat3": (b'{"worksheets": [], "nbformat": 3}', "nbformat 3", (1, 1)),
    "empty": (b"", "empty", (1, 1)),
    "bad-source": (b'{"cells": [{"cell_type": "code", "source": 42}]}', '"source" must be a string or a list of strings', (1, 1)),
    "bad-cell": (b'{"cells": ["oops"]}', "cell 1 is not an object", (1, 1)),
    "not-utf8": (b'{"cells": [], "x": "\xff\xfe"}', "not UTF-8", (1, 1)),
}


def test_broken_notebooks_are_EPL000_not_a_traceback(tmp_path):
    for name, (content, _, _) in BROKEN.items():
        (tmp_path / f"{name}.ipynb").write_bytes(content)
    (tmp_path / "good.py").write_text("import keras\nm = keras.Sequential()\nm.epochs = 2\n")
    data, proc = check_json(".", tmp_path)
    assert proc.returncode == 1
    by_file = {Path(f["path"]).name: f for f in data["findings"]}
    assert len(data["findings"]) == len(BROKEN) + 1
    for name, (_, message, position) in BROKEN.items():
        f = by_file[f"{name}.ipynb"]
        assert (f["code"], f["name"]) == ("EPL000", "unreadable-file"), name
        assert message in f["message"], (name, f["message"])
        assert (f["line"], f["column"]) == position, name
    assert by_file["good.py"]["code"] == "EPL101"  # the other files are still checked
    # --fix on broken notebooks writes nothing
    fix = run_cli("check", "--fix", "--no-cache", ".", cwd=tmp_path)
    assert b"Traceback" not in fix.stderr + fix.stdout
    for name, (content, _, _) in BROKEN.items():
        assert (tmp_path / f"{name}.ipynb").read_bytes() == content


@pytest.mark.parametrize(
    "nb",
    [
        {"cells": [markdown("only text")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        {"cells": [code("library(keras)\nmodel$epochs <- 10\n")], "metadata": {"kernelspec": {"language": "R", "name": "ir"}}, "nbformat": 4, "nbformat_minor": 5},
    ],
    ids=["markdown-only", "no-cells", "r-kernel"],
)
def test_notebooks_without_python_code_have_no_findings(tmp_path, nb):
    data_in = write(tmp_path / "n.ipynb", nb)
    data, proc = check_json("n.ipynb", tmp_path)
    assert (data["findings"], proc.returncode) == ([], 0)
    run_cli("check", "--fix", "--no-cache", "n.ipynb", cwd=tmp_path)
    assert (tmp_path / "n.ipynb").read_bytes() == data_in


def test_directories_include_notebooks_and_stdin_works(tmp_path):
    (tmp_path / "nbs").mkdir()
    write(tmp_path / "nbs" / "train.ipynb", sample())
    data, _ = check_json(".", tmp_path)
    assert {f["path"].removeprefix("./") for f in data["findings"]} == {"nbs/train.ipynb"}
    raw = WRITERS["nbformat"](sample()).encode()
    proc = run_cli("check", "--format", "json", "--stdin-filename", "piped.ipynb", "-", cwd=tmp_path, stdin=raw)
    assert [(f["path"], f["cell"], f["line"]) for f in json.loads(proc.stdout)["findings"]] == [("piped.ipynb", 4, 10), ("piped.ipynb", 4, 11), ("piped.ipynb", 5, 2)]
    fixed = run_cli("check", "--fix", "--stdin-filename", "piped.ipynb", "-", cwd=tmp_path, stdin=raw)
    assert fixed.stdout == raw.replace(b'"model.fit(x, y)  # noqa: EPL101"', b'"model.fit(x, y)"')


def test_sarif_and_github_formats_name_the_cell(tmp_path):
    write(tmp_path / "train.ipynb", sample())
    proc = run_cli("check", "--format", "sarif", "--no-cache", "train.ipynb", cwd=tmp_path)
    log = json.loads(proc.stdout)
    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    results = log["runs"][0]["results"]
    assert [(r["ruleId"], r["properties"]["cell"], r["properties"]["cellLine"]) for r in results] == [
        ("EPL101", 4, 10), ("EPL900", 4, 11), ("EPL101", 5, 2)
    ]
    assert all(r["message"]["text"].startswith(f"cell {r['properties']['cell']}, line {r['properties']['cellLine']}: ") for r in results)
    assert not any("fixes" in r for r in results)  # cell coordinates are not file coordinates
    gh = run_cli("check", "--format", "github", "--no-cache", "train.ipynb", cwd=tmp_path).stdout.decode()
    assert ",title=EPL101 (cell 4%2C line 10)::EPL101 " in gh  # "%2C" is an escaped comma


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_sarif_and_github_lines_are_lines_of_the_notebook_file(tmp_path, writer):
    """GitHub places an annotation (workflow command or SARIF result) on a line of the file: for
    a notebook, the line of the .ipynb JSON where the flagged source line is written."""
    nb = sample()
    raw = write(tmp_path / "train.ipynb", nb, writer).decode("utf-8")
    file_lines = raw.replace("\r\n", "\n").split("\n")
    data, _ = check_json("train.ipynb", tmp_path)
    expected = []
    for f in data["findings"]:
        cell_source = nb["cells"][f["cell"] - 1]["source"]
        cell_lines = ("".join(cell_source) if isinstance(cell_source, list) else cell_source).split("\n")
        expected.append(cell_lines[f["line"] - 1])
    sarif = json.loads(run_cli("check", "--format", "sarif", "--no-cache", "train.ipynb", cwd=tmp_path).stdout)
    gh = run_cli("check", "--format", "github", "--no-cache", "train.ipynb", cwd=tmp_path).stdout.decode().splitlines()
    sarif_lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in sarif["runs"][0]["results"]]
    gh_lines = [int(line.split(",line=")[1].split(",")[0]) for line in gh]
    assert sarif_lines == gh_lines and len(gh_lines) == len(expected) == 3
    for n, text in zip(gh_lines, expected):
        assert 1 <= n <= len(file_lines)
        encoded = json.dumps(text, ensure_ascii="ascii" in writer)[1:-1]
        assert encoded in file_lines[n - 1], (writer, n, file_lines[n - 1], text)
        if writer != "minified":
            assert '"cells"' not in file_lines[n - 1] and '"nbformat"' not in file_lines[n - 1]


def test_github_annotation_for_a_source_string_cell(tmp_path):
    write(tmp_path / "train.ipynb", source_as_strings(sample()))
    gh = run_cli("check", "--format", "github", "--no-cache", "train.ipynb", cwd=tmp_path).stdout.decode()
    raw_lines = (tmp_path / "train.ipynb").read_text(encoding="utf-8").split("\n")
    for line in gh.splitlines():
        n = int(line.split(",line=")[1].split(",")[0])
        assert raw_lines[n - 1].lstrip().startswith('"source": ')


# --------------------------------------------------------------------------- the IPython masker
MASKING = [
    # (cell source, indexes of the lines that must be masked)
    ("x = (10\n     % 3)\n", []),  # modulo continuing an open bracket
    ('s = """\n%d items\n!important\nwhy?\n"""\n%time f()\n', [5]),  # inside a string: not IPython
    ("y = 1 + \\\n    2\n!ls\n", [2]),  # after a backslash continuation ends
    ("d = {\n  'a': 1,\n}\n!ls -la \\\n  /tmp\nz = 1\n", [3, 4]),  # a continued shell line
    ("# comment with ( bracket\n%time f()\n", [1]),  # brackets in comments do not count
    ("print('(')\n!ls\n", [1]),  # nor brackets in strings
    ("t = 'it\\'s'\n?t\n", [1]),
    ('f"{x!r}"\nfiles = !ls *.py\nx = %env HOME\n', [1, 2]),
    ("model.fit?\nmodel.fit??\n??model\nnp.*load*?\nif a:\n    b?\n", [0, 1, 2, 3, 5]),
    ("%%timeit -n 3\nx = (1\n% 2)\n", [0]),  # a Python-body cell magic: only its line
    ("%%bash\necho (\n", [0, 1]),  # any other cell magic: the whole cell
    ("\n\n%%capture out\nprint(1)\n", [2]),
    ("a = 1 if b else 2\nc = a != 3\n", []),
    ("  for x in y:\n    print(x)\n", [0, 1]),  # IPython dedents an indented cell: masked whole
    ("  # an indented comment\nx = 1\n", []),  # ... but a comment is not code
    ("\n \\\n\n", []),  # nor a lone continuation line: Python as it stands is never masked
    ("time if x else (\n    2)\n", []),  # a magic's name starting a statement that goes on
    ("ls ./data/train/\ncd ..\npip install keras\nls -la\nhistory = model.fit(x,\n    y)\ntime.sleep(1)\n", [0, 1, 2]),
]


@pytest.mark.parametrize("source, expected", MASKING, ids=[f"case{i}" for i in range(len(MASKING))])
def test_masking_finds_exactly_the_ipython_lines(source, expected):
    import ast

    from linter.notebook import IPYTHON_MARK, lines_of, mask_ipython

    lines, masked = mask_ipython(source)
    original = lines_of(source)
    got = [i for i, line in enumerate(lines) if IPYTHON_MARK in line]
    assert got == expected
    assert masked == [original[i].rstrip("\n") for i in expected]
    assert len(lines) == len(original)  # line numbers kept
    ast.parse("".join(lines))  # what the engine gets is Python


def test_valid_python_is_never_masked():
    """Property: no line of a program Python accepts is taken for IPython syntax."""
    import hypothesmith
    from hypothesis import HealthCheck, given, settings

    from linter.notebook import lines_of, mask_ipython

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(hypothesmith.from_grammar())
    def check(code):
        lines, masked = mask_ipython(code)
        assert masked == [] and lines == lines_of(code)

    check()


def test_any_json_or_bytes_is_a_notebook_or_a_clear_error():
    """Property: reading a .ipynb never raises anything but UnreadableSource (-> EPL000), and a
    notebook that reads can always be rendered back unchanged."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from linter.notebook import render
    from linter.runner import decode
    from linter.source import UnreadableSource

    scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
    cell = st.fixed_dictionaries(
        {"cell_type": st.sampled_from(["code", "markdown", "raw", 3]), "source": st.one_of(st.text(max_size=40), st.lists(st.text(max_size=15), max_size=4), values)},
        optional={"metadata": values, "outputs": values},
    )
    notebooks = st.fixed_dictionaries({"cells": st.lists(cell | values, max_size=4)}, optional={"metadata": values, "nbformat": values})
    documents = st.one_of(notebooks.map(json.dumps), values.map(json.dumps), st.binary(max_size=60).map(lambda b: b.decode("latin-1")))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(documents)
    def check(doc):
        data = doc.encode("utf-8", "surrogatepass")
        try:
            source = decode(data, "x.ipynb")
        except UnreadableSource as exc:
            assert str(exc) and exc.line >= 1 and exc.column >= 1
            return
        assert render(source, source.text) == data or not source.notebook.exact

    check()
