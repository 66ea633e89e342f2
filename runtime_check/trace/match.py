"""Static findings (the linter, run in this process) lined up with the runtime observations.

Files linted: the script, the local modules it imports (resolved next to the script, followed
transitively with `ast`), and every user file that produced a runtime fact. A static finding
and a runtime observation match when they have the same code and file and their lines fall in
the same statement (decorators count as their own statement; a multi-line call is one
statement). Each static finding gets a status:

  confirmed    a matching observation shows the problem
  refuted      the statement ran and the problem did not occur (a false positive: report it)
  not reached  the statement never ran, or ran without deciding (a loop that turned once)
  not checked  trace does not observe this rule

Observations showing a problem that no static finding matches are `runtime_only` findings.
"""
from __future__ import annotations

import ast
import os
from typing import Iterable, Optional

from runtime_check.trace.analyze import CONFIRM_ONLY, OBSERVED

CONFIRMED, REFUTED, NOT_REACHED, NOT_CHECKED = "confirmed", "refuted", "not reached", "not checked"


def local_imports(script: str, limit: int = 200) -> list[str]:
    """The script and the .py files of its directory it imports (transitively)."""
    root = os.path.dirname(os.path.abspath(script))
    seen: list[str] = []
    todo = [os.path.abspath(script)]
    while todo and len(seen) < limit:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.append(path)
        try:
            with open(path, "rb") as handle:
                tree = ast.parse(handle.read(), filename=path)
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:
                base = os.path.dirname(path)
                for _ in range(node.level - 1):
                    base = os.path.dirname(base)
                rel = os.path.relpath(base, root).replace(os.sep, ".")
                prefix = "" if rel == "." else rel + "."
                mod = prefix + (node.module or "")
                names = [mod.rstrip(".")] + [f"{mod}.{a.name}".lstrip(".") for a in node.names]
            for name in names:
                found = _module_file(root, name)
                if found and found not in seen:
                    todo.append(found)
    return seen


def _module_file(root: str, dotted: str) -> Optional[str]:
    if not dotted:
        return None
    base = os.path.join(root, *dotted.split("."))
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None


def lint(paths: Iterable[str], config: Optional[str] = None) -> list:
    """Static findings for the files (the project's configuration applies, as for `check`)."""
    from linter import runner
    from linter.config import resolve_settings

    paths = list(paths)
    settings = resolve_settings(config, paths[:1])
    findings = []
    for path in paths:
        findings.extend(runner.check_file(path, settings).result.findings)
    return findings


class Spans:
    """Line -> (first, last) line of the innermost statement containing it, per file."""

    def __init__(self):
        self._cache: dict[str, list[tuple[int, int]]] = {}

    def _spans(self, path: str) -> list[tuple[int, int]]:
        got = self._cache.get(path)
        if got is not None:
            return got
        spans: list[tuple[int, int]] = []
        try:
            with open(path, "rb") as handle:
                tree = ast.parse(handle.read(), filename=path)
        except (OSError, SyntaxError, ValueError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if not isinstance(node, ast.stmt):
                continue
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                header_end = max(node.lineno, body[0].lineno - 1)  # compound: its header only
                spans.append((node.lineno, header_end))
            else:
                spans.append((node.lineno, node.end_lineno or node.lineno))
            for dec in getattr(node, "decorator_list", ()):
                spans.append((dec.lineno, dec.end_lineno or dec.lineno))
        self._cache[path] = spans
        return spans

    def span(self, path: str, line: int) -> tuple[int, int]:
        best = None
        for first, last in self._spans(path):
            if first <= line <= last and (best is None or last - first < best[1] - best[0]):
                best = (first, last)
        return best or (line, line)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (TypeError, ValueError):
        return False


def line_up(findings: list, observations: list[dict], spans: Optional[Spans] = None) -> tuple[list[dict], list[dict]]:
    """(static findings with status and runtime evidence, runtime-only findings)."""
    spans = spans or Spans()
    matched: set[int] = set()
    rows = []
    for f in findings:
        row = {"code": f.code, "name": f.name, "message": f.message, "path": f.path, "line": f.line,
               "column": f.column, "end_line": f.end_line, "end_column": f.end_column, "status": NOT_CHECKED,
               "runtime": []}
        if f.code in OBSERVED:
            span = spans.span(os.path.abspath(f.path), f.line)
            hits = [i for i, o in enumerate(observations)
                    if o["code"] == f.code and _same_file(o["file"], f.path) and span[0] <= o["line"] <= span[1]]
            matched.update(hits)
            problems = [observations[i]["problem"] for i in hits]
            row["runtime"] = [_public(observations[i]) for i in hits]
            if any(p is True for p in problems):
                row["status"] = CONFIRMED
            elif any(p is False for p in problems):
                row["status"] = REFUTED
            else:
                row["status"] = NOT_REACHED
        rows.append(row)
    runtime_only = [_public(o) for i, o in enumerate(observations)
                    if o["problem"] is True and i not in matched and o["code"] not in CONFIRM_ONLY]
    return rows, runtime_only


def _public(o: dict) -> dict:
    return {"code": o["code"], "path": o["file"], "line": o["line"], "problem": o["problem"],
            "message": o["message"], "evidence": o["evidence"]}
