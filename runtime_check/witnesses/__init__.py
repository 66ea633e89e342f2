"""The witness registry: `WITNESSES` maps each rule code to its `Witness` (code, claim, run,
covers).

One module per rule family (`epl1`, `epl2`, `epl3`, `epl4`); each witness registers itself against its
rule with the `@witness(code, covers=...)` decorator from `base`: the claim it proves is the
rule's `claim`, and `covers` says which of the rule's firing conditions (`Rule.fires_on`) it
measures. Importing this package does not import TensorFlow; a witness imports nothing until it
runs with a loaded `Env`.
"""
from __future__ import annotations

from runtime_check.witnesses import epl1, epl2, epl3, epl4  # noqa: F401 - registration
from runtime_check.witnesses.base import REGISTRY, Outcome, Witness

WITNESSES: dict[str, Witness] = dict(sorted(REGISTRY.items()))


def select(patterns: list[str] | None) -> list[Witness]:
    """Witnesses whose code equals or starts with one of `patterns` (all when None/empty)."""
    if not patterns:
        return list(WITNESSES.values())
    wanted = [p.strip().upper() for p in patterns if p.strip()]
    return [w for code, w in WITNESSES.items() if any(code.startswith(p) for p in wanted)]


__all__ = ["WITNESSES", "Witness", "Outcome", "select"]
