"""Does a Python generator end? Endless (`while True:` around its `yield`s), finite (every loop
around a `yield` walks finite data), or not known.

`DataFlow` asks this of a same-module generator function it sees called, and of a generator
expression; the caller supplies `finite_iterable(expr)` / `endless_iterable(expr)`, its own
answers about what a `for` loop walks (a `range(...)`, an array, `itertools.cycle(...)`), so this
module knows only statement shapes. Unknown is the answer whenever a shape is not one of these:
a `yield` under a `while` that may stop, `yield from`, a `for` over something not known to end.
"""
from __future__ import annotations

from typing import Callable, Optional

import libcst as cst

ENDLESS = "endless"
FINITE = "finite"

Check = Callable[[cst.BaseExpression], bool]


class _OwnFrame(cst.CSTVisitor):
    """A visitor of one function's own code: nested functions, classes and lambdas are not
    entered (their yields and loops are another frame's)."""

    def visit_FunctionDef(self, node) -> bool:
        return False

    def visit_ClassDef(self, node) -> bool:
        return False

    def visit_Lambda(self, node) -> bool:
        return False


class _Find(_OwnFrame):
    """What a piece of code contains, not counting nested functions, classes and lambdas."""

    def __init__(self) -> None:
        self.yields = False
        self.yield_from = False
        self.returns = False
        self.breaks = 0  # `break`s of the loop this visitor was started on (not of inner loops)
        self._loops = 0

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.From):
            self.yield_from = True
        self.yields = True

    def visit_Return(self, node) -> None:
        self.returns = True

    def visit_Break(self, node) -> None:
        if self._loops == 0:
            self.breaks += 1

    def visit_For(self, node) -> None:
        self._loops += 1

    def leave_For(self, node) -> None:
        self._loops -= 1

    def visit_While(self, node) -> None:
        self._loops += 1

    def leave_While(self, node) -> None:
        self._loops -= 1


def _find(nodes) -> _Find:
    f = _Find()
    for n in nodes:
        n.visit(f)
    return f


def _always_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    if isinstance(test, cst.Integer):
        return test.evaluated_value != 0
    return False


def _loop_body(loop) -> list:
    body = loop.body
    return list(body.body) if isinstance(body, cst.IndentedBlock) else [body]


def function_ends(fn: cst.FunctionDef, finite_iterable: Check, endless_iterable: Check) -> Optional[str]:
    """ENDLESS, FINITE or None for a generator function (one containing `yield`)."""
    whole = _find([fn.body])
    if whole.yield_from or not whole.yields:
        return None
    if not whole.returns:
        for stmt in _top_statements(fn.body):
            if isinstance(stmt, cst.While) and _always_true(stmt.test):
                inner = _find(_loop_body(stmt))
                if inner.yields and inner.breaks == 0:
                    return ENDLESS
            if isinstance(stmt, cst.For) and endless_iterable(stmt.iter):
                inner = _find(_loop_body(stmt))
                if inner.yields and inner.breaks == 0:
                    return ENDLESS
    return FINITE if _finite_block(fn.body, finite_iterable) else None


def _top_statements(block) -> list:
    """The statements that always run when the function body runs to its end: the body's own,
    and those of `with`/`try` blocks at that level."""
    out = []
    for stmt in getattr(block, "body", ()):
        out.append(stmt)
        if isinstance(stmt, (cst.With, cst.Try)):
            out.extend(_top_statements(stmt.body))
    return out


class _Loops(_OwnFrame):
    """Every loop around a `yield` must end: no `while`, every `for` over finite data."""

    def __init__(self, finite_iterable: Check) -> None:
        self.finite_iterable = finite_iterable
        self.ok = True

    def visit_While(self, node: cst.While) -> Optional[bool]:
        if _find([node]).yields:
            self.ok = False
        return None

    def visit_For(self, node: cst.For) -> Optional[bool]:
        if node.asynchronous is not None or (_find([node]).yields and not self.finite_iterable(node.iter)):
            self.ok = False
        return None


def _finite_block(block, finite_iterable: Check) -> bool:
    v = _Loops(finite_iterable)
    block.visit(v)
    return v.ok


def expression_ends(node: cst.GeneratorExp, finite_iterable: Check, endless_iterable: Check) -> Optional[str]:
    """ENDLESS, FINITE or None for a generator expression: its `for ... in` clauses."""
    clauses = []
    comp = node.for_in
    while comp is not None:
        if comp.asynchronous is not None:
            return None
        clauses.append(comp)
        comp = comp.inner_for_in
    if endless_iterable(clauses[0].iter) and all(c.ifs == [] or not c.ifs for c in clauses):
        return ENDLESS
    return FINITE if all(finite_iterable(c.iter) for c in clauses) else None
