"""Analyses are declared by the rules that use them and built once per file by the engine."""
from __future__ import annotations

import ast
import pathlib

import libcst as cst
import pytest

from linter.analysis.datasets import DataFlow
from linter.analysis.loops import LoopIndex
from linter.engine import CheckOptions, run_rules
from linter.rules import ALL_RULES
from linter.rules.base import Rule
from linter.source import SourceFile

RULES_DIR = pathlib.Path(__file__).resolve().parent.parent / "linter" / "rules"


class _Counting(LoopIndex):
    built = 0

    def __init__(self, ctx) -> None:
        type(self).built += 1
        super().__init__(ctx)


class _UsesCounting(Rule):
    code = "EPL998"
    ANALYSES = (_Counting,)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.loops = self.analysis(_Counting)


class _AlsoUsesCounting(_UsesCounting):
    code = "EPL997"


class _Undeclared(Rule):
    code = "EPL996"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.flow = self.analysis(DataFlow)


def _run(rules, text="import keras\nfor i in range(3):\n    model.fit(x)\n"):
    codes = frozenset(r.code for r in rules)
    return run_rules(SourceFile("x.py", text), cst.parse_module(text), CheckOptions(codes), rules)


def test_an_analysis_two_rules_declare_is_built_once_per_file():
    _Counting.built = 0
    _run([_UsesCounting, _AlsoUsesCounting])
    assert _Counting.built == 1
    _run([_UsesCounting, _AlsoUsesCounting])
    assert _Counting.built == 2  # a new file, a new instance: nothing is cached across files


def test_an_undeclared_analysis_is_refused():
    with pytest.raises(TypeError, match="ANALYSES"):
        _run([_Undeclared])


def test_no_module_level_caches_in_analyses():
    """No WeakKeyDictionary or class-level `of(ctx)` cache: the engine hands analyses over."""
    root = RULES_DIR.parent / "analysis"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "WeakKeyDictionary" not in text, path
        assert "def of(cls, ctx)" not in text, path


def test_rules_import_only_analysis_edits_and_base():
    """Rules never import another rule (shared facts live in linter/analysis/)."""
    allowed = ("linter.analysis", "linter.rules.base", "linter.edits", "linter.semantic", "linter.names", "linter")
    for path in RULES_DIR.glob("epl*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("linter"):
                assert node.module.startswith(allowed) and not node.module.startswith("linter.rules.epl"), (path.name, node.module)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_declared_analyses_are_analysis_classes(rule):
    for cls in rule.ANALYSES:
        assert cls.__module__.startswith("linter.analysis."), (rule.code, cls)


@pytest.mark.parametrize(
    "unfreeze",
    ["base.trainable = stage > 0", 'setattr(base, "trainable", stage > 0)', "model = grow(model, stage)"],
)
def test_epl104_and_epl204_agree_on_staged_training(unfreeze):
    """One loop fact (`LoopIndex.changes_what_trains`): a loop that changes what is trained
    recompiles and continues on purpose, for both rules."""
    from linter.engine import check_source

    code = (
        "import keras\n"
        "base = keras.applications.MobileNetV2(include_top=False)\n"
        "model = keras.Sequential([base, keras.layers.Dense(1)])\n"
        "for stage in range(3):\n"
        f"    {unfreeze}\n"
        "    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss='mse')\n"
        "    model.fit(x, y, epochs=5)\n"
    )
    options = CheckOptions(frozenset({"EPL104", "EPL204"}))
    assert check_source(SourceFile("x.py", code), options).findings == []
    # without the change both fire: the same model and a new optimizer every turn
    fixed = code.replace(f"    {unfreeze}\n", "")
    assert sorted(f.code for f in check_source(SourceFile("x.py", fixed), options).findings) == ["EPL104", "EPL204"]
