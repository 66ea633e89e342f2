"""Rendering of verify results: text table lines (printed as each experiment finishes) and the
JSON document of CLI.md. No TensorFlow here.
"""
from __future__ import annotations

import shutil
import textwrap
from typing import Any

from runtime_check.patterns import summary as pattern_summary

NAME_W, VERDICT_W, SECS_W = 22, 9, 7
INDENT = NAME_W + 1 + VERDICT_W + 1 + SECS_W + 2


def _width() -> int:
    return max(80, min(140, shutil.get_terminal_size((110, 24)).columns))


def _wrap(text: str, first: str, width: int) -> list[str]:
    lines = textwrap.wrap(text, width=width - INDENT) or [""]
    return [first + lines[0]] + [" " * INDENT + ln for ln in lines[1:]]


def header(info: dict[str, Any]) -> list[str]:
    title = (f"epochlint verify: TensorFlow {info['tensorflow_version']}, Keras {info['keras_version']} "
             f"(backend {info['backend']}), TensorFlow import {info.get('import_seconds', 0):.1f} s")
    cols = f"{'PATTERN / RULE':<{NAME_W}} {'VERDICT':<{VERDICT_W}} {'SECONDS':>{SECS_W}}  CLAIM / evidence"
    return [title, cols, "-" * min(_width(), 120)]


def row(name: str, confirmed: bool, seconds: float, claim: str, evidence: str, error: bool = False) -> list[str]:
    width = _width()
    verdict = "ERROR" if error else ("CONFIRMED" if confirmed else "REFUTED")
    first = f"{name:<{NAME_W}} {verdict:<{VERDICT_W}} {seconds:>{SECS_W}.2f}  "
    return _wrap(claim, first, width) + _wrap("evidence: " + evidence, " " * INDENT, width)


def pattern_row(p: dict[str, Any]) -> list[str]:
    return row(p["name"], p["confirmed"], p["seconds"], p["claim"], pattern_summary(p), "error" in p)


def witness_row(w: dict[str, Any]) -> list[str]:
    return row(w["code"], w["confirmed"], w["seconds"], w["claim"], w["summary"], "error" in w["evidence"])


def audit_lines(audit: list[dict[str, Any]]) -> list[str]:
    if not audit:
        return []
    width = _width()
    out = ["", "Seed audit: the examples of the article epochlint started from (functional-model-epochs.md), re-run here:"]
    for a in audit:
        out += textwrap.wrap(f"Ex.{a['example']} {a['verdict']}: {a['claim']}", width=width, initial_indent="  ",
                             subsequent_indent="      ")
        out += textwrap.wrap("measured: " + a["measured"], width=width, initial_indent="      ",
                             subsequent_indent="      ")
    return out


def footer(doc: dict[str, Any]) -> list[str]:
    items = doc["patterns"] + doc["witnesses"]
    refuted = [i.get("code") or i.get("name") for i in items if not i["confirmed"]]
    slowest = max(doc["witnesses"], key=lambda w: w["seconds"], default=None)
    line = (f"{len(doc['witnesses'])} witnesses, {len(doc['patterns'])} patterns: {len(items) - len(refuted)} confirmed, "
            f"{len(refuted)} refuted in {doc['total_seconds']:.1f} s")
    if slowest:
        line += f" (slowest witness {slowest['code']} {slowest['seconds']:.2f} s)"
    out = ["", line]
    if refuted:
        out.append("refuted: " + ", ".join(refuted))
    return out


def document(info: dict[str, Any], patterns: list[dict[str, Any]], witnesses: list[dict[str, Any]],
             audit: list[dict[str, Any]], total_seconds: float) -> dict[str, Any]:
    """The JSON of CLI.md (`keras_version`, `tensorflow_version`, `backend`, `patterns`, `witnesses`)
    plus `keras_major`, `keras_package`, `seed_audit`, `import_seconds` and `total_seconds`."""
    return {
        "keras_version": info["keras_version"],
        "tensorflow_version": info["tensorflow_version"],
        "backend": info["backend"],
        "keras_major": info["keras_major"],
        "keras_package": info.get("keras_package"),
        "patterns": patterns,
        "witnesses": witnesses,
        "seed_audit": audit,
        "import_seconds": info.get("import_seconds"),
        "total_seconds": round(total_seconds, 3),
    }
