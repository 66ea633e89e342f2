"""EPL204 optimizer-in-loop: an optimizer built in a loop body or a training-step function restarts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.analysis.loops import LoopIndex, builds_model
from linter.analysis.optimizers import is_optimizer_class
from linter.analysis.tf_function import TfFunctionIndex
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Scope

_TRAINING_METHODS = frozenset({"apply_gradients", "minimize", "apply"})
_CONTAINER_METHODS = frozenset({"append", "extend", "insert", "add", "setdefault", "update"})


@dataclass(eq=False)
class _Construction:
    call: cst.Call
    scope: Scope
    loops: tuple
    parent: Optional[cst.CSTNode]
    grandparent: Optional[cst.CSTNode]


class OptimizerInLoop(Rule):
    """
    ## What it does
    Flags an optimizer (`keras.optimizers.Adam(...)`, `tf.keras.optimizers.SGD(...)`, every
    spelling, also `tf.compat.v1.train.*Optimizer`) constructed inside a loop body, inside a
    `tf.function`, or inside a training-step function that is called in a loop.

    ## Why is this bad
    An optimizer carries state: Adam's and RMSprop's moment estimates, momentum, its
    `iterations` counter, and with it the step of a learning-rate schedule. A new optimizer
    every epoch (or every step) throws that state away while the model's weights carry on:
    Adam restarts its bias correction, schedules never decay, warm-up starts over. Inside a
    `tf.function` it is an error: creating the optimizer's variables raises `ValueError:
    tf.function only supports singleton tf.Variables created on the first call` (Keras 2 and 3).

    Not flagged: a loop that rebuilds the model together with its optimizer each turn (a
    cross-validation fold, a hyper-parameter trial, after `clear_session()`); a fine-tuning
    loop that changes `.trainable` and must recompile; optimizers collected into a list or dict
    (one per model); a function that builds the optimizer once and then runs its own loop.

    ## Example
    ```python
    for epoch in range(epochs):
        optimizer = keras.optimizers.Adam(1e-3)
        for x, y in dataset:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
    ```
    Use instead:
    ```python
    optimizer = keras.optimizers.Adam(1e-3)
    for epoch in range(epochs):
        for x, y in dataset:
            ...
    ```

    ## Fix
    Build the optimizer once, next to the model, before the loop. To change the learning rate
    per epoch use a `keras.optimizers.schedules` schedule or assign `optimizer.learning_rate`.
    No automatic fix.
    """

    code = "EPL204"
    name = "optimizer-in-loop"
    summary = "optimizer constructed inside a loop or a training step: its state restarts every turn"
    claim = (
        "An optimizer constructed inside a loop restarts its state (moments, `iterations`, schedule step) "
        "every turn; constructed inside a `tf.function` step it raises ValueError (tf.function only supports "
        "creating variables on the first call) (Keras 2 and 3). Measured: `iterations` = 8 after 3 epochs of 8 steps."
    )
    witness = "optimizer.iterations after 3 epochs with the optimizer built in the loop == one epoch's steps; ValueError inside tf.function"
    fires_on = {"where": ("loop", "tf.function step")}

    VALID = [
        # built once
        Valid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            optimizer = keras.optimizers.Adam(1e-3)
            for epoch in range(10):
                for x, y in dataset:
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_mean(keras.losses.mse(y, model(x, training=True)))
                    grads = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
            """
        ),
        # a fold loop that rebuilds model and optimizer together: correct
        Valid(
            """
            import keras

            def build_model():
                return keras.Sequential([keras.layers.Dense(1)])

            for fold, (train_idx, val_idx) in enumerate(kfold.split(x)):
                model = build_model()
                model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
                model.fit(x[train_idx], y[train_idx], epochs=10)
            """
        ),
        Valid(
            """
            import tensorflow as tf

            for trial in range(20):
                lr = sample_learning_rate()
                model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
                optimizer = tf.keras.optimizers.SGD(lr)
                for x, y in dataset:
                    train_step(model, optimizer, x, y)
            """
        ),
        # a helper returning (model, optimizer) per fold
        Valid(
            """
            import keras

            def make():
                model = keras.Sequential([keras.layers.Dense(1)])
                return model, keras.optimizers.Adam()

            for fold in range(5):
                model, _ = make()
                opt = keras.optimizers.Adam()
            """
        ),
        Valid(
            """
            import keras

            for trial in range(5):
                keras.backend.clear_session()
                opt = keras.optimizers.RMSprop()
                model = get_model()
            """
        ),
        # a training function that builds its optimizer once and loops itself, called once
        Valid(
            """
            import tensorflow as tf

            def train(model, dataset, epochs):
                optimizer = tf.keras.optimizers.Adam()
                for epoch in range(epochs):
                    for x, y in dataset:
                        with tf.GradientTape() as tape:
                            loss = tf.reduce_mean(tf.square(model(x) - y))
                        grads = tape.gradient(loss, model.trainable_variables)
                        optimizer.apply_gradients(zip(grads, model.trainable_variables))

            train(model, dataset, 10)
            """
        ),
        # staged fine-tuning: unfreezing requires a recompile
        Valid(
            """
            import keras

            for stage, lr in enumerate([1e-3, 1e-5]):
                base_model.trainable = stage > 0
                model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
                model.fit(x, y, epochs=5)
            """
        ),
        # one optimizer per model, collected
        Valid(
            """
            import keras

            optimizers = []
            for model in models:
                optimizers.append(keras.optimizers.Adam())
            per_name = {}
            for name in names:
                per_name[name] = keras.optimizers.SGD(0.1)
            """
        ),
        # a learning-rate schedule is not an optimizer
        Valid(
            """
            import keras

            for epoch in range(3):
                schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 100, 0.9)
            """
        ),
        # an eager function that builds a model with its optimizer, called per fold
        Valid(
            """
            import tensorflow as tf

            def run_fold(data):
                model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
                opt = tf.keras.optimizers.Adam()
                opt.minimize(lambda: loss(model, data), model.trainable_variables)

            for data in folds:
                run_fold(data)
            """
        ),
        # a comprehension is not a loop body run per epoch
        Valid(
            """
            import keras
            opts = [keras.optimizers.Adam(lr) for lr in (1e-2, 1e-3)]
            """
        ),
        # progressive training: each stage grows the model and recompiles it
        Valid(
            """
            import keras

            for res in [4, 8, 16, 32, 64]:
                model = grow(model, res)
                model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
                model.fit(load_images(res), epochs=5)
            """
        ),
        Valid(
            """
            from keras.optimizers import Adam

            for phase in phases:
                model.add(make_block(phase))
                model.compile(optimizer=Adam(), loss="mse")
                model.fit(x, y, epochs=2)
            """
        ),
    ]
    INVALID = [
        # a loop over resolutions that trains the same model: the message names that loop
        Invalid(
            """
            import keras

            for res in resolutions:
                model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
                model.fit(load_images(res), epochs=5)
            """,
            line=4,
            column=29,
            message_contains="restarts every turn of `for res in resolutions`",
        ),
        Invalid(
            """
            import keras
            import tensorflow as tf

            model = keras.Sequential([keras.layers.Dense(1)])
            for epoch in range(10):
                optimizer = keras.optimizers.Adam(1e-3)
                for x, y in dataset:
                    with tf.GradientTape() as tape:
                        loss = tf.reduce_mean(keras.losses.mse(y, model(x, training=True)))
                    grads = tape.gradient(loss, model.trainable_variables)
                    optimizer.apply_gradients(zip(grads, model.trainable_variables))
            """,
            line=6,
            column=17,
            message_contains="restarts",
        ),
        # inside the batch loop
        Invalid(
            """
            from tensorflow.keras.optimizers import SGD

            for x, y in dataset:
                opt = SGD(learning_rate=0.01, momentum=0.9)
                opt.apply_gradients(zip(grads(x, y), variables))
            """,
            line=4,
            column=11,
            message_contains="`SGD(...)` built inside a loop body",
        ),
        # inside a tf.function: ValueError
        Invalid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                optimizer = tf.keras.optimizers.Adam()
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return loss
            """,
            line=5,
            column=17,
            message_contains="ValueError",
        ),
        # an eager step function called per batch
        Invalid(
            """
            import tensorflow as tf

            def train_step(model, x, y):
                optimizer = tf.keras.optimizers.RMSprop()
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(model(x) - y))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))

            for epoch in range(5):
                for x, y in dataset:
                    train_step(model, x, y)
            """,
            line=4,
            column=17,
            message_contains="`train_step`",
        ),
        # an epoch function called per epoch (method form)
        Invalid(
            """
            import tensorflow as tf

            class Trainer:
                def run_epoch(self, dataset):
                    opt = tf.keras.optimizers.Adam()
                    for x, y in dataset:
                        opt.minimize(lambda: self.loss(x, y), self.model.trainable_variables)

                def fit(self, dataset, epochs):
                    for epoch in range(epochs):
                        self.run_epoch(dataset)
            """,
            line=5,
            column=15,
            message_contains="`Adam(...)` built inside `run_epoch`, called in a loop",
        ),
        # recompiling every epoch with a new optimizer, model built outside
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            for epoch in range(10):
                model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
                model.fit(x, y, epochs=1)
            """,
            line=5,
            column=29,
            message_contains="`Adam(...)` built inside a loop body",
        ),
        # TF1-style optimizer through tf.compat.v1
        Invalid(
            """
            import tensorflow.compat.v1 as tf

            while not done:
                opt = tf.train.AdamOptimizer(0.001)
            """,
            line=4,
            column=11,
            message_contains="`AdamOptimizer(...)` built inside a loop body",
        ),
    ]

    ANALYSES = (LoopIndex, TfFunctionIndex)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.loops: LoopIndex = self.analysis(LoopIndex)
        self.tf_functions: TfFunctionIndex = self.analysis(TfFunctionIndex)
        self.constructions: list[_Construction] = []
        self.training_calls: list[tuple[cst.Call, Scope, tuple]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            name = func.attr.value
            if name in _TRAINING_METHODS:
                self.training_calls.append((node, self.ctx.scope, self.loops.current))
                return
        elif isinstance(func, cst.Name):
            name = func.value
        else:
            return
        if not name[:1].isupper():
            return
        scope = self.ctx.scope
        if not self.loops.current and scope.function() is None:
            return
        stack = self.ctx.stack
        self.constructions.append(
            _Construction(node, scope, self.loops.current, stack[-1] if stack else None, stack[-2] if len(stack) > 1 else None)
        )

    def finish(self) -> None:
        sem = self.ctx.semantic
        for c in self.constructions:
            q = sem.qualified_name(c.call.func, c.scope)
            if not is_optimizer_class(q):
                continue
            label = f"`{q.rsplit('.', 1)[-1]}(...)`"
            traced = self.tf_functions.traced_scope(c.scope)
            if traced is not None and not self.tf_functions.runs_eagerly:
                fn = c.scope.function()
                where = f"`{fn.node.name.value}`" if fn is not None and isinstance(fn.node, cst.FunctionDef) else "a traced function"
                self.report(
                    c.call,
                    f"{label} built inside the tf.function {where}: its variables raise ValueError when traced "
                    f"(Keras 2 and 3). Build it once, outside.",
                )
                continue
            if c.loops:
                if self._deliberate_in_loop(c, c.loops[-1]):
                    continue
                loop = c.loops[-1]
                kind = self.loops.kind(loop)
                per = {"batches": "batch", "epochs": "epoch"}.get(kind, f"turn of `{self.loops.header(loop)}`")
                self.report(
                    c.call,
                    f"{label} built inside a loop body: its state (`iterations`, moments) restarts every {per}.",
                )
                continue
            step = self._step_function(c)
            if step is not None:
                self.report(
                    c.call,
                    f"{label} built inside `{step.name.value}`, called in a loop: its state (`iterations`, moments) "
                    f"restarts every call.",
                )

    # ------------------------------------------------------------------ helpers
    def _deliberate_in_loop(self, c: _Construction, loop: cst.CSTNode) -> bool:
        """A new model each turn (folds, trials), a stage that changes what is trained (staged
        fine-tuning, progressive growing: the model compiled with it is rebound or grown in the
        loop), or one optimizer per entry of a container."""
        compiled = _compiled_model(c)
        if self.loops.rebuilds_model(loop) or self.loops.changes_what_trains(loop, compiled, c.scope):
            return True
        return _stored_in_container(c)

    def _step_function(self, c: _Construction) -> Optional[cst.FunctionDef]:
        """The function around `c` when it trains with this optimizer and is called in a loop
        that does not rebuild the model, and does not build a model itself."""
        fn_scope = c.scope.function()
        if fn_scope is None or not isinstance(fn_scope.node, cst.FunctionDef) or fn_scope is not c.scope:
            return None
        fn = fn_scope.node
        name = _assigned_name(c)
        trains = any(
            s is fn_scope
            and isinstance(call.func, cst.Attribute)
            and (
                call.func.value is c.call
                or (name is not None and isinstance(call.func.value, cst.Name) and call.func.value.value == name)
            )
            for call, s, _ in self.training_calls
        )
        if not trains:
            return None
        sem = self.ctx.semantic
        for bindings in fn_scope.names.values():
            for b in bindings:
                if b.kind in ("assign", "annassign") and isinstance(b.value, cst.Call) and builds_model(sem, b.value, b.scope):
                    return None
        called_in_loop = False
        for lc in self.loops.calls:
            callee = self._callee_def(lc.call.func, lc.scope)
            if callee is fn:
                if self.loops.rebuilds_model(lc.loops[-1]):
                    return None
                called_in_loop = True
        return fn if called_in_loop else None

    def _callee_def(self, func: cst.BaseExpression, scope: Scope):
        if isinstance(func, cst.Name):
            return self.ctx.semantic.local_def(func, scope)
        return self.tf_functions.method_def(func, scope)


def _assigned_name(c: _Construction) -> Optional[str]:
    p = c.parent
    if isinstance(p, cst.Assign) and len(p.targets) == 1 and isinstance(p.targets[0].target, cst.Name):
        return p.targets[0].target.value
    if isinstance(p, cst.AnnAssign) and isinstance(p.target, cst.Name):
        return p.target.value
    return None


def _compiled_model(c: _Construction) -> Optional[cst.BaseExpression]:
    """`model` in `model.compile(optimizer=Adam(...))` (or `model.compile(Adam(...))`)."""
    p, gp = c.parent, c.grandparent
    if isinstance(p, cst.Arg) and isinstance(gp, cst.Call) and isinstance(gp.func, cst.Attribute) and gp.func.attr.value == "compile":
        return gp.func.value
    return None


def _stored_in_container(c: _Construction) -> bool:
    """`opts.append(Adam())`, `opts[name] = Adam()`, `[Adam(), ...]`: one optimizer per entry."""
    p, gp = c.parent, c.grandparent
    if isinstance(p, cst.Arg) and isinstance(gp, cst.Call) and isinstance(gp.func, cst.Attribute):
        if gp.func.attr.value in _CONTAINER_METHODS:
            return True
    if isinstance(p, (cst.Element, cst.DictElement)):
        return True
    if isinstance(p, cst.Assign) and all(isinstance(t.target, cst.Subscript) for t in p.targets):
        return True
    return False
