"""EPL203 tf-function-in-loop: `tf.function` applied inside a loop body traces again every turn."""
from __future__ import annotations

import libcst as cst

from linter.analysis.loops import LoopIndex
from linter.analysis.tf_function import TfFunctionIndex, Traced
from linter.rules.base import Invalid, Rule, Valid


class TfFunctionInLoop(Rule):
    """
    ## What it does
    Flags `tf.function` applied inside the body of a `for`/`while` loop: a decorated `def`
    (`@tf.function`, `@tf.function(jit_compile=True)`, `@function` after
    `from tensorflow import function`) or a call `step = tf.function(fn)` in the loop.

    ## Why is this bad
    Every turn creates a new `tf.function` object, and a new object has no traces: the first
    call of each turn traces the Python function again and builds a new graph (with
    `jit_compile=True`, compiles it again with XLA). A training loop that does this pays the
    tracing cost every epoch and never benefits from the graph it built.

    A loop that rebuilds the model each turn (a cross-validation fold, a hyper-parameter
    trial, `clear_session()`) is not flagged: a new model needs a new trace anyway, and a
    `tf.function` traced for the old model would keep using the old model's variables.
    Wrapping a different function each turn (`for fn in fns: tf.function(fn)`) is not flagged.

    The same happens when `tf.function` is applied in the body of a function that is called
    in a loop (a step function that defines its own `@tf.function` helper on every call);
    that is flagged too, unless the creation is cached (under an `if`, stored on `self` or in
    a container) or the helper wraps whatever function it is given.

    ## Example
    ```python
    for epoch in range(epochs):
        @tf.function
        def train_step(x, y):
            ...
        for x, y in dataset:
            train_step(x, y)
    ```
    Use instead:
    ```python
    @tf.function
    def train_step(x, y):
        ...

    for epoch in range(epochs):
        for x, y in dataset:
            train_step(x, y)
    ```

    ## Fix
    Create the `tf.function` once, before the loop, and only call it inside. No automatic fix:
    moving a definition changes which names it closes over.
    """

    code = "EPL203"
    name = "tf-function-in-loop"
    summary = "`tf.function` applied inside a loop body: a new function object, traced again every turn"
    claim = (
        "`tf.function` applied inside a loop body creates a new function object every turn, and each one "
        "is traced anew: trace count == loop turns; hoisted out of the loop it traces once (Keras 2 and 3). "
        "Measured: 4 turns -> 4 traces in the loop, 1 hoisted."
    )
    witness = "trace count of a tf.function created inside a 4-turn loop == 4; created before the loop == 1"
    fires_on = {"form": ("decorator", "call")}

    VALID = [
        # created once, called in the loop
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                return x + y

            for epoch in range(10):
                for x, y in dataset:
                    train_step(x, y)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            def step(x):
                return x * 2

            compiled = tf.function(step, jit_compile=True)
            for epoch in range(3):
                compiled(tf.constant(1.0))
            """
        ),
        # a fold loop that rebuilds the model: a new trace per fold is needed
        Valid(
            """
            import keras
            import tensorflow as tf

            def build_model():
                return keras.Sequential([keras.layers.Dense(1)])

            for fold in range(5):
                model = build_model()
                optimizer = keras.optimizers.Adam()

                @tf.function
                def train_step(x, y):
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_mean(keras.losses.mse(y, model(x, training=True)))
                    grads = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))

                for x, y in folds[fold]:
                    train_step(x, y)
            """
        ),
        Valid(
            """
            import keras
            import tensorflow as tf

            for trial in range(3):
                keras.backend.clear_session()
                step = tf.function(make_step(trial))
            """
        ),
        # a different function each turn: each one traces once
        Valid(
            """
            import tensorflow as tf

            compiled = {}
            for name, fn in candidates.items():
                compiled[name] = tf.function(fn)
            """
        ),
        # a loop in a helper that is defined in the loop body, not the loop itself
        Valid(
            """
            import tensorflow as tf

            def make_steps(fns):
                return [tf.function(f) for f in fns]
            """
        ),
        # not TensorFlow's `function`
        Valid(
            """
            import tensorflow as tf
            from mylib import function

            for epoch in range(3):
                @function
                def step():
                    pass
            """
        ),
        # the loop's iterable and else-branch are not its body
        Valid(
            """
            import tensorflow as tf

            for x in tf.function(make)():
                pass
            else:
                step = tf.function(fn)
            """
        ),
        # a helper creating the tf.function once (cached), or wrapping what it is given
        Valid(
            """
            import tensorflow as tf

            _compiled = None

            def get_step():
                global _compiled
                if _compiled is None:
                    _compiled = tf.function(step)
                return _compiled

            def compile_fn(fn):
                return tf.function(fn)

            class Runner:
                def step_fn(self):
                    self._fn = tf.function(self.step)
                    return self._fn

            for epoch in range(3):
                get_step()(x)
                compile_fn(losses[epoch])
            """
        ),
        # a step factory called once per fold that rebuilds the model
        Valid(
            """
            import keras
            import tensorflow as tf

            def make_step(model, optimizer):
                @tf.function
                def step(x, y):
                    return model(x, training=True)
                return step

            for fold in range(5):
                model = keras.Sequential([keras.layers.Dense(1)])
                step = make_step(model, keras.optimizers.Adam())
            """
        ),
        # a def in the loop whose body applies tf.function: runs once per call of the def
        Valid(
            """
            import tensorflow as tf

            for epoch in range(3):
                def later():
                    return tf.function(fn)
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            for epoch in range(10):
                @tf.function
                def train_step(x, y):
                    return x + y
                for x, y in dataset:
                    train_step(x, y)
            """,
            line=4,
            column=5,
            message_contains="traced again every turn",
        ),
        Invalid(
            """
            import tensorflow as tf

            for epoch in range(10):
                step = tf.function(train_step)
                for x, y in dataset:
                    step(x, y)
            """,
            line=4,
            column=12,
            message_contains="`tf.function(...)` inside a loop body is a new function each turn",
        ),
        Invalid(
            """
            from tensorflow import function

            epoch = 0
            while epoch < 10:
                @function(jit_compile=True)
                def train_step(x):
                    return x
                epoch += 1
            """,
            line=5,
            column=5,
            message_contains="XLA",
        ),
        # the factory form: `tf.function(jit_compile=True)(fn)`
        Invalid(
            """
            import tensorflow as tf

            for epoch in range(3):
                step = tf.function(jit_compile=True)(train_step)
            """,
            line=4,
            column=12,
            message_contains="XLA",
        ),
        # in the inner (batch) loop: retraced every batch
        Invalid(
            """
            import tensorflow as tf

            for epoch in range(10):
                for x, y in dataset:
                    loss = tf.function(compute_loss, reduce_retracing=True)(x, y)
            """,
            line=5,
            column=16,
            message_contains="every batch",
        ),
        # a method of a class, loop inside the method
        Invalid(
            """
            import tensorflow as tf

            class Trainer:
                def fit(self, dataset, epochs):
                    for epoch in range(epochs):
                        step = tf.function(self.train_step)
                        for batch in dataset:
                            step(batch)
            """,
            line=6,
            column=20,
            message_contains="`tf.function(...)` inside a loop body is a new function each turn",
        ),
        # a step function that defines its tf.function anew on every call, called per batch
        Invalid(
            """
            import tensorflow as tf

            def train_step(model, x, optimizer, loss_fn):
                @tf.function
                def apply_gradient(model, x, optimizer, loss_fn):
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_mean(loss_fn(x, model(x, training=True)))
                    gradients = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
                    return loss

                return apply_gradient(model, x, optimizer, loss_fn)

            for epoch in range(10):
                for x in dataset:
                    train_step(model, x, optimizer, loss_fn)
            """,
            line=4,
            column=5,
            message_contains="called in a loop",
        ),
        # an alias of tf.function
        Invalid(
            """
            import tensorflow as tf
            compile_fn = tf.function

            for epoch in range(3):
                step = compile_fn(train_step)
            """,
            line=5,
            column=12,
            message_contains="`tf.function(...)` inside a loop body is a new function each turn",
        ),
    ]

    ANALYSES = (LoopIndex, TfFunctionIndex)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.index: TfFunctionIndex = self.analysis(TfFunctionIndex)
        self.loops: LoopIndex = self.analysis(LoopIndex)

    def finish(self) -> None:
        applications = self.index.applications()
        if self.index.runs_eagerly:
            return  # `tf.config.run_functions_eagerly(True)`: nothing is traced
        for t in applications:
            if not t.loops:
                self._check_function_called_in_loop(t)
                continue
            loop = t.loops[-1]
            if self.loops.rebuilds_model(loop):
                continue
            if not t.decorator and self._wraps_loop_value(t, loop):
                continue
            self.report(t.site, self._message(t, loop))

    def _check_function_called_in_loop(self, t: Traced) -> None:
        """`tf.function` applied unconditionally in the body of a function that is itself
        called in a loop: a new function object, traced again, on every call."""
        fn_scope = t.scope.function()
        if fn_scope is None or not isinstance(fn_scope.node, cst.FunctionDef) or fn_scope is not t.scope:
            return
        if self.index.traced_scope(t.scope) is not None:
            return  # applied while tracing the caller: once per trace
        fn = fn_scope.node
        if _conditional_or_cached(t, fn):
            return
        if not t.decorator and _is_parameter(t.wrapped, fn_scope):
            return  # a helper wrapping what it is given: a different function per call
        sites = [lc for lc in self.loops.calls if self._callee_def(lc.call.func, lc.scope) is fn]
        if not sites or all(self.loops.rebuilds_model(lc.loops[-1]) for lc in sites):
            return
        what = "`@tf.function` on a def" if t.decorator else "`tf.function(...)`"
        self.report(
            t.site,
            f"{what} inside `{fn.name.value}`, which is called in a loop: a new function, traced again on every "
            f"call.",
        )

    def _callee_def(self, func: cst.BaseExpression, scope):
        if isinstance(func, cst.Name):
            return self.ctx.semantic.local_def(func, scope)
        return self.index.method_def(func, scope)

    def _wraps_loop_value(self, t: Traced, loop: cst.CSTNode) -> bool:
        """`tf.function(fn)` where `fn` comes from the loop (`for fn in fns`): a different
        function every turn, each traced once."""
        wrapped = t.wrapped
        if wrapped is None:
            return False
        targets = set()
        for lp in t.loops:
            targets |= self.loops.loop_targets(lp)
        if not targets:
            return False
        return any(isinstance(n, cst.Name) and n.value in targets for n in _names_in(wrapped))

    def _message(self, t: Traced, loop: cst.CSTNode) -> str:
        what = "`@tf.function` on a def" if t.decorator else "`tf.function(...)`"
        turn = "every batch" if len(t.loops) >= 2 else "every turn"
        jit = t.keyword("jit_compile")
        xla = (
            " (and XLA-compiled again: `jit_compile=True`)"
            if jit is not None and not (isinstance(jit.value, cst.Name) and jit.value.value in ("False", "None"))
            else ""
        )
        return (
            f"{what} inside a loop body is a new function each turn: traced again {turn}{xla}."
        )


def _conditional_or_cached(t: Traced, fn: cst.FunctionDef) -> bool:
    """Created under a condition (`if self._step is None:`) or stored on an object/in a
    container (`self._step = tf.function(...)`, `cache[key] = ...`): created once, reused."""
    inside = False
    parent = None
    for a in t.ancestors:
        if a is fn:
            inside = True
            continue
        if inside:
            if isinstance(a, (cst.If, cst.Try, cst.TryStar, cst.IfExp, cst.Match)):
                return True
            parent = a
    if isinstance(parent, cst.Assign):
        return any(isinstance(tt.target, (cst.Attribute, cst.Subscript)) for tt in parent.targets)
    return False


def _is_parameter(expr, fn_scope) -> bool:
    return isinstance(expr, cst.Name) and any(b.kind == "param" for b in fn_scope.names.get(expr.value, []))


def _names_in(expr: cst.BaseExpression):
    todo = [expr]
    while todo:
        n = todo.pop()
        if isinstance(n, cst.Name):
            yield n
        elif isinstance(n, cst.Attribute):
            todo.append(n.value)
        elif isinstance(n, cst.Subscript):
            todo.append(n.value)
        elif isinstance(n, cst.Call):
            todo.append(n.func)
            todo.extend(a.value for a in n.args)
