"""EPL205 eager-call-in-tf-function: `.numpy()`, `print`, outer-list appends inside a `tf.function`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.analysis.tf_function import TfFunctionIndex
from linter import edits
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Scope

_EAGER_METHODS = frozenset({"numpy", "item"})
_LIST_METHODS = frozenset({"append", "extend", "insert"})
_LIST_BUILDERS = frozenset({"builtins.list"})
_PRINT_KEYWORDS = frozenset({"sep", "end"})  # understood by tf.print too


@dataclass(eq=False)
class _Candidate:
    call: cst.Call
    scope: Scope
    kind: str  # "eager" | "print" | "append"


class EagerCallInTfFunction(Rule):
    """
    ## What it does
    Inside a `tf.function` (decorated, wrapped with `tf.function(fn)`, or nested in one), flags
    `.numpy()` and `.item()` calls, `print(...)`, and `.append`/`.extend`/`.insert` on a Python
    list that lives outside the function (a module-level list, a closure's list, `self.<list>`).

    ## Why is this bad
    A `tf.function` runs its Python body only while tracing; afterwards it runs the graph.
    Inside the trace a tensor is symbolic: `.numpy()` and `.item()` raise `AttributeError`
    ("'SymbolicTensor' object has no attribute 'numpy'"). `print` and list appends are Python
    side effects: they happen once per trace, not once per call, so a per-step log prints
    once and a list of per-step losses gets one symbolic entry. Measured: 4 calls, 1 trace,
    1 print, 1 append.

    Not flagged: the same code in an undecorated (eager) function, `tf.print`, appends to a
    list created inside the traced function (building a list of tensors while tracing is
    fine), functions handed to `tf.py_function`/`tf.numpy_function` (they run eagerly), and
    modules that call `tf.config.run_functions_eagerly(True)` (nothing is traced).

    ## Example
    ```python
    losses = []

    @tf.function
    def train_step(x, y):
        loss = compute_loss(x, y)
        print("loss", loss)
        losses.append(loss.numpy())
        return loss
    ```
    Use instead:
    ```python
    @tf.function
    def train_step(x, y):
        loss = compute_loss(x, y)
        tf.print("loss", loss)
        return loss

    losses.append(float(train_step(x, y)))
    ```

    ## Fix
    `print(...)` -> `tf.print(...)` is offered as an unsafe fix (`--unsafe-fixes`): it changes
    when and how often the line prints, and formatting done in Python (f-strings, `%`,
    `.format`) still happens at trace time, so those calls get no fix. Move `.numpy()` and
    appends out of the traced function: return the tensor and convert it outside.
    """

    code = "EPL205"
    name = "eager-call-in-tf-function"
    summary = "`.numpy()`, `print` or an outer-list append inside a tf.function: error or once per trace"
    claim = (
        "Inside a `tf.function`, `.numpy()` raises AttributeError at trace time; `print(...)` and appends to "
        "outer Python lists run once per trace, not per call (use `tf.print`) (Keras 2 and 3). Measured: 4 calls, "
        "1 trace, 1 print, 1 append."
    )
    witness = "AttributeError for .numpy() in a tf.function; print count == append count == trace count == 1 after 4 calls"
    fires_on = {"call": ("numpy", "item", "print", "append", "extend", "insert")}
    fixable = "unsafe"

    VALID = [
        # an undecorated (eager) step: .numpy(), print and appends are fine
        Valid(
            """
            import tensorflow as tf

            history = []

            def train_step(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                print("loss", loss.numpy())
                history.append(loss.numpy().item())
                return loss

            for x, y in dataset:
                train_step(x, y)
            """
        ),
        # tf.print inside, .numpy() outside
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(x - y))
                tf.print("loss", loss)
                return loss

            losses = []
            for x, y in dataset:
                losses.append(train_step(x, y).numpy())
            print(losses[-1])
            """
        ),
        # a list built while tracing, then stacked: fine
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def unrolled(x):
                outputs = []
                for i in range(3):
                    outputs.append(x * i)
                return tf.stack(outputs)
            """
        ),
        # a function given to tf.py_function runs eagerly
        Valid(
            """
            import tensorflow as tf

            @tf.function
            def step(x):
                def log(v):
                    print(v.numpy())
                    return v
                return tf.py_function(log, [x], tf.float32)
            """
        ),
        # `step` is wrapped, but the plain function is also called eagerly: only the wrapper traces
        Valid(
            """
            import tensorflow as tf

            def helper(x):
                return x.numpy()

            def step(x):
                return x + 1

            compiled = tf.function(step)
            helper(tf.constant(1.0))
            """
        ),
        # `print` imported from another library is not the builtin
        Valid(
            """
            import tensorflow as tf
            from rich import print

            @tf.function
            def step(x):
                print("tracing")
                return x
            """
        ),
        # tf.config.run_functions_eagerly(True): tf.functions run as plain Python (debugging)
        Valid(
            """
            import tensorflow as tf

            tf.config.run_functions_eagerly(True)

            @tf.function
            def step(x):
                print("x", x.numpy())
                return x
            """
        ),
        # a numpy array's .item() at trace time is a Python number: fine
        Valid(
            """
            import numpy as np
            import tensorflow as tf

            @tf.function
            def scale(x):
                factor = np.float32(2.0)
                table = np.array([1.0, 2.0])
                return x * table.sum().item()
            """
        ),
    ]
    INVALID = [
        Invalid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(x - y))
                print("loss", loss)
                return loss
            """,
            line=6,
            column=5,
            message_contains="once per trace",
            fixed="""
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(x - y))
                tf.print("loss", loss)
                return loss
            """,
            unsafe=True,
        ),
        Invalid(
            """
            import tensorflow as tf

            @tf.function(jit_compile=True)
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(x - y))
                return loss.numpy()
            """,
            line=6,
            column=12,
            message_contains="AttributeError",
        ),
        # appends to a module-level list
        Invalid(
            """
            import tensorflow as tf

            losses = []

            @tf.function
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(x - y))
                losses.append(loss)
                return loss
            """,
            line=8,
            column=5,
            message_contains="once per trace",
        ),
        # wrapped with tf.function(fn); `from tensorflow import function`
        Invalid(
            """
            from tensorflow import function
            import tensorflow as tf

            def step(x):
                return x.item()

            fast_step = function(step)
            """,
            line=5,
            column=12,
            message_contains="`.item()` inside the tf.function `step`",
        ),
        # a method wrapped through self, appending to self.<list>
        Invalid(
            """
            import tensorflow as tf

            class Trainer:
                def __init__(self):
                    self.history = []
                    self.step = tf.function(self._step)

                def _step(self, x):
                    self.history.append(x)
                    return x
            """,
            line=9,
            column=9,
            message_contains="`.append(...)` to an outer Python list inside the tf.function `_step` runs once",
        ),
        # a nested function inside a traced one is traced too; the f-string gets no fix
        Invalid(
            """
            import tensorflow as tf

            @tf.function
            def outer(x):
                def inner(v):
                    print(f"value {v}")
                    return v
                return inner(x)
            """,
            line=6,
            column=9,
            message_contains="`print(...)` inside the tf.function `outer` runs once per trace, not per call.",
        ),
        Invalid(
            """
            import tensorflow as tf

            class Model(tf.keras.Model):
                @tf.function
                def train_step(self, data):
                    x, y = data
                    print("step", x.shape, sep=" ")
                    return {}
            """,
            line=7,
            column=9,
            message_contains="`print(...)` inside the tf.function `train_step` runs once per trace, not per",
            fixed="""
            import tensorflow as tf

            class Model(tf.keras.Model):
                @tf.function
                def train_step(self, data):
                    x, y = data
                    tf.print("step", x.shape, sep=" ")
                    return {}
            """,
            unsafe=True,
        ),
        Invalid(
            """
            import tensorflow as tf

            step = tf.function(lambda x: print(x))
            """,
            line=3,
            column=30,
            message_contains="`print(...)` inside the tf.function (a lambda) runs once per trace, not per",
        ),
        # the unsafe fix also drops `.numpy()` (it would still fail while tracing) from print's arguments
        Invalid(
            """
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(x - y))
                print("loss", loss.numpy(), x.numpy().item())
                return loss
            """,
            line=6,
            column=5,
            also=((6, 19), (6, 33), (6, 33)),
            message_contains=")` inside the tf.function `train_step` r",
            fixed="""
            import tensorflow as tf

            @tf.function
            def train_step(x, y):
                loss = tf.reduce_mean(tf.square(x - y))
                tf.print("loss", loss, x)
                return loss
            """,
            unsafe=True,
        ),
    ]

    ANALYSES = (TfFunctionIndex,)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.index: TfFunctionIndex = self.analysis(TfFunctionIndex)
        self.candidates: list[_Candidate] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            name = func.attr.value
            if name in _EAGER_METHODS:
                kind = "eager" if not node.args else None
            elif name in _LIST_METHODS:
                kind = "append"
            else:
                return
        elif isinstance(func, cst.Name) and func.value == "print":
            kind = "print"
        else:
            return
        if kind is None:
            return
        scope = self.ctx.scope
        if scope.function() is None:
            return
        self.candidates.append(_Candidate(node, scope, kind))

    def finish(self) -> None:
        if not self.candidates or not self.index.applications() or self.index.runs_eagerly:
            return
        sem = self.ctx.semantic
        for c in self.candidates:
            traced = self.index.traced_scope(c.scope)
            if traced is None:
                continue
            where = _where(traced)
            if c.kind == "print":
                if sem.qualified_name(c.call.func, c.scope) != "builtins.print":
                    continue
                self.report(
                    c.call,
                    f"`print(...)` inside the tf.function {where} runs once per trace, not per call. "
                    f"Use `tf.print(...)`.",
                    self._print_fix(c.call, c.scope),
                )
            elif c.kind == "eager":
                method = c.call.func.attr.value
                if self._numpy_receiver(c.call.func.value, c.scope):
                    continue
                self.report(
                    c.call,
                    f"`.{method}()` inside the tf.function {where} raises AttributeError while tracing (symbolic "
                    f"tensor). Convert it outside.",
                )
            else:
                receiver = c.call.func.value
                if not self._outer_list(receiver, c.scope):
                    continue
                method = c.call.func.attr.value
                self.report(
                    c.call,
                    f"`.{method}(...)` to an outer Python list inside the tf.function {where} runs once per trace, "
                    f"not per call: one symbolic entry.",
                )

    # ------------------------------------------------------------------ helpers
    def _outer_list(self, receiver: cst.BaseExpression, scope: Scope) -> bool:
        """A list created outside every traced function: a module/closure name or `self.<attr>`."""
        sem = self.ctx.semantic
        if isinstance(receiver, cst.Name):
            bindings = sem.lookup(receiver.value, scope)
        elif isinstance(receiver, cst.Attribute) and isinstance(receiver.value, cst.Name):
            cls_scope = scope.class_scope()
            if cls_scope is None or not sem.is_self_param(receiver.value.value, scope):
                return False
            bindings = sem.class_attrs.get(id(cls_scope.node), {}).get(receiver.attr.value, [])
        else:
            return False
        if not bindings:
            return False
        for b in bindings:
            if b.kind not in ("assign", "annassign") or not self._is_list(b.value, b.scope):
                return False
            if self.index.traced_scope(b.scope) is not None:
                return False  # created while tracing: a trace-time list
        return True

    def _is_list(self, value, scope: Scope) -> bool:
        if isinstance(value, (cst.List, cst.ListComp)):
            return True
        return isinstance(value, cst.Call) and self.ctx.semantic.qualified_name(value.func, scope) in _LIST_BUILDERS

    def _numpy_receiver(self, receiver: cst.BaseExpression, scope: Scope) -> bool:
        """Receivers known to be NumPy values (`np.array(...)`, `arr.sum()` of one): `.item()` works."""
        sem = self.ctx.semantic
        node = receiver
        for _ in range(8):
            if isinstance(node, cst.Call):
                q = sem.qualified_name(node.func, scope)
                if q is not None:
                    return q.split(".", 1)[0] == "numpy"
                if isinstance(node.func, cst.Attribute):
                    node = node.func.value
                    continue
                return False
            if isinstance(node, cst.Name):
                bindings = sem.lookup(node.value, scope)
                if len(bindings) == 1 and bindings[0].kind == "assign" and bindings[0].value is not None:
                    node, scope = bindings[0].value, bindings[0].scope
                    continue
                return False
            if isinstance(node, cst.Subscript):
                node = node.value
                continue
            return False
        return False

    def _print_fix(self, call: cst.Call, scope: Scope) -> Optional[edits.EditFix]:
        alias = self.index.tensorflow_alias()
        if alias is None:
            return None
        for a in call.args:
            if a.keyword is not None and a.keyword.value not in _PRINT_KEYWORDS:
                return None  # file=, flush=: tf.print spells them differently
            if a.star:
                continue
            if _formatted_in_python(a.value):
                return None
        # the alias must mean tensorflow where the call is
        if self.ctx.semantic.qualified_name(cst.Name(alias), scope) != "tensorflow":
            return None
        fix = edits.replace_callee(call, f"{alias}.print", "unsafe", f"print -> {alias}.print")
        for arg in call.args:
            inner = _without_eager_conversion(arg.value)
            if inner is not arg.value:
                fix = fix + edits.keep_inner(arg.value, inner, "unsafe")
        return fix


def _where(traced) -> str:
    target = traced.target
    if isinstance(target, cst.FunctionDef):
        return f"`{target.name.value}`"
    return "(a lambda)" if isinstance(target, cst.Lambda) else ""


def _without_eager_conversion(node: cst.BaseExpression) -> cst.BaseExpression:
    """`loss.numpy()` / `loss.numpy().item()` -> `loss`: tf.print prints the tensor itself, and
    `.numpy()` would still fail while tracing."""
    while (
        isinstance(node, cst.Call)
        and not node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in _EAGER_METHODS
        and not node.lpar
    ):
        node = node.func.value
    return node


def _formatted_in_python(node: cst.BaseExpression) -> bool:
    """f-strings, `"..." % x` and `"...".format(x)` format at trace time."""
    if isinstance(node, cst.FormattedString):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
        return isinstance(node.left, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "format":
        return True
    if isinstance(node, cst.ConcatenatedString):
        return _formatted_in_python(node.left) or _formatted_in_python(node.right)
    return False
