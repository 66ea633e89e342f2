"""`tf.function` in every form, and which code it traces.

Forms: `@tf.function`, `@tf.function(...)` (`jit_compile=True`, `reduce_retracing=True`,
`input_signature=...`), `@function` after `from tensorflow import function`, aliases,
`step = tf.function(fn)`, `tf.function(self.step)`, `tf.function(lambda ...)`, decorated
methods. A function defined inside a traced function is traced too, except one handed to
`tf.py_function`/`tf.numpy_function` (those run eagerly).

`TfFunctionIndex` is a shared walk-time collector (`ctx.analysis(TfFunctionIndex)`): it keeps
syntactic candidates (decorated defs, calls that may be `tf.function(...)`) during the walk;
every answer is decided in `finish()` through the module's imports and bindings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.analysis.calls import RUN_EAGERLY as RUN_EAGERLY_PARAMS
from linter.analysis.calls import TF_FUNCTION as TF_FUNCTION_PARAMS
from linter.analysis.calls import argument, find_argument

from linter.analysis.loops import LoopIndex
from linter.semantic import Scope, SemanticModel

TF_FUNCTION = frozenset(
    {
        "tensorflow.function",
        "tensorflow.python.eager.def_function.function",
        "tensorflow.python.eager.polymorphic_function.polymorphic_function.function",
    }
)
EAGER_WRAPPERS = frozenset(
    {
        "tensorflow.py_function",
        "tensorflow.numpy_function",
        "tensorflow.py_func",
        "tensorflow.compat.v1.py_func",
        "tensorflow.compat.v1.py_function",
        "tensorflow.compat.v1.numpy_function",
    }
)
RUN_EAGERLY = frozenset(
    {"tensorflow.config.run_functions_eagerly", "tensorflow.config.experimental_run_functions_eagerly"}
)
_WRAPPER_NAMES = TF_FUNCTION | EAGER_WRAPPERS | RUN_EAGERLY
# Attribute names that may end a `tf.function` / `tf.py_function` spelling (a cheap pre-filter;
# the decision is the qualified name).
_CANDIDATE_ATTRS = frozenset(
    {"function", "py_function", "numpy_function", "py_func", "run_functions_eagerly", "experimental_run_functions_eagerly"}
)


@dataclass(eq=False)
class Traced:
    """One application of `tf.function`: where (`site`: the decorator or the call), on what
    (`target`: the FunctionDef/Lambda traced, None when it is not a same-module function),
    with which arguments (`call`: the `tf.function(...)` call, also a decorator's)."""

    site: cst.CSTNode
    target: Optional[cst.CSTNode]
    call: Optional[cst.Call]
    scope: Scope  # where `tf.function` is applied
    loops: tuple  # loops around the site, in its own frame
    decorator: bool
    wrapped: Optional[cst.BaseExpression] = None  # call forms: the expression handed to tf.function
    ancestors: tuple = ()  # nodes enclosing the site (a decorator's: its def's), outermost first

    def keyword(self, name: str) -> Optional[cst.Arg]:
        return None if self.call is None else find_argument(self.call, name)[0]

    @property
    def has_input_signature(self) -> bool:
        """An `input_signature` makes tf.function convert Python numbers to tensors: no retrace."""
        arg = self.keyword("input_signature")
        return arg is not None and not (isinstance(arg.value, cst.Name) and arg.value.value == "None")


class TfFunctionIndex:
    """Per-file `tf.function` facts (see the module docstring)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.sem: SemanticModel = ctx.semantic
        self.loops: LoopIndex = ctx.analysis(LoopIndex)
        self._defs: list[tuple[cst.FunctionDef, Scope, tuple]] = []
        self._calls: list[tuple[cst.Call, Scope, tuple, bool, tuple]] = []
        self._resolved: Optional[list[Traced]] = None
        self._traced_nodes: dict[int, Traced] = {}
        self._by_call: dict[int, Traced] = {}
        self._eager: set[int] = set()
        self._runs_eagerly = False

    # ------------------------------------------------------------------ walk
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.decorators:
            outer = self.sem.scope.parent or self.sem.module_scope  # the semantic model entered the def
            self._defs.append((node, outer, tuple(self.ctx.stack)))

    def visit_Call(self, node: cst.Call) -> None:
        stack = self.ctx.stack
        parent = stack[-1] if stack else None
        if isinstance(parent, cst.Decorator):
            return  # `@tf.function(...)`: recorded with its def
        is_callee = isinstance(parent, cst.Call) and parent.func is node
        func = node.func
        if isinstance(func, cst.Call):
            func = func.func
        if isinstance(func, cst.Attribute):
            if func.attr.value not in _CANDIDATE_ATTRS:
                return
        elif isinstance(func, cst.Name):
            # a cheap look at the current and the module scope only: `function` imported from
            # tensorflow, or an alias assigned from an expression (decided in `applications`)
            name = func.value
            bindings = self.sem.scope.names.get(name) or self.sem.module_scope.names.get(name)
            if not bindings or not any(
                (b.kind == "import" and b.qname in _WRAPPER_NAMES) or (b.kind in ("assign", "annassign") and isinstance(b.value, (cst.Name, cst.Attribute)))
                for b in bindings
            ):
                return
        else:
            return
        if node.args:
            self._calls.append((node, self.sem.scope, self.loops.current, is_callee, tuple(stack)))

    # ------------------------------------------------------------------ decisions
    def is_tf_function(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        return self.sem.qualified_name(expr, scope) in TF_FUNCTION

    @property
    def runs_eagerly(self) -> bool:
        """`tf.config.run_functions_eagerly(True)` in the module: tf.functions run as plain Python."""
        self.applications()
        return self._runs_eagerly

    def applications(self) -> list[Traced]:
        """Every `tf.function` application in the module (decorators and calls)."""
        if self._resolved is not None:
            return self._resolved
        out: list[Traced] = []
        for node, outer, ancestors in self._defs:
            for dec in node.decorators:
                expr = dec.decorator
                call = expr if isinstance(expr, cst.Call) else None
                if self.is_tf_function(call.func if call is not None else expr, outer):
                    t = Traced(dec, node, call, outer, self.loops.def_loops.get(id(node), ()), True, None, ancestors)
                    out.append(t)
                    self._traced_nodes[id(node)] = t
                    break
        for call, scope, loops, is_callee, ancestors in self._calls:
            if isinstance(call.func, cst.Call):  # `tf.function(jit_compile=True)(fn)`
                factory = call.func
                if self.is_tf_function(factory.func, scope) and argument(factory, "func", TF_FUNCTION_PARAMS) is None:
                    wrapped = argument(call, "func", TF_FUNCTION_PARAMS)
                    target = self._function_node(wrapped, scope) if wrapped is not None else None
                    t = Traced(call, target, factory, scope, loops, False, wrapped, ancestors)
                    out.append(t)
                    self._by_call[id(call)] = t
                    if target is not None:
                        self._traced_nodes.setdefault(id(target), t)
                continue
            q = self.sem.qualified_name(call.func, scope)
            if q in TF_FUNCTION:
                wrapped = argument(call, "func", TF_FUNCTION_PARAMS)
                if wrapped is None and is_callee:
                    continue  # the factory of `tf.function(...)(fn)`: recorded as the outer call
                target = self._function_node(wrapped, scope) if wrapped is not None else None
                t = Traced(call, target, call, scope, loops, False, wrapped, ancestors)
                out.append(t)
                self._by_call[id(call)] = t
                if target is not None:
                    self._traced_nodes.setdefault(id(target), t)
            elif q in RUN_EAGERLY:
                flag = argument(call, "run_eagerly", RUN_EAGERLY_PARAMS)
                if isinstance(flag, cst.Name) and flag.value == "True":
                    self._runs_eagerly = True
            elif q in EAGER_WRAPPERS:
                fn = argument(call, "func", TF_FUNCTION_PARAMS)
                target = self._function_node(fn, scope) if fn is not None else None
                if target is not None:
                    self._eager.add(id(target))
        self._resolved = out
        return out

    def _function_node(self, expr: cst.BaseExpression, scope: Scope) -> Optional[cst.CSTNode]:
        """The same-module FunctionDef/Lambda an expression names (`fn`, `self.method`, a lambda)."""
        if isinstance(expr, cst.Lambda):
            return expr
        if isinstance(expr, cst.Name):
            local = self.sem.local_def(expr, scope)
            return local if isinstance(local, cst.FunctionDef) else None
        return self.method_def(expr, scope)

    def method_def(self, expr: cst.BaseExpression, scope: Scope) -> Optional[cst.FunctionDef]:
        """`self.name` inside a method -> the class's own `def name` (same class body)."""
        if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name)):
            return None
        cls_scope = scope.class_scope()
        if cls_scope is None or not self.sem.is_self_param(expr.value.value, scope):
            return None
        for b in reversed(cls_scope.names.get(expr.attr.value, [])):
            if b.kind == "def":
                return b.value
        return None

    def traced_by(self, fn_node: cst.CSTNode) -> Optional[Traced]:
        self.applications()
        return self._traced_nodes.get(id(fn_node))

    def traced_scope(self, scope: Scope) -> Optional[Traced]:
        """The `tf.function` application that traces code running in `scope`, if any (a nested
        function of a traced one is traced; one given to `tf.py_function` runs eagerly)."""
        self.applications()
        s: Optional[Scope] = scope
        while s is not None:
            if s.kind in ("function", "lambda"):
                if id(s.node) in self._eager:
                    return None
                found = self._traced_nodes.get(id(s.node))
                if found is not None:
                    return found
            s = s.parent
        return None

    def callee(self, func: cst.BaseExpression, scope: Scope) -> Optional[Traced]:
        """The `tf.function` a called expression refers to: a decorated def (`step`,
        `self.step`) or a name/attribute bound to `tf.function(...)`."""
        self.applications()
        if isinstance(func, cst.Name):
            bindings = self.sem.lookup(func.value, scope)
            for b in reversed(bindings):
                if b.kind == "def":  # only a decorated def is a tf.function when called by its name
                    t = self._traced_nodes.get(id(b.value))
                    return t if t is not None and t.decorator else None
                if b.kind in ("assign", "annassign") and isinstance(b.value, cst.Call):
                    return self._by_call.get(id(b.value))
            return None
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            cls_scope = scope.class_scope()
            if cls_scope is None or not self.sem.is_self_param(func.value.value, scope):
                return None
            attrs = self.sem.class_attrs.get(id(cls_scope.node), {}).get(func.attr.value)
            if attrs:
                for b in reversed(attrs):
                    if isinstance(b.value, cst.Call) and id(b.value) in self._by_call:
                        return self._by_call[id(b.value)]
                return None
            method = self.method_def(func, scope)
            if method is not None:
                t = self._traced_nodes.get(id(method))
                return t if t is not None and t.decorator else None
        return None

    def tensorflow_alias(self) -> Optional[str]:
        """The module-level name bound to `tensorflow` (e.g. `tf`), for fixes that add `tf.X`."""
        for name, bindings in self.sem.module_scope.names.items():
            if any(b.kind == "import" and b.qname == "tensorflow" for b in bindings) and all(
                b.kind == "import" and b.qname == "tensorflow" for b in bindings
            ):
                return name
        return None
