"""A lean traversal of a libcst tree that skips what cannot matter.

libcst's own `visit` rebuilds every node and enters every whitespace, comma and paren node:
about as costly as the parse itself. Rules here only look at statements and expressions,
so the walker descends only into the fields that can hold them (a per-class field list,
computed once) and dispatches by exact node class to the handlers that asked for it.

Per node it does one dict lookup (handlers + fields of the class), never calls `isinstance`
on libcst's abstract base class (a Python-level `__instancecheck__`), skips fields typed as
plain strings, and does not touch the ancestor stack for leaves. Deep trees (CPython accepts
about 3,000 nested operators) get a recursion limit to match for the duration of the walk.
"""
from __future__ import annotations

import dataclasses
import sys
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

import libcst as cst

# Fields that only hold whitespace, punctuation, comments or operators.
_SKIP_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorator",
        "header", "footer", "newline", "trailing_whitespace", "equal", "colon", "star",
        "dot", "operator", "asynchronous", "lbracket", "rbracket", "lbrace", "rbrace",
        "relative", "empty_lines", "attr", "keyword", "default_indent", "default_newline",
        "encoding", "has_trailing_newline", "indent", "prefix", "start", "end", "quote",
        "value_kind",
    }
)

_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    try:
        return _FIELDS[cls]
    except KeyError:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if not f.name.startswith("whitespace") and f.name not in _SKIP_FIELDS
        )
        _FIELDS[cls] = names
        return names


# Fields of these declared types never hold a node (`Name.value`, `SimpleString.value`, ...).
_SCALAR_TYPES = (str, bool, int, "str", "bool", "int")
_WALK_FIELDS: dict[type, tuple[str, ...]] = {}


def _walk_fields(cls: type) -> tuple[str, ...]:
    """`child_fields(cls)` without the fields declared as plain strings/bools/ints."""
    try:
        return _WALK_FIELDS[cls]
    except KeyError:
        keep = set(child_fields(cls))
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name in keep and f.type not in _SCALAR_TYPES)
        _WALK_FIELDS[cls] = names
        return names


# Is this class a libcst node? (dict lookup instead of isinstance on an ABC)
_IS_NODE: dict[type, bool] = {}


def _is_node_class(cls: type) -> bool:
    try:
        return _IS_NODE[cls]
    except KeyError:
        found = _IS_NODE[cls] = issubclass(cls, cst.CSTNode)
        return found


# Python frames a pass over a tree may need: one per level for this walk, about four for
# libcst's code generation (positions, fixes). The stdlib parser gives up at about 3,000
# nested operators, and trees of code it accepts stay below that depth. In CPython 3.11+ a
# Python-to-Python call does not grow the C stack, so a higher limit is safe.
WALK_RECURSION_LIMIT = 12_000


@contextmanager
def deep_recursion(limit: int = WALK_RECURSION_LIMIT) -> Iterator[None]:
    """Raise the recursion limit to `limit` (never lower it) for the duration of the block."""
    old = sys.getrecursionlimit()
    if old >= limit:
        yield
        return
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


Handler = Callable[[cst.CSTNode], object]


class Walker:
    """Depth-first walk calling `enter[cls]` handlers before children, `leave[cls]` after.

    `stack` holds the ancestors of the node being visited (outermost first) and is shared
    with rules through their context.
    """

    def __init__(self, enter: dict[type, list[Handler]], leave: dict[type, list[Handler]], stack: list) -> None:
        self.enter = enter
        self.leave = leave
        self.stack = stack

    def walk(self, node: cst.CSTNode) -> None:
        enter = self.enter
        leave = self.leave
        stack = self.stack
        push = stack.append
        pop = stack.pop
        is_node = _IS_NODE
        plans: dict[type, tuple] = {}  # class -> (enter handlers, walked fields, leave handlers)

        def plan(cls: type) -> tuple:
            p = plans[cls] = (enter.get(cls), _walk_fields(cls), leave.get(cls))
            return p

        def visit(node: cst.CSTNode) -> None:
            cls = node.__class__
            p = plans.get(cls) or plan(cls)
            handlers = p[0]
            if handlers is not None:
                for h in handlers:
                    h(node)
            fields = p[1]
            if fields:
                push(node)
                for name in fields:
                    v = getattr(node, name)
                    vcls = v.__class__
                    if vcls is tuple or vcls is list:
                        for c in v:
                            ccls = c.__class__
                            if is_node.get(ccls) or (ccls not in is_node and _is_node_class(ccls)):
                                visit(c)
                    elif is_node.get(vcls) or (vcls not in is_node and _is_node_class(vcls)):
                        visit(v)
                pop()
            handlers = p[2]
            if handlers is not None:
                for h in handlers:
                    h(node)

        with deep_recursion():
            visit(node)


def node_classes_named(name: str) -> type:
    cls = getattr(cst, name, None)
    if not (isinstance(cls, type) and issubclass(cls, cst.CSTNode)):
        raise AttributeError(f"libcst has no node class {name!r}")
    return cls


def iter_handlers(obj: object) -> Iterable[tuple[str, type, str]]:
    """Yield ("visit"|"leave", node class, method name) for an object's visit_X/leave_X methods."""
    for attr in dir(type(obj)):
        if attr.startswith("visit_") or attr.startswith("leave_"):
            kind, _, cls_name = attr.partition("_")
            yield kind, node_classes_named(cls_name), attr


def iter_nodes(node: cst.CSTNode, skip: tuple = ()) -> Iterator[cst.CSTNode]:
    """Every statement/expression node under `node` (pre-order, `node` included). Nodes of the
    `skip` classes below `node` are yielded but not entered."""
    stack = [node]
    Node = cst.CSTNode
    while stack:
        n = stack.pop()
        yield n
        if n is not node and isinstance(n, skip):
            continue
        children = []
        for name in child_fields(type(n)):
            v = getattr(n, name)
            if v.__class__ is tuple or v.__class__ is list:
                children.extend(c for c in v if isinstance(c, Node))
            elif isinstance(v, Node):
                children.append(v)
        stack.extend(reversed(children))
