"""The last measured evidence per rule code, kept in the user cache dir (no TensorFlow here).

`verify` calls `save(...)` after a run; `epochlint explain CODE` calls `last_summary(code)`.
File: `$XDG_CACHE_HOME/epochlint/verify-last.json` (default `~/.cache/epochlint/...`), shaped
`{"codes": {CODE: {KERAS_VERSION: {"confirmed", "summary", "seconds", "tensorflow_version",
"measured_at"}}}}`: a run updates only the codes it ran, per Keras version.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

FILENAME = "verify-last.json"


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "epochlint" / FILENAME


def load() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"codes": {}}
    if not isinstance(data, dict) or not isinstance(data.get("codes"), dict):
        return {"codes": {}}
    return data


def save(witnesses: list[dict[str, Any]], keras_version: str, tensorflow_version: str) -> Path | None:
    """Merge these witness results into the cache file; returns its path (None if unwritable)."""
    data = load()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for w in witnesses:
        data["codes"].setdefault(w["code"], {})[keras_version] = {
            "confirmed": bool(w["confirmed"]), "summary": w.get("summary", ""), "seconds": w.get("seconds"),
            "tensorflow_version": tensorflow_version, "measured_at": stamp}
    path = cache_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".verify-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def last_summary(code: str) -> str | None:
    """`"Keras 3.15.1 / TensorFlow 2.21.0 (2026-...): CONFIRMED - <evidence>"`, one line per Keras
    version measured (newest Keras first); None when `verify` never ran this code."""
    entries = load()["codes"].get(code.strip().upper())
    if not entries:
        return None
    lines = []
    for version in sorted(entries, key=_version_key, reverse=True):
        e = entries[version]
        if not isinstance(e, dict):
            continue
        verdict = "CONFIRMED" if e.get("confirmed") else "REFUTED"
        lines.append(f"Keras {version} / TensorFlow {e.get('tensorflow_version', '?')} ({e.get('measured_at', '?')}): "
                     f"{verdict} - {e.get('summary', '')}")
    return "\n".join(lines) or None


def _version_key(version: str) -> tuple:
    parts = []
    for piece in version.split("."):
        parts.append(int(piece) if piece.isdigit() else 0)
    return tuple(parts)
