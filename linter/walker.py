"""A lean traversal of a libcst tree that skips what cannot matter.

libcst's own `visit` rebuilds every node and enters every whitespace, comma and paren node:
about as costly as the parse itself. Rules here only look at statements and expressions,
so the walker descends only into the fields that can hold them (a per-class field list,
computed once) and dispatches by exact node class to the handlers that asked for it.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Iterable

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
        Node = cst.CSTNode
        fields_cache = _FIELDS

        def visit(node: cst.CSTNode) -> None:
            cls = node.__class__
            handlers = enter.get(cls)
            if handlers is not None:
                for h in handlers:
                    h(node)
            fields = fields_cache.get(cls) or child_fields(cls)
            stack.append(node)
            for name in fields:
                v = getattr(node, name)
                if v.__class__ is tuple or v.__class__ is list:
                    for c in v:
                        if isinstance(c, Node):
                            visit(c)
                elif isinstance(v, Node):
                    visit(v)
            stack.pop()
            handlers = leave.get(cls)
            if handlers is not None:
                for h in handlers:
                    h(node)

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
