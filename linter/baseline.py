"""Baselines: `check --write-baseline FILE` records today's findings; `check --baseline FILE`
reports only findings that are not recorded, so a legacy code base can adopt epochlint at once.

A finding is recognised by fingerprints of what is around it, not by its line number, so it
survives code inserted or removed above it:

- `fingerprint` = hash of (code, path, the flagged line and one line either side, each with its
  whitespace collapsed, occurrence index). The occurrence index counts earlier findings of the
  file with the same code and context, so two identical findings are two entries: fixing one
  leaves one, and adding a third reports the third.
- `line_fingerprint` = the same with only the flagged line: used, for entries left unmatched,
  when a neighbouring line was edited.

Paths are stored relative to the baseline file's folder, with `/`, so the baseline works from
any working directory. A finding that is fixed simply no longer matches: it drops out of the
count (rewrite the file with `--write-baseline` to prune it). `EPL000` (unreadable or
unparseable files, internal errors) is never recorded: it is always reported.

The file (JSON, sorted, one entry per finding; `line`, `cell` and `message` are for people):

    {
      "epochlint_baseline": 1,
      "epochlint_version": "0.1.0",
      "findings": [
        {"code": "EPL101", "path": "src/train.py", "line": 12, "cell": null,
         "fingerprint": "9f2c...", "line_fingerprint": "41ab...",
         "message": "`model.epochs` is ignored by Keras: ..."}
      ]
    }
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Optional

from linter import __version__
from linter.finding import Finding

FORMAT_VERSION = 1
NEVER_RECORDED = frozenset({"EPL000"})


class BaselineError(Exception):
    """The baseline file cannot be read, parsed or written; the message names the file."""


@dataclass(frozen=True)
class Entry:
    code: str
    path: str
    fingerprint: str
    line_fingerprint: str
    line: int = 0
    cell: Optional[int] = None
    message: str = ""

    def to_json(self) -> dict:
        return {
            "code": self.code, "path": self.path, "line": self.line, "cell": self.cell,
            "fingerprint": self.fingerprint, "line_fingerprint": self.line_fingerprint, "message": self.message,
        }


@dataclass
class Comparison:
    new: list[Finding]  # not in the baseline: reported
    known: list[Finding]  # in the baseline: hidden
    gone: list[Entry]  # recorded but no longer found (fixed or deleted)


# --------------------------------------------------------------------------- fingerprints
def _norm(line: str) -> str:
    return " ".join(line.split())


def _hash(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogateescape")).hexdigest()[:24]


def _rel(path: str, base_dir: str) -> str:
    if path == "-" or not path:
        return path
    rel = os.path.relpath(os.path.abspath(path), base_dir)
    return rel.replace(os.sep, "/")


def _lines(path: str, cell: Optional[int], lines_by_path: dict, cache: dict) -> list[str]:
    per_file = lines_by_path.get(path)
    if per_file is None:  # not kept by the runner: read the file the same way it was checked
        if path not in cache:
            cache[path] = _read_lines(path)
        per_file = cache[path]
    return per_file.get(cell) or []


def _read_lines(path: str) -> dict:
    from linter.runner import context_lines, decode, read_file
    from linter.source import UnreadableSource

    try:
        return context_lines(decode(read_file(path), path))
    except UnreadableSource:
        return {}


def entries_for(findings: Iterable[Finding], lines_by_path: dict, base_dir: str) -> list[tuple[Finding, Entry]]:
    """Each recordable finding with its entry (fingerprints computed in report order)."""
    cache: dict = {}
    seen_context: Counter = Counter()
    seen_line: Counter = Counter()
    out = []
    for f in sorted(findings, key=Finding.sort_key):
        if f.code in NEVER_RECORDED:
            continue
        path = _rel(f.path, base_dir)
        lines = _lines(f.path, f.cell, lines_by_path, cache)
        i = f.line - 1
        context = tuple(_norm(lines[j]) if 0 <= j < len(lines) else "" for j in (i - 1, i, i + 1))
        key_c = (f.code, path, context)
        key_l = (f.code, path, context[1])
        entry = Entry(
            code=f.code,
            path=path,
            fingerprint=_hash(f.code, path, *context, seen_context[key_c]),
            line_fingerprint=_hash(f.code, path, context[1], seen_line[key_l]),
            line=f.line,
            cell=f.cell,
            message=f.message,
        )
        seen_context[key_c] += 1
        seen_line[key_l] += 1
        out.append((f, entry))
    return out


# --------------------------------------------------------------------------- the file
def _base_dir(baseline_path: str) -> str:
    return os.path.dirname(os.path.abspath(baseline_path))


def write(path: str, findings: list[Finding], lines_by_path: dict) -> int:
    """Record `findings` in `path` (atomically); returns how many were recorded."""
    from linter.fixes import atomic_write

    entries = [e for _, e in entries_for(findings, lines_by_path, _base_dir(path))]
    entries.sort(key=lambda e: (e.path, e.cell or 0, e.line, e.code, e.fingerprint))
    doc = {"epochlint_baseline": FORMAT_VERSION, "epochlint_version": __version__, "findings": [e.to_json() for e in entries]}
    # a file name that is not valid UTF-8 keeps its bytes (surrogateescape), as the file system has them
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8", "surrogateescape")
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise BaselineError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(entries)


def read(path: str) -> list[Entry]:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise BaselineError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw.decode("utf-8", "surrogateescape"))
    except UnicodeDecodeError as exc:
        raise BaselineError(f"{path}: not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or "epochlint_baseline" not in doc:
        raise BaselineError(f'{path}: not an epochlint baseline (no "epochlint_baseline" key; write one with --write-baseline)')
    if doc["epochlint_baseline"] != FORMAT_VERSION:
        raise BaselineError(f"{path}: baseline format {doc['epochlint_baseline']!r} is not supported (expected {FORMAT_VERSION})")
    items = doc.get("findings")
    if not isinstance(items, list):
        raise BaselineError(f'{path}: "findings" must be a list')
    entries = []
    for n, item in enumerate(items, 1):
        try:
            if not isinstance(item, dict):
                raise TypeError("not an object")
            for key in ("code", "path", "fingerprint", "line_fingerprint"):
                if not isinstance(item.get(key), str):
                    raise TypeError(f'"{key}" must be a string')
            entries.append(
                Entry(item["code"], item["path"], item["fingerprint"], item["line_fingerprint"],
                      int(item.get("line") or 0), item.get("cell"), str(item.get("message", "")))
            )
        except (TypeError, ValueError) as exc:
            raise BaselineError(f"{path}: finding {n}: {exc}") from None
    return entries


def compare(path: str, findings: list[Finding], lines_by_path: dict) -> Comparison:
    """Match today's findings to the recorded entries: first by context fingerprint, then
    (entries and findings left over) by the flagged line alone; each entry matches once."""
    recorded = read(path)
    used = [False] * len(recorded)
    by_context: dict[str, list[int]] = {}
    for i, e in enumerate(recorded):
        by_context.setdefault(e.fingerprint, []).append(i)
    known_ids: set[int] = set()
    unmatched: list[tuple[Finding, Entry]] = []
    for f, e in entries_for(findings, lines_by_path, _base_dir(path)):
        slots = by_context.get(e.fingerprint)
        if slots:
            used[slots.pop(0)] = True
            known_ids.add(id(f))
        else:
            unmatched.append((f, e))
    by_line: dict[str, list[int]] = {}
    for i, e in enumerate(recorded):
        if not used[i]:
            by_line.setdefault(e.line_fingerprint, []).append(i)
    for f, e in unmatched:
        slots = by_line.get(e.line_fingerprint)
        if slots:
            used[slots.pop(0)] = True
            known_ids.add(id(f))
    return Comparison(
        new=[f for f in findings if id(f) not in known_ids],
        known=[f for f in findings if id(f) in known_ids],
        gone=[e for i, e in enumerate(recorded) if not used[i]],
    )


def filter_new(path: str, findings: list[Finding], lines_by_path: dict) -> list[Finding]:
    """The findings that `path` does not record (EPL000 always stays)."""
    return compare(path, findings, lines_by_path).new
