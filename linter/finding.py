"""Findings and fixes: the values rules produce and reporters consume."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Edit:
    """A text replacement; positions are 1-based lines and 1-based columns, end exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str

    def to_json(self) -> dict:
        return {
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "content": self.content,
        }


@dataclass(frozen=True)
class Fix:
    """A fix as text edits. `applicability` is "safe" or "unsafe"."""

    applicability: str
    edits: tuple[Edit, ...]
    description: str = ""

    def to_json(self) -> dict:
        return {"applicability": self.applicability, "edits": [e.to_json() for e in self.edits]}


@dataclass
class Finding:
    code: str
    name: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str = "error"
    cell: Optional[int] = None
    fix: Optional[Fix] = None
    # Not part of the JSON contract: traceback for internal errors (shown under --verbose).
    detail: Optional[str] = field(default=None, compare=False)

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "cell": self.cell,
            "fix": self.fix.to_json() if self.fix else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Finding":
        fix = data.get("fix")
        return cls(
            code=data["code"],
            name=data["name"],
            message=data["message"],
            path=data["path"],
            line=data["line"],
            column=data["column"],
            end_line=data["end_line"],
            end_column=data["end_column"],
            severity=data.get("severity", "error"),
            cell=data.get("cell"),
            fix=Fix(fix["applicability"], tuple(Edit(**e) for e in fix["edits"]), fix.get("description", "")) if fix else None,
        )


@dataclass
class FileResult:
    """One file's findings (linter.engine.check_source; the cache reads it back without the engine)."""

    path: str
    findings: list[Finding]
    skipped: bool = False  # not checked: the pre-check found no Keras/TensorFlow mention
    reason: str = ""  # why it was skipped (`--verbose`)
    summary: Optional[dict] = None  # its project summary, when its ProjectView asked for it
    # calls across project modules (linter.project.links): {"asked": [its functions whose
    # parameters a rule asked about], "calls": {module key: {function: [records] | "escape"}}}
    links: Optional[dict] = None
