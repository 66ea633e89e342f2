"""`linter.analysis.loops` (loop bodies, calls in loops, Python numbers changing per turn, the
epoch loop, fold/trial loops) and `linter.analysis.metrics` (metric objects under every
spelling), with the rules built on them: EPL204 optimizer-in-loop, EPL207 removed-reset-states,
EPL208 metric-never-reset. The precision shapes of issue 3 are tests here."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from linter.analysis.loops import LoopIndex, epoch_loop
from linter.analysis.metrics import ALL_MODEL_METRICS, Metrics, is_metric_class_name
from linter.engine import CheckOptions, run_rules
from linter.fixes import apply_edits
from linter.rules.base import Rule
from linter.source import SourceFile

from tests.conftest import lint

MINE = ("EPL203", "EPL204", "EPL205", "EPL206", "EPL207", "EPL208")


class _Probe(Rule):
    """Requests the loop index and the metric analysis; keeps the context for queries."""

    code = "EPL999"
    last = None
    ANALYSES = (LoopIndex, Metrics)

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.loops = self.analysis(LoopIndex)
        self.metrics = self.analysis(Metrics)
        type(self).last = self


def analyse(code: str) -> _Probe:
    text = textwrap.dedent(code).lstrip("\n")
    module = cst.parse_module(text)
    run_rules(SourceFile("t.py", text), module, CheckOptions(frozenset({"EPL999"})), rules=[_Probe])
    return _Probe.last


def calls_by_callee(probe: _Probe) -> dict:
    """Callee text -> number of loops around the call, for calls inside loop bodies."""
    code = probe.ctx.module.code_for_node
    return {code(c.call.func): len(c.loops) for c in probe.loops.calls}


def _all_loops(module: cst.Module) -> list:
    found = []

    class V(cst.CSTVisitor):
        def visit_For(self, node):
            found.append(node)

        def visit_While(self, node):
            found.append(node)

    module.visit(V())
    return found


# --------------------------------------------------------------------------- loop bodies
def test_calls_in_loop_bodies_and_their_depth():
    probe = analyse(
        """
        for epoch in make_epochs():
            start()
            for x in dataset(epoch):
                step(x)
            else:
                after_inner()
        else:
            never_in_loop()
        while cond():
            tick()

        def later():
            return body_of_def()
        """
    )
    assert calls_by_callee(probe) == {"start": 1, "dataset": 1, "step": 2, "after_inner": 1, "tick": 1}


def test_a_def_or_lambda_inside_a_loop_starts_a_new_frame():
    probe = analyse(
        """
        for epoch in range(3):
            def helper():
                return inner_call()
            fn = lambda: lambda_call()
            direct()
        """
    )
    assert calls_by_callee(probe) == {"direct": 1}
    helper = probe.ctx.semantic.module_scope.names["helper"][0].value
    assert len(probe.loops.def_loops[id(helper)]) == 1  # the def itself is in the loop


def test_one_line_loop_bodies():
    probe = analyse("for i in range(3): step(i)\nwhile go(): tick()\n")
    assert calls_by_callee(probe) == {"step": 1, "tick": 1}


# --------------------------------------------------------------------------- loop variables
@pytest.mark.parametrize(
    "header,expected",
    [
        ("for epoch in range(10):", {"epoch"}),
        ("for i, (x, y) in enumerate(dataset):", {"i"}),
        ("for i, j in enumerate(range(3)):", {"i", "j"}),
        ("for epoch in tqdm.tqdm(range(10)):", {"epoch"}),
        ("for epoch in tqdm.trange(10):", {"epoch"}),
        ("for epoch in reversed(range(10)):", {"epoch"}),
        ("for step, batch in zip(range(100), dataset):", {"step"}),
        ("for lr in [0.1, 0.01, 0.001]:", {"lr"}),
        ("for lr in LRS:", {"lr"}),
        ("for x, y in dataset:", set()),
        ("for step in tf.range(10):", set()),
        ("for i, batch in dataset.enumerate():", set()),
        ("for k in [1, 1, 1]:", set()),
        ("for name in ['a', 'b']:", set()),
    ],
)
def test_number_targets(header, expected):
    probe = analyse(f"import tqdm\nimport tensorflow as tf\nLRS = (1e-2, 1e-3)\n{header}\n    pass\n")
    loop = _all_loops(probe.ctx.module)[0]
    assert probe.loops.number_targets(loop) == expected


def _changing(code: str, arg_of: str = "step"):
    probe = analyse(code)
    for c in probe.loops.calls:
        func = c.call.func
        if isinstance(func, cst.Name) and func.value == arg_of:
            return probe.loops.changes_per_turn(c.call.args[-1].value, c.loops, c.scope)
    raise AssertionError("no call")


def test_changes_per_turn_counters_and_arithmetic():
    assert _changing("for epoch in range(3):\n    step(epoch + 1)\n") == "epoch"
    assert _changing("for epoch in range(3):\n    step(-epoch)\n") == "epoch"
    assert _changing("for epoch in range(3):\n    step(float(epoch))\n") == "epoch"
    assert _changing("n = 0\nfor x in ds:\n    step(n)\n    n += 1\n") == "n"
    assert _changing("for e in range(3):\n    for i in range(9):\n        g = e * 9 + i\n        step(g)\n") == "g"


def test_changes_per_turn_is_none_for_tensors_constants_and_unknowns():
    assert _changing("import tensorflow as tf\nfor e in range(3):\n    step(tf.constant(e))\n") is None
    assert _changing("for e in range(3):\n    step(5)\n") is None
    assert _changing("scale = 2\nfor e in range(3):\n    step(scale * 2)\n") is None
    assert _changing("n = start()\nfor x in ds:\n    step(n)\n    n += 1\n") is None
    assert _changing("for x in ds:\n    step(x + 1)\n") is None
    assert _changing("for e in range(3):\n    step(e * tensor)\n") is None
    # values that repeat: a few traces, not one per turn
    assert _changing("for e in range(30):\n    step(e % 2)\n") is None
    assert _changing("for e in range(30):\n    step(e // 10)\n") is None
    assert _changing("for e in range(30):\n    step(min(e, 5))\n") is None
    assert _changing("for e in range(30):\n    step(round(e / 10))\n") is None


def test_epoch_loop_is_the_loop_around_the_innermost():
    assert epoch_loop(()) is None
    assert epoch_loop(("batch",)) is None
    assert epoch_loop(("epoch", "batch")) == "epoch"
    assert epoch_loop(("fold", "epoch", "batch")) == "epoch"


@pytest.mark.parametrize(
    "header,counting",
    [
        ("for epoch in range(10):", True),
        ("for epoch in tqdm.tqdm(range(10), desc='epochs'):", True),
        ("for i, epoch in enumerate(range(3)):", True),
        ("for epoch in EPOCHS:", True),
        ("for epoch in itertools.count():", True),
        ("while not done:", True),
        ("for x, y in dataset:", False),
        ("for fold, (a, b) in enumerate(kfold.split(x)):", False),
        ("for cfg in configs:", False),
    ],
)
def test_counting_loops(header, counting):
    probe = analyse(f"import itertools\nimport tqdm\nEPOCHS = range(5)\n{header}\n    pass\n")
    loop = _all_loops(probe.ctx.module)[0]
    assert probe.loops.is_counting_loop(loop) is counting


def test_epoch_loop_must_count_turns():
    probe = analyse("for x, y in ds:\n    for s in x:\n        pass\nfor e in range(3):\n    for b in ds:\n        pass\n")
    data_outer, data_inner, epoch, batch = _all_loops(probe.ctx.module)
    assert epoch_loop((data_outer, data_inner), probe.loops.is_counting_loop) is None
    assert epoch_loop((epoch, batch), probe.loops.is_counting_loop) is epoch


def test_rebuilds_model_for_fold_and_trial_loops():
    probe = analyse(
        """
        import keras

        def build():
            return keras.Sequential([keras.layers.Dense(1)])

        def build_pair():
            model = build()
            return model, keras.optimizers.Adam()

        for fold in range(5):
            model = build()
        for trial in range(5):
            keras.backend.clear_session()
        for trial in range(5):
            net, opt = build_pair()
        for epoch in range(5):
            model.fit(x, y)
        for epoch in range(5):
            keras.optimizers.Adam()
        """
    )
    loops = _all_loops(probe.ctx.module)
    assert [probe.loops.rebuilds_model(lp) for lp in loops] == [True, True, True, False, False]


# --------------------------------------------------------------------------- metrics
@pytest.mark.parametrize(
    "imports,expr",
    [
        ("import keras", "keras.metrics.Mean()"),
        ("import tensorflow as tf", "tf.keras.metrics.SparseCategoricalAccuracy()"),
        ("import tensorflow as tf", "tf.metrics.AUC()"),
        ("from tensorflow import keras", "keras.metrics.Precision()"),
        ("from tensorflow.keras.metrics import Recall", "Recall()"),
        ("from keras.metrics import Mean as M", "M(name='loss')"),
        ("import tf_keras", "tf_keras.metrics.MeanSquaredError()"),
        ("from keras.src.metrics import reduction_metrics", "reduction_metrics.Sum()"),
        ("import keras\nclass F1(keras.metrics.Metric):\n    pass\nclass F2(F1):\n    pass", "F2()"),
    ],
)
def test_metric_objects_under_every_spelling(imports, expr):
    probe = analyse(f"{imports}\nm = {expr}\n")
    assert probe.metrics.is_metric(cst.Name("m"), probe.ctx.semantic.module_scope)


@pytest.mark.parametrize(
    "imports,expr",
    [
        ("import keras", "keras.metrics.mean_squared_error(y, p)"),
        ("import keras", "keras.layers.LSTM(4, stateful=True)"),
        ("import keras", "keras.Sequential([])"),
        ("import keras", "keras.losses.MeanSquaredError()"),
        ("from mylib.metrics import Mean", "Mean()"),
        ("import keras", "unknown()"),
    ],
)
def test_not_metric_objects(imports, expr):
    probe = analyse(f"{imports}\nm = {expr}\n")
    assert not probe.metrics.is_metric(cst.Name("m"), probe.ctx.semantic.module_scope)


def test_metric_class_names():
    assert is_metric_class_name("keras.metrics.Mean")
    assert is_metric_class_name("keras.src.metrics.confusion_metrics.AUC")
    assert not is_metric_class_name("keras.metrics.binary_accuracy")
    assert not is_metric_class_name("keras.losses.Mean")
    assert not is_metric_class_name(None)


def test_self_attributes_collections_and_keys():
    probe = analyse(
        """
        import keras

        class T:
            def __init__(self):
                self.acc = keras.metrics.Accuracy()

            def run(self):
                self.acc.update_state(1, 1)

        a = keras.metrics.Mean()
        b = keras.metrics.Sum()
        pair = [a, b]
        named = {"a": a, "b": b}
        model = keras.Sequential([keras.layers.Dense(1)])
        for m in pair:
            pass
        for v in named.values():
            pass
        for mm in model.metrics:
            pass
        """
    )
    sem, metrics = probe.ctx.semantic, probe.metrics
    module = sem.module_scope
    run = next(s for s in sem.scope_of_node.values() if isinstance(s.node, cst.FunctionDef) and s.node.name.value == "run")
    self_acc = cst.Attribute(cst.Name("self"), cst.Name("acc"))
    assert metrics.is_metric(self_acc, run)
    assert metrics.keys(self_acc, run) == {("attr", id(run.parent.node), "acc")}
    assert metrics.is_metric(cst.Name("m"), module) and metrics.is_metric(cst.Name("v"), module)
    assert metrics.keys(cst.Name("m"), module) == {("name", id(module), "a"), ("name", id(module), "b")}
    assert metrics.keys(cst.Name("mm"), module) == {ALL_MODEL_METRICS}
    assert not metrics.is_metric(cst.Name("pair"), module)


# --------------------------------------------------------------------------- EPL204
def test_epl204_reports_the_construction():
    found = lint(
        """
        import tensorflow as tf

        for epoch in range(3):
            opt = tf.keras.optimizers.Adam(learning_rate=0.001)
        """,
        select=["EPL204"],
    )
    assert [(f.line, f.column) for f in found] == [(4, 11)]


def test_epl204_fold_loop_rebuilding_model_and_optimizer_is_silent():
    """A fold loop that rebuilds both the model and its optimizer is correct code."""
    assert not lint(
        """
        import numpy as np
        import tensorflow as tf
        from sklearn.model_selection import KFold

        def create_model():
            inputs = tf.keras.Input(shape=(10,))
            outputs = tf.keras.layers.Dense(1)(inputs)
            return tf.keras.Model(inputs=inputs, outputs=outputs)

        for fold, (train_idx, val_idx) in enumerate(KFold(5).split(X)):
            model = create_model()
            optimizer = tf.keras.optimizers.Adam(1e-3)
            for epoch in range(10):
                for start in range(0, len(train_idx), 32):
                    idx = train_idx[start:start + 32]
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_mean(tf.square(model(X[idx], training=True) - y[idx]))
                    grads = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """,
        select=MINE,
    )


def test_epl204_optimizer_function_helpers_that_do_not_train_are_silent():
    assert not lint(
        """
        import keras

        def make_optimizer(lr):
            return keras.optimizers.Adam(lr)

        def build_and_compile():
            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
            return model

        for fold in range(3):
            model = build_and_compile()
        opt = make_optimizer(1e-3)
        """,
        select=["EPL204"],
    )


# --------------------------------------------------------------------------- EPL207
def test_epl207_stateful_rnn_reset_states_is_not_a_metric():
    """Stateful RNN `layer.reset_states()` (kept by Keras 3) and `model.reset_states()`."""
    assert not lint(
        """
        import tensorflow as tf

        model = tf.keras.Sequential([
            tf.keras.Input(batch_shape=(1, 5, 1)),
            tf.keras.layers.LSTM(8, stateful=True, name="lstm"),
            tf.keras.layers.Dense(1),
        ])
        model.compile(optimizer="adam", loss="mse")
        for epoch in range(20):
            model.fit(x, y, epochs=1, batch_size=1, shuffle=False)
            model.reset_states()
            model.get_layer("lstm").reset_states()
            model.layers[0].reset_states()
        """,
        select=MINE,
    )


def test_epl207_message_and_fix():
    text = "import keras\nacc = keras.metrics.Accuracy()\nacc.reset_states()\n"
    found = lint(text, select=["EPL207"])
    assert len(found) == 1
    assert "Keras 3" in found[0].message and "AttributeError" in found[0].message
    assert "reset_state()`" in found[0].message
    fixed, n = apply_edits(text, found, unsafe=False)
    assert n == 1 and fixed.endswith("acc.reset_state()\n")


def test_epl207_strict_needs_an_unknown_receiver():
    code = "import keras\n\ndef end(tracker, layer: keras.layers.LSTM):\n    tracker.reset_states()\n"
    assert lint(code, select=["EPL207"]) == []
    assert [f.line for f in lint(code, select=["EPL207"], strict=True)] == [4]


# --------------------------------------------------------------------------- EPL208
def test_epl208_correct_loop_with_reset_state_each_epoch():
    """The keras.io "training loop from scratch" shape: metrics reset at the end of each epoch."""
    assert not lint(
        """
        import keras
        import tensorflow as tf

        train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
        val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss_value = loss_fn(y, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            train_acc_metric.update_state(y, logits)
            return loss_value

        @tf.function
        def test_step(x, y):
            val_logits = model(x, training=False)
            val_acc_metric.update_state(y, val_logits)

        for epoch in range(2):
            for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
                loss_value = train_step(x_batch_train, y_batch_train)
            train_acc = train_acc_metric.result()
            print(f"Training acc over epoch: {float(train_acc):.4f}")
            train_acc_metric.reset_state()
            for x_batch_val, y_batch_val in val_dataset:
                test_step(x_batch_val, y_batch_val)
            val_acc = val_acc_metric.result()
            val_acc_metric.reset_state()
        """,
        select=MINE,
    )


def test_epl208_fit_metrics_are_not_findings():
    assert not lint(
        """
        import keras

        acc = keras.metrics.SparseCategoricalAccuracy()
        model = keras.Sequential([keras.layers.Dense(10)])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=[acc])
        for stage in range(3):
            model.fit(x, y, epochs=1)
        """,
        select=["EPL208"],
    )


def test_epl208_reports_each_update_once_at_the_update():
    found = lint(
        """
        import keras

        loss_m = keras.metrics.Mean()

        def step(x):
            loss_m.update_state(x)

        for epoch in range(3):
            for x in ds:
                step(x)
            for x in ds:
                step(x)
        """,
        select=["EPL208"],
    )
    assert [(f.line, f.column) for f in found] == [(6, 5)]


def test_epl208_reset_through_model_metrics_loop_counts():
    assert not lint(
        """
        import keras

        model = keras.Sequential([keras.layers.Dense(1)])
        acc = keras.metrics.Accuracy()
        for epoch in range(3):
            for x, y in ds:
                acc.update_state(y, model(x))
            for m in model.metrics:
                m.reset_state()
            model.reset_metrics()
        """,
        select=["EPL208"],
    )


TRAINER = """
import tensorflow as tf
import tensorflow.keras as k


class Trainer:
    def __init__(self, model: k.Model):
        self.model = model
        self.loss = k.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.optimizer = k.optimizers.Adam()
        self.train_loss_metric = k.metrics.Mean(name="train_loss")
        self.train_acc_metric = k.metrics.SparseCategoricalAccuracy(name="train_acc")

    @tf.function
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            logits = self.model(x, training=True)
            loss = self.loss(y, logits)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        self.train_loss_metric(loss)
        self.train_acc_metric.update_state(y, logits)

    def train(self, dataset, epochs=10):
        for epoch in range(epochs):
            RESET
            for x, y in dataset:
                self.train_step(x, y)
            print(epoch, self.train_loss_metric.result(), self.train_acc_metric.result())
"""


def test_trainer_class_resetting_with_reset_states_is_epl207_only():
    code = TRAINER.replace("RESET", "self.train_loss_metric.reset_states(); self.train_acc_metric.reset_states()")
    found = lint(code, select=MINE)
    assert [(f.code, f.line) for f in found] == [("EPL207", 25), ("EPL207", 25)]


def test_trainer_class_without_reset_is_epl208_at_both_updates():
    code = TRAINER.replace("RESET", "pass")
    found = lint(code, select=MINE)
    assert [(f.code, f.line) for f in found] == [("EPL208", 20), ("EPL208", 21)]
    assert "`self.train_loss_metric`" in found[0].message


def test_trainer_class_with_reset_state_is_silent():
    code = TRAINER.replace("RESET", "self.train_loss_metric.reset_state(); self.train_acc_metric.reset_state()")
    assert lint(code, select=MINE) == []
