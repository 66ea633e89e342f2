"""`linter.analysis.tf_function` (every `tf.function` form, what it traces) and the rules built on
it: EPL203 tf-function-in-loop, EPL205 eager-call-in-tf-function, EPL206 python-scalar-retrace.
Real shapes that must stay silent live here next to the analysis answers they depend on."""
from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from linter.analysis.tf_function import TfFunctionIndex
from linter.engine import CheckOptions, run_rules
from linter.fixes import apply_edits
from linter.rules.base import Rule
from linter.source import SourceFile

from tests.conftest import lint

ROOT = Path(__file__).resolve().parent.parent
MINE = ("EPL203", "EPL204", "EPL205", "EPL206", "EPL207", "EPL208")


class _Probe(Rule):
    """Requests the tf.function index and keeps the file context for the test to query."""

    code = "EPL999"
    last = None

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.index = ctx.analysis(TfFunctionIndex)
        type(self).last = self


def analyse(code: str) -> _Probe:
    text = textwrap.dedent(code).lstrip("\n")
    module = cst.parse_module(text)
    run_rules(SourceFile("t.py", text), module, CheckOptions(frozenset({"EPL999"})), rules=[_Probe])
    return _Probe.last


def _defs(probe: _Probe) -> dict:
    sem = probe.ctx.semantic
    return {s.node.name.value: s for s in sem.scope_of_node.values() if isinstance(s.node, cst.FunctionDef)}


def traced_names(code: str) -> set:
    probe = analyse(code)
    return {name for name, scope in _defs(probe).items() if probe.index.traced_scope(scope) is not None}


# --------------------------------------------------------------------------- the forms
@pytest.mark.parametrize(
    "header",
    [
        "import tensorflow as tf\n@tf.function",
        "import tensorflow as tf\n@tf.function()",
        "import tensorflow as tf\n@tf.function(jit_compile=True)",
        "import tensorflow as tf\n@tf.function(reduce_retracing=True)",
        "from tensorflow import function\n@function",
        "from tensorflow import function as tfn\n@tfn(jit_compile=True)",
        "import tensorflow.compat.v2 as tf\n@tf.function",
        "import tensorflow.compat.v1 as tf1\n@tf1.function",
        "import tensorflow\n@tensorflow.function",
    ],
)
def test_decorator_spellings_trace_the_function(header):
    assert traced_names(header + "\ndef step(x):\n    return x\n") == {"step"}


@pytest.mark.parametrize(
    "header",
    [
        "from mylib import function\n@function",
        "import functools\n@functools.lru_cache()",
        "import tensorflow as tf\n@tf.autograph.experimental.do_not_convert",
        "import tensorflow as tf\n@staticmethod",
    ],
)
def test_other_decorators_do_not_trace(header):
    assert traced_names(header + "\ndef step(x):\n    return x\n") == set()


def test_wrapping_call_traces_the_named_function_not_the_caller():
    code = """
        import tensorflow as tf

        def step(x):
            return x

        def helper(x):
            return x

        fast = tf.function(step, jit_compile=True)
        also = tf.function(func=helper)
    """
    probe = analyse(code)
    assert {n for n, s in _defs(probe).items() if probe.index.traced_scope(s)} == {"step", "helper"}
    apps = probe.index.applications()
    assert [a.decorator for a in apps] == [False, False]
    assert apps[0].keyword("jit_compile") is not None


def test_factory_call_form_traces_the_wrapped_function_once():
    probe = analyse(
        """
        import tensorflow as tf

        def step(x):
            return x

        fast = tf.function(jit_compile=True)(step)
        """
    )
    apps = probe.index.applications()
    assert len(apps) == 1 and apps[0].target is _defs(probe)["step"].node
    assert apps[0].keyword("jit_compile") is not None
    assert probe.index.callee(cst.Name("fast"), probe.ctx.semantic.module_scope) is apps[0]


def test_a_decorator_with_arguments_is_one_application():
    probe = analyse(
        """
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)], jit_compile=True)
        def step(x):
            return x
        """
    )
    apps = probe.index.applications()
    assert len(apps) == 1 and apps[0].decorator and apps[0].has_input_signature


def test_alias_of_tf_function():
    assert traced_names(
        """
        import tensorflow as tf
        compile_fn = tf.function

        def step(x):
            return x

        fast = compile_fn(step)
        """
    ) == {"step"}


def test_method_wrapped_through_self_and_decorated_method():
    code = """
        import tensorflow as tf

        class Trainer:
            def __init__(self):
                self.step = tf.function(self._step)

            def _step(self, x):
                return x

            @tf.function(jit_compile=True)
            def evaluate(self, x):
                return x

            def eager(self, x):
                return x
    """
    assert traced_names(code) == {"_step", "evaluate"}


def test_nested_functions_are_traced_except_py_function_callbacks():
    code = """
        import tensorflow as tf

        @tf.function
        def outer(x):
            def inner(v):
                return v

            def callback(v):
                return v.numpy()

            return tf.py_function(callback, [inner(x)], tf.float32)
    """
    assert traced_names(code) == {"outer", "inner"}


def test_callee_resolution():
    code = """
        import tensorflow as tf

        @tf.function
        def decorated(x):
            return x

        def plain(x):
            return x

        wrapped = tf.function(plain)

        class T:
            def __init__(self):
                self.fast = tf.function(self.slow)

            def slow(self, x):
                return x

            @tf.function
            def method(self, x):
                return x

            def run(self, x):
                self.fast(x)
                self.method(x)
                self.slow(x)

        decorated(1)
        plain(1)
        wrapped(1)
    """
    probe = analyse(code)
    index, sem = probe.index, probe.ctx.semantic
    module = sem.module_scope
    assert index.callee(cst.Name("decorated"), module) is not None
    assert index.callee(cst.Name("wrapped"), module) is not None
    assert index.callee(cst.Name("plain"), module) is None  # the undecorated def runs eagerly
    run_scope = _defs(probe)["run"]
    attr = lambda name: cst.Attribute(cst.Name("self"), cst.Name(name))  # noqa: E731
    assert index.callee(attr("fast"), run_scope) is not None
    assert index.callee(attr("method"), run_scope) is not None
    assert index.callee(attr("slow"), run_scope) is None


def test_input_signature_is_recorded():
    probe = analyse(
        """
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec([], tf.int64)])
        def a(e):
            return e

        @tf.function(input_signature=None)
        def b(e):
            return e
        """
    )
    flags = {a.target.name.value: a.has_input_signature for a in probe.index.applications()}
    assert flags == {"a": True, "b": False}


def test_tensorflow_alias_for_fixes():
    assert analyse("import tensorflow as tff\n").index.tensorflow_alias() == "tff"
    assert analyse("from tensorflow import function\n").index.tensorflow_alias() is None


# --------------------------------------------------------------------------- EPL203
def codes(findings, code):
    return [(f.line, f.column) for f in findings if f.code == code]


def test_epl203_reports_the_decorator_and_the_call():
    found = lint(
        """
        import tensorflow as tf

        for epoch in range(3):
            @tf.function
            def step(x):
                return x
            fast = tf.function(step)
        """,
        select=["EPL203"],
    )
    assert codes(found, "EPL203") == [(4, 5), (7, 12)]


def test_epl203_silent_when_created_once_and_called_in_loop():
    assert not lint(
        """
        import tensorflow as tf

        step = tf.function(lambda x: x * 2)
        for epoch in range(3):
            for x in dataset:
                step(x)
        """,
        select=MINE,
    )


def test_epl203_silent_for_a_fold_loop_rebuilding_a_model_from_a_helper():
    assert not lint(
        """
        import keras
        import tensorflow as tf

        def make_model():
            model = keras.Sequential([keras.layers.Dense(1)])
            return model

        for fold in range(5):
            model = make_model()
            step = tf.function(lambda x: model(x, training=True))
        """,
        select=["EPL203"],
    )


# --------------------------------------------------------------------------- EPL205
def test_not_a_finding_numpy_print_append_in_an_undecorated_step():
    """RULES.md "Not a finding": `.numpy()`, `print`, list appends in an undecorated (eager) step."""
    assert not lint(
        """
        import tensorflow as tf

        losses = []

        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            print("loss:", loss.numpy())
            losses.append(loss.numpy().item())
            return loss

        for epoch in range(3):
            for x, y in dataset:
                train_step(x, y)
        """,
        select=MINE,
    )


def test_epl205_all_offending_calls_in_a_traced_step():
    found = lint(
        """
        import tensorflow as tf

        history = []

        @tf.function
        def step(x):
            print(x)
            history.append(x)
            v = x.numpy()
            tf.print(x)
            local = []
            local.append(x)
            return tf.stack(local)
        """,
        select=["EPL205"],
    )
    assert codes(found, "EPL205") == [(7, 5), (8, 5), (9, 9)]


def test_epl205_print_fix_uses_the_modules_alias_and_skips_python_formatting():
    text = textwrap.dedent(
        """\
        import tensorflow as tff

        @tff.function
        def step(x):
            print("x", x)
            print(f"x {x}")
            print("x", x, file=None)
            return x
        """
    )
    found = lint(text, select=["EPL205"])
    assert [f.line for f in found] == [5, 6, 7]
    assert [f.fix is not None for f in found] == [True, False, False]
    fixed, n = apply_edits(text, found, unsafe=True)
    assert n == 1 and 'tff.print("x", x)' in fixed
    unchanged, n_safe = apply_edits(text, found, unsafe=False)
    assert n_safe == 0 and unchanged == text


def test_epl205_no_fix_without_a_tensorflow_module_name():
    found = lint(
        """
        from tensorflow import function

        @function
        def step(x):
            print(x)
            return x
        """,
        select=["EPL205"],
    )
    assert len(found) == 1 and found[0].fix is None


# --------------------------------------------------------------------------- EPL206
def test_seed_example_3_numpy_slices_are_not_python_scalar_retraces():
    """The seed's Example 3: numpy batches of a fixed shape trace once (the partial last batch
    once more); not EPL206, and nothing else of EPL203-EPL208 either."""
    found = lint((ROOT / "fixtures" / "seed" / "example3_tf_function.py").read_text(), select=MINE)
    assert found == []


def test_seed_examples_1_and_2_have_no_epl203_to_epl208_findings():
    for name in ("example1_functional_fit.py", "example2_gradient_tape.py"):
        assert lint((ROOT / "fixtures" / "seed" / name).read_text(), select=MINE) == [], name


def test_epl206_flags_the_call_once_with_the_changing_argument_named():
    found = lint(
        """
        import tensorflow as tf

        @tf.function
        def step(x, epoch, lr):
            return x

        for epoch in range(3):
            step(x, epoch, epoch * 0.1)
        """,
        select=["EPL206"],
    )
    assert codes(found, "EPL206") == [(8, 5)]
    assert "`epoch`" in found[0].message


@pytest.mark.parametrize(
    "argument",
    ["tf.constant(epoch)", "tf.convert_to_tensor(epoch)", "epoch_var", "x", "1", "len(data)", "batch_size"],
)
def test_epl206_silent_for_tensors_and_constants(argument):
    assert not lint(
        f"""
        import tensorflow as tf

        epoch_var = tf.Variable(0)
        batch_size = 32

        @tf.function
        def step(x, value):
            return x

        for epoch in range(3):
            for x in dataset:
                step(x, {argument})
        """,
        select=["EPL206"],
    )


def test_run_functions_eagerly_true_silences_the_tracing_rules():
    code = """
        import tensorflow as tf

        tf.config.run_functions_eagerly(FLAG)

        @tf.function
        def step(x, epoch):
            print(x.numpy())
            return x

        for epoch in range(3):
            fast = tf.function(step)
            step(x, epoch)
    """
    assert analyse(code.replace("FLAG", "True")).index.runs_eagerly
    assert lint(code.replace("FLAG", "True"), select=("EPL203", "EPL205", "EPL206")) == []
    # a flag we cannot read (a debug switch) leaves the code traced: the findings stay
    found = lint(code.replace("FLAG", "DEBUG"), select=("EPL203", "EPL205", "EPL206"))
    assert sorted({f.code for f in found}) == ["EPL203", "EPL205", "EPL206"]
