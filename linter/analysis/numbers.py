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


# --------------------------------------------------------------------------- float or int (EPL311)
_FLOAT_FUNCTIONS = frozenset(
    {
        "numpy.ceil", "numpy.floor", "numpy.round", "numpy.sqrt", "numpy.log", "numpy.log2", "numpy.mean",
        "numpy.divide", "math.sqrt", "math.log", "math.log2", "math.pow", "math.exp", "builtins.float",
    }
)
_INT_FUNCTIONS = frozenset({"builtins.len", "builtins.int", "math.ceil", "math.floor", "math.trunc", "math.prod"})


def known_float(expr: cst.BaseExpression, site: Site, sem, _depth: int = 0) -> Optional[str]:
    """Why `expr` is known to evaluate to a Python/numpy float (for a message), or None: a float
    literal, a true division `/`, arithmetic with a float operand, `np.ceil(...)`/`float(...)`,
    or a name whose one reaching assignment is one of these. `math.ceil`, `int(...)`, `//` are ints."""
    if _depth > 8:
        return None
    if isinstance(expr, cst.Float):
        return f"the float literal `{_EMPTY.code_for_node(expr)}`"
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        return known_float(expr.expression, site, sem, _depth + 1)
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, cst.Divide):
            return "a true division `/`"
        if isinstance(expr.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Modulo)):
            return known_float(expr.left, site, sem, _depth + 1) or known_float(expr.right, site, sem, _depth + 1)
        return None
    if isinstance(expr, cst.Call):
        q = sem.qualified_name(expr.func, site.scope)
        if q in _FLOAT_FUNCTIONS:
            return f"`{q.replace('numpy.', 'np.').replace('builtins.', '')}(...)`, a float"
        return None
    if isinstance(expr, cst.Name):
        b = sem.single_value(expr.value, site)
        if b is not None:
            inner = known_float(b.value, Site.of_binding(b), sem, _depth + 1)
            if inner is not None:
                return f"`{expr.value}` holds {inner}" if " holds " not in inner else inner
    return None


def known_int(expr: cst.BaseExpression, site: Site, sem, other=None, _depth: int = 0) -> bool:
    """Is `expr` known to be a Python int: an integer literal, `len(...)`, `int(...)`,
    `math.ceil(...)`, `+ - * //` of ints, a name whose one reaching assignment is one, or what
    `other(expr, site)` (a caller's extra knowledge, e.g. an iterator's `.samples`) accepts."""
    if _depth > 8:
        return False
    if isinstance(expr, cst.Integer):
        return True
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        return known_int(expr.expression, site, sem, other, _depth + 1)
    if isinstance(expr, cst.BinaryOperation):
        if isinstance(expr.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide, cst.Modulo)):
            return known_int(expr.left, site, sem, other, _depth + 1) and known_int(expr.right, site, sem, other, _depth + 1)
        return False
    if isinstance(expr, cst.Call):
        q = sem.qualified_name(expr.func, site.scope)
        if q == "builtins.round":
            return len(expr.args) == 1
        if q in _INT_FUNCTIONS:
            return True
    if isinstance(expr, cst.Name):
        b = sem.single_value(expr.value, site)
        if b is not None and known_int(b.value, Site.of_binding(b), sem, other, _depth + 1):
            return True
    return bool(other is not None and other(expr, site))
