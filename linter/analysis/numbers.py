"""Integer expressions as `base + offset`: `EPOCHS = 10` -> 10, `start = epochs + 2` -> epochs + 2.

`linear_form` lets rules compare epoch counts (`initial_epoch=E + 1` against `epochs=E`) and read
a number through names bound once to a constant expression.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.semantic import Site, dotted


@dataclass(frozen=True)
class Linear:
    """An integer expression as `base + offset`; `base` is None for a constant."""

    base: Optional[str]
    offset: int
    stable: bool = True  # base names are bound once (safe to substitute through another name)


_EMPTY = cst.Module(body=[])


def linear_form(expr: cst.BaseExpression, site: Site, sem, _depth: int = 0) -> Optional[Linear]:
    """`expr` (used at `site`) as base + offset, or None when it is neither a constant nor a plain
    name/attribute/subscript plus or minus a constant. A name whose single reaching value
    (`SemanticModel.single_value`) is such an expression is substituted (`EPOCHS = 10` -> 10,
    `start = epochs + 2` -> epochs + 2); a substituted base must be bound once in its scope
    (`stable`), so that it holds the same value at both places."""
    scope = site.scope
    if _depth > 8:
        return None
    if isinstance(expr, cst.Integer):
        return Linear(None, int(expr.evaluated_value))
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = linear_form(expr.expression, site, sem, _depth + 1)
        return Linear(None, -inner.offset) if inner is not None and inner.base is None else None
    if isinstance(expr, cst.BinaryOperation):
        left = linear_form(expr.left, site, sem, _depth + 1)
        right = linear_form(expr.right, site, sem, _depth + 1)
        if left is None or right is None:
            return None
        op = expr.operator
        if isinstance(op, cst.Add):
            if left.base is None:
                return Linear(right.base, left.offset + right.offset, right.stable)
            if right.base is None:
                return Linear(left.base, left.offset + right.offset, left.stable)
            return None
        if isinstance(op, cst.Subtract) and right.base is None:
            return Linear(left.base, left.offset - right.offset, left.stable)
        if left.base is None and right.base is None:
            if isinstance(op, cst.Multiply):
                return Linear(None, left.offset * right.offset)
            if isinstance(op, cst.FloorDivide) and right.offset != 0:
                return Linear(None, left.offset // right.offset)
        return None
    if isinstance(expr, cst.Name):
        b = sem.single_value(expr.value, site)
        if b is not None:
            inner = linear_form(b.value, Site.of_binding(b), sem, _depth + 1)
            if inner is not None and (inner.base is None or inner.stable):
                return inner
        return Linear(expr.value, 0, stable=len(sem.lookup(expr.value, scope)) == 1)
    if isinstance(expr, cst.Attribute):
        text = dotted(expr)
        return Linear(text, 0, stable=False) if text is not None else None
    if isinstance(expr, cst.Subscript) and _pure(expr):
        return Linear("".join(_EMPTY.code_for_node(expr).split()), 0, stable=False)
    return None


def _pure(expr: cst.BaseExpression) -> bool:
    """Names, attributes and subscripts with literal or name indices: no calls, no side effects."""
    if isinstance(expr, (cst.Name, cst.Integer, cst.SimpleString)):
        return True
    if isinstance(expr, cst.Attribute):
        return _pure(expr.value)
    if isinstance(expr, cst.Subscript):
        return _pure(expr.value) and all(
            isinstance(el.slice, cst.Index) and _pure(el.slice.value) for el in expr.slice
        )
    return False
