"""One source of truth per rule, checked without TensorFlow.

A rule's claim lives on the Rule class; its witness (runtime_check/witnesses) registers against
the rule, proves that very claim (no copy of it) and declares which of the rule's firing
conditions (`Rule.fires_on`) it measures: every condition the rule can fire on must be measured.
Adding a rule means its module, its witness and its fixtures: the docs (docs/rules/, the README
table, docs/RULES.md's tables) are generated (tests/test_docs.py), the fixtures are required
(tests/test_fixtures.py) and so is the witness (here)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from linter.rules import ALL_RULES, RULES_BY_CODE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def witnesses():
    from runtime_check.witnesses import WITNESSES

    return WITNESSES


def test_importing_the_witnesses_imports_neither_tensorflow_nor_keras():
    code = "import sys, runtime_check.witnesses; print(sorted(m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_every_rule_has_one_witness_and_every_witness_a_rule(witnesses):
    assert sorted(witnesses) == [r.code for r in ALL_RULES]


def test_a_witness_cannot_be_registered_for_a_code_that_is_no_rule():
    from runtime_check.witnesses.base import witness

    with pytest.raises(RuntimeError, match="EPL999"):
        witness("EPL999", covers={})


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_the_witness_proves_the_rules_own_claim(rule, witnesses):
    assert rule.claim.strip(), f"{rule.code}: no claim"
    assert witnesses[rule.code].claim == " ".join(rule.claim.split())


# Conditions a rule still fires on although its witness measured the opposite of the claim there.
# Each is a known false positive waiting for a rule fix; remove the entry with the fix (a test
# fails while an entry is stale).
REFUTED = {
}


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_the_witness_measures_every_condition_the_rule_fires_on(rule, witnesses):
    assert rule.fires_on, f"{rule.code}: declare `fires_on` (the conditions the rule fires on)"
    covers = witnesses[rule.code].covers
    unmeasured = {
        dim: [value for value in values if value not in covers.get(dim, ()) and (rule.code, dim, value) not in REFUTED]
        for dim, values in rule.fires_on.items()
    }
    unmeasured = {dim: values for dim, values in unmeasured.items() if values}
    assert unmeasured == {}, f"{rule.code} fires on conditions its witness does not measure: extend the witness"
    unknown = set(covers) - set(rule.fires_on)
    assert not unknown, f"{rule.code}'s witness covers dimensions the rule does not have: {sorted(unknown)}"


def test_refuted_conditions_are_still_real_and_not_claimed(witnesses):
    for (code, dim, value), why in REFUTED.items():
        assert value in RULES_BY_CODE[code].fires_on.get(dim, ()), f"{code} no longer fires on {value}: drop the REFUTED entry"
        assert value not in witnesses[code].covers.get(dim, ()), f"{code}'s witness claims {value}: {why}"


def test_fires_on_is_declarative(witnesses):
    for rule in ALL_RULES:
        for dim, values in rule.fires_on.items():
            assert isinstance(dim, str) and isinstance(values, tuple) and values, (rule.code, dim)
            assert all(isinstance(v, str) and v for v in values) and len(set(values)) == len(values), (rule.code, dim)
    assert RULES_BY_CODE["EPL304"].fires_on["input"] == ("dataset", "generator", "iterator", "PyDataset")
