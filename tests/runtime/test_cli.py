"""`epochlint verify` command-line behaviour: rule selection, text output, usage errors, the
exit-2 path without TensorFlow, the import discipline, Keras 2 via --keras2, determinism."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runtime_check import patterns as patterns_mod
from runtime_check import runner
from runtime_check.witnesses import WITNESSES, select

ROOT = Path(__file__).resolve().parents[2]


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "PYTHONPATH")}
    env.update(extra)
    return env


def test_select_by_code_and_prefix():
    assert [w.code for w in select(["EPL103"])] == ["EPL103"]
    assert [w.code for w in select(["epl3"])] == [
        "EPL301", "EPL302", "EPL303", "EPL304", "EPL305", "EPL306", "EPL307", "EPL308", "EPL309", "EPL310", "EPL311",
    ]
    assert [w.code for w in select(["EPL4"])] == ["EPL401", "EPL402", "EPL403"]
    assert len(select(["EPL2"])) == 9
    # one witness per rule of the registry, no more
    from linter.rules import ALL_RULES

    assert [w.code for w in select(None)] == sorted(WITNESSES) == [r.code for r in ALL_RULES]
    assert len(WITNESSES) == 33


def test_importing_cli_and_evidence_does_not_import_tensorflow():
    code = "import sys, runtime_check.cli, runtime_check.evidence; " \
           "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_subprocess_env(), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_exit_2_without_tensorflow(tmp_path):
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tensorflow (test stub)')\n")
    proc = subprocess.run([sys.executable, "-m", "runtime_check.cli", "--rule", "EPL101"], cwd=ROOT,
                          env=_subprocess_env(PYTHONPATH=str(tmp_path / "fake"), XDG_CACHE_HOME=str(tmp_path)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'epochlint[runtime]'" in proc.stderr
    assert "TensorFlow" in proc.stderr
    assert proc.stdout == ""
    assert not (tmp_path / "epochlint").exists()


def test_unknown_rule_is_a_usage_error(capsys, run_main):
    assert run_main(["--rule", "EPL999"])[0] == 2
    assert "EPL999" in capsys.readouterr().err
    assert run_main(["--format", "xml"])[0] == 2


def test_text_output_selected_rules(env, cache_dir, run_main):
    code, out = run_main(["--rule", "EPL103", "--rule", "EPL207,EPL208"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("epochlint verify: TensorFlow ") and f"Keras {env.keras_version}" in lines[0]
    rows = [ln for ln in lines if ln[:6] in ("EPL103", "EPL207", "EPL208") or ln.startswith(("EPL1", "EPL2", "EPL3"))]
    assert [r.split()[0] for r in rows] == ["EPL103", "EPL207", "EPL208"]
    for r in rows:
        assert r.split()[1] == "CONFIRMED"
        float(r.split()[2])  # seconds column
    assert "evidence: fit: TypeError; evaluate: " in out
    assert "fit-functional" not in out  # patterns only run without --rule
    assert "3 witnesses, 0 patterns: 3 confirmed, 0 refuted" in out


def test_refuted_claim_exits_1(env, monkeypatch, run_main):
    from runtime_check.witnesses import base

    real = WITNESSES["EPL208"]
    broken = base.Witness(code="EPL208", claim=real.claim,
                          run=lambda e: base.Outcome({"x": 1}, base.Checks({"forced": False}), "forced refutation"))
    monkeypatch.setitem(WITNESSES, "EPL208", broken)
    code, out = run_main(["--rule", "EPL208", "--format", "json"])
    assert code == 1
    assert json.loads(out)["witnesses"][0]["confirmed"] is False


def test_crashing_witness_is_reported_not_raised(env, monkeypatch, run_main):
    from runtime_check.witnesses import base

    def crash(e):
        raise RuntimeError("boom")

    monkeypatch.setitem(WITNESSES, "EPL208", base.Witness(code="EPL208", claim="c", run=crash))
    code, out = run_main(["--rule", "EPL208"])
    assert code == 1
    assert "ERROR" in out and "RuntimeError: boom" in out


def test_same_seeds_give_the_same_evidence(env, witnesses, patterns):
    """Re-run some witnesses and a pattern in this process: identical evidence to the session run."""
    for code in ("EPL104", "EPL201", "EPL303"):
        again = runner.run_witness(env, WITNESSES[code])
        assert again["evidence"] == witnesses[code]["evidence"], code
    for name in ("fit-functional",):
        again = patterns_mod.run_pattern(env, patterns_mod.PATTERNS[name])
        assert again["losses"] == patterns[name]["losses"], name
        assert again["eval_mse_after"] == patterns[name]["eval_mse_after"], name


KERAS2_RULES = "EPL102,EPL106,EPL207,EPL301,EPL303,EPL306,EPL307,EPL311"  # the claims that differ between versions


@pytest.mark.skipif(__import__("importlib").util.find_spec("tf_keras") is None, reason="tf_keras not installed")
def test_keras2_via_subprocess(env, cache_dir, run_main):
    """--keras2 re-runs the witnesses against tf_keras (TF_USE_LEGACY_KERAS=1) and nests its JSON."""
    code, out = run_main(["--keras2", "--format", "json", "--rule", KERAS2_RULES])
    doc = json.loads(out)
    k2 = doc["keras2"]
    assert k2.get("keras_version", "").startswith("2."), k2
    assert k2["keras_major"] == 2
    assert k2["keras_package"] == "tf_keras"  # `tf.keras` resolved to tf_keras in legacy mode
    w = {x["code"]: x for x in k2["witnesses"]}
    assert sorted(w) == KERAS2_RULES.split(",")
    assert all(x["confirmed"] for x in w.values()), {c: x["summary"] for c, x in w.items() if not x["confirmed"]}
    assert all(x["keras_version"] == k2["keras_version"] for x in w.values())
    # the Keras 2 side of each version-specific claim
    assert w["EPL102"]["evidence"]["Model"]["type"] == "TypeError"
    assert "Keyword argument not understood" in w["EPL102"]["evidence"]["Model"]["message"]
    assert w["EPL106"]["evidence"]["has_fit_generator"] is True
    assert w["EPL106"]["evidence"]["fit_generator_call"] == {"raised": False}
    assert w["EPL207"]["evidence"]["reset_states"] == {"raised": False}
    assert w["EPL301"]["evidence"]["fit"]["type"] == "ValueError"
    assert "infinite dataset" in w["EPL301"]["evidence"]["fit"]["message"]
    e303 = w["EPL303"]["evidence"]["finite_dataset"]
    assert e303["epochs_run"] == 1 and e303["ran_out_warning"]  # tf.keras 2 stops training
    assert w["EPL306"]["evidence"]["generator function"]["batches_per_epoch"] == [4, 0]  # stops in epoch 2
    assert w["EPL307"]["evidence"]["dataset"]["evaluate"]["result"]["type"] == "ValueError"
    assert w["EPL307"]["evidence"]["generator"]["evaluate"]["result"]["type"] == "_Runaway"
    assert w["EPL311"]["evidence"]["steps_per_epoch=128/32"] == {"raised": False}  # float steps accepted
    assert w["EPL311"]["evidence"]["epochs=2.5"]["type"] == "TypeError"
    # and the Keras 3 run in this process disagrees where the claims say it does
    assert doc["keras_major"] == 3
    assert code == 0
    from runtime_check import evidence

    both = evidence.last_summary("EPL207")
    assert "Keras 3." in both and "Keras 2." in both
