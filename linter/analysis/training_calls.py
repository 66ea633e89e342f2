"""The calls that train, evaluate or predict with a model, collected once for every rule.

`TrainingCalls` is a walk-time collector (`ctx.analysis(TrainingCalls)`): every
`<receiver>.<method>(...)` call for the methods in `calls.MODEL_METHODS` (`fit`, `evaluate`,
`predict`, `train_on_batch`, `test_on_batch`, `predict_on_batch`, the Keras 2 `*_generator`
methods) becomes a `TrainingCall` with where it was made (its `Site`) and the loops around it
in its own frame. Rules ask `on_models(methods, strict)` for the calls whose receiver is a Keras
model (`--strict`: not known to be something else), decided once per call. `compiles` holds the
`<receiver>.compile(...)` calls the same way (EPL109 reads their metrics, EPL403 their optimizer).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import libcst as cst

from linter.analysis.calls import MODEL_METHODS, SIGNATURES, find_argument
from linter.analysis.datasets import Where
from linter.analysis.loops import LoopIndex
from linter.semantic import Scope, Site


@dataclass(frozen=True, eq=False)
class TrainingCall:
    """A `<receiver>.fit/evaluate/predict/...(...)` call seen during the walk."""

    call: cst.Call
    method: str
    site: Site
    loops: tuple = ()  # loops around the call in its own frame, outermost first

    @property
    def scope(self) -> Scope:
        return self.site.scope

    @property
    def ancestors(self) -> tuple:
        return self.site.ancestors

    @property
    def receiver(self) -> cst.BaseExpression:
        return self.call.func.value  # type: ignore[attr-defined]

    @property
    def where(self) -> Where:
        return Where(self.site.scope, self.site.ancestors + (self.call,), None, self.site.seq)

    @property
    def has_splat(self) -> bool:
        """`*args`/`**kwargs`: which arguments were passed is unknown."""
        return any(a.star for a in self.call.args)

    def arg(self, name: str) -> Optional[cst.Arg]:
        """The argument given for parameter `name`, by keyword or by position ("x" is the
        generator of the Keras 2 `*_generator` methods)."""
        params = SIGNATURES.get(self.method, ())
        if name == "x" and params[:1] == ("generator",):
            name = "generator"
        return find_argument(self.call, name, params)[0]

    def value(self, name: str) -> Optional[cst.BaseExpression]:
        a = self.arg(name)
        return a.value if a is not None else None


class TrainingCalls:
    """Every training/evaluation/prediction call of one file (see the module docstring)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.loops: LoopIndex = ctx.analysis(LoopIndex)
        self.calls: list[TrainingCall] = []
        self.compiles: list[TrainingCall] = []
        self._is_model: dict[tuple[int, bool], bool] = {}

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if func.__class__ is cst.Attribute:  # (no ABC isinstance: hot path)
            method = func.attr.value
            if method in MODEL_METHODS:
                self.calls.append(TrainingCall(node, method, Site.of(self.ctx), self.loops.current))
            elif method == "compile":
                self.compiles.append(TrainingCall(node, method, Site.of(self.ctx), self.loops.current))

    def of(self, methods) -> Iterator[TrainingCall]:
        """The calls of these methods, in source order."""
        return (tc for tc in self.calls if tc.method in methods)

    def is_on_model(self, tc: TrainingCall, strict: bool) -> bool:
        """Whether the call's receiver is a Keras model (`strict`: anything not known not to be)."""
        key = (id(tc.call), strict)
        found = self._is_model.get(key)
        if found is None:
            found = self._is_model[key] = self.ctx.semantic.is_keras_model(tc.receiver, tc.scope, strict, tc.site)
        return found

    def on_models(self, methods, strict: bool) -> Iterator[TrainingCall]:
        """The calls of these methods on a Keras model (`strict`: on anything not known not to be)."""
        return (tc for tc in self.of(methods) if self.is_on_model(tc, strict))

    def keywords_on_models(self, methods, names, strict: bool) -> Iterator[tuple[TrainingCall, list[cst.Arg]]]:
        """(call, its keyword arguments named in `names`) for each call of these methods on a Keras
        model that passes at least one of them, in source order."""
        for tc in self.of(methods):
            given = [a for a in tc.call.args if a.keyword is not None and a.keyword.value in names]
            if given and self.is_on_model(tc, strict):
                yield tc, given
