"""`--format sarif`: a SARIF 2.1.0 log (one run) for GitHub code scanning and other viewers.

- `tool.driver` lists every rule (and the engine's own codes EPL000/EPL900) with `id`, `name`,
  `shortDescription` (summary), `fullDescription` (the measured claim), `help` (the rule's
  page, docs/rules/CODE.md, as text and Markdown: GitHub shows it with the alert) and
  `properties.doc` (that page's path in the repository). `helpUri` (the page's URL) and the
  driver's `informationUri` are added when `[project.urls]` names the GitHub repository: SARIF
  requires absolute URIs there, and GitHub rejects an upload whose `helpUri` is relative.
- A result has `ruleId`/`ruleIndex`, `level`, `message`, one `physicalLocation` whose
  `artifactLocation.uri` is relative to the current directory with `uriBaseId` `%SRCROOT%`
  (defined in `originalUriBaseIds`), and a 1-based `region`; columns count Unicode code points
  (`columnKind`), end positions are exclusive, as SARIF says.
- `fixes` (artifactChanges -> replacements with `deletedRegion` + `insertedContent`) for safe
  fixes, and for unsafe ones with `--unsafe-fixes`.
- Notebook findings: the region is the line of the `.ipynb` file where the flagged source line is
  written (linter/report/nbpos.py; GitHub shows results on lines of the file), with no columns;
  the cell and the position inside it are in `properties` (`cell`, `cellLine`, `cellColumn`,
  `cellEndLine`, `cellEndColumn`) and the message starts with "cell N, line L:". They carry no
  `fixes`, whose regions would have to be in the notebook's JSON text.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from linter import __version__
from linter.report.escape import unicode

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
LEVELS = {"error": "error", "warning": "warning", "info": "note", "note": "note"}


def _descriptors() -> list[dict]:
    from linter.docs import explain_markdown, rule_doc_path, rule_doc_uri
    from linter.rules import ALL_RULES, META_CODES

    out = []
    for rule in ALL_RULES:
        out.append(
            {
                "id": rule.code,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "fullDescription": {"text": rule.claim or rule.summary},
                "help": {"text": rule.summary, "markdown": explain_markdown(rule.code, with_evidence=False)},
                "helpUri": rule_doc_uri(rule.code),
                "defaultConfiguration": {"level": "error"},
                "properties": {"doc": rule_doc_path(rule.code), "fixable": rule.fixable, "witness": rule.witness, "tags": ["keras", "tensorflow", "training"]},
            }
        )
    for code, meta in META_CODES.items():
        out.append(
            {
                "id": code,
                "name": meta["name"],
                "shortDescription": {"text": meta["summary"]},
                "fullDescription": {"text": meta["summary"]},
                "help": {"text": meta["summary"], "markdown": explain_markdown(code)},
                "helpUri": rule_doc_uri(code),
                "defaultConfiguration": {"level": "error"},
                "properties": {"doc": rule_doc_path(code), "fixable": "safe" if code == "EPL900" else None},
            }
        )
    for d in out:
        if d["helpUri"] is None:
            del d["helpUri"]
    return sorted(out, key=lambda d: d["id"])


def artifact_location(path: str) -> dict:
    """A relative `uri` under %SRCROOT% (the current directory), or an absolute file URI."""
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute, os.getcwd())
    # percent-encode the name's bytes: a name that is not valid UTF-8 is encoded as it is on disk
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return {"uri": "file://" + quote(os.fsencode(Path(absolute).as_posix()), safe="/")}
    return {"uri": quote(os.fsencode(Path(rel).as_posix()), safe="/"), "uriBaseId": SRCROOT}


def _region(line: int, column: int, end_line: int, end_column: int) -> dict:
    line, column = max(line, 1), max(column, 1)
    end_line = max(end_line, line)
    end_column = max(end_column, column + 1) if end_line == line else max(end_column, 1)
    return {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}


def _result(f, index: dict, unsafe_fixes: bool, notebooks=None) -> dict:
    location = artifact_location(f.path)
    message = unicode(f.message if f.cell is None else f"cell {f.cell}, line {f.line}: {f.message}")
    if f.cell is None:
        region = _region(f.line, f.column, f.end_line, f.end_column)
    else:
        file_line = notebooks.file_line(f.path, f.cell, f.line) if notebooks is not None else None
        region = {"startLine": file_line if file_line is not None else 1}
    res = {
        "ruleId": f.code,
        "level": LEVELS.get(f.severity, "warning"),
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": region}}],
    }
    if f.code in index:
        res["ruleIndex"] = index[f.code]
    if f.cell is not None:
        res["properties"] = {
            "cell": f.cell, "cellLine": f.line, "cellColumn": f.column, "cellEndLine": f.end_line, "cellEndColumn": f.end_column,
        }
    fix = f.fix
    if fix is not None and f.cell is None and (fix.applicability == "safe" or unsafe_fixes) and fix.edits:
        res["fixes"] = [
            {
                "description": {"text": fix.description or f"{f.code} fix ({fix.applicability})"},
                "artifactChanges": [
                    {
                        "artifactLocation": location,
                        "replacements": [
                            {
                                "deletedRegion": {"startLine": e.line, "startColumn": e.column, "endLine": e.end_line, "endColumn": e.end_column},
                                "insertedContent": {"text": unicode(e.content)},
                            }
                            for e in fix.edits
                        ],
                    }
                ],
            }
        ]
    return res


def sarif_log(result) -> dict:
    rules = _descriptors()
    index = {d["id"]: i for i, d in enumerate(rules)}
    from linter.docs import repository_url
    from linter.report.nbpos import NotebookLines

    notebooks = NotebookLines()

    driver = {"name": "epochlint", "version": __version__, "semanticVersion": __version__, "rules": rules}
    repo = repository_url()
    if repo:
        driver["informationUri"] = repo
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": "file://" + quote(os.fsencode(Path.cwd().as_posix()), safe="/").rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index, result.unsafe_fixes, notebooks) for f in result.findings],
        "invocations": [{"executionSuccessful": True}],
        "properties": {"filesChecked": result.files_checked, "filesSkipped": result.files_skipped},
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(result) -> str:
    return json.dumps(sarif_log(result), indent=2) + "\n"
