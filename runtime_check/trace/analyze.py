"""Facts (the child's events) -> what happened per source line, and per rule an observation.

An observation is `{"code", "file", "line", "problem": True|False|None, "message", "evidence"}`:
True means the runtime shows the rule's problem at that line, False that the line ran and the
problem did not occur, None that it ran but nothing decides (a loop that turned once).
Rules observed (OBSERVED): EPL101, EPL102, EPL104, EPL201-EPL204, EPL206, EPL208, EPL209.
Pure Python over dicts: no TensorFlow.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

OBSERVED = ("EPL101", "EPL102", "EPL104", "EPL201", "EPL202", "EPL203", "EPL204", "EPL206", "EPL208", "EPL209")
# observed, but never reported as runtime-only: the fact alone cannot tell an epoch loop from a
# progress read inside one epoch (it confirms or refutes the static finding only)
CONFIRM_ONLY = ("EPL208",)


def _site(event: dict) -> tuple[Optional[str], Optional[int]]:
    return event.get("file"), event.get("line")


def _obs(code: str, file: str, line: int, problem: Optional[bool], message: str, **evidence: Any) -> dict:
    return {"code": code, "file": file, "line": line, "problem": problem, "message": message, "evidence": evidence}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Facts:
    """Indexes the events once; the `epl...` methods each return observations."""

    def __init__(self, events: list[dict]):
        self.events = events
        self.by_kind: dict[str, list[dict]] = defaultdict(list)
        for e in events:
            self.by_kind[e["kind"]].append(e)
        self.calls: dict[int, dict] = {}
        for e in self.by_kind["call_begin"]:
            self.calls[e["call"]] = {**e, "epochs": e.get("epochs"), "epoch_ends": [], "end": None, "ran_out": False,
                                     "evaluate": None}
        for e in self.by_kind["epoch_end"]:
            if e["call"] in self.calls:
                self.calls[e["call"]]["epoch_ends"].append(e)
        for e in self.by_kind["call_end"]:
            if e["call"] in self.calls:
                self.calls[e["call"]]["end"] = e
        for e in self.by_kind["ran_out_of_data"]:
            if e["call"] in self.calls:
                self.calls[e["call"]]["ran_out"] = True
        for e in self.by_kind["probe_not_attached"]:
            if e["call"] in self.calls:
                self.calls[e["call"]]["unobserved"] = True
        for e in self.by_kind["evaluate_end"]:
            if e["call"] in self.calls:
                self.calls[e["call"]]["evaluate"] = e
        self.fits = sorted((c for c in self.calls.values() if c["method"] == "fit"), key=lambda c: c["t"])

    # -- summaries ---------------------------------------------------------------------------
    def call_summaries(self) -> list[dict]:
        out = []
        for c in sorted(self.calls.values(), key=lambda c: c["t"]):
            ends = c["epoch_ends"]
            item = {"method": c["method"], "file": c["file"], "line": c["line"], "model": c["model"],
                    "model_class": c["model_class"], "data": c.get("data"),
                    "error": (c["end"] or {}).get("error"), "finished": c["end"] is not None}
            if c["method"] == "fit":
                requested = c.get("epochs")
                initial = c.get("initial_epoch") or 0
                item.update(
                    epochs_requested=requested, initial_epoch=initial,
                    epochs_run=None if c.get("unobserved") else len(ends),
                    epochs_expected=max(0, int(requested) - int(initial)) if isinstance(requested, (int, float)) else None,
                    steps_per_epoch=c.get("steps_per_epoch"),
                    batches_per_epoch=[e["batches"] for e in ends],
                    batches_available=next((e["expected"] for e in ends if e.get("expected")), None),
                    capped_epochs=sum(1 for e in ends if e.get("capped")),
                    ran_out_of_data=c["ran_out"] or any(
                        e["batches"] == 0 or (not e.get("capped") and e.get("expected") and e["batches"] < e["expected"])
                        for e in ends),
                    validation_batches=[e["val_batches"] for e in ends] if c.get("validation") else None,
                    losses=[e["logs"].get("loss") for e in ends],
                    val_losses=[e["logs"].get("val_loss") for e in ends if "val_loss" in e["logs"]],
                )
            else:
                item.update(batches=(c["end"] or {}).get("batches"),
                            capped=bool((c["evaluate"] or {}).get("capped")))
            out.append(item)
        return out

    def model_summaries(self) -> list[dict]:
        """Epochs accumulated per model object over all its fit() calls."""
        per_model: dict[int, list[dict]] = defaultdict(list)
        for c in self.fits:
            per_model[c["model"]].append(c)
        out = []
        for model, calls in per_model.items():
            out.append({"model": model, "model_class": calls[0]["model_class"], "fit_calls": len(calls),
                        "epochs_total": sum(len(c["epoch_ends"]) for c in calls),
                        "sites": sorted({f"{c['file']}:{c['line']}" for c in calls})})
        return out

    def step_series(self) -> list[dict]:
        """Per-step values of custom loops: the differentiated target (eager) per gradient line,
        and what each user tf.function returned per call."""
        series: dict[tuple, list[float]] = defaultdict(list)
        for e in self.by_kind["gradient"]:
            if e.get("value") is not None:
                series[("gradient", e["file"], e["line"])].append(e["value"])
        names = {e["fn"]: e for e in self.by_kind["function_created"]}
        for e in self.by_kind["function_value"]:
            created = names.get(e["fn"], {})
            series[("function", created.get("file"), created.get("line"), created.get("name"))].append(e["value"])
        out = []
        for key, values in series.items():
            label = f"tape.gradient target at line {key[2]}" if key[0] == "gradient" else f"{key[3]}() result"
            out.append({"source": key[0], "file": key[1], "line": key[2], "label": label, "steps": len(values),
                        "values": values})
        return out

    # -- observations ------------------------------------------------------------------------
    def observations(self) -> list[dict]:
        out: list[dict] = []
        for method in (self.epl101, self.epl102, self.epl104, self.epl201, self.epl202, self.epl203, self.epl204,
                       self.epl206, self.epl208, self.epl209):
            out.extend(method())
        return out

    def _fits_after(self, model: int, t: float) -> list[dict]:
        return [c for c in self.fits if c["model"] == model and c["t"] >= t]

    def epl101(self) -> list[dict]:
        out = []
        for e in self.by_kind["epochs_attr"]:
            fits = self._fits_after(e["model"], e["t"])
            runs = [{"line": c["line"], "epochs_run": len(c["epoch_ends"])} for c in fits]
            if not fits:
                out.append(_obs("EPL101", e["file"], e["line"], None,
                                f"model.epochs = {_num(e['value'])} was set; no fit() on this model ran afterwards",
                                epochs_attribute=e["value"], fit_calls=runs))
                continue
            ignored = any(r["epochs_run"] != e["value"] for r in runs)
            ran = ", ".join(str(r["epochs_run"]) for r in runs)
            msg = (f"model.epochs = {_num(e['value'])} was ignored: fit() then ran {ran} epoch(s)" if ignored else
                   f"fit() ran {ran} epoch(s), the same as model.epochs = {_num(e['value'])} (from its own argument)")
            out.append(_obs("EPL101", e["file"], e["line"], ignored, msg, epochs_attribute=e["value"], fit_calls=runs))
        return out

    def epl102(self) -> list[dict]:
        out = []
        for e in self.by_kind["epochs_kwarg"]:
            error = e.get("error")
            if error:
                msg = f"{e['method']}(epochs={_num(e['value'])}) raised {error['type']}: {error['message'][:160]}"
            else:
                runs = [len(c["epoch_ends"]) for c in self._fits_after(e["model"], e["t"])]
                then = f"; fit() then ran {', '.join(map(str, runs))} epoch(s)" if runs else ""
                msg = f"{e['method']}(epochs={_num(e['value'])}) was accepted and ignored{then}"
            out.append(_obs("EPL102", e["file"], e["line"], True, msg, method=e["method"], epochs=e["value"],
                            error=error))
        return out

    def epl104(self) -> list[dict]:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for c in self.fits:
            groups[(c["file"], c["line"], c["model"])].append(c)
        per_site: dict[tuple, list[dict]] = defaultdict(list)
        for (file, line, model), calls in groups.items():
            per_site[(file, line)].append(self._epl104_group(file, line, calls))
        out = []
        for (file, line), items in per_site.items():
            decided = [o for o in items if o["problem"] is True] or [o for o in items if o["problem"] is False] or items
            out.append(decided[0])
        return out

    def _epl104_group(self, file: str, line: int, calls: list[dict]) -> dict:
        epochs = [len(c["epoch_ends"]) for c in calls]
        first_losses = [c["epoch_ends"][0]["logs"].get("loss") if c["epoch_ends"] else None for c in calls]
        evidence = {"fit_calls": len(calls), "epochs_per_call": epochs, "epochs_total": sum(epochs),
                    "first_epoch_loss_per_call": first_losses, "model_class": calls[0]["model_class"]}
        if len(calls) < 2:
            return _obs("EPL104", file, line, None, f"fit() ran once here ({_plural(epochs[0], 'epoch')})", **evidence)
        continued = []
        for prev, cur in zip(calls, calls[1:]):
            same_weights = prev["end"] is not None and cur.get("weights") is not None \
                and cur.get("weights") == (prev["end"] or {}).get("weights")
            same_trainable = cur.get("trainable") == prev.get("trainable")
            requested = (cur.get("epochs") or 0) - (cur.get("initial_epoch") or 0)
            continued.append(same_weights and same_trainable and requested > 1)
        evidence["continued_from_previous_call"] = continued
        if any(continued):
            return _obs("EPL104", file, line, True,
                        f"the same {calls[0]['model_class']} was trained by {len(calls)} fit() calls here, "
                        f"{sum(epochs)} epochs in total ({' + '.join(map(str, epochs))}), each call continuing "
                        "from the previous call's weights", **evidence)
        return _obs("EPL104", file, line, False,
                    f"{len(calls)} fit() calls here: each started from fresh/restored weights, or ran one epoch",
                    **evidence)

    def epl201(self) -> list[dict]:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["gradient"]:
            groups[_site(e)].append(e)
        out = []
        for (file, line), events in groups.items():
            shapes = []
            for e in events:
                for s in e["shapes"]:
                    if s not in shapes:
                        shapes.append(s)
            bad = any(e["per_sample"] for e in events)
            shown = ", ".join(_shape(s) for s in shapes[:4])
            msg = (f"tape.gradient differentiated a target of shape {shown}: a per-sample vector, so the gradient "
                   "is that of its sum (it grows with the batch size)" if bad
                   else f"tape.gradient target is a scalar ({shown})")
            out.append(_obs("EPL201", file, line, bad, msg, shapes=shapes, calls=len(events),
                            in_tf_function=any(e["graph"] for e in events)))
        return out

    def epl202(self) -> list[dict]:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["model_under_tape"]:
            groups[_site(e)].append(e)
        out = []
        for (file, line), events in groups.items():
            bad = [e for e in events if e["layers"] and e["effective"] in (None, False)]
            layers = sorted({name for e in events for name in e["layers"]})
            e = (bad or events)[0]
            if bad:
                msg = (f"{e['model_class']} with {', '.join(layers)} was called under a GradientTape with "
                       f"training={_flag(e['training'])}: it ran in inference mode")
            elif not layers:
                msg = f"{e['model_class']} has no layer that behaves differently in training"
            else:
                msg = f"{e['model_class']} ran with training={_flag(e['effective'])} under the tape"
            out.append(_obs("EPL202", file, line, bool(bad), msg, model_class=e["model_class"], layers=layers,
                            training=e["training"], effective=e["effective"], calls=len(events)))
        return out

    def _traces(self) -> dict[int, int]:
        traces: dict[int, int] = defaultdict(int)
        for e in self.by_kind["function_traced"]:
            traces[e["fn"]] = max(traces[e["fn"]], e["traces"])
        for e in self.by_kind["function_final"]:
            traces[e["fn"]] = max(traces[e["fn"]], e["traces"])
        return traces

    def function_summaries(self) -> list[dict]:
        traces = self._traces()
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["function_created"]:
            groups[(e["file"], e["line"], e["name"])].append(e)
        return [{"file": f, "line": l, "name": n, "functions_created": len(es),
                 "traces": [traces.get(e["fn"], 0) for e in es]} for (f, l, n), es in groups.items()]

    def epl203(self) -> list[dict]:
        traces = self._traces()
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["function_created"]:
            groups[_site(e)].append(e)
        out = []
        for (file, line), events in groups.items():
            per_fn = [traces.get(e["fn"], 0) for e in events]
            evidence = {"functions_created": len(events), "traces_per_function": per_fn, "traces_total": sum(per_fn)}
            if len(events) < 2:
                out.append(_obs("EPL203", file, line, None, f"one tf.function created here, traced {per_fn[0]} time(s)",
                                **evidence))
                continue
            same = any(a["python_function"] == b["python_function"] or a["context"] == b["context"]
                       for a, b in zip(events, events[1:]))
            traced_again = sum(1 for n in per_fn if n > 0) >= 2
            if same and traced_again:
                msg = (f"{len(events)} tf.function objects created here for the same code and objects, "
                       f"traced {sum(per_fn)} times in total")
                out.append(_obs("EPL203", file, line, True, msg, **evidence))
            else:
                msg = (f"{len(events)} tf.function objects created here, each over different objects "
                       "(a new model needs a new trace)" if not same else
                       f"{len(events)} tf.function objects created here, but at most one was ever called")
                out.append(_obs("EPL203", file, line, False, msg, **evidence))
        return out

    def epl204(self) -> list[dict]:
        final = {e["optimizer"]: e for e in self.by_kind["optimizer_final"]}
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["optimizer_created"]:
            groups[_site(e)].append(e)
        out = []
        for (file, line), events in groups.items():
            iterations = [final.get(e["optimizer"], {}).get("iterations") for e in events]
            variables = [set(final.get(e["optimizer"], {}).get("variables") or ()) for e in events]
            evidence = {"optimizers_created": len(events), "iterations_per_optimizer": iterations[:50],
                        "created_in_tf_function": any(e["graph"] for e in events),
                        "optimizer_class": events[0]["optimizer_class"]}
            if evidence["created_in_tf_function"]:
                out.append(_obs("EPL204", file, line, True, f"{events[0]['optimizer_class']} constructed while a "
                                "tf.function was being traced", **evidence))
                continue
            if len(events) < 2:
                out.append(_obs("EPL204", file, line, None, f"one {events[0]['optimizer_class']} created here", **evidence))
                continue
            used = [(i, v) for i, v in zip(iterations, variables) if v and i]
            shared = any(a[1] & b[1] for k, a in enumerate(used) for b in used[k + 1:])
            if len(used) < 2:
                out.append(_obs("EPL204", file, line, None, f"{len(events)} optimizers created here; fewer than two "
                                "were used, or their variables are unknown", **evidence))
            elif shared:
                shown = ", ".join(str(i) for i in iterations[:8]) + (", ..." if len(iterations) > 8 else "")
                msg = (f"{len(events)} {events[0]['optimizer_class']} optimizers created here updated the same "
                       f"variables, each restarting from iterations 0 (iterations: {shown})")
                out.append(_obs("EPL204", file, line, True, msg, **evidence))
            else:
                out.append(_obs("EPL204", file, line, False, f"{len(events)} optimizers created here, each for "
                                "different variables (a new model per turn)", **evidence))
        return out

    def epl206(self) -> list[dict]:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["function_traced"]:
            if e.get("file"):
                groups[(e["file"], e["line"], e["fn"])].append(e)
        out = []
        for (file, line, fn), events in groups.items():
            with_numbers = [e for e in events if e["python_numbers"]]
            values = [[v for _, v in e["python_numbers"]] for e in with_numbers]
            bad = len(with_numbers) >= 2 and len({tuple(v) for v in values}) >= 2
            if bad:
                msg = (f"the tf.function was traced {len(with_numbers)} times at this call, once per new Python "
                       f"number argument ({', '.join(str(v) for v in values[:5])}{', ...' if len(values) > 5 else ''})")
            else:
                msg = f"the tf.function traced {_plural(len(events), 'time')} at this call"
            out.append(_obs("EPL206", file, line, bad, msg, traces=len(events), python_numbers=values[:20]))
        return out


    def epl208(self) -> list[dict]:
        per_metric: dict[int, list[dict]] = defaultdict(list)
        for kind in ("metric_update", "metric_result", "metric_reset"):
            for e in self.by_kind[kind]:
                per_metric[e["metric"]].append(e)
        out = []
        for metric, events in per_metric.items():
            events.sort(key=lambda e: e["t"])
            updates = [e for e in events if e["kind"] == "metric_update"]
            if not updates:
                continue
            first = updates[0]
            rounds, resets, pending, reset_between = 0, 0, 0, False
            for e in events:
                if e["kind"] == "metric_update":
                    pending += 1
                elif e["kind"] == "metric_result" and pending:
                    rounds += 1
                    pending = 0
                elif e["kind"] == "metric_reset" and e["t"] > first["t"]:
                    resets += 1
                    if rounds:
                        reset_between = True
            evidence = {"metric_class": first["metric_class"], "updates": len(updates), "reads_after_updates": rounds,
                        "resets": resets}
            if any(e.get("graph") for e in updates) or rounds < 2:
                out.append(_obs("EPL208", first["file"], first["line"], None,
                                f"{first['metric_class']} updated {len(updates)} time(s), read after updates "
                                f"{rounds} time(s)", **evidence))
            elif resets == 0:
                out.append(_obs("EPL208", first["file"], first["line"], True,
                                f"{first['metric_class']} was read {rounds} times after updates and never reset: each "
                                "value is the running mean of everything since the start", **evidence))
            else:
                out.append(_obs("EPL208", first["file"], first["line"], False if reset_between else None,
                                f"{first['metric_class']} was reset {resets} time(s) between reads", **evidence))
        return out


    def epl209(self) -> list[dict]:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["regularization"]:
            groups[_site(e)].append(e)
        out = []
        for (file, line), events in groups.items():
            models = [m for e in events for m in e["models"]]
            ignored = sorted({m["model_class"] for m in models if not m["losses_read"]})
            evidence = {"gradient_calls": len(events), "models": sorted({m["model_class"] for m in models}),
                        "losses_read": [m["losses_read"] for m in models][:50]}
            if ignored:
                msg = (f"{', '.join(ignored)} has regularizers, but its `losses` were never read before this "
                       "tape.gradient: the penalties are not in the differentiated loss")
            else:
                msg = "the regularized model's `losses` were read before each tape.gradient"
            out.append(_obs("EPL209", file, line, bool(ignored), msg, **evidence))
        return out


def _num(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shape(shape) -> str:
    if shape is None:
        return "(unknown rank)"
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _flag(value) -> str:
    return "not passed" if value == "missing" else str(value)
