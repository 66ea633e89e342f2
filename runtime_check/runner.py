"""Runs the selected patterns and witnesses on a loaded `Env`, timing each, and reports each
result through a callback as soon as it finishes. A crashing experiment becomes a result with
`confirmed: False` and its error in the evidence; it never stops the run.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from runtime_check import patterns as patterns_mod
from runtime_check.env import Env
from runtime_check.witnesses import Witness
from runtime_check.witnesses.base import clip, last_line


def run_witness(env: Env, w: Witness) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        outcome = w.run(env)
        evidence, confirmed, summary, checks = outcome.evidence, outcome.confirmed, outcome.summary, outcome.checks.items
    except Exception as exc:  # noqa: BLE001 - reported as a failed witness
        evidence = {"error": {"type": type(exc).__name__, "message": last_line(exc)}}
        confirmed, summary, checks = False, f"error: {type(exc).__name__}: {clip(last_line(exc), 120)}", {}
    return {"code": w.code, "claim": w.claim, "confirmed": bool(confirmed), "evidence": evidence,
            "seconds": round(time.perf_counter() - start, 3), "summary": summary, "checks": checks,
            "keras_version": env.keras_version}


def run(env: Env, witnesses: list[Witness], with_patterns: bool,
        on_pattern: Callable[[dict[str, Any]], None] = lambda p: None,
        on_witness: Callable[[dict[str, Any]], None] = lambda w: None) -> tuple[list, list, list]:
    """(pattern results, witness results, seed audit)."""
    pattern_results: list[dict[str, Any]] = []
    if with_patterns:
        for pattern in patterns_mod.PATTERNS.values():
            result = patterns_mod.run_pattern(env, pattern)
            pattern_results.append(result)
            on_pattern(result)
    witness_results = []
    for w in witnesses:
        result = run_witness(env, w)
        witness_results.append(result)
        on_witness(result)
    audit = []
    if with_patterns:
        epl201 = next((w["evidence"] for w in witness_results if w["code"] == "EPL201" and w["confirmed"]), None)
        audit = patterns_mod.audit({p["name"]: p for p in pattern_results}, epl201)
    return pattern_results, witness_results, audit
