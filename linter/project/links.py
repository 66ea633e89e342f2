"""Calls across project modules: what one module passes to another's functions.

A parameter of a module-level function is known to be a Keras model when every call of the
function passes one (linter.semantic `_param_provenance`). Calls in the function's own module
are seen by its own check; calls made in other modules are brought to it here, in two steps of
a run (linter.parallel):

1. A module's check records which of its module-level functions a rule asked about
   (`SemanticModel.asked_functions`). An importer's check is told which of those it imports
   (`ProjectView.wanted`: {module key: [function names]}) and `CallLinks` records how it uses
   each: every call, with the provenance of each argument (known model / known not / unknown),
   or "escape" when it is used in any other way (passed as a value, re-exported, imported and
   not used, star-imported, called with `*args`).
2. After every module is checked, a module whose asked functions are called from other modules
   of the run is checked again, its `ProjectView.incoming` holding those calls
   ({function name: [call records] | "escape"}).

A call record is {"a": [provenance of each positional argument], "k": {keyword: provenance},
"s": unpacks *args/**kwargs}. Only the modules checked in the same run are callers: a function
called from a module not on the command line is known from the calls the run sees (the same
trust the rules give to calls in one module).

This module holds the records and their merging (no libcst: a run answered from the cache reads
them); the walk that makes them is linter.project.call_links.
"""
from __future__ import annotations

import hashlib
import json

ESCAPE = "escape"


def escape_all(wanted: dict) -> dict:
    """The records of a module whose uses could not be followed: every wanted function escapes."""
    return {key: {fn: ESCAPE for fn in names} for key, names in wanted.items()}


def argument_verdict(record: dict, positional: list, name: str, keyword_ok: bool):
    """The provenance a call record gives parameter `name` of a function whose positional
    parameters are `positional`: True/False/None, or "unknown-argument" (`*args`, or the
    parameter not passed: its default, which the caller's module does not know)."""
    if record.get("s"):
        return "unknown-argument"
    args = record.get("a") or []
    keywords = record.get("k") or {}
    if name in positional and positional.index(name) < len(args):
        return args[positional.index(name)]
    if keyword_ok and name in keywords:
        return keywords[name]
    return "unknown-argument"


def incoming(records_by_module: dict, key: str, exclude: frozenset = frozenset()) -> dict:
    """{function: [call records] | "escape"}: the calls of module `key`'s functions made by the
    other modules (`records_by_module`: module key -> CallLinks.records(); `exclude`: modules
    not counted, e.g. `key` itself)."""
    out: dict = {}
    for caller in sorted(records_by_module):
        if caller == key or caller in exclude:
            continue
        for fn, calls in (records_by_module[caller] or {}).get(key, {}).items():
            if calls == ESCAPE or out.get(fn) == ESCAPE:
                out[fn] = ESCAPE
            elif isinstance(calls, list):
                out.setdefault(fn, []).extend(calls)
    return out


def digest(value: dict) -> str:
    """A short key of `wanted`/`incoming` for a cache entry's dependencies."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=sorted)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
