"""The full `verify` run (once per session): every claim confirmed on the installed Keras, the
JSON contract of CLI.md, the training patterns, the seed audit, the plots and the evidence cache."""
from __future__ import annotations

import json

import pytest

from linter.rules import ALL_RULES
from runtime_check import evidence
from runtime_check.witnesses import WITNESSES

CODES = [r.code for r in ALL_RULES]  # one witness per rule, in code order



def test_registry_matches_linter_rules():
    assert sorted(WITNESSES) == CODES


def test_exit_zero_and_every_claim_confirmed(verify_run):
    code, doc = verify_run
    refuted = {w["code"]: (w["summary"], w.get("checks")) for w in doc["witnesses"] if not w["confirmed"]}
    refuted.update({p["name"]: p for p in doc["patterns"] if not p["confirmed"]})
    assert refuted == {}
    assert code == 0


def test_json_contract(doc, env):
    for key in ("keras_version", "tensorflow_version", "backend", "patterns", "witnesses"):
        assert key in doc
    assert doc["keras_version"] == env.keras_version
    assert doc["tensorflow_version"] == env.tf.__version__
    assert doc["backend"] == "tensorflow"
    assert doc["keras_package"] == ("keras" if env.keras_major >= 3 else "tf_keras")
    assert [w["code"] for w in doc["witnesses"]] == CODES
    for w in doc["witnesses"]:
        assert {"code", "claim", "confirmed", "evidence", "seconds"} <= set(w)
        assert isinstance(w["confirmed"], bool)
        assert isinstance(w["evidence"], dict) and w["evidence"]
        assert isinstance(w["seconds"], float) and 0 <= w["seconds"] < 30
        assert w["claim"] == WITNESSES[w["code"]].claim
        assert w["keras_version"] == env.keras_version
    # plain JSON types only: a numpy scalar anywhere would make this raise
    json.dumps(doc, allow_nan=False)
    assert doc["total_seconds"] >= sum(w["seconds"] for w in doc["witnesses"])


@pytest.mark.parametrize("name", ["fit-functional", "fit-sequential", "fit-subclassed", "seed-eager-loop",
                                  "seed-tf-function-loop"])
def test_ten_epoch_patterns_train(patterns, name):
    p = patterns[name]
    assert p["epochs_run"] == 10 and len(p["losses"]) == 10
    assert p["losses"][-1] < 0.5 * p["losses"][0]
    assert p["eval_mse_after"] < 0.5 * p["eval_mse_before"]
    assert p["loss_fell"] and p["confirmed"]


def test_three_fit_styles_train_identically(patterns):
    # same seed, same layers: the functional, Sequential and subclassed models are the same net
    losses = [patterns[n]["losses"] for n in ("fit-functional", "fit-sequential", "fit-subclassed")]
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    assert losses[2] == pytest.approx(losses[0], rel=1e-4)


def test_misconception_runs_one_epoch(patterns):
    p = patterns["seed-misconception"]
    assert p["epochs_run"] == 1 and p["expected_epochs"] == 1 and p["confirmed"]


def test_seed_loops_use_an_unreduced_loss(patterns):
    for name in ("seed-eager-loop", "seed-tf-function-loop"):
        # 200 samples in batches of 32: six (32,) losses and a partial (8,) one
        assert patterns[name]["loss_shapes"] == [[32], [8]]
    compiled = patterns["seed-tf-function-loop"]
    assert compiled["traces"] >= 2  # the partial last batch retraces train_step
    assert compiled["printed_loss_shape"] == [8]


def test_seed_audit(doc, patterns):
    audit = {a["example"]: a for a in doc["seed_audit"]}
    assert set(audit) == {1, 2, 3}
    assert audit[1]["verdict"] == "REFUTED"
    assert "ran 10 epochs" in audit[1]["measured"]
    first, last = patterns["fit-functional"]["losses"][0], patterns["fit-functional"]["losses"][-1]
    assert f"{first:.3g} -> {last:.3g}" in audit[1]["measured"]
    for n in (2, 3):
        assert audit[n]["verdict"] == "CONFIRMED"
        assert "EPL201" in audit[n]["measured"] and "(32,)" in audit[n]["measured"]


def test_plots_written(verify_run, plot_dir, patterns):
    names = {p.name for p in plot_dir.iterdir()}
    assert names == {"patterns.png", *(f"{n}.png" for n in patterns)}
    for path in plot_dir.iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000


def test_evidence_cache(verify_run, cache_dir, env, witnesses):
    path = cache_dir / "epochlint" / "verify-last.json"
    stored = json.loads(path.read_text())
    assert sorted(stored["codes"]) == CODES
    summary = evidence.last_summary("EPL101")
    assert summary is not None
    assert f"Keras {env.keras_version}" in summary and "CONFIRMED" in summary
    assert witnesses["EPL101"]["summary"] in summary
    assert evidence.last_summary("epl105") is not None
    assert evidence.last_summary("EPL999") is None
