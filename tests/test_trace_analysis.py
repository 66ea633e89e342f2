"""`epochlint trace` without TensorFlow: facts -> observations, statement matching, statuses,
outcome and exit codes, torn fact files, local imports, usage errors and the import discipline.
(The end-to-end runs, which start TensorFlow, are in tests/runtime/test_trace.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from runtime_check.trace import analyze, match, report
from runtime_check.trace.run import Run, read_facts

ROOT = Path(__file__).resolve().parents[1]


def _fit(call, t, line, model, epochs, weights_in, weights_out, trainable=2, initial=0, file="/p/train.py"):
    begin = {"kind": "call_begin", "t": t, "call": call, "method": "fit", "model": model, "model_class": "Sequential",
             "file": file, "line": line, "epochs": epochs, "initial_epoch": initial, "weights": weights_in,
             "trainable": trainable, "validation": False}
    ends = [{"kind": "epoch_end", "t": t + 0.1 + e / 100, "call": call, "epoch": e, "batches": 5, "expected": 8,
             "capped": True, "val_batches": 0, "logs": {"loss": 1.0 / (e + 1)}} for e in range(initial, epochs)]
    end = {"kind": "call_end", "t": t + 0.5, "call": call, "epochs_run": len(ends), "weights": weights_out}
    return [begin, *ends, end]


def _obs(events, code):
    return [o for o in analyze.Facts(events).observations() if o["code"] == code]


def test_epl104_continuing_weights_is_a_problem_restored_weights_are_not():
    continuing = _fit(1, 0, 10, 7, 3, "a", "b") + _fit(2, 1, 10, 7, 3, "b", "c")
    [o] = _obs(continuing, "EPL104")
    assert o["problem"] is True and o["evidence"]["epochs_total"] == 6
    restored = _fit(1, 0, 10, 7, 3, "a", "b") + _fit(2, 1, 10, 7, 3, "a", "c")  # set_weights(initial) in between
    assert _obs(restored, "EPL104")[0]["problem"] is False
    one_epoch_each = _fit(1, 0, 10, 7, 1, "a", "b") + _fit(2, 1, 10, 7, 2, "b", "c", initial=1)
    assert _obs(one_epoch_each, "EPL104")[0]["problem"] is False
    staged = _fit(1, 0, 10, 7, 3, "a", "b", trainable=2) + _fit(2, 1, 10, 7, 3, "b", "c", trainable=4)
    assert _obs(staged, "EPL104")[0]["problem"] is False  # fine-tuning stage: trainable set changed
    assert _obs(_fit(1, 0, 10, 7, 3, "a", "b"), "EPL104")[0]["problem"] is None  # one call decides nothing


def test_an_epoch_without_batches_ran_out_of_data():
    events = _fit(1, 0, 10, 7, 2, "a", "b")
    events[2] = {**events[2], "batches": 0, "expected": None, "capped": False}  # Keras 2: a spent generator
    [call] = analyze.Facts(events).call_summaries()
    assert call["ran_out_of_data"] is True and call["batches_per_epoch"] == [5, 0]
    assert analyze.Facts(_fit(1, 0, 10, 7, 2, "a", "b")).call_summaries()[0]["ran_out_of_data"] is False


def test_a_fit_the_probe_could_not_join_has_unknown_epochs():
    events = _fit(1, 0, 10, 7, 2, "a", "b")
    events = [e for e in events if e["kind"] != "epoch_end"] + [{"kind": "probe_not_attached", "t": 0.01, "call": 1}]
    [call] = analyze.Facts(events).call_summaries()
    assert call["epochs_run"] is None
    assert "? epoch(s) run" in report._call_line([call])


def test_epl201_scalar_vs_vector_targets():
    events = [{"kind": "gradient", "t": 0, "file": "/p/a.py", "line": 5, "shapes": [[32]], "per_sample": True,
               "graph": False, "value": 1.0},
              {"kind": "gradient", "t": 1, "file": "/p/a.py", "line": 9, "shapes": [[]], "per_sample": False,
               "graph": True, "value": None}]
    obs = {o["line"]: o for o in _obs(events, "EPL201")}
    assert obs[5]["problem"] is True and "(32,)" in obs[5]["message"]
    assert obs[9]["problem"] is False and obs[9]["evidence"]["in_tf_function"] is True


def test_epl203_same_context_is_redundant_new_objects_are_not():
    def created(fn, pyfn, context, t):
        return {"kind": "function_created", "t": t, "fn": fn, "name": "step", "python_function": pyfn,
                "context": context, "file": "/p/a.py", "line": 3}

    traced = [{"kind": "function_final", "t": 9, "fn": fn, "traces": 1} for fn in (1, 2, 3)]
    same = [created(1, 10, {"model": 5}, 0), created(2, 11, {"model": 5}, 1), created(3, 12, {"model": 5}, 2)]
    assert _obs(same + traced, "EPL203")[0]["problem"] is True
    folds = [created(1, 10, {"model": 5}, 0), created(2, 11, {"model": 6}, 1), created(3, 12, {"model": 7}, 2)]
    assert _obs(folds + traced, "EPL203")[0]["problem"] is False


def test_epl204_shared_variables_vs_new_model_per_turn_vs_unknown():
    def made(opt, t):
        return {"kind": "optimizer_created", "t": t, "optimizer": opt, "optimizer_class": "Adam", "graph": False,
                "file": "/p/a.py", "line": 4}

    def final(opt, variables):
        return {"kind": "optimizer_final", "t": 9, "optimizer": opt, "iterations": 4, "variables": variables}

    shared = [made(1, 0), made(2, 1), final(1, [7, 8]), final(2, [7, 8])]
    assert _obs(shared, "EPL204")[0]["problem"] is True
    disjoint = [made(1, 0), made(2, 1), final(1, [7, 8]), final(2, [9, 10])]
    assert _obs(disjoint, "EPL204")[0]["problem"] is False
    unknown = [made(1, 0), made(2, 1), final(1, []), final(2, [])]
    assert _obs(unknown, "EPL204")[0]["problem"] is None
    traced = [{**made(1, 0), "graph": True}]
    assert _obs(traced, "EPL204")[0]["problem"] is True


def test_epl206_needs_new_python_numbers():
    def traced(n, numbers):
        return {"kind": "function_traced", "t": n, "fn": 1, "traces": n, "python_numbers": numbers,
                "file": "/p/a.py", "line": 12}

    assert _obs([traced(1, [["2", 0]]), traced(2, [["2", 1]])], "EPL206")[0]["problem"] is True
    assert _obs([traced(1, [])], "EPL206")[0]["problem"] is False


def test_epl202_training_value_decides():
    def call(effective, layers, line):
        return {"kind": "model_under_tape", "t": 0, "model": 1, "model_class": "Sequential", "layers": layers,
                "training": "missing" if effective is None else effective, "default": "missing",
                "effective": effective, "graph": False, "file": "/p/a.py", "line": line}

    obs = {o["line"]: o["problem"] for o in _obs([call(None, ["Dropout"], 1), call(True, ["Dropout"], 2),
                                                   call(None, [], 3)], "EPL202")}
    assert obs == {1: True, 2: False, 3: False}


def test_epl101_and_epl102_from_facts():
    events = [{"kind": "epochs_attr", "t": 0, "model": 7, "value": 10.0, "file": "/p/a.py", "line": 3}]
    events += _fit(1, 1, 4, 7, 1, "a", "b")
    events.append({"kind": "epochs_kwarg", "t": 2, "method": "evaluate", "model": 7, "value": 2.0,
                   "error": {"type": "ValueError", "message": "Arguments not recognized"}, "file": "/p/a.py", "line": 5})
    [o101] = _obs(events, "EPL101")
    assert o101["problem"] is True and o101["evidence"]["fit_calls"] == [{"line": 4, "epochs_run": 1}]
    [o102] = _obs(events, "EPL102")
    assert o102["problem"] is True and "ValueError" in o102["message"]
    never_fit = [{"kind": "epochs_attr", "t": 0, "model": 8, "value": 10.0, "file": "/p/a.py", "line": 3}]
    assert _obs(never_fit, "EPL101")[0]["problem"] is None


def test_epl208_reads_without_reset_vs_reset_each_epoch_and_confirm_only(tmp_path):
    def ev(kind, t, graph=False):
        return {"kind": f"metric_{kind}", "t": t, "metric": 1, "metric_class": "Mean", "graph": graph,
                "file": "/p/a.py", "line": 7}

    never = [ev("update", 0), ev("result", 1), ev("update", 2), ev("result", 3)]
    [o] = _obs(never, "EPL208")
    assert o["problem"] is True
    reset = [ev("update", 0), ev("result", 1), {"kind": "metric_reset", "t": 1.5, "metric": 1}, ev("update", 2),
             ev("result", 3)]
    assert _obs(reset, "EPL208")[0]["problem"] is False
    assert _obs([ev("update", 0, graph=True), ev("result", 1), ev("update", 2), ev("result", 3)],
                "EPL208")[0]["problem"] is None  # updated inside a tf.function: counted at trace time only
    # it confirms a static finding, but is never a runtime-only finding on its own
    assert match.line_up([], [o])[1] == []


def test_epl209_regularized_model_whose_losses_were_not_read():
    def grad(read, line):
        return {"kind": "regularization", "t": 0, "graph": False, "file": "/p/a.py", "line": line,
                "models": [{"model": 3, "model_class": "Sequential", "losses_read": read}]}

    obs = {o["line"]: o for o in _obs([grad(False, 5), grad(False, 5), grad(True, 9)], "EPL209")}
    assert obs[5]["problem"] is True and obs[5]["evidence"]["gradient_calls"] == 2
    assert obs[9]["problem"] is False


class _F:
    def __init__(self, code, path, line):
        self.code, self.name, self.message, self.path, self.line = code, "n", "m", path, line
        self.column, self.end_line, self.end_column = 1, line, 2


def _side_effects(calls, runs, traced=True, effect="print", error=None):
    return [{"kind": "function_created", "t": 0, "fn": 1, "name": "step", "python_function": 2, "context": {},
             "file": "/p/s.py", "line": 3},
            {"kind": "side_effects", "t": 1, "fn": 1, "traced": traced, "error": error,
             "effects": [{"effect": effect, "file": "/p/s.py", "line": 5, "function": "step", "count": runs}]},
            {"kind": "function_final", "t": 2, "fn": 1, "traces": 1, "calls": calls}]


def test_epl205_side_effects_against_calls():
    [once] = _obs(_side_effects(calls=4, runs=1), "EPL205")
    assert once["problem"] is True and once["evidence"]["runs"] == 1 and once["evidence"]["calls"] == 4
    # run eagerly (run_functions_eagerly) or retraced at every call: the print did run per call
    [every] = _obs(_side_effects(calls=3, runs=3, traced=False), "EPL205")
    assert every["problem"] is False
    assert _obs(_side_effects(calls=1, runs=1), "EPL205")[0]["problem"] is None  # one call decides nothing
    failed = _side_effects(calls=1, runs=1, effect=".numpy()", error={"type": "AttributeError", "message": "m"})
    assert _obs(failed, "EPL205")[0]["problem"] is True


def _fit_with(line=9, steps=None, info=None, error=None, **extra):
    begin = {"kind": "call_begin", "t": 0, "call": 1, "method": "fit", "model": 7, "model_class": "Sequential",
             "file": "/p/s.py", "line": line, "epochs": 2, "initial_epoch": 0, "steps_per_epoch": steps,
             "data_info": info or {}, "keywords": sorted(extra.pop("keywords", [])), **extra}
    ends = [{"kind": "epoch_end", "t": 0.1 + e, "call": 1, "epoch": e, "batches": 5, "expected": None,
             "capped": True, "val_batches": 0, "logs": {}} for e in range(extra.get("epochs", 2))]
    return [begin, *ends, {"kind": "call_end", "t": 5, "call": 1, "error": error}]


def test_epl3xx_decided_by_the_input_and_silent_when_unknown():
    infinite = {"kind": "dataset", "cardinality": -1, "repeat_count": -1}
    assert _obs(_fit_with(info=infinite), "EPL301")[0]["problem"] is True
    assert _obs(_fit_with(info=infinite, steps=4), "EPL301")[0]["problem"] is False
    # --max-steps 0: the epoch ran until --timeout stopped the script inside fit()
    timed_out = [e for e in _fit_with(info=infinite) if e["kind"] != "epoch_end"]
    timed_out[-1] = {**timed_out[-1], "batches": 4413, "error": {"type": "_Timeout", "message": ""}}
    [o] = _obs(timed_out, "EPL301")
    assert o["problem"] is True and "epoch 1 had not ended after 4413 batches" in o["message"]
    [call] = analyze.Facts(timed_out).call_summaries()
    assert report._call_line([call]).endswith("; stopped by --timeout")
    unknown = {"kind": "dataset", "cardinality": -2}
    assert _obs(_fit_with(info=unknown), "EPL301")[0]["problem"] is None  # capped epochs: nothing decides
    assert _obs(_fit_with(info={"kind": "array", "samples": 64, "batches": 4}), "EPL301") == []
    # steps against the batches of one pass; a generator's are unknown
    assert _obs(_fit_with(steps=64, info={"kind": "array", "samples": 64, "batches": 4}), "EPL303")[0]["problem"] is True
    assert _obs(_fit_with(steps=4, info={"kind": "array", "samples": 64, "batches": 4}), "EPL303")[0]["problem"] is False
    assert _obs(_fit_with(steps=4, info={"kind": "generator"}), "EPL303")[0]["problem"] is None
    # repeat(count) is the EPL302 claim only when count == epochs
    repeated = {"kind": "dataset", "cardinality": 8, "repeat_count": 2, "repeat_input_cardinality": 4}
    assert _obs(_fit_with(info=repeated), "EPL302")[0]["problem"] is True
    assert _obs(_fit_with(info={**repeated, "repeat_count": 4, "cardinality": 16}), "EPL302")[0]["problem"] is None
    # batch_size is ignored by a dataset, honoured with arrays; validation_split rejected by a dataset
    assert _obs(_fit_with(batch_size=64, keywords=["batch_size"], info={"kind": "dataset", "cardinality": 4}),
                "EPL304")[0]["problem"] is True
    assert _obs(_fit_with(batch_size=64, keywords=["batch_size"], info={"kind": "array", "samples": 64}),
                "EPL304")[0]["problem"] is False
    rejected = _fit_with(validation_split=0.2, info={"kind": "dataset"},
                         error={"type": "ValueError", "message": "`validation_split` is only supported for ..."})
    assert _obs(rejected, "EPL305")[0]["problem"] is True


def test_epl103_105_106_207_from_facts():
    rejected = [{"kind": "call_rejected", "t": 0, "method": "fit", "model_class": "Sequential", "keywords": ["nb_epoch"],
                 "error": {"type": "TypeError", "message": "unexpected keyword argument 'nb_epoch'"},
                 "file": "/p/s.py", "line": 4}]
    assert _obs(rejected, "EPL103")[0]["problem"] is True
    assert _obs(_fit(1, 0, 10, 7, 3, "a", "b", initial=3), "EPL105")[0]["problem"] is True  # 0 epochs ran
    resumed = _fit(1, 0, 10, 7, 5, "a", "b", initial=3)  # initial_epoch < epochs: 2 epochs ran
    resumed[0]["initial_epoch_passed"] = True
    [o] = _obs(resumed, "EPL105")
    assert o["problem"] is False and o["evidence"]["calls"][0]["epochs_run"] == 2
    removed = [{"kind": "removed_method", "t": 0, "name": "fit_generator", "exists": False, "owner_class": "Sequential",
                "file": "/p/s.py", "line": 6},
               {"kind": "removed_method", "t": 0, "name": "reset_states", "exists": True, "owner_class": "Mean",
                "file": "/p/s.py", "line": 7}]
    assert _obs(removed, "EPL106")[0]["problem"] is True
    assert _obs(removed, "EPL207")[0]["problem"] is None  # tf_keras still has it: the Keras 3 claim is undecided


def test_unobserved_codes_come_from_the_rule_registry():
    from linter.rules import ALL_RULES

    codes = [r.code for r in ALL_RULES]
    assert set(analyze.OBSERVED) <= set(codes)  # trace claims no code the linter does not have
    assert analyze.unobserved(codes) == sorted(set(codes) - set(analyze.OBSERVED))
    assert analyze.unobserved([*codes, "EPL999"]) == [*analyze.unobserved(codes), "EPL999"]  # a new rule: not checked
    row = {"code": "EPL999", "name": "n", "message": "m", "path": "s.py", "line": 2, "column": 1, "status": "not checked",
           "runtime": []}
    doc, _ = _doc([{"kind": "start", "t": 0}, {"kind": "script_end", "t": 1, "reason": "finished", "threads": []}],
                  rows=[row])
    assert "Not checked: trace does not observe EPL999" in report.render_text(doc)


def test_line_up_statuses_and_runtime_only(tmp_path):
    src = tmp_path / "train.py"
    src.write_text(textwrap.dedent("""\
        import tensorflow as tf
        for turn in range(3):
            hist = model.fit(
                x, y,
                epochs=2)
        @tf.function
        def step(x):
            return x
        grads = tape.gradient(loss, v)
        model.epochs = 3
        """), encoding="utf-8")
    path = str(src)
    observations = [
        {"code": "EPL104", "file": path, "line": 3, "problem": True, "message": "6 epochs", "evidence": {}},
        {"code": "EPL203", "file": path, "line": 6, "problem": False, "message": "once", "evidence": {}},
        {"code": "EPL202", "file": path, "line": 9, "problem": True, "message": "dropout", "evidence": {}},
    ]
    findings = [_F("EPL104", path, 5), _F("EPL203", path, 6), _F("EPL201", path, 9), _F("EPL101", path, 10),
                _F("EPL399", path, 3)]  # a code trace does not observe (a rule added later)
    rows, only = match.line_up(findings, observations)
    status = {r["code"]: r["status"] for r in rows}
    assert status == {"EPL104": "confirmed",  # the keyword's line 5 and the call's line 3: one statement
                      "EPL203": "refuted", "EPL201": "not reached", "EPL101": "not reached", "EPL399": "not checked"}
    assert [(o["code"], o["line"]) for o in only] == [("EPL202", 9)]


def test_statement_spans_keep_decorators_and_headers_apart(tmp_path):
    src = tmp_path / "a.py"
    src.write_text("@deco(\n  1)\ndef f(\n  a):\n    return a\nx = [\n 1,\n 2]\n", encoding="utf-8")
    spans = match.Spans()
    assert spans.span(str(src), 2) == (1, 2)
    assert spans.span(str(src), 4) == (3, 4)
    assert spans.span(str(src), 5) == (5, 5)
    assert spans.span(str(src), 7) == (6, 8)


def test_local_imports_follow_the_script_folder_only(tmp_path):
    (tmp_path / "train.py").write_text("import os\nimport nets\nfrom pkg import helpers\n", encoding="utf-8")
    (tmp_path / "nets.py").write_text("from . import nothing\nimport layers_lib\n", encoding="utf-8")
    (tmp_path / "layers_lib.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "helpers.py").write_text("import train\n", encoding="utf-8")
    found = sorted(os.path.relpath(p, tmp_path) for p in match.local_imports(str(tmp_path / "train.py")))
    assert found == ["layers_lib.py", "nets.py", os.path.join("pkg", "__init__.py"), os.path.join("pkg", "helpers.py"),
                     "train.py"]


def test_read_facts_drops_a_torn_last_line(tmp_path):
    facts = tmp_path / "facts.jsonl"
    facts.write_text('{"kind": "start", "t": 0}\n{"kind": "gradient", "t": 1, "sha', encoding="utf-8")
    events, bad = read_facts(str(facts))
    assert [e["kind"] for e in events] == ["start"] and bad == 1


def _doc(events, rows=(), only=(), returncode=0, timed_out=False):
    run = Run(events, returncode, 1.0, timed_out)
    facts = analyze.Facts(events)
    doc = report.document("s.py", [], {"max_steps": 5, "timeout": 9}, run, facts, list(rows), list(only), [], {})
    return doc, report.exit_code(doc)


def test_outcome_and_exit_codes():
    start = {"kind": "start", "t": 0}
    assert _doc([start, {"kind": "script_end", "t": 1, "reason": "finished", "threads": []}])[1] == 0
    crashed, code = _doc([start, {"kind": "script_end", "t": 1, "reason": "exception", "type": "KeyError",
                                  "message": "'lr'", "file": "/x/s.py", "line": 4, "threads": []}], returncode=1)
    assert code == 3 and crashed["outcome"]["exception"]["line"] == 4
    assert _doc([start, {"kind": "script_end", "t": 1, "reason": "exit", "code": 0, "threads": []}])[1] == 0
    assert _doc([start, {"kind": "script_end", "t": 1, "reason": "exit", "code": 2, "threads": []}])[1] == 3
    timed, code = _doc([start], returncode=-9, timed_out=True)
    assert code == 3 and timed["outcome"]["reason"] == "timeout"
    killed, code = _doc([start], returncode=-9)  # os._exit or a signal: no script_end
    assert code == 3 and killed["outcome"]["reason"] == "killed"
    confirmed_row = {"status": "confirmed", "runtime": []}
    assert _doc([start], rows=[confirmed_row], returncode=-9, timed_out=True)[1] == 1  # findings win over the crash


def _cli(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_USE_LEGACY_KERAS")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "epochlint", "trace", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_usage_errors_exit_2_without_starting_tensorflow(tmp_path):
    proc = _cli(str(tmp_path / "missing.py"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    script = tmp_path / "s.py"
    script.write_text("print('hi')\n", encoding="utf-8")
    assert _cli("--max-steps", "-1", str(script)).returncode == 2
    assert _cli("--timeout", "0", str(script)).returncode == 2
    assert _cli("--format", "xml", str(script)).returncode == 2


def test_help_says_it_executes_the_script():
    proc = _cli("--help")
    assert proc.returncode == 0
    assert "EXECUTES the script" in proc.stdout and "Exit codes" in proc.stdout


def test_missing_tensorflow_is_exit_2_with_the_install_hint(tmp_path):
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('stub')\n", encoding="utf-8")
    script = tmp_path / "s.py"
    script.write_text("print('must not run')\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(tmp_path / "fake")])
    proc = subprocess.run([sys.executable, "-m", "epochlint", "trace", str(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "must not run" not in proc.stdout
    assert "instrumentation could not be installed" in proc.stderr


def test_importing_trace_modules_does_not_import_tensorflow():
    code = ("import sys, linter.cli, runtime_check.trace.cli, runtime_check.trace.analyze, "
            "runtime_check.trace.match, runtime_check.trace.report, runtime_check.trace.run; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().replace("'", '"')) == []


def test_arguments_after_the_script_go_to_the_script():
    from runtime_check.trace.cli import build_parser

    args = build_parser().parse_args(["--max-steps", "3", "train.py", "--lr", "0.1", "--format", "x"])
    assert (args.max_steps, args.format, args.script) == (3, "text", "train.py")
    assert args.args == ["--lr", "0.1", "--format", "x"]
