"""A module's summary: what importers need to know of it, small and JSON-serialisable.

Computed from the module's `SemanticModel` after its walk (the check's own model when the module
is checked in this run, so no file is parsed twice), with the summaries of the modules it
imports already available through its `ProjectView`. It does not depend on who imports it:

    {"v": 2, "keras": bool, "all": [names] | null, "broken": bool,
     "names": {name: fact}}

A fact describes a module-level name as it stands at the end of the module (the bindings that
reach the end; several merge into "unknown" unless they agree):

    {"kind": "function", "model": true|false}        returns a Keras model (or never does)
        + "contents": {"training": [...], "regularizers": [...], "complete": bool}
    {"kind": "class", "model": true|false}            a keras.Model subclass (or not)
        + "contents" for a model class
    {"kind": "value", "model": true|false}            a module-level model (or not)
    {"kind": "module", "module": key}                 a project module (`from . import nets`)
    {"kind": "import", "qname": "keras.Sequential"}   a re-exported third-party name

A function, class or value fact may also carry what the data and metric analyses know (the
"model" key is then absent when nothing is known of models):

    "data": {"kind": "dataset"|"generator"|"iterator"|"pydataset"|"array"|"list"|...,
             "infinite": true, "why": "...", "finite": true, "reshuffles": "...",
             "repeat": 3 | null, "batch_size": 1 | null}
                                              (all but "kind" optional; `Data`'s fields; null:
                                               given, but its value is not known)
          | {"items": [data | null, ...]}     a tuple (`return train_ds, val_ds`)
        what a call returns (a dataset builder), what a class's instances are (a PyDataset
        subclass), what a value is (`train_ds = ...repeat()`); a function whose result depends
        on what its callers pass (a parameter read, or steering a branch: `repeat=True`) has
        none (linter.analysis.datasets: `DataFlow.returned_fact`, `fact_data`)
    "random": "`tf.image.random_flip_left_right`"
        calling it draws new random values (a map function, a Sequential of Random* layers):
        what does (`DataFlow.random_fact`, for EPL309's random `.map()` before `.cache()`)
    "metric": {"class": "keras.metrics.Mean" | "", "defines": ["reset_states", ...]}
        a metric factory's result, a metric class, a module-level metric object: its Keras
        class ("" for a project subclass) and which metric methods its project classes define
        (linter.analysis.metrics: `Metrics.summary_fact`, `ProjectMetric`)

Names with nothing known are left out (an importer sees them as unknown). Re-exports of project
names (`from .models import build_model` in an `__init__.py`, `from net import *`) are copied
from the imported module's summary, so an importer needs only the summaries of the modules it
imports directly.
"""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.project.view import empty
from linter.semantic import AFTER_ALL, Binding, SemanticModel

__all__ = ["empty", "summarize"]
MAX_NAMES = 2000  # facts kept per module (a generated module of thousands of names: the first ones)




def summarize(sem: SemanticModel, keras: bool = True) -> dict:
    """The summary of the module `sem` was built for (see the module docstring)."""
    project = getattr(sem, "project", None)
    out = empty(keras)
    names: dict = {}
    scope = sem.module_scope
    for dotted in getattr(sem, "star_imports", ()):
        star = project.star_names(dotted) if project is not None else None
        if star:
            for name, fact in star.items():
                names.setdefault(name, fact)
    contents = None
    analyses = _Analyses(sem)
    for name, bindings in scope.names.items():
        if len(names) >= MAX_NAMES:
            break
        reaching = sem.reaching(name, scope, AFTER_ALL, ())
        facts = []
        for b in reaching:
            fact = _with_analyses(_fact(sem, b, project), b, analyses)
            if fact is None:
                facts = []
                break
            facts.append(fact)
        if not facts:
            names.pop(name, None)
            continue
        merged = _merge(facts)
        if merged is None:
            names.pop(name, None)
            continue
        if merged.get("model") is True and len(reaching) == 1 and reaching[0].kind in ("def", "class"):
            if contents is None:
                from linter.analysis.model_contents import ModelContents

                contents = ModelContents(sem)
            c = _contents(sem, contents, reaching[0])
            if c is not None:
                merged = dict(merged, contents=c)
        names[name] = merged
    out["names"] = names
    out["all"] = _dunder_all(sem)
    return out


def _fact(sem: SemanticModel, b: Binding, project) -> Optional[dict]:
    if b.kind == "def":
        verdict = sem.returns_model(b.value)
        return {"kind": "function", "model": verdict} if verdict is not None else None
    if b.kind == "class":
        verdict = sem.is_model_class(b.value)
        return {"kind": "class", "model": verdict} if verdict is not None else None
    if b.kind == "import":
        q = b.qname
        if q is None:
            return None
        if project is not None:
            found = project.fact(q)
            if found is not None:
                return found
            if project.module_key(q) is not None:
                return {"kind": "module", "module": project.module_key(q)}
            if _in_project(project, q):
                return None  # a project name nothing is known of
        return {"kind": "import", "qname": q}
    if b.kind in ("assign", "annassign") and b.value is not None:
        verdict = sem.model_provenance(b.value, b.scope)
        return {"kind": "value", "model": verdict} if verdict is not None else None
    return None


class _Analyses:
    """The data and metric analyses of the summarised module, built when first needed."""

    def __init__(self, sem: SemanticModel) -> None:
        self.sem = sem
        self._flow = self._metrics = None

    @property
    def flow(self):
        if self._flow is None:
            from linter.analysis.datasets import DataFlow

            self._flow = DataFlow(self.sem)
        return self._flow

    @property
    def metrics(self):
        if self._metrics is None:
            from linter.analysis.metrics import Metrics

            self._metrics = Metrics(self.sem)
        return self._metrics


_KINDS = {"def": "function", "class": "class", "assign": "value", "annassign": "value", "other": "value"}


def _with_analyses(fact: Optional[dict], b: Binding, analyses: _Analyses) -> Optional[dict]:
    """`fact` plus what DataFlow and Metrics know of a module-level binding: "data" (what a
    function returns, what a class's instances are, what a value is), "random" (calling it is
    random) and "metric" (a metric factory, class or object). A binding only they know something of gets a fact of its own."""
    kind = _KINDS.get(b.kind)
    if kind is None or (fact is not None and fact.get("kind") != kind):
        return fact
    try:
        if b.kind == "def":
            data = analyses.flow.returned_fact(b.value)
        elif b.kind == "class":
            data = analyses.flow.class_fact(b.value)
        else:
            data = analyses.flow.value_fact(b)
        metric = analyses.metrics.summary_fact(b)
        random = analyses.flow.random_fact(b) if kind != "class" else None
    except RecursionError:
        return fact
    if data is None and metric is None and random is None:
        return fact
    out = dict(fact) if fact is not None else {"kind": kind}
    if data is not None:
        out["data"] = data
    if metric is not None:
        out["metric"] = metric
    if random is not None:
        out["random"] = random
    return out


def _in_project(project, qname: str) -> bool:
    parts = qname.split(".")
    return any(project.module_key(".".join(parts[:i])) is not None for i in range(len(parts), 0, -1))


def _merge(facts: list) -> Optional[dict]:
    first = facts[0]
    if all(f == first for f in facts[1:]):
        return first
    models = {f.get("model") for f in facts}
    if models == {False}:
        return {"kind": "value", "model": False}
    return None


def _contents(sem: SemanticModel, contents, b: Binding) -> Optional[dict]:
    """What a model-returning function (or model class) builds: its training-behaviour layers
    and regularizers; None when it depends on flags its callers pass."""
    from linter.analysis.model_contents import _false_literal
    from linter.analysis.tape import Site

    node = b.value
    try:
        if isinstance(node, cst.ClassDef):
            c = contents.of_class(node, as_model=True)
        else:
            p = node.params
            if any(q.default is not None and _false_literal(q.default) for q in (*p.posonly_params, *p.params, *p.kwonly_params)):
                return None  # `apply_dropout=False`: what it builds depends on the call
            fn_scope = sem.scope_for(node)
            if fn_scope is None or not fn_scope.returns or fn_scope.yields:
                return None
            from linter.analysis.model_contents import Contents

            c = Contents()
            for r in fn_scope.returns:
                c.add(contents.component(r, Site(fn_scope, AFTER_ALL, ())))
    except RecursionError:
        return None
    return {"training": [str(t) for t in c.training], "regularizers": [str(r) for r in c.regularizers], "complete": bool(c.complete)}


def _dunder_all(sem: SemanticModel) -> Optional[list]:
    """`__all__` when it is one literal list/tuple of strings, else None (public names)."""
    bindings = sem.module_scope.names.get("__all__")
    if not bindings or len(bindings) != 1 or bindings[0].kind != "assign":
        return None
    value = bindings[0].value
    if not isinstance(value, (cst.List, cst.Tuple)):
        return None
    out = []
    for el in value.elements:
        if not isinstance(el.value, cst.SimpleString):
            return None
        out.append(el.value.evaluated_value if isinstance(el.value.evaluated_value, str) else "")
    return out
