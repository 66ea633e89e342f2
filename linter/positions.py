"""Source positions of the few nodes a file reports, without positions for the whole tree.

libcst's `PositionProvider` generates the module's code once and records a `CodeRange` for
every node on the way: measured at about 1.8x the parse of the file, paid by every file with a
finding. `node_positions` runs the same code generation with a state that tracks the line and
column as libcst's does, but records only the nodes asked for (and the child nodes their
position is taken from), so a file with findings costs about a third of a parse more, not
twice. The ranges are the same as `PositionProvider`'s (tests compare them node for node);
should the generation ever meet a case it cannot follow, it falls back to `PositionProvider`.
"""
from __future__ import annotations

import re
from typing import Iterable, Optional

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst._position import CodePosition, CodeRange

_NEWLINE = re.compile(r"\r\n?|\n")


class _Unrecorded:
    """The context manager for nodes nobody asked about: does nothing, allocates nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


_UNRECORDED = _Unrecorded()


class _Syntactic:
    """`PositionProvidingCodegenState.record_syntactic_position` for one wanted node."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state: "_State", node: cst.CSTNode, start_node: Optional[cst.CSTNode], end_node: Optional[cst.CSTNode]) -> None:
        self.state = state
        self.node = node
        self.start_node = start_node
        self.end_node = end_node

    def __enter__(self) -> None:
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc: object) -> bool:
        state = self.state
        computed = state.computed
        start = computed[id(self.start_node)][0] if self.start_node is not None else self.start
        end = computed[id(self.end_node)][1] if self.end_node is not None else (state.line, state.column)
        computed[id(self.node)] = (start, end)
        return False


class _State(CodegenState):
    """Code generation that keeps libcst's line/column count and records wanted nodes only."""

    def __init__(self, module: cst.Module, wanted: set[int]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line = 1  # one-based, as libcst
        self.column = 0  # zero-based
        self.wanted = wanted  # ids of the nodes to record
        self.computed: dict[int, tuple[tuple[int, int], tuple[int, int]]] = {}
        self.starts: list[tuple[int, int]] = []

    def _advance(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def add_indent_tokens(self) -> None:
        self.tokens.extend(self.indent_tokens)
        for token in self.indent_tokens:
            self._advance(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        if "\n" in value or "\r" in value:
            self._advance(value)
        else:
            self.column += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self.starts.append((self.line, self.column))

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted:
            start = self.starts.pop()
            if key not in self.computed:  # a syntactic position, when recorded, wins
                self.computed[key] = (start, (self.line, self.column))

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: Optional[cst.CSTNode] = None, end_node: Optional[cst.CSTNode] = None):
        if id(node) not in self.wanted:
            return _UNRECORDED
        # the children this position is hoisted from are rendered inside: record them too
        if start_node is not None:
            self.wanted.add(id(start_node))
        if end_node is not None:
            self.wanted.add(id(end_node))
        return _Syntactic(self, node, start_node, end_node)


class Positions:
    """node -> CodeRange, for the nodes `node_positions` was asked about; `code` is the module's
    generated code (`module.code`, the same tokens) when it came out of the same pass."""

    def __init__(self, ranges: dict[int, CodeRange], code: Optional[str] = None) -> None:
        self._ranges = ranges
        self.code = code

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        return self._ranges[id(node)]


def node_positions(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Positions:
    """The `PositionProvider` range of each of `nodes` (which must belong to `module`)."""
    nodes = list(nodes)
    state = _State(module, {id(n) for n in nodes})
    try:
        module._codegen(state)
        ranges = {}
        for n in nodes:
            (l1, c1), (l2, c2) = state.computed[id(n)]
            ranges[id(n)] = CodeRange(CodePosition(l1, c1), CodePosition(l2, c2))
        return Positions(ranges, "".join(state.tokens))
    except Exception:  # a node rendered in an order this does not follow: the full provider
        from libcst.metadata import MetadataWrapper, PositionProvider

        full = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        return Positions({id(n): full[n] for n in nodes})
