"""EPL207 removed-reset-states: `metric.reset_states()` is gone in Keras 3; use `reset_state()`."""
from __future__ import annotations

import libcst as cst

from linter.analysis.metrics import Metrics
from linter import edits
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Scope


class RemovedResetStates(Rule):
    """
    ## What it does
    Flags `.reset_states()` called on a known Keras metric: a `keras.metrics.*` /
    `tf.keras.metrics.*` object under any import spelling, an instance of a `Metric` subclass,
    the result of a function returning one, a name or `self.<attr>` bound to one, a loop
    variable over a list of them or over a known model's `.metrics` (the subclass, function or
    metric may come from another module of the project).

    ## Why is this bad
    Keras 3 removed `Metric.reset_states()`: the call raises `AttributeError: 'Mean' object has
    no attribute 'reset_states'`, so a training script written for Keras 2 stops at the end of
    its first epoch. In Keras 2 (`tf.keras` up to TF 2.15, `tf_keras`) it still works as a
    deprecated alias of `reset_state()`, which exists since TF 2.5.

    Not flagged: `layer.reset_states()` on a stateful RNN layer and other non-metric objects
    (RNN layers keep `reset_states` in Keras 3), receivers of unknown type, and a custom metric
    class that defines `reset_states` itself.

    ## Example
    ```python
    train_loss = keras.metrics.Mean()
    for epoch in range(epochs):
        train_loss.reset_states()
        ...
    ```
    Use instead:
    ```python
    for epoch in range(epochs):
        train_loss.reset_state()
        ...
    ```

    ## Fix
    Safe fix: rename the call to `reset_state()`, which does the same in Keras 2 (since TF 2.5)
    and Keras 3. On a receiver only `--strict` suspects (its type is unknown) the fix is unsafe.
    """

    code = "EPL207"
    name = "removed-reset-states"
    summary = "`metric.reset_states()` raises AttributeError in Keras 3; use `reset_state()`"
    claim = (
        "Keras 3: `metric.reset_states()` is removed (AttributeError); use `reset_state()` (since TF 2.5). "
        "Keras 2 (tf_keras): `reset_states()` still works (deprecated alias)."
    )
    witness = "AttributeError for Mean().reset_states() on Keras 3 (works on Keras 2); reset_state() resets on both"
    fires_on = {"method": ("reset_states",)}
    fixable = "sometimes"

    VALID = [
        # a stateful RNN layer keeps reset_states in Keras 3
        Valid(
            """
            import keras

            lstm = keras.layers.LSTM(32, stateful=True)
            model = keras.Sequential([keras.Input(batch_shape=(8, 10, 4)), lstm, keras.layers.Dense(1)])
            for epoch in range(10):
                model.fit(x, y, batch_size=8, epochs=1, shuffle=False)
                lstm.reset_states()
                for layer in model.layers:
                    if hasattr(layer, "reset_states"):
                        layer.reset_states()
            """
        ),
        # the new spelling
        Valid(
            """
            import tensorflow as tf

            train_loss = tf.keras.metrics.Mean(name="train_loss")
            for epoch in range(5):
                train_loss.reset_state()
            """
        ),
        # unknown receiver, and a model (not a metric)
        Valid(
            """
            import keras

            def reset(thing):
                thing.reset_states()

            model = keras.Sequential([keras.layers.GRU(4, stateful=True)])
            model.reset_states()
            """
        ),
        # --strict still knows layers and models are not metrics
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.GRU(4, stateful=True)])
            gru = keras.layers.GRU(4, stateful=True)
            gru.reset_states()
            model.reset_states()
            for layer in model.layers:
                layer.reset_states()
            """,
            strict=True,
        ),
        # a custom metric that defines reset_states itself
        Valid(
            """
            import keras

            class RunningMax(keras.metrics.Metric):
                def reset_states(self):
                    self.value.assign(0.0)

            peak = RunningMax()
            peak.reset_states()
            """
        ),
        # --strict: `self.reset_states()` in a class that defines it, or in a layer (an RNN's)
        Valid(
            """
            import tensorflow as tf

            class Acc(tf.keras.metrics.Metric):
                def reset_states(self):
                    pass

                def reset_state(self):
                    return self.reset_states()

            class Stateful(tf.keras.layers.Layer):
                def reset_state(self):
                    self.reset_states()

            class Both(tf.keras.layers.Wrapper):
                def reset_states(self, states=None):
                    self.forward_layer.reset_states()
                    self.backward_layer.reset_states()
            """,
            strict=True,
        ),
        # a metric *function* result is a tensor, not a metric object
        Valid(
            """
            import keras
            values = keras.metrics.mean_squared_error(y, p)
            values.reset_states()
            """
        ),
        # --strict: `self.reset_states()` in a Layer/RNN subclass is the layer's own method
        Valid(
            """
            import tensorflow as tf

            class StatefulModel(tf.keras.layers.Layer):
                def __init__(self):
                    super().__init__()
                    self.lstm = tf.keras.layers.LSTM(8, stateful=True)

                def call(self, x):
                    return self.lstm(x)

                def new_sequence(self):
                    self.reset_states()

            class Stacked(tf.keras.layers.LSTM):
                def on_epoch(self):
                    self.reset_states()
            """,
            strict=True,
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            train_loss = tf.keras.metrics.Mean(name="train_loss")
            for epoch in range(5):
                train_loss.reset_states()
            """,
            line=5,
            column=5,
            message_contains="AttributeError",
            fixed="""
            import tensorflow as tf

            train_loss = tf.keras.metrics.Mean(name="train_loss")
            for epoch in range(5):
                train_loss.reset_state()
            """,
        ),
        Invalid(
            """
            from keras.metrics import SparseCategoricalAccuracy

            class Trainer:
                def __init__(self):
                    self.acc = SparseCategoricalAccuracy()

                def on_epoch_end(self):
                    self.acc.reset_states()
            """,
            line=8,
            column=9,
            message_contains="`self.acc` is a Keras metric",
            fixed="""
            from keras.metrics import SparseCategoricalAccuracy

            class Trainer:
                def __init__(self):
                    self.acc = SparseCategoricalAccuracy()

                def on_epoch_end(self):
                    self.acc.reset_state()
            """,
        ),
        # a loop over a list of metrics, and over a model's metrics
        Invalid(
            """
            import tensorflow as tf

            train_acc = tf.keras.metrics.CategoricalAccuracy()
            val_acc = tf.keras.metrics.CategoricalAccuracy()
            model = tf.keras.Sequential([tf.keras.layers.Dense(3)])
            for metric in [train_acc, val_acc]:
                metric.reset_states()
            for m in model.metrics:
                m.reset_states()
            """,
            line=7,
            column=5,
            also=((9, 5),),
            message_contains="` is a Keras metric: `reset_states()` raises AttributeError in Keras 3. Use",
        ),
        # a same-module Metric subclass, tf_keras spelling
        Invalid(
            """
            import tf_keras

            class F1(tf_keras.metrics.Metric):
                def update_state(self, y_true, y_pred, sample_weight=None):
                    pass

            f1 = F1()
            f1.reset_states()
            """,
            line=8,
            column=1,
            message_contains="reset_state()",
        ),
        Invalid(
            """
            import keras
            keras.metrics.AUC().reset_states()
            """,
            line=2,
            column=1,
            message_contains="`keras.metrics.AUC()` is a Keras metric",
        ),
        # --strict: a receiver of unknown type that is not known to be a layer or model
        Invalid(
            """
            import keras

            def end_of_epoch(tracker):
                tracker.reset_states()
            """,
            line=4,
            column=5,
            message_contains="--strict",
            strict=True,
            unsafe=True,  # the receiver's type is unknown: the rename is not a safe fix
            fixed="""
            import keras

            def end_of_epoch(tracker):
                tracker.reset_state()
            """,
        ),
    ]

    ANALYSES = (Metrics,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.candidates: list[tuple[cst.Call, Scope]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "reset_states" and not node.args:
            self.candidates.append((node, self.ctx.scope))

    def finish(self) -> None:
        if not self.candidates:
            return
        metrics = self.analysis(Metrics)
        for call, scope in self.candidates:
            receiver = call.func.value
            cls = metrics.metric_class_of(receiver, scope)
            known = cls is not None or self._model_metrics_loop(metrics, receiver, scope)
            if not known and not (self.ctx.strict and not metrics.known_not_metric(receiver, scope)):
                continue
            if cls is not None and metrics.class_defines(cls, "reset_states"):  # its class's own method
                continue
            own = self._own_class(receiver, scope)
            if own is not None and (metrics.class_defines(own, "reset_states") or not metrics.is_metric_class(own)):
                continue  # `self.reset_states()` calls the class's own method (or a layer's, e.g. an RNN's)
            if not known and self._delegates(metrics, scope):
                continue  # a non-metric's own reset_states() forwarding to its parts (tf_keras's Bidirectional)
            # a receiver only --strict suspects may be anything: renaming its method is never safe
            fix = edits.rename_attribute(call.func, "reset_state", "safe" if known else "unsafe", "reset_states() -> reset_state()")
            what = "is a Keras metric" if known else "may be a Keras metric (--strict)"
            self.report(
                call,
                f"`{self.ctx.module.code_for_node(receiver).strip()}` {what}: `reset_states()` raises AttributeError "
                f"in Keras 3. Use `reset_state()`.",
                fix,
            )

    @staticmethod
    def _delegates(metrics: Metrics, scope: Scope) -> bool:
        """Is the call inside a `reset_states` method of a class that is not a metric?"""
        fn, cls_scope = scope.function(), scope.class_scope()
        return (
            fn is not None and isinstance(fn.node, cst.FunctionDef) and fn.node.name.value == "reset_states"
            and cls_scope is not None and isinstance(cls_scope.node, cst.ClassDef)
            and not metrics.is_metric_class(cls_scope.node)
        )

    def _own_class(self, receiver: cst.BaseExpression, scope: Scope):
        """The ClassDef whose method this is, when the receiver is that method's `self`."""
        if isinstance(receiver, cst.Name) and self.ctx.semantic.is_self_param(receiver.value, scope):
            cls_scope = scope.class_scope()
            if cls_scope is not None and isinstance(cls_scope.node, cst.ClassDef):
                return cls_scope.node
        return None

    @staticmethod
    def _model_metrics_loop(metrics: Metrics, receiver: cst.BaseExpression, scope: Scope) -> bool:
        """`for m in model.metrics: m.reset_states()` with a known Keras model."""
        if not isinstance(receiver, cst.Name):
            return False
        for b in metrics.sem.lookup(receiver.value, scope):
            if b.kind == "for" and isinstance(b.stmt, cst.For) and isinstance(b.stmt.target, cst.Name):
                if metrics.is_model_metrics(b.stmt.iter, b.scope):
                    return True
        return False
