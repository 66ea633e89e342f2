"""The rule registry: every `linter/rules/epl*.py` module contributes one Rule subclass.

`ALL_RULES` is sorted by code. `META_CODES` are codes the engine itself reports
(unreadable/unparseable files, internal errors, unused suppressions); they have no witness.
"""
from __future__ import annotations

import importlib
import pkgutil

from linter.rules.base import Invalid, NodeFix, Rule, Valid

META_CODES: dict[str, dict[str, str]] = {
    "EPL000": {
        "name": "syntax-error",
        "summary": "the file cannot be read or parsed (also `unreadable-file`, `too-large`, `internal-error`)",
    },
    "EPL900": {"name": "unused-noqa", "summary": "a `# noqa: EPL...` comment that suppresses nothing"},
}


def _discover() -> tuple[type[Rule], ...]:
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("epl"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__:
                if obj.code in found:
                    raise RuntimeError(f"duplicate rule code {obj.code}")
                found[obj.code] = obj
    return tuple(found[c] for c in sorted(found))


ALL_RULES: tuple[type[Rule], ...] = _discover()
RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}
RULES_BY_NAME: dict[str, type[Rule]] = {r.name: r for r in ALL_RULES}
ALL_CODES: tuple[str, ...] = tuple(sorted([*RULES_BY_CODE, *META_CODES]))


def code_for(token: str) -> str | None:
    """A code from a code or a rule name (`EPL101`, `epochs-attribute`)."""
    t = token.strip()
    if t.upper() in RULES_BY_CODE or t.upper() in META_CODES:
        return t.upper()
    if t in RULES_BY_NAME:
        return RULES_BY_NAME[t].code
    for code, meta in META_CODES.items():
        if t == meta["name"]:
            return code
    return None


def name_for(code: str) -> str:
    if code in RULES_BY_CODE:
        return RULES_BY_CODE[code].name
    return META_CODES[code]["name"]


__all__ = ["ALL_RULES", "ALL_CODES", "META_CODES", "RULES_BY_CODE", "Rule", "Valid", "Invalid", "NodeFix", "code_for", "name_for"]
