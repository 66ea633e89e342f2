"""Keras metric objects: which expressions are known to be one, and which metric they are.

A metric is the result of a metric class (`keras.metrics.Mean(...)`, `tf.keras.metrics.
SparseCategoricalAccuracy(...)`, `tf.metrics.AUC(...)`, `from keras.metrics import Mean`, every
alias; `keras.src.metrics...` inside Keras itself), an instance of a same-module subclass of one,
a name or `self.<attr>` bound to one, a loop variable over a list/tuple of them or over a known
model's `.metrics`. Metric *functions* (`keras.metrics.mean_squared_error`) are not metric
objects. Answers come from the module's bindings (`SemanticModel`), never from source text;
unknown gives None.
"""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.semantic import Binding, Scope, SemanticModel

_METRIC_NAMESPACES = ("keras.metrics.", "keras.src.metrics.", "tensorflow.metrics.")
_MAX_DEPTH = 10
ALL_MODEL_METRICS = "all-model-metrics"  # key of "every metric of this model" (`model.metrics`)


def is_metric_class_name(q: Optional[str]) -> bool:
    """`keras.metrics.Mean`, `keras.src.metrics.reduction_metrics.Mean`, ... (a class, not a function)."""
    if q is None or not q.startswith(_METRIC_NAMESPACES):
        return False
    last = q.rsplit(".", 1)[-1]
    return last[:1].isupper()


class Metrics:
    """Metric questions for one file; a rule declares it in `ANALYSES` (one instance per file)."""

    def __init__(self, ctx) -> None:
        self.sem: SemanticModel = ctx.semantic

    # ------------------------------------------------------------------ classes
    def is_metric_class(self, cls: cst.ClassDef) -> bool:
        key = ("metric_class", id(cls))
        memo = self.sem._memo
        if key not in memo:
            memo[key] = False
            scope = self.sem.scope_for(cls)
            outer = (scope.parent if scope is not None else None) or self.sem.module_scope
            result = False
            for base in cls.bases:
                if base.keyword is not None:
                    continue
                if is_metric_class_name(self.sem.qualified_name(base.value, outer)):
                    result = True
                    break
                local = self.sem.local_def(base.value, outer)
                if isinstance(local, cst.ClassDef) and self.is_metric_class(local):
                    result = True
                    break
            memo[key] = result
        return memo[key]

    def class_defines(self, cls: cst.ClassDef, method: str) -> bool:
        """Does a same-module class (or a same-module base of it) define `method` itself?"""
        scope = self.sem.scope_for(cls)
        if scope is None:
            return False
        if any(b.kind == "def" for b in scope.names.get(method, [])):
            return True
        outer = scope.parent or self.sem.module_scope
        for base in cls.bases:
            local = self.sem.local_def(base.value, outer)
            if isinstance(local, cst.ClassDef) and local is not cls and self.class_defines(local, method):
                return True
        return False

    # ------------------------------------------------------------------ objects
    def metric_class_of(self, expr: cst.BaseExpression, scope: Scope, _depth: int = 0):
        """For a known metric: the same-module ClassDef it is an instance of, or the qualified
        name of the Keras class; None when `expr` is not known to be a metric."""
        if _depth > _MAX_DEPTH:
            return None
        if isinstance(expr, cst.Call):
            q = self.sem.qualified_name(expr.func, scope)
            if is_metric_class_name(q):
                return q
            local = self.sem.local_def(expr.func, scope)
            if isinstance(local, cst.ClassDef) and self.is_metric_class(local):
                return local
            return None
        key = _memo_key(expr, scope)
        if key is None:
            return None
        memo = self.sem._memo
        if key in memo:
            return memo[key]
        memo[key] = None  # recursion guard
        result = None
        for b in self._bindings(expr, scope):
            found = self._binding_class(b, _depth)
            if found is not None:
                result = found
                break
        memo[key] = result
        return result

    def is_metric(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        return self.metric_class_of(expr, scope) is not None

    def known_not_metric(self, expr: cst.BaseExpression, scope: Scope, _depth: int = 0) -> bool:
        """Is `expr` known to be something other than a metric (a layer, a model, a literal, the
        result of a resolved non-metric call)? `--strict` rules fire on the rest."""
        if _depth > _MAX_DEPTH:
            return False
        if isinstance(expr, cst.Call):
            if self.metric_class_of(expr, scope) is not None:
                return False
            if self.sem.model_provenance(expr, scope) is True:
                return True
            local = self.sem.local_def(expr.func, scope)
            if isinstance(local, cst.ClassDef):
                return not self.is_metric_class(local) and self.sem.class_derives_from(local, frozenset()) is False
            q = self.sem.qualified_name(expr.func, scope)
            return q is not None and not is_metric_class_name(q) and not q.startswith(_METRIC_NAMESPACES)
        if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString, cst.List, cst.Tuple, cst.Dict)):
            return True
        if self.sem.model_provenance(expr, scope) is True:
            return True
        bindings = self._bindings(expr, scope)
        if not bindings:
            return False
        for b in bindings:
            if b.kind in ("assign", "annassign") and b.value is not None:
                if not self.known_not_metric(b.value, b.scope, _depth + 1):
                    return False
            elif b.kind == "for" and isinstance(b.stmt, cst.For) and _is_layers_attr(b.stmt.iter):
                continue  # `for layer in model.layers`
            elif b.kind not in ("import", "def", "class"):
                return False
        return True

    def _binding_class(self, b: Binding, depth: int):
        if b.kind in ("assign", "annassign") and b.value is not None:
            return self.metric_class_of(b.value, b.scope, depth + 1)
        if b.kind == "for" and isinstance(b.stmt, cst.For):
            elements = self.collection(b.stmt.iter, b.scope, depth + 1)
            if elements and isinstance(b.stmt.target, cst.Name):
                classes = [self.metric_class_of(e, s, depth + 1) for e, s in elements]
                return classes[0] if classes and all(c is not None for c in classes) else None
            return None
        if b.kind == "param" and b.annotation is not None:
            q = self.sem.qualified_name(b.annotation, b.scope.parent or self.sem.module_scope)
            if is_metric_class_name(q):
                return q
        return None

    def _bindings(self, expr: cst.BaseExpression, scope: Scope) -> list[Binding]:
        """Bindings of a Name, or of `self.<attr>` inside a method."""
        if isinstance(expr, cst.Name):
            return self.sem.lookup(expr.value, scope)
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            cls_scope = scope.class_scope()
            if cls_scope is not None and self.sem.is_self_param(expr.value.value, scope):
                return self.sem.class_attrs.get(id(cls_scope.node), {}).get(expr.attr.value, [])
        return []

    def collection(self, expr: cst.BaseExpression, scope: Scope, _depth: int = 0) -> Optional[list]:
        """Elements (expression, scope) of a list/tuple literal of known metrics (also through a
        name, or a dict literal's `.values()`); None when not known to be one."""
        if _depth > _MAX_DEPTH:
            return None
        if isinstance(expr, (cst.List, cst.Tuple)) and expr.elements:
            els = [(e.value, scope) for e in expr.elements if not isinstance(e, cst.StarredElement)]
            if len(els) == len(expr.elements) and all(self.is_metric(e, s) for e, s in els):
                return els
            return None
        if (
            isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value == "values" and not expr.args
        ):
            d = expr.func.value
            values = self._dict_literal(d, scope, _depth)
            if values and all(self.is_metric(e, s) for e, s in values):
                return values
            return None
        bindings = self._bindings(expr, scope)
        if len(bindings) == 1 and bindings[0].kind in ("assign", "annassign") and bindings[0].value is not None:
            return self.collection(bindings[0].value, bindings[0].scope, _depth + 1)
        return None

    def _dict_literal(self, expr, scope, depth):
        if isinstance(expr, cst.Dict):
            out = []
            for el in expr.elements:
                if not isinstance(el, cst.DictElement):
                    return None
                out.append((el.value, scope))
            return out
        bindings = self._bindings(expr, scope)
        if len(bindings) == 1 and bindings[0].kind in ("assign", "annassign") and depth < _MAX_DEPTH:
            return self._dict_literal(bindings[0].value, bindings[0].scope, depth + 1)
        return None

    def is_model_metrics(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """`model.metrics` of a known Keras model (also `self.metrics` in a Model subclass)."""
        if not (isinstance(expr, cst.Attribute) and expr.attr.value == "metrics"):
            return False
        recv = expr.value
        if isinstance(recv, cst.Name) and self.sem.is_self_param(recv.value, scope):
            cls_scope = scope.class_scope()
            return cls_scope is not None and self.sem.is_model_class(cls_scope.node) is True
        return self.sem.model_provenance(recv, scope) is True

    def keys(self, expr: cst.BaseExpression, scope: Scope) -> set:
        """Identities of the metric(s) an expression may be: the binding site of a name
        (`("name", id(scope), name)`), of `self.<attr>` (`("attr", id(class), attr)`); every
        element for a loop variable over a collection; `ALL_MODEL_METRICS` for `model.metrics`."""
        if isinstance(expr, cst.Name):
            bindings = self.sem.lookup(expr.value, scope)
            if not bindings:
                return set()
            for b in bindings:
                if b.kind == "for" and isinstance(b.stmt, cst.For):
                    if self.is_model_metrics(b.stmt.iter, b.scope):
                        return {ALL_MODEL_METRICS}
                    elements = self.collection(b.stmt.iter, b.scope)
                    if elements:
                        out: set = set()
                        for e, s in elements:
                            out |= self.keys(e, s)
                        return out
            return {("name", id(bindings[0].scope), expr.value)}
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            cls_scope = scope.class_scope()
            if cls_scope is not None and self.sem.is_self_param(expr.value.value, scope):
                return {("attr", id(cls_scope.node), expr.attr.value)}
        return set()

    def construction_bindings(self, key) -> list[Binding]:
        """Bindings that (re)create the metric `key` names, for "recreated each epoch"."""
        if not isinstance(key, tuple):
            return []
        kind, owner, name = key
        if kind == "name":
            for scope in self._scopes():
                if id(scope) == owner:
                    return [b for b in scope.names.get(name, []) if b.kind in ("assign", "annassign")]
            return []
        return [b for b in self.sem.class_attrs.get(owner, {}).get(name, []) if b.kind in ("assign", "annassign")]

    def _scopes(self):
        yield self.sem.module_scope
        yield from self.sem.scope_of_node.values()


def _is_layers_attr(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Attribute) and expr.attr.value in ("layers", "submodules", "_flatten_layers")


def _memo_key(expr: cst.BaseExpression, scope: Scope) -> Optional[tuple]:
    """Memo key of a Name or `self.<attr>` seen from a scope (None: not a name we resolve)."""
    if isinstance(expr, cst.Name):
        return ("metric", id(scope), expr.value)
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        return ("metric", id(scope), expr.value.value, expr.attr.value)
    return None
