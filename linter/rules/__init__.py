"""The rule registry: every `linter/rules/epl*.py` module contributes one Rule subclass.

`ALL_RULES` is sorted by code. `META_CODES` are codes the engine itself reports
(unreadable/unparseable files, internal errors, unused suppressions); they have no witness.
"""
from __future__ import annotations

import importlib
import pkgutil
import re

META_CODES: dict[str, dict[str, str]] = {
    "EPL000": {
        "name": "syntax-error",
        "summary": "the file cannot be read or parsed (also `unreadable-file`, `too-large`, `internal-error`)",
    },
    "EPL900": {"name": "unused-noqa", "summary": "a `# noqa: EPL...` comment that suppresses nothing"},
}

# Codes and names come from the module names (`epl101_epochs_attribute.py` -> EPL101,
# `epochs-attribute`; tests/test_limits.py checks them against the classes), so that settings,
# `--select` and noqa parsing need no rule module: importing those imports libcst (~0.5 s), and
# a run where no file needs a parse never does. The classes load on first use of ALL_RULES, or
# only those of the enabled codes through `rules_for` (the engine's way).
_MODULE_NAME = re.compile(r"^epl(\d{3})_(\w+)$")
_MODULES: dict[str, str] = {  # code -> module name
    f"EPL{m.group(1)}": m.group(0) for m in (_MODULE_NAME.match(info.name) for info in pkgutil.iter_modules(__path__)) if m
}
_RULE_NAMES: dict[str, str] = {code: module.split("_", 1)[1].replace("_", "-") for code, module in _MODULES.items()}
ALL_CODES: tuple[str, ...] = tuple(sorted([*_RULE_NAMES, *META_CODES]))
_BASE_NAMES = ("Invalid", "Rule", "Valid")
_LOADED_NAMES = ("ALL_RULES", "RULES_BY_CODE", "RULES_BY_NAME")


def _discover() -> tuple:
    from linter.rules.base import Rule

    found: dict = {}
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


def _rule_of(module_name: str) -> type:
    from linter.rules.base import Rule

    module = importlib.import_module(f"{__name__}.{module_name}")
    found = [obj for obj in vars(module).values()
             if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == module.__name__]
    if len(found) != 1:
        raise RuntimeError(f"{module.__name__} defines {len(found)} rules, not one")
    return found[0]


_SELECTED: dict[frozenset, tuple] = {}


def rules_for(codes: frozenset) -> tuple:
    """The rule classes of `codes` (other codes ignored), sorted by code. Only their modules are
    imported (with their analyses): `--select EPL101` loads one rule, not all of them."""
    found = _SELECTED.get(codes)
    if found is None:
        if "ALL_RULES" in globals():
            found = tuple(r for r in globals()["ALL_RULES"] if r.code in codes)
        else:
            found = tuple(_rule_of(_MODULES[c]) for c in sorted(codes) if c in _MODULES)
        _SELECTED[codes] = found
    return found


def __getattr__(name: str):
    if name in _BASE_NAMES:
        from linter.rules import base

        return getattr(base, name)
    if name in _LOADED_NAMES:
        rules = _discover()
        globals().update(
            ALL_RULES=rules, RULES_BY_CODE={r.code: r for r in rules}, RULES_BY_NAME={r.name: r for r in rules}
        )
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def code_for(token: str) -> str | None:
    """A code from a code or a rule name (`EPL101`, `epochs-attribute`)."""
    t = token.strip()
    if t.upper() in _RULE_NAMES or t.upper() in META_CODES:
        return t.upper()
    for code, name in _RULE_NAMES.items():
        if t == name:
            return code
    for code, meta in META_CODES.items():
        if t == meta["name"]:
            return code
    return None


def name_for(code: str) -> str:
    if code in _RULE_NAMES:
        return _RULE_NAMES[code]
    return META_CODES[code]["name"]


__all__ = ["ALL_RULES", "ALL_CODES", "META_CODES", "RULES_BY_CODE", "Rule", "Valid", "Invalid", "code_for", "name_for"]
