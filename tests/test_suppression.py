"""Suppression comments (CLI.md "Suppression"): `# noqa: CODE` / rule names / bare `# noqa`,
file-level `# epochlint: noqa[: CODES]`, EPL900 unused-noqa and its fix, and comments that
only look like directives (inside strings)."""
from __future__ import annotations

import textwrap

import pytest

from linter.fixes import apply_edits
from tests.conftest import lint
from tests.test_cli import epochlint

HEAD = "import keras\nmodel = keras.Sequential()\n"
# line 3: EPL101; line 4: EPL103 + EPL106 on the same line
BODY = "model.epochs = 10{c3}\nmodel.fit_generator(gen, nb_epoch=2){c4}\n"


def src(c3: str = "", c4: str = "") -> str:
    return HEAD + BODY.format(c3=c3, c4=c4)


def found(code: str, select=("EPL1", "EPL9")) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint(code, select=list(select)))


ALL = [(3, "EPL101"), (4, "EPL103"), (4, "EPL106")]


def test_baseline_without_comments():
    assert found(src()) == ALL


@pytest.mark.parametrize(
    "c3,c4,expected",
    [
        ("  # noqa: EPL101", "", [(4, "EPL103"), (4, "EPL106")]),
        ("  # noqa:EPL101", "", [(4, "EPL103"), (4, "EPL106")]),
        ("  # NOQA: epl101", "", [(4, "EPL103"), (4, "EPL106")]),
        ("", "  # noqa: EPL103", [(3, "EPL101"), (4, "EPL106")]),
        ("", "  # noqa: EPL103, EPL106", [(3, "EPL101")]),
        ("", "  # noqa: EPL103 EPL106", [(3, "EPL101")]),
        ("", "  # noqa: keras1-epoch-arguments, removed-generator-methods", [(3, "EPL101")]),
        ("  # noqa: epochs-attribute", "", [(4, "EPL103"), (4, "EPL106")]),
        ("  # noqa", "  # noqa", []),
        ("  # some note  # noqa: EPL101", "", [(4, "EPL103"), (4, "EPL106")]),
        ("  # noqa: E501, EPL101", "", [(4, "EPL103"), (4, "EPL106")]),  # other tools' codes are left alone
    ],
)
def test_line_noqa(c3, c4, expected):
    assert found(src(c3, c4)) == expected


def test_noqa_must_be_on_the_reported_line():
    code = HEAD + "model.fit_generator(  # noqa: EPL106\n    gen,\n    nb_epoch=2,  # noqa: EPL103\n)\n"
    assert found(code) == []
    code = HEAD + "model.fit_generator(\n    gen,  # noqa: EPL106\n    nb_epoch=2,\n)\n"
    got = found(code)
    assert (3, "EPL106") in got and (5, "EPL103") in got and (4, "EPL900") in got


@pytest.mark.parametrize(
    "directive,expected",
    [
        ("# epochlint: noqa", []),
        ("#epochlint:noqa", []),
        ("# epochlint: noqa: EPL101", [(5, "EPL103"), (5, "EPL106")]),
        ("# epochlint: noqa: EPL10", []),
        ("# epochlint: noqa: EPL103, removed-generator-methods", [(4, "EPL101")]),
    ],
)
def test_file_level_noqa(directive, expected):
    code = directive + "\n" + src()
    assert found(code) == expected


def test_file_level_noqa_must_stand_on_its_own_line():
    code = HEAD + "model.epochs = 10  # epochlint: noqa\nmodel.fit_generator(gen, nb_epoch=2)\n"
    assert found(code) == ALL


def test_file_level_noqa_anywhere_in_the_file():
    code = src() + "# epochlint: noqa: EPL106\n"
    assert found(code) == [(3, "EPL101"), (4, "EPL103")]


# --------------------------------------------------------------------------- strings are not comments
def test_noqa_inside_a_string_is_not_a_directive():
    code = HEAD + 'model.epochs = 10; note = "# noqa: EPL101"\n'
    assert found(code) == [(3, "EPL101")]


def test_file_noqa_inside_a_docstring_is_not_a_directive():
    code = '"""Usage notes.\n# epochlint: noqa\n"""\n' + src()
    assert found(code) == [(line + 3, c) for line, c in ALL]


def test_noqa_in_a_multiline_string_on_a_flagged_line_is_not_a_directive():
    code = HEAD + 'model.epochs = 10; doc = """\n# noqa\n"""\n'
    assert found(code) == [(3, "EPL101")]


# --------------------------------------------------------------------------- EPL900
def test_unused_noqa_is_reported_with_a_fix():
    code = HEAD + "model.fit(x, y, epochs=10)  # noqa: EPL101\n"
    findings = lint(code, select=["EPL1", "EPL9"])
    assert [(f.line, f.column, f.code, f.name) for f in findings] == [(3, 29, "EPL900", "unused-noqa")]
    assert "EPL101" in findings[0].message
    fixed, n = apply_edits(textwrap.dedent(code), findings, unsafe=False)
    assert n == 1
    assert fixed.splitlines()[2] == "model.fit(x, y, epochs=10)"


def test_partly_used_noqa_keeps_the_used_codes():
    code = src(c3="  # noqa: EPL101, EPL106")
    findings = lint(code, select=["EPL1", "EPL9"])
    unused = [f for f in findings if f.code == "EPL900"]
    assert [(f.line, f.message.split(" for ")[1].split(":")[0]) for f in unused] == [(3, "EPL106")]
    fixed, _ = apply_edits(code, unused, unsafe=False)
    assert fixed.splitlines()[2] == "model.epochs = 10  # noqa: EPL101"


def test_unused_noqa_keeps_a_trailing_comment():
    code = HEAD + "model.fit(x, y, epochs=10)  # noqa: EPL101  # ten epochs\n"
    findings = lint(code, select=["EPL1", "EPL9"])
    fixed, _ = apply_edits(code, findings, unsafe=False)
    assert fixed.splitlines()[2] == "model.fit(x, y, epochs=10)  # ten epochs"


def test_unused_noqa_only_for_enabled_codes():
    code = HEAD + "model.fit(x, y, epochs=10)  # noqa: EPL106\n"
    assert found(code, select=["EPL101", "EPL900"]) == []  # EPL106 is not enabled: we cannot know
    assert found(code, select=["EPL1"]) == []  # EPL900 itself not enabled
    assert found(code) == [(3, "EPL900")]


def test_unused_noqa_not_reported_for_other_tools_codes():
    code = HEAD + "model.fit(x, y, epochs=10)  # noqa: E501\n"
    assert found(code) == []


def test_unreadable_file_is_not_suppressed_by_file_noqa():
    code = "# epochlint: noqa\nimport keras\ndef f(:\n"
    assert [(f.line, f.code) for f in lint(code)] == [(3, "EPL000")]


def test_unused_noqa_fix_through_the_cli(tmp_path):
    target = tmp_path / "t.py"
    target.write_text(HEAD + "model.fit(x, y, epochs=10)  # noqa: EPL106\nmodel.epochs = 3  # noqa: EPL101\n", encoding="utf-8")
    proc = epochlint("check", "--fix", "t.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout_text + proc.stderr_text
    assert target.read_text(encoding="utf-8") == HEAD + "model.fit(x, y, epochs=10)\nmodel.epochs = 3  # noqa: EPL101\n"
