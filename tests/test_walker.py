"""The lean walker and the engine's hot path: same visits as a plain recursive walk over
`child_fields`, deep trees, and the process state (GC, recursion limit) left as it was."""
from __future__ import annotations

import gc
import sys
import textwrap

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesmith import from_grammar

from linter import engine
from linter.engine import CheckOptions, check_source, looks_too_deep, parse_module
from linter.rules import ALL_CODES
from linter.source import SourceFile
from linter.walker import WALK_RECURSION_LIMIT, Walker, child_fields, deep_recursion

SAMPLE = textwrap.dedent(
    '''
    import keras
    from keras import layers as L

    @decorate(arg=1)
    class Net(keras.Model):
        """Doc."""
        def call(self, x, training=None, *args, **kwargs):
            y = [v ** 2 for v in x if v]
            z = {k: v for k, v in kwargs.items()}
            with tape() as t, other():
                for i in range(3):
                    self.count += i
                    if i % 2 == 0 and not training:
                        continue
            try:
                return lambda q=1: q + self.dense(x)[0:2, ...]
            except (ValueError, KeyError) as err:
                raise RuntimeError(f"bad {err!r:>10}") from err
            finally:
                del y
    async def main():
        async with session() as s:
            await s.get(*parts, key=yield_value)
    model: keras.Model = Net()
    model.epochs = 10
    global_value = (a if b else c) or -d
    '''
)


def reference_events(module: cst.Module) -> list[tuple]:
    """The walk the engine promises, done the plain way: every field of `child_fields`,
    isinstance checks, every node pushed on the stack."""
    events: list[tuple] = []
    stack: list = []

    def visit(node):
        events.append(("enter", type(node).__name__, id(node), len(stack), id(stack[-1]) if stack else None))
        stack.append(node)
        for name in child_fields(type(node)):
            value = getattr(node, name)
            if isinstance(value, (tuple, list)):
                for child in value:
                    if isinstance(child, cst.CSTNode):
                        visit(child)
            elif isinstance(value, cst.CSTNode):
                visit(value)
        stack.pop()
        events.append(("leave", type(node).__name__, id(node), len(stack), id(stack[-1]) if stack else None))

    visit(module)
    return events


def walker_events(module: cst.Module) -> list[tuple]:
    events: list[tuple] = []
    stack: list = []
    classes = {type(n) for n in _all_nodes(module)}

    def on(kind):
        return lambda node: events.append((kind, type(node).__name__, id(node), len(stack), id(stack[-1]) if stack else None))

    enter = {cls: [on("enter")] for cls in classes}
    leave = {cls: [on("leave")] for cls in classes}
    Walker(enter, leave, stack).walk(module)
    return events


def _all_nodes(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _all_nodes(child)


def test_walker_visits_what_a_plain_walk_visits_in_the_same_order():
    module = cst.parse_module(SAMPLE)
    expected = reference_events(module)
    assert walker_events(module) == expected
    names = [e[1] for e in expected]
    assert {"ClassDef", "ListComp", "Lambda", "Await", "FormattedStringExpression", "AnnAssign"} <= set(names)


def test_walker_does_not_enter_attr_or_keyword_names():
    module = cst.parse_module("model.fit(x, epochs=3)\n")
    seen = []
    Walker({cst.Name: [lambda n: seen.append(n.value)]}, {}, []).walk(module)
    assert seen == ["model", "x"]


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles odd code
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_grammar())
def test_walker_matches_the_plain_walk_on_generated_programs(code):
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError:
        return  # hypothesmith's grammar is wider than libcst's for a few constructs
    assert walker_events(module) == reference_events(module)


def test_deep_trees_walk_and_the_recursion_limit_comes_back():
    before = sys.getrecursionlimit()
    module = cst.parse_module("x = " + "-" * 2500 + "1\n")
    depth = []
    stack: list = []
    Walker({cst.Integer: [lambda n: depth.append(len(stack))]}, {}, stack).walk(module)
    assert depth and depth[0] > 2500
    assert sys.getrecursionlimit() == before


def test_deep_recursion_never_lowers_the_limit():
    before = sys.getrecursionlimit()
    with deep_recursion(10):
        assert sys.getrecursionlimit() == before
    with deep_recursion(before + 500):
        assert sys.getrecursionlimit() == before + 500
    assert sys.getrecursionlimit() == before
    assert WALK_RECURSION_LIMIT > 3 * 3000


# --------------------------------------------------------------------------- engine
ALL = CheckOptions(frozenset(ALL_CODES))


def lint(text: str):
    return check_source(SourceFile("deep.py", text), ALL)


def test_check_source_leaves_gc_and_recursion_limit_as_they_were():
    before = sys.getrecursionlimit()
    assert gc.isenabled()
    lint("import keras\nmodel = keras.Sequential()\nmodel.epochs = 2\n")
    assert gc.isenabled() and sys.getrecursionlimit() == before
    gc.disable()
    try:
        lint("import keras\n")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_file_is_freed_when_the_check_is_done(monkeypatch):
    import weakref

    refs = []
    real = engine.SemanticModel

    def tracked(module, *rest):
        model = real(module, *rest)  # holds the tree, and is cyclic (scopes <-> bindings)
        refs.append(weakref.ref(model))
        return model

    monkeypatch.setattr(engine, "SemanticModel", tracked)
    assert lint("import keras\nmodel = keras.Sequential()\nmodel.epochs = 2\n").findings
    assert refs and refs[0]() is None  # collected when check_source returns, not some time later


@pytest.mark.parametrize(
    "text, deep",
    [
        ("x = " + "(" * 950 + "1" + ")" * 950 + "\n", True),
        ("x = " + "-" * 950 + "1\n", True),
        ("x = " + "not " * 950 + "1\n", True),
        ("x = " + "lambda: " * 950 + "1\n", True),
        ("x = " + "1 if c else " * 950 + "1\n", True),
        ("x = (1)\n" * 2000, False),
        ("y = -1\n" * 2000 + "z = [[[]]]\n", False),
    ],
)
def test_looks_too_deep(text, deep):
    assert looks_too_deep(text) is deep


def test_too_deep_for_python_is_a_syntax_error_without_touching_libcst(monkeypatch):
    def never(text):
        raise AssertionError("libcst must not see this")

    monkeypatch.setattr(engine, "parse_module", never)
    brackets = lint("import keras\nx = " + "[" * 5000 + "]" * 5000 + "\n").findings
    assert [(f.code, f.name, f.line) for f in brackets] == [("EPL000", "syntax-error", 2)]
    assert "too many nested parentheses" in brackets[0].message
    minus = lint("import keras\nx = " + "-" * 20000 + "1\n").findings
    assert [(f.code, f.name) for f in minus] == [("EPL000", "syntax-error")]
    assert "nested too deeply" in minus[0].message


def test_parse_runs_with_a_big_stack():
    # 9,000 chained `and`s: Python accepts it (a flat BoolOp); libcst nests it, and on the
    # usual 8 MiB main-thread stack its parser crashes the process.
    module = parse_module("x = " + " and ".join(["a"] * 9000) + "\n")
    assert isinstance(module.body[0], cst.SimpleStatementLine)
    with pytest.raises(cst.ParserSyntaxError):
        parse_module("def f(:\n")


def test_deeper_than_the_checker_is_a_clear_finding():
    # (a call, so the file is parsed: a file of names and operators only is skipped by the
    # pre-scan, linter/limits.py, since no rule can fire on it)
    findings = lint("import keras\nmodel.fit(x)\nx = " + " and ".join(["a"] * 13000) + "\n").findings
    assert [(f.code, f.name) for f in findings] == [("EPL000", "internal-error")]
    assert "nested too deeply for the checker" in findings[0].message


# --------------------------------------------------------------------------- positions, fix edits
def _every_node(module: cst.CSTNode) -> list:
    out, stack = [], [module]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.children)
    return out


def assert_positions_match(module: cst.Module) -> None:
    from libcst.metadata import MetadataWrapper, PositionProvider

    from linter.positions import node_positions

    full = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = _every_node(module)
    everything = node_positions(module, nodes)
    assert [everything[n] for n in nodes] == [full[n] for n in nodes]
    assert everything.code == module.code  # the same pass renders the code the fixes are mapped on
    for n in nodes[::7]:  # one node alone: the positions it borrows from its children come along
        assert node_positions(module, [n])[n] == full[n]


def test_lean_positions_equal_libcst_position_provider():
    assert_positions_match(cst.parse_module(SAMPLE))
    assert_positions_match(cst.parse_module("if x:\r\n    y = '''a\r\nb'''\r\nelse:\r\n\tpass\r\n"))
    assert_positions_match(cst.parse_module("x = 1"))  # no trailing newline


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles odd code
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_grammar())
def test_lean_positions_on_generated_programs(code):
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError:
        return
    assert_positions_match(module)
