"""`epochlint trace` end to end. Every trace starts a child Python that imports TensorFlow
(~5-10 s CPU), so each script below is traced ONCE (module-scoped fixtures) and several tests
assert on its report: the per-rule bad/good drivers, the seed's three examples (through
`python -m epochlint trace`, with --plot), the multi-module script (SARIF), and the scripts
that crash, call sys.exit, spawn threads or never end."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

pytest.importorskip("tensorflow", reason="the runtime extra is not installed")

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "trace"
SEED = ROOT / "fixtures" / "seed"
from runtime_check.trace.analyze import OBSERVED as RULES  # noqa: E402 - every observed rule has a bad/good pair

REMOVED_IN_KERAS3 = ("EPL106", "EPL207")  # tf_keras still has these methods: nothing decides there


def _trace(argv: list[str]) -> tuple[int, str]:
    from runtime_check.trace.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def _trace_json(*argv: str) -> tuple[int, dict]:
    code, out = _trace(["--format", "json", *argv])
    return code, json.loads(out)


@pytest.fixture(scope="module")
def bad():
    return _trace_json(str(FIX / "rules" / "all_bad.py"))


@pytest.fixture(scope="module")
def good():
    return _trace_json(str(FIX / "rules" / "all_good.py"))


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    plots = tmp_path_factory.mktemp("trace-plots")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-m", "epochlint", "trace", "--format", "json", "--plot", str(plots),
                           str(FIX / "seed_examples.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    return proc.returncode, json.loads(proc.stdout), plots


def _by_file(doc: dict, name: str, code: str | None = None) -> list[dict]:
    return [f for f in doc["findings"] if Path(f["path"]).name == name and (code is None or f["code"] == code)]


# -- every covered rule: confirmed on its bad script, silent on its good one ------------------
@pytest.mark.parametrize("code", RULES)
def test_bad_fixture_finding_is_confirmed(bad, code):
    exit_code, doc = bad
    rows = _by_file(doc, f"bad_{code.lower()}.py", code)
    assert rows, f"no static {code} finding in bad_{code.lower()}.py"
    assert all(r["status"] == "confirmed" for r in rows), rows
    assert all(r["runtime"] and r["runtime"][0]["evidence"] for r in rows)
    assert exit_code == 1


def test_bad_fixtures_have_no_runtime_only_and_no_refuted(bad):
    _, doc = bad
    assert doc["runtime_only"] == []
    assert doc["summary"]["refuted"] == 0 and doc["summary"]["not_reached"] == 0
    assert doc["summary"]["confirmed"] == 24  # EPL102 x3, EPL205 x3
    assert doc["outcome"]["reason"] == "finished"


def test_bad_fixture_evidence_says_what_happened(bad):
    _, doc = bad

    def evidence(name, code):
        return _by_file(doc, name, code)[0]["runtime"][0]["evidence"]

    assert evidence("bad_epl101.py", "EPL101")["fit_calls"] == [{"line": 10, "epochs_run": 1}]
    e104 = evidence("bad_epl104.py", "EPL104")
    assert e104["epochs_per_call"] == [2, 2, 2] and e104["epochs_total"] == 6
    assert e104["continued_from_previous_call"] == [True, True]
    assert evidence("bad_epl201.py", "EPL201")["shapes"] == [[16]]
    e202 = evidence("bad_epl202.py", "EPL202")
    assert e202["layers"] == ["Dropout"] and e202["training"] == "missing"
    e203 = evidence("bad_epl203.py", "EPL203")
    assert e203["functions_created"] == 3 and all(n >= 1 for n in e203["traces_per_function"])
    e204 = evidence("bad_epl204.py", "EPL204")
    assert e204["optimizers_created"] == 3 and e204["iterations_per_optimizer"] == [4, 4, 4]
    assert evidence("bad_epl206.py", "EPL206")["python_numbers"] == [[0], [1], [2]]
    e208 = evidence("bad_epl208.py", "EPL208")
    assert e208["updates"] == 12 and e208["reads_after_updates"] == 3 and e208["resets"] == 0
    e209 = evidence("bad_epl209.py", "EPL209")
    assert e209["gradient_calls"] == 4 and e209["losses_read"] == [False] * 4
    errors = {r["runtime"][0]["evidence"]["method"]: (r["runtime"][0]["evidence"]["error"] or {}).get("type")
              for r in _by_file(doc, "bad_epl102.py", "EPL102")}
    # Keras 3 accepts epochs= in the functional Model constructor and ignores it: fit then ran 1 epoch
    assert errors == {"compile": "TypeError", "evaluate": "ValueError", "Functional": None}
    assert "fit() then ran 1 epoch(s)" in _by_file(doc, "bad_epl102.py", "EPL102")[2]["runtime"][0]["message"]


def test_bad_fixture_evidence_for_errors_and_data(bad):
    _, doc = bad

    def evidence(name, code, index=0):
        return _by_file(doc, name, code)[index]["runtime"][0]["evidence"]

    assert evidence("bad_epl103.py", "EPL103")["error"]["type"] == "TypeError"
    assert evidence("bad_epl103.py", "EPL103")["arguments"] == ["nb_epoch"]
    assert evidence("bad_epl105.py", "EPL105")["calls"] == [{"epochs": 3, "initial_epoch": 3, "epochs_run": 0}]
    assert evidence("bad_epl106.py", "EPL106")["exists"] is False
    assert evidence("bad_epl207.py", "EPL207")["owner_class"] == "MeanAbsoluteError"
    e301 = evidence("bad_epl301.py", "EPL301")
    assert e301["cardinality"] == -1 and e301["steps_per_epoch"] is None
    assert e301["batches_per_epoch"] == [5, 5] and e301["capped_epochs"] == 2  # --max-steps ended each epoch
    e302 = evidence("bad_epl302.py", "EPL302")
    assert (e302["repeat_count"], e302["batches_per_epoch"], e302["batches_per_pass"], e302["passes_total"]) == (3, 12, 4, 9)
    e303 = evidence("bad_epl303.py", "EPL303")
    assert (e303["steps"], e303["batches_per_pass"], e303["samples"]) == (64, 4, 64) and e303["ran_out_of_data"]
    e304 = evidence("bad_epl304.py", "EPL304")
    assert e304["batch_size"] == 64 and e304["data"] == "dataset" and e304["batches_per_pass"] == 4
    assert evidence("bad_epl305.py", "EPL305")["error"]["type"] == "ValueError"
    # EPL205: print and the append ran at the one trace of 8 calls; .numpy() failed the trace
    effects = {e["effect"]: e for e in (r["runtime"][0]["evidence"] for r in _by_file(doc, "bad_epl205.py", "EPL205"))}
    assert set(effects) == {"print", "append", ".numpy()"}
    assert (effects["print"]["runs"], effects["print"]["calls"], effects["print"]["traces"]) == (1, 8, 1)
    assert (effects["append"]["runs"], effects["append"]["calls"]) == (1, 8)
    assert effects[".numpy()"]["error"]["type"] == "AttributeError"


@pytest.fixture(scope="module")
def bad_keras2():
    pytest.importorskip("tf_keras", reason="tf_keras is not installed")
    return _trace_json("--keras2", str(FIX / "rules" / "all_bad.py"))


def test_keras2_confirms_the_same_findings(bad_keras2):
    exit_code, doc = bad_keras2
    assert doc["environment"]["legacy_keras"] is True and doc["environment"]["keras_version"].startswith("2.")
    assert {f["code"]: f["status"] for f in doc["findings"]} == {
        code: "not reached" if code in REMOVED_IN_KERAS3 else "confirmed" for code in RULES}
    assert all(f["runtime"][0]["evidence"]["exists"] for f in doc["findings"] if f["code"] in REMOVED_IN_KERAS3)
    assert doc["summary"]["confirmed"] == 22 and doc["runtime_only"] == []
    # Keras 2 raises TypeError where Keras 3 raises ValueError (evaluate) or accepts (the constructor)
    errors = {r["runtime"][0]["evidence"]["method"]: r["runtime"][0]["evidence"]["error"]["type"]
              for r in _by_file(doc, "bad_epl102.py", "EPL102")}
    assert errors == {"compile": "TypeError", "evaluate": "TypeError", "Functional": "TypeError"}
    # tf_keras rejects an infinite dataset without steps_per_epoch instead of never ending the epoch
    assert _by_file(doc, "bad_epl301.py", "EPL301")[0]["runtime"][0]["evidence"]["error"]["type"] == "ValueError"
    assert exit_code == 1


def test_text_report_of_the_bad_run(bad):
    from runtime_check.trace.report import render_text

    text = render_text(bad[1])
    assert "What ran:" in text and "[CONFIRMED]" in text
    assert "bad_epl104.py:10  fit() on Sequential" in text and "x3 calls" in text
    assert text.rstrip().endswith("24 confirmed, 0 refuted, 0 not reached, 0 not checked, 0 runtime-only")
    assert "Not checked" not in text


def test_good_fixtures_report_no_problem(good):
    exit_code, doc = good
    assert doc["findings"] == [] and doc["runtime_only"] == []
    assert [o for o in doc["observations"] if o["problem"]] == []
    assert exit_code == 0
    assert doc["outcome"]["reason"] == "finished"


def test_good_fixtures_show_what_ran(good):
    _, doc = good
    obs = {(Path(o["file"]).name, o["code"]): o for o in doc["observations"]}
    assert obs[("good_epl201.py", "EPL201")]["evidence"]["shapes"] == [[]]
    assert obs[("good_epl203.py", "EPL203")]["evidence"]["functions_created"] == 1
    # one epoch per call on a kept model: 3 calls, not accumulating
    resumed = [c for c in doc["calls"] if Path(c["file"]).name == "good_epl104.py" and c["line"] == 21]
    assert [c["epochs_run"] for c in resumed] == [1, 1, 1]
    assert [c["initial_epoch"] for c in resumed] == [0, 1, 2]
    assert obs[("good_epl104.py", "EPL104")]["problem"] is False
    assert obs[("good_epl208.py", "EPL208")]["problem"] is False  # reset between the epochs' reads
    assert obs[("good_epl208.py", "EPL208")]["evidence"]["resets"] == 2  # the first reset precedes any update
    assert obs[("good_epl209.py", "EPL209")]["problem"] is False
    assert obs[("good_epl209.py", "EPL209")]["evidence"]["losses_read"] == [True] * 4
    # the path of each newly observed rule ran and the problem did not occur
    assert obs[("good_epl105.py", "EPL105")]["problem"] is False
    assert obs[("good_epl105.py", "EPL105")]["evidence"]["calls"][0]["epochs_run"] == 2
    assert obs[("good_epl301.py", "EPL301")]["problem"] is False
    assert obs[("good_epl302.py", "EPL302")]["problem"] is False
    assert obs[("good_epl303.py", "EPL303")]["problem"] is False
    assert obs[("good_epl304.py", "EPL304")]["problem"] is False
    assert obs[("good_epl305.py", "EPL305")]["evidence"]["validation_batches"] == [1, 1]
    # nothing to observe: no Keras 1 name, no removed method
    assert not [o for o in doc["observations"] if o["code"] in ("EPL103", "EPL106", "EPL207")]
    # tf.print is no Python side effect; a print in a tf.function run eagerly ran at every call
    [printed] = [o for o in doc["observations"] if o["code"] == "EPL205"]
    assert Path(printed["file"]).name == "good_epl205.py" and printed["problem"] is False
    assert (printed["evidence"]["runs"], printed["evidence"]["calls"]) == (4, 4)


def test_every_kind_of_input_is_counted(good):
    _, doc = good
    calls = {c["line"]: c for c in doc["calls"] if Path(c["file"]).name == "good_data_kinds.py"}
    arrays, dataset, generator, pydataset = calls[13], calls[18], calls[27], calls[41]
    # arrays: 9 batches available, --max-steps 5 capped each epoch (epochs unchanged); 3 validation batches
    assert arrays["epochs_run"] == 2 and arrays["batches_per_epoch"] == [5, 5] and arrays["batches_available"] == 9
    assert arrays["capped_epochs"] == 2 and arrays["validation_batches"] == [3, 3]
    assert dataset["batches_per_epoch"] == [3, 3] and dataset["validation_batches"] == [2, 2]
    assert dataset["capped_epochs"] == 0
    # a finite generator of 2 batches: Keras says the input ran out of data
    assert generator["data"] == "generator" and generator["ran_out_of_data"] is True
    assert max(generator["batches_per_epoch"]) == 2
    assert pydataset["batches_per_epoch"] == [4, 4] and not pydataset["ran_out_of_data"]


# -- the seed's examples ---------------------------------------------------------------------
def test_seed_example1_fit_runs_ten_epochs_on_the_functional_model(seed):
    _, doc, _ = seed
    fit = [c for c in doc["calls"] if Path(c["file"]).name == "example1_functional_fit.py"]
    assert len(fit) == 1
    fit = fit[0]
    assert fit["model_class"] == "Functional"
    assert fit["epochs_requested"] == 10 and fit["epochs_run"] == 10
    # --max-steps 5 (default) capped each of the 10 epochs, it did not cut epochs
    assert fit["batches_per_epoch"] == [5] * 10 and fit["batches_available"] == 32
    assert len(fit["losses"]) == 10
    assert _by_file(doc, "example1_functional_fit.py") == []


@pytest.mark.parametrize("name", ["example2_gradient_tape.py", "example3_tf_function.py"])
def test_seed_examples_2_and_3_confirm_epl201_with_the_32_vector(seed, name):
    exit_code, doc, _ = seed
    rows = _by_file(doc, name, "EPL201")
    assert len(rows) == 1 and rows[0]["status"] == "confirmed"
    evidence = rows[0]["runtime"][0]["evidence"]
    assert [32] in evidence["shapes"]
    assert evidence["in_tf_function"] is (name == "example3_tf_function.py")
    assert exit_code == 1


def test_seed_custom_loop_losses_per_step_and_plots(seed):
    _, doc, plots = seed
    steps = {Path(s["file"]).name: s for s in doc["steps"]}
    assert steps["example2_gradient_tape.py"]["steps"] == 320  # 10 epochs x 32 batches, custom loops uncapped
    assert steps["example3_tf_function.py"]["steps"] == 320
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert len(pngs) == 3 and doc["plots"]
    assert all((plots / p).stat().st_size > 1000 for p in pngs)


# -- a model built in another module -----------------------------------------------------------
@pytest.fixture(scope="module")
def multimodule():
    code, out = _trace(["--format", "sarif", str(FIX / "multimodule" / "train.py")])
    return code, json.loads(out)


def test_multimodule_runtime_finds_what_the_static_half_missed(multimodule):
    code, log = multimodule
    results = log["runs"][0]["results"]
    found = {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]): r for r in results}
    assert set(found) == {("EPL202", 19), ("EPL104", 24)}
    assert all(r["properties"]["traceStatus"] == "runtime-only" for r in results)
    assert found[("EPL202", 19)]["properties"]["runtimeEvidence"][0]["evidence"]["layers"] == ["Dropout"]
    assert found[("EPL104", 24)]["properties"]["runtimeEvidence"][0]["evidence"]["epochs_total"] == 4
    assert code == 1


def test_multimodule_sarif_validates(multimodule):
    _, log = multimodule
    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)


# -- scripts that crash, exit, spawn threads or never end --------------------------------------
@pytest.fixture(scope="module")
def crash(tmp_path_factory):
    report_file = tmp_path_factory.mktemp("trace-output") / "report.json"
    code, out = _trace(["--format", "json", "--output", str(report_file), str(FIX / "ends" / "crash_after_thread.py")])
    assert out == ""  # --output: nothing on stdout
    return code, json.loads(report_file.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def early_exit():
    return _trace_json(str(FIX / "ends" / "exit_early.py"))


@pytest.fixture(scope="module")
def hang():
    return _trace_json("--timeout", "3", str(FIX / "ends" / "never_ends.py"))


def test_crash_reports_the_line_and_the_facts_so_far(crash):
    code, doc = crash
    assert code == 3
    exc = doc["outcome"]["exception"]
    assert doc["outcome"]["reason"] == "exception"
    assert exc["type"] == "KeyError" and Path(exc["path"]).name == "crash_after_thread.py" and exc["line"] == 22
    thread_fit = [c for c in doc["calls"] if c["line"] == 15]  # fit() ran in the "trainer" thread
    assert thread_fit and thread_fit[0]["epochs_run"] == 2


def test_sys_exit_is_reported_with_its_status(early_exit):
    code, doc = early_exit
    assert code == 3
    assert doc["outcome"]["reason"] == "exit" and doc["outcome"]["exit_status"] == 4
    assert [c["epochs_run"] for c in doc["calls"]] == [3]  # the fit() after sys.exit never ran


def test_timeout_stops_a_script_that_never_ends(hang):
    code, doc = hang
    assert code == 3
    assert doc["outcome"]["reason"] == "timeout"
    assert doc["outcome"]["threads_alive_at_end"] == ["poller"]
    assert [c["epochs_run"] for c in doc["calls"]] == [2]
    assert doc["outcome"]["seconds"] < 120


# -- the instrumentation is removable ----------------------------------------------------------
def test_install_and_uninstall_restore_every_attribute(tmp_path):
    import keras
    import tensorflow as tf

    from runtime_check.trace.facts import Sink
    from runtime_check.trace.hooks import Tracer

    import inspect

    before = {name: vars(keras.Model).get(name) for name in ("fit", "evaluate", "predict", "compile", "__call__",
                                                              "__setattr__", "__init__", "__getattr__")}
    sequential_init, metric_getattr = vars(keras.Sequential)["__init__"], vars(keras.metrics.Metric).get("__getattr__")
    argspec = inspect.getfullargspec(keras.Sequential.__init__)
    from tensorflow.python.framework import func_graph

    gradient, function, graph_building = tf.GradientTape.gradient, tf.function, func_graph.func_graph_from_py_func
    sink = Sink(str(tmp_path / "facts.jsonl"))
    tracer = Tracer(sink, 5)
    tracer.install()
    try:
        assert keras.Model.fit is not before["fit"] and tf.function is not function
        assert func_graph.func_graph_from_py_func is not graph_building
        # the constructors' wrappers keep the argspec Keras reads to record a model's config
        assert keras.Sequential.__init__ is not sequential_init
        assert inspect.getfullargspec(keras.Sequential.__init__) == argspec
        model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1)], name="kept")
        assert model.name == "kept" and model.get_config()["name"] == "kept"
        # a removed method: the same AttributeError as without the hook; hasattr is not a use
        assert not hasattr(model, "fit_generator")
        with pytest.raises(AttributeError, match="'Sequential' object has no attribute 'fit_generator'"):
            model.fit_generator  # noqa: B018
        with pytest.raises(AttributeError, match="has no attribute 'reset_states'"):
            keras.metrics.Mean().reset_states()

        class Subclassed(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)  # passes the caller's epochs= on
                self.dense = keras.layers.Dense(1)

            def call(self, inputs):
                return self.dense(inputs)

        construction_line = inspect.currentframe().f_lineno + 2
        with pytest.raises((TypeError, ValueError)):
            Subclassed(epochs=3)
    finally:
        tracer.uninstall()
        sink.close()
    assert {name: vars(keras.Model).get(name) for name in before} == before
    assert vars(keras.Sequential)["__init__"] is sequential_init
    assert vars(keras.metrics.Metric).get("__getattr__") is metric_getattr is None
    assert tf.GradientTape.gradient is gradient and tf.function is function
    assert func_graph.func_graph_from_py_func is graph_building
    facts = [json.loads(line) for line in (tmp_path / "facts.jsonl").read_text(encoding="utf-8").splitlines()]
    removed = [(f["name"], f["exists"]) for f in facts if f["kind"] == "removed_method"]
    assert removed == [("fit_generator", False), ("reset_states", False)]  # the attribute uses, not hasattr
    # epochs= reached Model.__init__ through the subclass's super().__init__: the caller's line is reported
    [rejected] = [f for f in facts if f["kind"] == "epochs_kwarg"]
    assert rejected["method"] == "Subclassed" and rejected["line"] == construction_line and rejected["error"]
