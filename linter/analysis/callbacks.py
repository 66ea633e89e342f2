"""Keras callbacks given to `fit`: which callback classes a `callbacks=` argument holds.

`callbacks_in(expr, site, sem)` follows a `callbacks=` value through list/tuple literals, `+`
of lists, `*unpacking` and names bound once (`es = EarlyStopping(...)`, `cbs = [es, ckpt]`) to
the constructor calls, and returns one `FoundCallback` per callback it can name (unknown
elements are skipped: precision first). `callback_class(q)` names a Keras callback class from a
canonical name. EPL401 (callbacks reset by each `fit`) and EPL402 (their removed arguments) share it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.semantic import SemanticModel, Site

_NAMESPACES = ("keras.callbacks.", "keras.src.callbacks.")
_MAX_DEPTH = 6


@dataclass(frozen=True, eq=False)
class FoundCallback:
    cls: str  # "EarlyStopping"
    construction: cst.Call  # the constructor call
    at: cst.BaseExpression  # what to report: the element of the call's own list, else the argument itself
    site: Site  # where the constructor call is evaluated


def callback_class(q: Optional[str]) -> Optional[str]:
    """`keras.callbacks.EarlyStopping` -> "EarlyStopping" (every spelling canonicalized); None otherwise."""
    if q is None or not q.startswith(_NAMESPACES):
        return None
    last = q.rsplit(".", 1)[1]
    return last if last[:1].isupper() else None


def callbacks_in(expr: cst.BaseExpression, site: Site, sem: SemanticModel) -> list[FoundCallback]:
    """The callbacks `expr` (a `callbacks=` value used at `site`) is known to hold, in order. Each
    is reported at its element when `expr` is a list literal, else at `expr` itself."""
    out: list[FoundCallback] = []
    if isinstance(expr, (cst.List, cst.Tuple)):
        for el in expr.elements:
            _collect(el.value, site, sem, expr if isinstance(el, cst.StarredElement) else el.value, out, 1)
    else:
        _collect(expr, site, sem, expr, out, 0)
    return out


def _collect(expr: cst.BaseExpression, site: Site, sem: SemanticModel, at: cst.BaseExpression, out: list, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(expr, (cst.List, cst.Tuple)):
        for el in expr.elements:
            _collect(el.value, site, sem, at, out, depth + 1)
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        _collect(expr.left, site, sem, at, out, depth + 1)
        _collect(expr.right, site, sem, at, out, depth + 1)
    elif isinstance(expr, cst.Call):
        cls = callback_class(sem.qualified_name(expr.func, site.scope))
        if cls is not None:
            out.append(FoundCallback(cls, expr, at, site))
    elif isinstance(expr, cst.Name):
        b = sem.single_value(expr.value, site)
        if b is not None and isinstance(b.value, cst.BaseExpression):
            _collect(b.value, Site.of_binding(b), sem, at, out, depth + 1)
