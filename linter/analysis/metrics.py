"""Keras metric objects: which expressions are known to be one, and which metric they are.

A metric is the result of a metric class (`keras.metrics.Mean(...)`, `tf.keras.metrics.
SparseCategoricalAccuracy(...)`, `tf.metrics.AUC(...)`, `from keras.metrics import Mean`, every
alias; `keras.src.metrics...` inside Keras itself), an instance of a same-module subclass of one,
a name or `self.<attr>` bound to one, a loop variable over a list/tuple of them or over a known
model's `.metrics`, or the result of a function returning one (a metric factory). Metric
*functions* (`keras.metrics.mean_squared_error`) are not metric objects. Answers come from the
module's bindings (`SemanticModel`), never from source text; unknown gives None.

Names imported from another module of the project (`from metrics import train_loss,
make_metric, F1`) get the same answers through that module's summary (linter.project.summary):
`metric_fact` writes what is known there ({"class": "keras.metrics.Mean", "defines":
["reset_states"]}: the Keras class, and which of `TRACKED` the metric's own classes define) and
the importer reads it back as a `ProjectMetric`. A module-level metric of another module is
`shared`: that module (or any other) may reset it, which this file cannot see.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import libcst as cst

from linter.semantic import Binding, Scope, SemanticModel

_METRIC_NAMESPACES = ("keras.metrics.", "keras.src.metrics.", "tensorflow.metrics.")
TRACKED = ("reset_state", "reset_states", "result", "update_state")  # methods a metric fact lists


@dataclass(frozen=True)
class ProjectMetric:
    """A metric defined in another module of the project, as its summary describes it."""

    qname: str = ""  # the Keras metric class, when it is one ("" for a project subclass)
    defines: frozenset = frozenset()  # which of TRACKED its project classes define themselves
    shared: bool = False  # a module-level object of that module (not a new one per call)


MetricClass = Union[cst.ClassDef, str, ProjectMetric]


def _project_metric(fact, shared: bool) -> Optional[ProjectMetric]:
    """A summary's metric fact read back (None when absent or malformed: it comes from a cache file)."""
    if not isinstance(fact, dict):
        return None
    qname, defines = fact.get("class", ""), fact.get("defines", [])
    if not isinstance(qname, str) or not isinstance(defines, list):
        return None
    return ProjectMetric(qname, frozenset(m for m in defines if m in TRACKED), shared)


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
        self.sem: SemanticModel = getattr(ctx, "semantic", ctx)  # a file's context (or its SemanticModel)

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
                if local is None and self._project_class(base.value, outer) is not None:
                    result = True
                    break
            memo[key] = result
        return memo[key]

    def _project_class(self, node: cst.BaseExpression, scope: Scope) -> Optional[ProjectMetric]:
        """A metric class imported from a project module (`from metrics import F1`)."""
        fact = self.sem.project_fact(node, scope) if self.sem.project is not None else None
        if fact is None or fact.get("kind") != "class":
            return None
        return _project_metric(fact.get("metric"), False)

    def class_defines(self, cls: MetricClass, method: str) -> bool:
        """Does a same-module class (or a same-module or project base of it) define `method`
        itself? For a metric of another project module (`ProjectMetric`): do its classes?"""
        if isinstance(cls, ProjectMetric):
            return method in cls.defines
        if not isinstance(cls, cst.ClassDef):
            return False
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
            if local is None and base.keyword is None:
                imported = self._project_class(base.value, outer)
                if imported is not None and method in imported.defines:
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
            if isinstance(local, cst.FunctionDef):
                return self.returns_metric(local, _depth + 1)
            if local is None and self.sem.project is not None:  # a factory or class of a project module
                fact = self.sem.project_fact(expr.func, scope)
                if fact is not None and fact.get("kind") in ("function", "class"):
                    return _project_metric(fact.get("metric"), False)
            return None
        if isinstance(expr, cst.Attribute) and self.sem.project is not None:  # `metrics.train_loss`
            fact = self.sem.project_fact(expr, scope)
            if fact is not None:
                return _project_metric(fact.get("metric"), True) if fact.get("kind") == "value" else None
        if isinstance(expr, cst.Name) and self.sem.star_imports and not self.sem.lookup(expr.value, scope):
            return self._project_value(self.sem.qualified_name(expr, scope))  # `from metrics import *`
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

    def shared(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """Is `expr` a module-level metric of another project module (which may reset it)?"""
        found = self.metric_class_of(expr, scope)
        return isinstance(found, ProjectMetric) and found.shared

    def returns_metric(self, fn: cst.FunctionDef, _depth: int = 0):
        """A metric factory: what `metric_class_of` gives for every value `fn` returns (they all
        are known metrics; the class when they agree, else the first), or None."""
        key = ("returns_metric", id(fn))
        memo = self.sem._memo
        if key in memo:
            return memo[key]
        memo[key] = None  # recursion guard
        scope = self.sem.scope_for(fn)
        result = None
        if scope is not None and scope.returns and not scope.yields and fn.asynchronous is None and not fn.decorators:
            found = [self.metric_class_of(r, scope, _depth + 1) for r in scope.returns]
            if all(f is not None for f in found):
                result = found[0]
        memo[key] = result
        return result

    def _project_value(self, qname: Optional[str]) -> Optional[ProjectMetric]:
        project = self.sem.project
        fact = project.fact(qname) if project is not None and qname else None
        if fact is None or fact.get("kind") != "value":
            return None
        return _project_metric(fact.get("metric"), True)

    # ------------------------------------------------------------------ project summaries
    def metric_fact(self, found: MetricClass) -> dict:
        """A summary's description of a metric (`metric_class_of`'s answer)."""
        if isinstance(found, ProjectMetric):
            return {"class": found.qname, "defines": sorted(found.defines)}
        if isinstance(found, cst.ClassDef):
            return {"class": "", "defines": [m for m in TRACKED if self.class_defines(found, m)]}
        return {"class": found, "defines": []}

    def summary_fact(self, b: Binding) -> Optional[dict]:
        """The metric fact of a module-level binding: a metric factory (def), a metric class, a
        module-level metric object; None when it is none of these (or not known)."""
        if b.kind == "def" and isinstance(b.value, cst.FunctionDef):
            found = self.returns_metric(b.value)
        elif b.kind == "class" and isinstance(b.value, cst.ClassDef):
            found = b.value if self.is_metric_class(b.value) else None
        elif b.kind in ("assign", "annassign") and b.value is not None:
            found = self.metric_class_of(b.value, b.scope)
        else:
            return None
        return self.metric_fact(found) if found is not None else None

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
        if b.kind == "import":
            return self._project_value(b.qname)
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
