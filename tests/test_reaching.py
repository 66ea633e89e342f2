"""The one reaching-definitions model (`SemanticModel.reaching`) and the analyses that use it."""
from __future__ import annotations

import textwrap
import time

import libcst as cst
import pytest

from linter.analysis.datasets import DataFlow, Where
from linter.engine import CheckOptions, _dispatch, run_rules
from linter.rules import ALL_RULES
from linter.semantic import SemanticModel, Site
from linter.source import SourceFile
from linter.walker import Walker

_EMPTY = cst.Module(body=[])


class _Probes:
    """Records each `probe(name)` call: the name and where it is (queried after the walk)."""

    def __init__(self, sem: SemanticModel) -> None:
        self.sem = sem
        self.found: list = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            sem = self.sem
            self.found.append((node.args[0].value, Site.here(sem), tuple(sem.stack) + (node,)))


def _walk(code: str):
    module = cst.parse_module(textwrap.dedent(code))
    sem = SemanticModel(module)
    probes = _Probes(sem)
    enter, leave = _dispatch([sem, probes])
    Walker(enter, leave, sem.stack).walk(module)
    return sem, probes.found


def reaching(code: str, index: int = -1) -> list[str]:
    """The values (as code) of the bindings reaching the `index`-th probe."""
    sem, found = _walk(code)
    name, site, _ = found[index]
    return [_EMPTY.code_for_node(b.value).strip() for b in sem.reaching_at(name.value, site)]


@pytest.mark.parametrize(
    "code,expected",
    [
        # a loop may run zero times: the binding before it still reaches
        ("ds = make()\nfor i in r:\n    ds = ds.repeat()\nprobe(ds)\n", ["make()", "ds.repeat()"]),
        ("ds = make()\nwhile c:\n    ds = ds.repeat()\nprobe(ds)\n", ["make()", "ds.repeat()"]),
        # a later binding in the same loop reaches the next turn, unless rebound first in the turn
        ("for e in r:\n    x = 0\n    for b in s:\n        probe(x)\n        x = x + 1\n", ["0", "x + 1"]),
        ("for e in r:\n    x = 0\n    probe(x)\n    x = 1\n", ["0"]),
        # if/elif/else arms: all reach a use after them; exclusive arms do not reach each other
        ("if a:\n    x = 1\nelif b:\n    x = 2\nelse:\n    x = 3\nprobe(x)\n", ["1", "2", "3"]),
        ("x = 0\nif a:\n    x = 1\nelse:\n    probe(x)\n", ["0"]),
        ("x = 0\nif a:\n    x = 1\nprobe(x)\n", ["0", "1"]),
        # try: the body may stop early, handlers and else may not run, finally always runs
        ("x = 0\ntry:\n    x = 1\nexcept E:\n    x = 2\nprobe(x)\n", ["0", "1", "2"]),
        ("x = 0\ntry:\n    x = 1\nfinally:\n    x = 3\nprobe(x)\n", ["3"]),
        ("x = 0\ntry:\n    pass\nexcept E:\n    pass\nelse:\n    x = 2\nprobe(x)\n", ["0", "2"]),
        # match cases are exclusive arms
        ("x = 0\nmatch v:\n    case 1:\n        x = 1\n    case _:\n        probe(x)\n", ["0"]),
        # a with body always runs
        ("x = 0\nwith f() as g:\n    x = 1\nprobe(x)\n", ["1"]),
    ],
)
def test_branch_tree(code, expected):
    assert reaching(code) == expected


def test_module_name_read_in_a_function_resolves_where_it_is_called():
    code = """
    model = plain()
    def step():
        probe(model)
    for i in range(3):
        step()
    model = regularized()
    """
    assert reaching(code) == ["plain()"]
    # called again after the rebinding: both reach
    assert reaching(code + "step()\n") == ["plain()", "regularized()"]
    # a call inside the loop that rebinds it: the next turn sees the new value
    looped = """
    model = plain()
    def step():
        probe(model)
    for i in range(3):
        step()
        model = regularized()
    """
    assert reaching(looped) == ["plain()", "regularized()"]


def test_module_name_in_a_function_referenced_otherwise_gives_every_binding():
    passed = """
    model = plain()
    def step():
        probe(model)
    run(step)
    model = regularized()
    """
    assert reaching(passed) == ["plain()", "regularized()"]
    called_elsewhere = """
    model = plain()
    def step():
        probe(model)
    def main():
        step()
    main()
    model = regularized()
    """
    assert reaching(called_elsewhere) == ["plain()", "regularized()"]
    never_called = """
    model = plain()
    def step():
        probe(model)
    model = regularized()
    """
    assert reaching(never_called) == ["plain()", "regularized()"]


def test_single_value():
    sem, found = _walk("x = 1\ny = 1\nif c:\n    y = 2\nprobe(x)\nprobe(y)\n")
    (nx, sx, _), (ny, sy, _) = found
    assert _EMPTY.code_for_node(sem.single_value(nx.value, sx).value) == "1"
    assert sem.single_value(ny.value, sy) is None  # 1 or 2


def test_dataflow_and_semantic_model_agree():
    """The example the two old models disagreed on: both now answer [make, repeat]."""
    code = "import tensorflow as tf\nds = make()\nfor i in r:\n    ds = ds.repeat()\nprobe(ds)\n"
    sem, found = _walk(code)
    name, site, anc = found[-1]
    flow = DataFlow(sem)
    via_flow = flow.reaching(name.value, Where(site.scope, anc, None, site.seq))
    assert via_flow == sem.reaching_at(name.value, site)
    assert [_EMPTY.code_for_node(b.value) for b in via_flow] == ["make()", "ds.repeat()"]


def _analysis_seconds(text: str, codes: frozenset) -> float:
    """CPU seconds of the semantic model and the rules on `text` (the parse and the engine's
    per-file limits excluded: this measures our analyses)."""
    module = cst.parse_module(text)
    start = time.process_time()
    run_rules(SourceFile("big.py", text), module, CheckOptions(codes))
    return time.process_time() - start


_UNIT = "model = keras.Sequential([keras.layers.Dense(1)])\nmodel.fit(x, y, epochs=2)\n"


@pytest.mark.slow
def test_model_provenance_is_not_quadratic():
    """1 MB of `model = ...; model.fit(...)` took 127 s when provenance looked at every binding
    of `model` for every use (issue 16 item 11). Linear now: about 5 s of analysis."""
    text = "import keras\n" + _UNIT * (1_000_000 // len(_UNIT))
    elapsed = _analysis_seconds(text, frozenset(r.code for r in ALL_RULES))
    assert elapsed < 60, elapsed


# The work of provenance and reaching, counted: one call of each of these is one binding looked
# at (SemanticModel._binding_provenance: a binding's provenance; _branch_relation: one step of
# the reaching-definitions search) or one name resolved. Their timing is in bench/reaching.py.
_WORK = (("SemanticModel", "_binding_provenance"), ("SemanticModel", "_provenance"), ("SemanticModel", "qualified_name"),
         ("SemanticModel", "lookup"), ("SemanticModel", "reaching"), (None, "_branch_relation"))
# each unit binds `model` and `ds` once more and uses both: provenance and reaching on every use
_UNIT_FLOW = "model = keras.Sequential([keras.layers.Dense(1)])\nds = tf.data.Dataset.range(8).batch(2)\nmodel.fit(ds, epochs=2)\n"


def _work(units: int) -> dict:
    """How often each _WORK function runs for the analyses of `units` units."""
    from linter import semantic

    counts = dict.fromkeys((name for _, name in _WORK), 0)
    restore = []
    for owner_name, name in _WORK:
        owner = getattr(semantic, owner_name) if owner_name else semantic
        real = getattr(owner, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            counts[_name] += 1
            return _real(*args, **kwargs)

        restore.append((owner, name, real))
        setattr(owner, name, counted)
    try:
        text = "import keras\nimport tensorflow as tf\n" + _UNIT_FLOW * units
        run_rules(SourceFile("big.py", text), cst.parse_module(text), CheckOptions(frozenset(r.code for r in ALL_RULES)))
    finally:
        for owner, name, real in restore:
            setattr(owner, name, real)
    return counts


def test_provenance_and_reaching_work_grows_linearly():
    """4x the bindings and uses of a name cost 4x the work, not 16x (the 1 MB file of issue 16
    took 127 s when every use looked at every binding). Counted, not timed: a loaded machine
    cannot make it flaky."""
    small, large = _work(250), _work(1000)
    for name, n in small.items():
        assert n >= 250, (name, small)  # each counter runs at least once per unit: it measures this file's work
        assert large[name] <= 4.4 * n, (name, small, large)  # linear; quadratic would be 16x


def test_the_work_count_sees_a_quadratic_provenance(monkeypatch):
    """The count above catches the old quadratic provenance: without the per-name memo, every
    use of `model` evaluates every binding of it again."""
    from linter.semantic import SemanticModel

    real = SemanticModel._provenance

    def forgetful(self, node, scope, depth, site=None):
        for key in [k for k in self._memo if k[0] == "name_prov"]:
            del self._memo[key]
        return real(self, node, scope, depth)  # and judged by every binding, not the reaching ones

    small, large = _work(100), _work(400)
    assert large["_binding_provenance"] <= 4.4 * small["_binding_provenance"]
    monkeypatch.setattr(SemanticModel, "_provenance", forgetful)
    small, large = _work(100), _work(400)
    assert large["_binding_provenance"] > 12 * small["_binding_provenance"], (small, large)


@pytest.mark.parametrize(
    "text, expected",
    [
        # the model rebound to something else before the use: not a model there
        ("import keras\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.fit(x, y, epochs=5)\n"
         "model = Trainer()\nmodel.epochs = 20\n", []),
        ("import keras\nm = keras.Sequential([keras.layers.Dense(1)])\nm = m.history\nm.fit_generator(None)\n", []),
        # a parameter every call passes a rebound name: what reaches the call counts
        ("import keras\n\ndef configure(model, n):\n    model.epochs = n\n\n"
         "model = keras.Sequential([keras.layers.Dense(1)])\nmodel = Trainer()\nconfigure(model, 20)\n", []),
        # a use inside an assignment sees what was bound before it, not the assignment itself
        ("import keras\n\ndef train(m):\n    m.epochs = 3\n    return m\n\n"
         "model = keras.Sequential([keras.layers.Dense(1)])\nmodel = train(model)\n", [("EPL101", 4)]),
        # `None` before or after the model, and two models on two branches: still a model
        ("import keras\nmodel = None\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.epochs = 3\nmodel = None\n", [("EPL101", 4)]),
        ("import keras\nif big:\n    model = keras.Sequential([keras.layers.Dense(9)])\nelse:\n    model = keras.models.load_model('m.keras')\n"
         "model.epochs = 3\n", [("EPL101", 6)]),
    ],
)
def test_a_name_is_a_model_by_the_bindings_that_reach_its_use(text, expected):
    from linter.config import Settings
    from linter.engine import check_source
    from linter.runner import options_for
    from linter.source import SourceFile

    result = check_source(SourceFile("t.py", text), options_for(Settings(), "t.py"))
    assert [(f.code, f.line) for f in result.findings] == expected
