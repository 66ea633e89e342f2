"""The Rule base class, rule examples, and the per-file context rules report through.

A rule is a class in its own module under `linter.rules`: a docstring with the sections
"What it does", "Why is this bad", "Example", "Fix"; metadata (`code`, `name`, `summary`,
`claim`, `witness`, `fixable`); `VALID`/`INVALID` examples that are collected as tests; and
`visit_<NodeClass>`/`leave_<NodeClass>` methods the engine calls during its single walk.
Rules that depend on name resolution collect candidates while walking and decide in
`finish()`, when the module's bindings are complete.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import ClassVar, Mapping, Optional, Sequence, Union

import libcst as cst

from linter.messages import bounded


def _dedent(code: str) -> str:
    import textwrap  # examples are read by tests and docs, not by a check: no start-up cost

    return textwrap.dedent(code).lstrip("\n")


@dataclass(frozen=True)
class Valid:
    """Code that must not produce this rule's finding."""

    code: str
    strict: bool = False
    filename: str = "example.py"

    def source(self) -> str:
        return _dedent(self.code)


@dataclass(frozen=True)
class Invalid:
    """Code that must produce this rule's findings, exactly: the first at `line`/`column`
    (1-based), any others at the `(line, column)` pairs in `also`, and every message containing
    `message_contains` (the three are required: tests/test_rule_examples.py checks them all).
    `fixed` is the code after applying the fix (safe fixes, or unsafe with `unsafe=True`)."""

    code: str
    line: Optional[int] = None
    column: Optional[int] = None
    also: tuple = ()  # (line, column) of every further finding, in source order
    message_contains: Optional[str] = None
    fixed: Optional[str] = None
    unsafe: bool = False
    strict: bool = False
    filename: str = "example.py"

    def positions(self) -> list[tuple[int, int]]:
        """Where every expected finding starts, in source order."""
        return sorted([(self.line, self.column), *self.also])

    def source(self) -> str:
        return _dedent(self.code)

    def fixed_source(self) -> Optional[str]:
        return None if self.fixed is None else _dedent(self.fixed)


Example = Union[str, Valid, Invalid]


class Rule:
    """Base class; see the module docstring."""

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line, for `epochlint rules`
    claim: ClassVar[str] = ""  # the measured claim (RULES.md), proven by the witness
    witness: ClassVar[str] = ""  # what runtime_check measures for this code
    fixable: ClassVar[Optional[str]] = None  # None | "safe" | "unsafe" | "sometimes"
    # The conditions the rule fires on, per dimension: {"input": ("dataset", ...), "call": ("fit", ...)}.
    # The witness must measure every one (`covers`, checked by tests/test_rule_contract.py). A
    # `*_generator` method counts as the call it became (Keras 2 delegates to it; Keras 3 removed it: EPL106).
    fires_on: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    VALID: ClassVar[Sequence[Example]] = ()
    INVALID: ClassVar[Sequence[Example]] = ()
    # The per-file analyses the rule uses (classes from linter.analysis): the engine builds each
    # once per file, before the walk, and walks those that collect (see `analysis`).
    ANALYSES: ClassVar[tuple[type, ...]] = ()

    def __init__(self, ctx) -> None:
        self.ctx = ctx  # the file's linter.engine.FileContext (not imported: the engine imports the rules)

    def analysis(self, cls: type):
        """The file's instance of an analysis this rule declared in `ANALYSES`."""
        if cls not in type(self).ANALYSES:
            raise TypeError(f"{type(self).__name__} uses {cls.__name__} without declaring it in ANALYSES")
        return self.ctx.analysis(cls)

    def report(self, node: cst.CSTNode, message: str, fix=None) -> None:
        self.ctx.report(self, node, bounded(message), fix)

    def finish(self) -> None:
        """Called once after the walk; report findings that needed the whole module."""

    # helpers shared by many rules -------------------------------------------------
    @staticmethod
    def method_name(call: cst.Call) -> Optional[str]:
        return call.func.attr.value if isinstance(call.func, cst.Attribute) else None

    @classmethod
    def examples(cls) -> tuple[list[Valid], list[Invalid]]:
        valid = [v if isinstance(v, Valid) else Valid(v) for v in cls.VALID]
        invalid = [i if isinstance(i, Invalid) else Invalid(i) for i in cls.INVALID]
        return valid, invalid

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """The docstring split into its "## Section" parts (What it does, Why is this bad, ...)."""
        doc = inspect.cleandoc(cls.__doc__ or "")
        sections: dict[str, list[str]] = {}
        current = None
        for line in doc.splitlines():
            if line.startswith("## "):
                current = line[3:].strip()
                sections[current] = []
            elif current is not None:
                sections[current].append(line)
        return {k: "\n".join(v).strip() for k, v in sections.items()}
