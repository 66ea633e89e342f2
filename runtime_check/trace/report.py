"""The trace document (docs/TRACE.md) and its text and SARIF renderings (no TensorFlow)."""
from __future__ import annotations

import json
import os
from typing import Any, Optional

from runtime_check.trace.analyze import Facts, unobserved
from runtime_check.trace.match import CONFIRMED, NOT_CHECKED, NOT_REACHED, REFUTED

SCHEMA_VERSION = 1


def display_path(path: Optional[str]) -> Optional[str]:
    """Relative to the working directory when the file is under it, else absolute."""
    if not path:
        return path
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute, os.getcwd())
    return absolute if rel.startswith("..") or os.path.isabs(rel) else rel


def _display_site(site: str) -> str:
    path, _, line = site.rpartition(":")
    return f"{display_path(path)}:{line}"


def outcome_of(run, events_by_kind: dict) -> dict[str, Any]:
    ends = events_by_kind.get("script_end") or []
    end = ends[-1] if ends else {}
    start = (events_by_kind.get("start") or [{}])[0]
    if events_by_kind.get("install_failed"):
        reason = "not started"
    elif run.timed_out and (not end or end.get("reason") == "timeout"):
        reason = "timeout"
    elif end:
        reason = end["reason"]
    elif run.timed_out or events_by_kind.get("killed"):
        reason = "timeout"
    else:
        reason = "killed" if start else "not started"  # os._exit, a signal, a crash of Python itself
    threads = end.get("threads") or []
    out = {"reason": reason, "exit_code": run.returncode, "seconds": round(run.seconds, 3),
           "facts": len(run.events), "threads_alive_at_end": threads,
           "killed_after_end": bool(events_by_kind.get("killed")) or (bool(end) and run.timed_out),
           "exception": None}
    if reason == "exception":
        out["exception"] = {"type": end.get("type"), "message": end.get("message"),
                            "path": display_path(end.get("file")), "line": end.get("line")}
    if reason == "exit":
        out["exit_status"] = end.get("code")
    failed = events_by_kind.get("install_failed")
    if failed:
        out["exception"] = {"type": failed[0]["type"], "message": failed[0]["message"], "path": None, "line": None}
    return out


def completed(outcome: dict) -> bool:
    return outcome["reason"] == "finished" or (outcome["reason"] == "exit" and not outcome.get("exit_status"))


def document(script: str, argv: list[str], options: dict, run, facts: Facts, rows: list[dict],
             runtime_only: list[dict], observations: list[dict], names: dict[str, str]) -> dict[str, Any]:
    from linter import __version__

    start = (facts.by_kind.get("start") or [{}])[0]
    outcome = outcome_of(run, facts.by_kind)
    for row in rows:
        for o in row["runtime"]:
            o["path"] = display_path(o["path"])
    only = [{**o, "name": names.get(o["code"], ""), "path": display_path(o["path"])} for o in runtime_only]
    summary = {k.replace(" ", "_"): sum(1 for r in rows if r["status"] == k)
               for k in (CONFIRMED, REFUTED, NOT_REACHED, NOT_CHECKED)}
    summary["runtime_only"] = len(only)
    return {
        "version": __version__,
        "schema": SCHEMA_VERSION,
        "script": display_path(script),
        "argv": argv,
        "options": options,
        "environment": {k: start.get(k) for k in ("python", "tensorflow_version", "keras_version", "legacy_keras")},
        "outcome": outcome,
        "findings": rows,
        "runtime_only": only,
        "observations": [{**o, "file": display_path(o["file"])} for o in observations],
        "calls": [{**c, "file": display_path(c["file"])} for c in facts.call_summaries()],
        "models": [{**m, "sites": [_display_site(x) for x in m["sites"]]} for m in facts.model_summaries()],
        "functions": [{**f, "file": display_path(f["file"])} for f in facts.function_summaries()],
        "steps": [{**s, "file": display_path(s["file"])} for s in facts.step_series()],
        "summary": summary,
        "not_observed": unobserved(names),
    }


def exit_code(doc: dict) -> int:
    """1 confirmed or runtime-only findings; else 3 the script did not complete; else 0."""
    if doc["summary"]["confirmed"] or doc["summary"]["runtime_only"]:
        return 1
    if not completed(doc["outcome"]):
        return 3
    return 0


# -- text ----------------------------------------------------------------------------------
def _loss_span(losses: list) -> str:
    values = [v for v in losses if v is not None]
    if not values:
        return ""
    return f", loss {values[0]:.4g} -> {values[-1]:.4g}" if len(values) > 1 else f", loss {values[0]:.4g}"


def _call_lines(calls: list[dict]) -> list[str]:
    """One line per (site, method, model): a fit() in a loop is one line with its call count."""
    groups: dict[tuple, list[dict]] = {}
    for c in calls:
        groups.setdefault((c["file"], c["line"], c["method"], c["model"]), []).append(c)
    return [_call_line(group) for group in groups.values()]


def _call_line(group: list[dict]) -> str:
    c = group[0]
    where = f"{c['file']}:{c['line']}"
    times = f" x{len(group)} calls" if len(group) > 1 else ""
    err = next(("; stopped by --timeout" if g["error"]["type"] == "_Timeout" else f"; raised {g['error']['type']}"
                for g in group if g.get("error")), "")
    if c["method"] != "fit":
        capped = " (capped by --max-steps)" if any(g.get("capped") for g in group) else ""
        batches = "/".join(sorted({str(g.get("batches")) for g in group}))
        return f"{where}  {c['method']}() on {c['model_class']}{times}: {batches} batch(es){capped}{err}"
    per_epoch = sorted({b for g in group for b in g["batches_per_epoch"]})
    shown = "/".join(str(b) for b in per_epoch) if per_epoch else "0"
    notes = []
    if any(g["capped_epochs"] for g in group):
        notes.append(f"capped by --max-steps; {c['batches_available']} available")
    if any(g["ran_out_of_data"] for g in group):
        notes.append("input ran out of data")
    val = [v for g in group for v in (g.get("validation_batches") or [])]
    if val:
        notes.append(f"{max(val)} validation batch(es)/epoch")
    requested = "/".join(sorted({str(g["epochs_requested"]) for g in group}))
    initial = "/".join(sorted({str(g["initial_epoch"]) for g in group if g.get("initial_epoch")}))
    run = "+".join("?" if g["epochs_run"] is None else str(g["epochs_run"]) for g in group[:12]) \
        + ("+..." if len(group) > 12 else "")
    losses = [v for g in group for v in g["losses"]]
    return (f"{where}  fit() on {c['model_class']} (model #{c['model']}){times}: epochs={requested}"
            + (f", initial_epoch={initial}" if initial else "")
            + f", {run} epoch(s) run, {shown} batch(es)/epoch"
            + (f" ({'; '.join(notes)})" if notes else "") + _loss_span(losses) + err)


def _by_site(line: str) -> tuple:
    where = line.split("  ", 1)[0]
    path, _, number = where.rpartition(":")
    return (path, int(number) if number.isdigit() else 0)


def render_text(doc: dict) -> str:
    out = []
    env = doc["environment"]
    o = doc["outcome"]
    versions = f"TensorFlow {env.get('tensorflow_version')}, Keras {env.get('keras_version')}"
    how = {"finished": "finished", "exit": "ended by sys.exit", "exception": "crashed", "timeout": "stopped by --timeout",
           "killed": "killed", "not started": "did not start"}.get(o["reason"], o["reason"])
    out.append(f"epochlint trace {doc['script']}: {how} after {o['seconds']:.1f} s "
               f"({versions}; --max-steps {doc['options']['max_steps']})")
    if o["exception"]:
        e = o["exception"]
        where = f" at {e['path']}:{e['line']}" if e.get("path") else ""
        out.append(f"  the script raised {e['type']}{where}: {str(e['message'])[:200]}")
    if o["reason"] == "exit":
        out.append(f"  the script called sys.exit({o.get('exit_status')})")
    if o["reason"] == "timeout":
        out.append(f"  stopped by --timeout {doc['options']['timeout']}: the facts below are what ran until then")
    if o["threads_alive_at_end"]:
        out.append(f"  threads still running when the script ended: {', '.join(o['threads_alive_at_end'])}"
                   + (" (stopped at --timeout)" if o["killed_after_end"] else ""))
    out.append("")
    out.append("What ran:")
    lines = _call_lines(doc["calls"])
    for m in doc["models"]:
        if m["fit_calls"] > 1:
            lines.append(f"{m['sites'][0]}  model #{m['model']} ({m['model_class']}): {m['epochs_total']} epochs in "
                         f"total over {m['fit_calls']} fit() calls")
    for ob in doc["observations"]:
        if ob["code"] in ("EPL201", "EPL203") or ob["problem"] or (ob["code"] == "EPL206" and ob["evidence"]["traces"] > 1):
            lines.append(f"{ob['file']}:{ob['line']}  {ob['message']}")
    for s in doc["steps"]:
        vals = s["values"]
        if vals:
            lines.append(f"{s['file']}:{s['line']}  {s['label']}: {s['steps']} step(s), {vals[0]:.4g} -> {vals[-1]:.4g}")
    lines = sorted(dict.fromkeys(lines), key=_by_site)
    out.extend("  " + line for line in lines) if lines else out.append("  (no Keras/TensorFlow training call from the script)")
    out.append("")
    if doc["findings"]:
        out.append("Static findings, checked at run time:")
        for f in doc["findings"]:
            out.append(f"  {f['path']}:{f['line']}:{f['column']}: {f['code']} [{f['status'].upper()}] {f['message']}")
            for r in f["runtime"]:
                out.append(f"      runtime ({r['path']}:{r['line']}): {r['message']}")
    else:
        out.append("Static findings: none")
    if doc["runtime_only"]:
        out.append("")
        out.append("Found only at run time (the static check missed these):")
        for r in doc["runtime_only"]:
            out.append(f"  {r['path']}:{r['line']}: {r['code']} {r['message']}")
    s = doc["summary"]
    unchecked = sorted({f["code"] for f in doc["findings"] if f["status"] == NOT_CHECKED})
    if unchecked:
        out.append("")
        out.append(f"Not checked: trace does not observe {', '.join(unchecked)}")
    out.append("")
    out.append(f"{s['confirmed']} confirmed, {s['refuted']} refuted, {s['not_reached']} not reached, "
               f"{s['not_checked']} not checked, {s['runtime_only']} runtime-only")
    return "\n".join(out) + "\n"


# -- SARIF ---------------------------------------------------------------------------------
LEVEL = {CONFIRMED: "error", "runtime-only": "error", NOT_REACHED: "warning", NOT_CHECKED: "warning", REFUTED: "note"}


def render_sarif(doc: dict) -> str:
    from linter.finding import Finding
    from linter.report import RunResult
    from linter.report.sarif import sarif_log

    findings, extra = [], []
    for f in doc["findings"]:
        findings.append(Finding(f["code"], f["name"], f["message"], f["path"], f["line"], f["column"],
                                f["end_line"], f["end_column"]))
        extra.append({"traceStatus": f["status"], "runtimeEvidence": f["runtime"]})
    for r in doc["runtime_only"]:
        findings.append(Finding(r["code"], r["name"], f"{r['message']} (found at run time)", r["path"], r["line"], 1,
                                r["line"], 1))
        extra.append({"traceStatus": "runtime-only", "runtimeEvidence": [r]})
    log = sarif_log(RunResult(findings=findings, files_checked=len({f.path for f in findings}), files_skipped=0))
    run = log["runs"][0]
    for result, props in zip(run["results"], extra):
        result.setdefault("properties", {}).update(props)
        result["level"] = LEVEL[props["traceStatus"]]
    run["invocations"] = [{"executionSuccessful": doc["outcome"]["reason"] != "not started",
                           "exitCode": doc.get("exit_code", 0),
                           "properties": {"script": doc["script"], "outcome": doc["outcome"]}}]
    run["properties"] = {"trace": {"summary": doc["summary"], "environment": doc["environment"],
                                   "calls": doc["calls"]}}
    return json.dumps(log, indent=2) + "\n"

