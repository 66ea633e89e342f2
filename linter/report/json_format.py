"""`--format json`: the one JSON object of CLI.md (version, findings, files_checked, files_skipped)."""
from __future__ import annotations

import json

from linter import __version__
from linter.report.escape import unicode


def _finding(f) -> dict:
    data = f.to_json()
    data["path"], data["message"] = unicode(data["path"]), unicode(data["message"])
    return data


def render(result) -> str:
    if result.statistics:
        from linter.report.text import statistics_json

        return json.dumps(statistics_json(result), indent=2) + "\n"
    return json.dumps(
        {
            "version": __version__,
            "findings": [_finding(f) for f in result.findings],
            "files_checked": result.files_checked,
            "files_skipped": result.files_skipped,
        },
        indent=2,
    ) + "\n"
