"""EPL208 metric-never-reset: a metric updated in an epoch loop and never reset in it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from linter.analysis.loops import LoopIndex, epoch_loop
from linter.analysis.metrics import ALL_MODEL_METRICS, Metrics
from linter.analysis.tf_function import TfFunctionIndex
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Scope, Site

_RESETS = frozenset({"reset_state", "reset_states"})
_WILDCARD = "any-metric"  # a reset we cannot attribute (an unknown loop variable, `model.reset_metrics()`)
_MAX_CALL_DEPTH = 3


@dataclass(eq=False)
class _Site:
    call: cst.Call
    scope: Scope
    loops: tuple
    keys: set = field(default_factory=set)
    at: Optional[Site] = None  # where a call of a plain name is made (which def it calls)


class MetricNeverReset(Rule):
    """
    ## What it does
    Flags a Keras metric updated per batch (`metric.update_state(...)` or `metric(...)`)
    inside an epoch loop when nothing resets it (`reset_state()`, `reset_states()`, or
    building a new metric) during each turn of that loop. The epoch loop is the loop around
    the per-batch loop when it counts turns (`for epoch in range(...)`, `while`, through
    `tqdm`/`enumerate`); the update may sit in a step function called from the loop
    (`for epoch ...: for batch ...: train_step(batch)`), the reset in a helper called from it.

    ## Why is this bad
    A metric accumulates until it is reset. Never reset, the value printed after epoch 5 is the
    mean over epochs 1 to 5, not epoch 5's: it lags behind the real training progress, hides
    overfitting and makes early stopping on it wrong. `fit()` resets its metrics at the start
    of every epoch; a custom loop has to do it itself. Measured: epoch means 2.0 and 1.0, the
    never-reset metric reports 1.5 after epoch 2.

    Not flagged: a metric reset (or recreated) anywhere in each turn of the epoch loop; updates
    outside loops or in a single pass (an evaluation loop); metrics driven by `model.fit`
    (updated in `train_step`, listed in `compile(metrics=...)`); a module-level metric imported
    from another module of the project (that module may reset it).

    ## Example
    ```python
    train_acc = keras.metrics.SparseCategoricalAccuracy()
    for epoch in range(epochs):
        for x, y in dataset:
            ...
            train_acc.update_state(y, logits)
        print(epoch, float(train_acc.result()))
    ```
    Use instead:
    ```python
    for epoch in range(epochs):
        for x, y in dataset:
            ...
            train_acc.update_state(y, logits)
        print(epoch, float(train_acc.result()))
        train_acc.reset_state()
    ```

    ## Fix
    Call `metric.reset_state()` at the start or end of every epoch. No automatic fix: where
    the epoch's value is read decides where the reset goes.
    """

    code = "EPL208"
    name = "metric-never-reset"
    summary = "metric updated in an epoch loop and never reset: it reports the mean of all epochs so far"
    claim = (
        "A metric updated in an epoch loop and never reset reports the running mean of all epochs so far, "
        "not this epoch's value (Keras 2 and 3). Measured: epoch means 2.0 and 1.0, the never-reset metric "
        "reports 1.5 after epoch 2."
    )
    witness = "after 2 epochs the never-reset Mean's result equals the mean over both epochs; reset each epoch it equals epoch 2's"
    fires_on = {"update": ("update_state", "call")}

    VALID = [
        # reset each epoch
        Valid(
            """
            import keras
            import tensorflow as tf

            train_acc = keras.metrics.SparseCategoricalAccuracy()
            for epoch in range(10):
                for x, y in dataset:
                    logits = model(x, training=True)
                    train_acc.update_state(y, logits)
                print(epoch, float(train_acc.result()))
                train_acc.reset_state()
            """
        ),
        # reset at the start of the epoch with the old spelling (EPL207's business)
        Valid(
            """
            import tensorflow as tf

            train_loss = tf.keras.metrics.Mean(name="train_loss")

            @tf.function
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(model(x) - y))
                train_loss(loss)

            for epoch in range(10):
                train_loss.reset_states()
                for x, y in train_ds:
                    train_step(x, y)
                print(train_loss.result())
            """
        ),
        # a single pass (evaluation): no epoch loop
        Valid(
            """
            import keras

            acc = keras.metrics.Accuracy()
            for x, y in test_ds:
                acc.update_state(y, model.predict_on_batch(x))
            print(acc.result())
            """
        ),
        # not in a loop at all; a fit-driven train_step
        Valid(
            """
            import keras

            class Net(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.loss_tracker = keras.metrics.Mean(name="loss")

                def train_step(self, data):
                    x, y = data
                    loss = self.compute_loss(x, y, self(x))
                    self.loss_tracker.update_state(loss)
                    return {"loss": self.loss_tracker.result()}

                @property
                def metrics(self):
                    return [self.loss_tracker]

            model = Net()
            model.compile(optimizer="adam")
            model.fit(x, y, epochs=10)
            """
        ),
        # a metric created inside the epoch (a fresh one each turn)
        Valid(
            """
            import tensorflow as tf

            for epoch in range(10):
                epoch_loss = tf.keras.metrics.Mean()
                for x, y in dataset:
                    epoch_loss.update_state(step(x, y))
            """
        ),
        # an evaluation helper that builds its own metric, called every epoch
        Valid(
            """
            import keras

            def evaluate(model, ds):
                acc = keras.metrics.Accuracy()
                for x, y in ds:
                    acc.update_state(y, model(x))
                return acc.result()

            for epoch in range(10):
                train_one_epoch()
                print(evaluate(model, val_ds))
            """
        ),
        # a reset helper called each epoch; a loop over a list of metrics
        Valid(
            """
            import keras

            loss_m = keras.metrics.Mean()
            acc_m = keras.metrics.BinaryAccuracy()

            def reset_all():
                for m in [loss_m, acc_m]:
                    m.reset_state()

            for epoch in range(10):
                for x, y in dataset:
                    loss_m.update_state(compute(x, y))
                    acc_m.update_state(y, model(x))
                reset_all()
            """
        ),
        # updated once per epoch (not per batch): a mean over epochs may be intended
        Valid(
            """
            import keras

            best = keras.metrics.Mean()
            for epoch in range(10):
                for x, y in dataset:
                    train(x, y)
                best.update_state(validate())
            """
        ),
        # a nested loop over the data of one pass (per batch, per sample) is not an epoch loop
        Valid(
            """
            import keras

            acc = keras.metrics.BinaryAccuracy()
            for x_batch, y_batch in test_ds:
                for x, y in zip(x_batch, y_batch):
                    acc.update_state([y], model(x[None]))
            print(acc.result())
            """
        ),
        # a reset on a metric we cannot identify counts (precision first)
        Valid(
            """
            import keras

            acc = keras.metrics.Accuracy()
            for epoch in range(10):
                for x, y in dataset:
                    acc.update_state(y, model(x))
                for m in tracker.all_metrics():
                    m.reset_state()
            """
        ),
        # `train_step` defined twice (a notebook's cells): the first loop calls the first one,
        # which updates no metric; the second loop calls the second one and resets each epoch
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

            for epoch in range(3):
                for x, y in train_data:
                    train_step(x, y)

            loss_metric = tf.keras.metrics.Mean()

            @tf.function
            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
                loss_metric.update_state(loss)

            for epoch in range(3):
                loss_metric.reset_states()
                for x, y in train_data:
                    train_step(x, y)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import keras

            train_acc = keras.metrics.SparseCategoricalAccuracy()
            for epoch in range(10):
                for x, y in dataset:
                    logits = model(x, training=True)
                    train_acc.update_state(y, logits)
                print(epoch, float(train_acc.result()))
            """,
            line=7,
            column=9,
            message_contains="mean of all epochs so far",
        ),
        # the TensorFlow quickstart shape: updated in a tf.function step, reset forgotten
        Invalid(
            """
            import tensorflow as tf

            train_loss = tf.keras.metrics.Mean(name="train_loss")
            test_loss = tf.keras.metrics.Mean(name="test_loss")

            @tf.function
            def train_step(images, labels):
                loss = loss_object(labels, model(images, training=True))
                train_loss(loss)

            @tf.function
            def test_step(images, labels):
                test_loss(loss_object(labels, model(images, training=False)))

            for epoch in range(5):
                test_loss.reset_state()
                for images, labels in train_ds:
                    train_step(images, labels)
                for images, labels in test_ds:
                    test_step(images, labels)
                print(train_loss.result(), test_loss.result())
            """,
            line=9,
            column=5,
            message_contains="`train_loss` is updated every batch but never reset per epoch",
        ),
        # reset only once, before the epoch loop
        Invalid(
            """
            import tensorflow as tf

            class Trainer:
                def __init__(self):
                    self.acc = tf.keras.metrics.CategoricalAccuracy()

                def fit(self, dataset, epochs):
                    self.acc.reset_state()
                    for epoch in range(epochs):
                        for x, y in dataset:
                            self.acc(y, self.model(x))
                        print(self.acc.result())
            """,
            line=11,
            column=17,
            message_contains="`self.acc` is updated every batch but never reset per epoch",
        ),
        # an epoch function called in the epoch loop, the per-batch loop inside it
        Invalid(
            """
            import keras

            auc = keras.metrics.AUC()

            def run_epoch(ds):
                for x, y in ds:
                    auc.update_state(y, model(x))
                return auc.result()

            for epoch in range(20):
                print(run_epoch(train_ds))
            """,
            line=7,
            column=9,
            message_contains="`auc` is updated every batch but never reset per epoch",
        ),
        # a fold loop around the epoch loop resets per fold only
        Invalid(
            """
            import keras

            loss_metric = keras.metrics.Mean()
            for fold in range(5):
                loss_metric.reset_state()
                for epoch in range(10):
                    for x, y in folds[fold]:
                        loss_metric.update_state(train_step(x, y))
            """,
            line=8,
            column=13,
            message_contains="`loss_metric` is updated every batch but never reset per epoch",
        ),
    ]

    ANALYSES = (LoopIndex, Metrics, TfFunctionIndex)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.loops: LoopIndex = self.analysis(LoopIndex)
        self.tf_functions: TfFunctionIndex = self.analysis(TfFunctionIndex)
        self.updates: list[_Site] = []
        self.resets: list[_Site] = []
        self.named_calls: list[_Site] = []  # `name(...)` / `self.name(...)`: call-form updates and the call graph
        self._callers: Optional[dict[int, list[_Site]]] = None

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            name = func.attr.value
            if name == "update_state":
                self.updates.append(_Site(node, self.ctx.scope, self.loops.current))
            elif name in _RESETS and not node.args:
                self.resets.append(_Site(node, self.ctx.scope, self.loops.current))
            elif name == "reset_metrics":
                self.resets.append(_Site(node, self.ctx.scope, self.loops.current, {_WILDCARD}))
            elif isinstance(func.value, cst.Name):
                self.named_calls.append(_Site(node, self.ctx.scope, self.loops.current, at=Site.of(self.ctx)))
        elif isinstance(func, cst.Name):
            self.named_calls.append(_Site(node, self.ctx.scope, self.loops.current, at=Site.of(self.ctx)))

    # ------------------------------------------------------------------ decisions
    def finish(self) -> None:
        metrics = self.analysis(Metrics)
        updates = []
        for site in self.updates:
            if metrics.is_metric(site.call.func.value, site.scope) and not metrics.shared(site.call.func.value, site.scope):
                site.keys = metrics.keys(site.call.func.value, site.scope)
                updates.append(site)
        for site in self.named_calls:  # (a metric another module owns may be reset there: not followed)
            if metrics.is_metric(site.call.func, site.scope) and not metrics.shared(site.call.func, site.scope):
                site.keys = metrics.keys(site.call.func, site.scope)
                updates.append(site)
        if not updates:
            return
        for site in self.resets:
            if site.keys:
                continue
            receiver = site.call.func.value
            keys = metrics.keys(receiver, site.scope) if metrics.is_metric(receiver, site.scope) else set()
            site.keys = keys or self._unknown_reset(metrics, receiver, site.scope)
        for update in updates:
            for chain in self._chains(update.scope, update.loops, 0):
                loop = epoch_loop(chain, self.loops.is_counting_loop)
                if loop is None or self._reset_within(loop, update.keys, metrics):
                    continue
                self._report(update)
                break

    def _unknown_reset(self, metrics: Metrics, receiver, scope: Scope) -> set:
        """A reset on something not known to be one metric: all of a model's metrics, or a loop
        variable over something unknown (it may be this metric: count it, precision first)."""
        if isinstance(receiver, cst.Name):
            for b in metrics.sem.lookup(receiver.value, scope):
                if b.kind == "for":
                    return {_WILDCARD}
        return set()

    def _report(self, update: _Site) -> None:
        code = self.ctx.module.code_for_node
        func = update.call.func
        metric = code(func.value if isinstance(func, cst.Attribute) and func.attr.value == "update_state" else func).strip()
        self.report(
            update.call,
            f"`{metric}` is updated every batch but never reset per epoch: its result is the mean of all epochs so far.",
        )

    # call graph ---------------------------------------------------------------
    def _callee(self, func: cst.BaseExpression, scope: Scope, at: Optional[Site] = None):
        if isinstance(func, cst.Name):
            sem = self.ctx.semantic
            local = sem.local_def_at(func, at) if at is not None else sem.local_def(func, scope)
            if isinstance(local, cst.FunctionDef):
                return local
        else:
            method = self.tf_functions.method_def(func, scope)
            if method is not None:
                return method
        traced = self.tf_functions.callee(func, scope)
        return traced.target if traced is not None else None

    def _callers_of(self, fn: cst.CSTNode) -> list[_Site]:
        if self._callers is None:
            table: dict[int, list[_Site]] = {}
            for site in self.named_calls:
                callee = self._callee(site.call.func, site.scope, site.at)
                if callee is not None:
                    table.setdefault(id(callee), []).append(site)
            self._callers = table
        return self._callers.get(id(fn), [])

    def _chains(self, scope: Scope, loops: tuple, depth: int) -> list[tuple]:
        """Loop chains (outermost first) around a point: its own loops, prefixed by the loops
        around each call of its function (through same-module calls, a few levels deep)."""
        chains = [loops]
        fn = scope.function()
        if fn is None or depth >= _MAX_CALL_DEPTH:
            return chains
        for site in self._callers_of(fn.node):
            for outer in self._chains(site.scope, site.loops, depth + 1):
                if outer:
                    chains.append(outer + loops)
        return chains

    def _runs_within(self, loop: cst.CSTNode, scope: Scope, loops: tuple, depth: int = 0) -> bool:
        """Does a point (scope, loops) run during each turn of `loop`: inside its body, or in a
        function called from it?"""
        if any(lp is loop for lp in loops):
            return True
        fn = scope.function()
        if fn is None or depth >= _MAX_CALL_DEPTH:
            return False
        return any(self._runs_within(loop, s.scope, s.loops, depth + 1) for s in self._callers_of(fn.node))

    def _reset_within(self, loop: cst.CSTNode, keys: set, metrics: Metrics) -> bool:
        for r in self.resets:
            if (r.keys & keys or _WILDCARD in r.keys or (ALL_MODEL_METRICS in r.keys)) and self._runs_within(loop, r.scope, r.loops):
                return True
        for key in keys:
            if key == ALL_MODEL_METRICS:
                continue
            for b in metrics.construction_bindings(key):
                if b.inside(loop) or self._runs_within(loop, b.scope, self._binding_loops(b)):
                    return True
        return False

    def _binding_loops(self, b) -> tuple:
        """The loops around a binding in its own frame (from its ancestors)."""
        out = []
        for i, a in enumerate(b.ancestors):
            if isinstance(a, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                out = []
            elif isinstance(a, (cst.For, cst.While)):
                nxt = b.ancestors[i + 1] if i + 1 < len(b.ancestors) else b.stmt
                if nxt is a.body:
                    out.append(a)
        return tuple(out)
