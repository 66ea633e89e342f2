"""Facts (the child's events) -> what happened per source line, and per rule an observation.

An observation is `{"code", "file", "line", "problem": True|False|None, "message", "evidence"}`:
True means the runtime shows the rule's problem at that line, False that the line ran and the
problem did not occur, None that it ran but nothing decides (a loop that turned once).
Rules observed: OBSERVED (every other code of the rule registry is "not checked":
`unobserved(codes)`).
Pure Python over dicts: no TensorFlow.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

OBSERVED = ("EPL101", "EPL102", "EPL103", "EPL104", "EPL105", "EPL106", "EPL201", "EPL202", "EPL203", "EPL204",
            "EPL205", "EPL206", "EPL207", "EPL208", "EPL209", "EPL301", "EPL302", "EPL303", "EPL304", "EPL305")
KERAS1_ARGUMENTS = ("nb_epoch", "samples_per_epoch", "nb_val_samples", "val_samples")  # as hooks.KERAS1_ARGUMENTS
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
        for method in (self.epl101, self.epl102, self.epl103, self.epl104, self.epl105, self.epl106, self.epl201,
                       self.epl202, self.epl203, self.epl204, self.epl205, self.epl206, self.epl207, self.epl208,
                       self.epl209, self.epl301, self.epl302, self.epl303, self.epl304, self.epl305):
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

    def epl103(self) -> list[dict]:
        """A Keras 1 argument name given to fit/evaluate/predict: rejected (TypeError/ValueError)
        or, in a Keras that still took it, accepted."""
        out = []
        calls = [(e, e.get("error")) for e in self.by_kind["call_rejected"]]
        calls += [(c, (c["end"] or {}).get("error")) for c in self.calls.values()]
        for e, error in sorted(calls, key=lambda pair: pair[0]["t"]):
            names = [k for k in e.get("keywords") or () if k in KERAS1_ARGUMENTS]
            if not names:
                continue
            shown = ", ".join(f"{n}=" for n in names)
            if error:
                msg = f"{e['method']}({shown}) raised {error['type']}: {error['message'][:160]}"
            elif e.get("end") is None and e["kind"] == "call_begin":
                msg = f"{e['method']}({shown}) did not return (the script ended inside it)"
            else:
                msg = f"{e['method']}({shown}) was accepted by this Keras"
            problem = True if error else (None if e.get("end") is None else False)
            out.append(_obs("EPL103", e["file"], e["line"], problem, msg, method=e["method"], arguments=names,
                            error=error))
        return _per_site(out)

    def epl105(self) -> list[dict]:
        """fit() given `initial_epoch`: how many epochs ran (I >= E runs none)."""
        per_site: dict[tuple, list[dict]] = defaultdict(list)
        for c in self.fits:
            requested, initial = c.get("epochs"), c.get("initial_epoch") or 0
            if not (c.get("initial_epoch_passed") or (isinstance(requested, (int, float)) and initial >= requested)):
                continue
            per_site[_site(c)].append(c)
        out = []
        for (file, line), calls in per_site.items():
            runs = [{"epochs": c.get("epochs"), "initial_epoch": c.get("initial_epoch") or 0,
                     "epochs_run": None if c.get("unobserved") or c["end"] is None else len(c["epoch_ends"])}
                    for c in calls]
            empty = [r for r in runs if isinstance(r["epochs"], (int, float)) and r["initial_epoch"] >= r["epochs"]]
            if any(r["epochs_run"] == 0 for r in empty):
                r = next(r for r in empty if r["epochs_run"] == 0)
                msg = (f"fit(epochs={_num(r['epochs'])}, initial_epoch={_num(r['initial_epoch'])}) ran 0 epochs: "
                       "`epochs` is the index of the last epoch, not a count")
                problem: Optional[bool] = True
            elif all(r["epochs_run"] is None for r in runs):
                msg, problem = "fit() with initial_epoch did not finish", None
            else:
                shown = ", ".join(f"{r['epochs_run']} (epochs={_num(r['epochs'])}, initial_epoch={_num(r['initial_epoch'])})"
                                  for r in runs[:5])
                msg, problem = f"fit() with initial_epoch ran epochs: {shown}", False
            out.append(_obs("EPL105", file, line, problem, msg, calls=runs[:50]))
        return out

    def _removed(self, code: str, names: tuple) -> list[dict]:
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for e in self.by_kind["removed_method"]:
            if e["name"] in names:
                groups[_site(e)].append(e)
        out = []
        for (file, line), events in groups.items():
            e = events[0]
            missing = [x for x in events if not x["exists"]]
            if missing:
                msg = (f"{e['owner_class']}.{e['name']} does not exist in this Keras: the call raised AttributeError"
                       + (f" ({len(missing)} times)" if len(missing) > 1 else ""))
                problem: Optional[bool] = True
            else:  # tf_keras still has it: nothing decides the Keras 3 claim
                msg, problem = f"{e['owner_class']}.{e['name']} ran (deprecated in Keras 2, removed in Keras 3)", None
            out.append(_obs(code, file, line, problem, msg, method=e["name"], owner_class=e["owner_class"],
                            exists=bool(e["exists"]), calls=len(events)))
        return out

    def epl106(self) -> list[dict]:
        return self._removed("EPL106", ("fit_generator", "evaluate_generator", "predict_generator"))

    def epl207(self) -> list[dict]:
        return self._removed("EPL207", ("reset_states",))

    def epl301(self) -> list[dict]:
        """fit() on a tf.data dataset: is it infinite, and was steps_per_epoch given?"""
        out = []
        for c in self.fits:
            info = c.get("data_info") or {}
            if info.get("kind") != "dataset":
                continue
            card, steps = info.get("cardinality"), c.get("steps_per_epoch")
            ends, error = c["epoch_ends"], (c["end"] or {}).get("error")
            evidence = {"cardinality": card, "steps_per_epoch": steps, "epochs_run": len(ends),
                        "batches_per_epoch": [e["batches"] for e in ends][:50],
                        "capped_epochs": sum(1 for e in ends if e.get("capped")), "error": error}
            if card == -1 and steps is None:
                if error and error["type"] not in ("_Timeout",):
                    msg = f"fit() on an infinite dataset without steps_per_epoch raised {error['type']}: {error['message'][:160]}"
                elif evidence["capped_epochs"]:
                    msg = (f"the dataset is infinite and steps_per_epoch was not given: no epoch could end by itself; "
                           f"--max-steps ended each after {max(evidence['batches_per_epoch'])} batches")
                else:
                    batches = (c["end"] or {}).get("batches")
                    msg = ("the dataset is infinite and steps_per_epoch was not given: epoch 1 had not ended after "
                           f"{batches if batches is not None else 'its'} batches")
                out.append(_obs("EPL301", c["file"], c["line"], True, msg, **evidence))
            elif card is not None and card >= 0 or steps is not None:
                why = f"steps_per_epoch={_num(steps)}" if steps is not None else f"{card} batches per pass"
                out.append(_obs("EPL301", c["file"], c["line"], False, f"each epoch has an end ({why})", **evidence))
            else:  # unknown cardinality, no steps: only an epoch that ended by itself decides
                natural = [e for e in ends if not e.get("capped")]
                out.append(_obs("EPL301", c["file"], c["line"], False if natural else None,
                                "the dataset's size is unknown" + ("; its epochs ended by themselves" if natural else ""),
                                **evidence))
        return _per_site(out)

    def epl302(self) -> list[dict]:
        """fit() on a dataset with `.repeat(count)`: passes over the data per epoch."""
        out = []
        for c in self.fits:
            info = c.get("data_info") or {}
            count = info.get("repeat_count")
            if info.get("kind") != "dataset" or count is None or count < 0:
                continue
            epochs, steps = c.get("epochs"), c.get("steps_per_epoch")
            inner, card = info.get("repeat_input_cardinality"), info.get("cardinality")
            evidence = {"repeat_count": count, "epochs": epochs, "steps_per_epoch": steps, "batches_per_epoch": card,
                        "batches_per_pass": card // count if isinstance(card, int) and card > 0 and count > 0 else None,
                        "repeat_input_cardinality": inner, "passes_total": count * len(c["epoch_ends"])}
            if steps is not None:
                out.append(_obs("EPL302", c["file"], c["line"], False,
                                f"repeat({count}) with steps_per_epoch={_num(steps)}: the epochs are sized by the steps",
                                **evidence))
            elif count > 1 and count == epochs:
                msg = (f"repeat({count}) and epochs={_num(epochs)}: each epoch made {count} passes over the data "
                       f"({card} batches per epoch), {count} x {_num(epochs)} = {count * int(epochs)} passes in all")
                out.append(_obs("EPL302", c["file"], c["line"], True, msg, **evidence))
            else:
                out.append(_obs("EPL302", c["file"], c["line"], None if count > 1 else False,
                                f"repeat({count}) and epochs={_num(epochs)}: {count} pass(es) per epoch", **evidence))
        return _per_site(out)

    def epl303(self) -> list[dict]:
        """steps_per_epoch / validation_steps against the batches one pass over the data holds."""
        out = []
        for c in self.fits:
            for arg, steps, info in (("steps_per_epoch", c.get("steps_per_epoch"), c.get("data_info")),
                                     ("validation_steps", c.get("validation_steps"), c.get("validation_info"))):
                if steps is None or not info:
                    continue
                if not isinstance(steps, (int, float)):
                    continue
                batches, samples = info.get("batches"), info.get("samples")
                evidence = {"argument": arg, "steps": steps, "batches_per_pass": batches, "samples": samples,
                            "data": info.get("kind"), "ran_out_of_data": c["ran_out"]}
                if batches is None:
                    out.append(_obs("EPL303", c["file"], c["line"], None,
                                    f"{arg}={_num(steps)}; the batches the input holds are unknown", **evidence))
                elif steps > batches:
                    same = " (the number of samples)" if samples == steps else ""
                    out.append(_obs("EPL303", c["file"], c["line"], True,
                                    f"{arg}={_num(steps)}{same}, but one pass over the input holds {batches} batches: "
                                    "a step is a batch, not a sample", **evidence))
                else:
                    out.append(_obs("EPL303", c["file"], c["line"], False,
                                    f"{arg}={_num(steps)} of the {batches} batches the input holds", **evidence))
        return _per_site(out)

    def epl304(self) -> list[dict]:
        """batch_size= with an input that batches itself: ignored or rejected."""
        out = []
        for c in sorted(self.calls.values(), key=lambda c: c["t"]):
            size = c.get("batch_size")
            if size is None or "batch_size" not in (c.get("keywords") or ()):
                continue
            info = c.get("data_info") or {}
            error = (c["end"] or {}).get("error")
            evidence = {"method": c["method"], "batch_size": size, "data": info.get("kind"),
                        "data_batch_dim": info.get("batch_dim"), "batches_per_pass": info.get("batches"), "error": error}
            if info.get("kind") in ("dataset", "generator", "sequence"):
                if error:
                    msg = f"{c['method']}(batch_size={size}) on a {info['kind']} raised {error['type']}"
                else:
                    own = f" (its batches have {info['batch_dim']} samples)" if info.get("batch_dim") else ""
                    msg = (f"{c['method']}(batch_size={size}) was ignored: the {info['kind']} batches itself{own}"
                           + (f", {info['batches']} batches per pass" if info.get("batches") is not None else ""))
                out.append(_obs("EPL304", c["file"], c["line"], True, msg, **evidence))
            elif info.get("kind") == "array":
                out.append(_obs("EPL304", c["file"], c["line"], False,
                                f"{c['method']}(batch_size={size}) on arrays: it sets the batches", **evidence))
        return _per_site(out)

    def epl305(self) -> list[dict]:
        """validation_split= with an input that cannot be split."""
        out = []
        for c in self.fits:
            split = c.get("validation_split")
            if not split:
                continue
            info = c.get("data_info") or {}
            error = (c["end"] or {}).get("error")
            val = [e["val_batches"] for e in c["epoch_ends"]]
            evidence = {"validation_split": split, "data": info.get("kind"), "error": error,
                        "validation_batches": val[:50]}
            if error and error["type"] == "ValueError" and "validation_split" in error["message"]:
                out.append(_obs("EPL305", c["file"], c["line"], True,
                                f"fit(validation_split={_num(split)}) on a {info.get('kind')} raised ValueError: "
                                f"{error['message'][:160]}", **evidence))
            elif info.get("kind") == "array" and any(val):
                out.append(_obs("EPL305", c["file"], c["line"], False,
                                f"validation_split={_num(split)} on arrays: {max(val)} validation batch(es) per epoch",
                                **evidence))
            elif c["epoch_ends"] and not any(val):
                out.append(_obs("EPL305", c["file"], c["line"], True,
                                f"validation_split={_num(split)} was ignored: no validation batch ran", **evidence))
        return _per_site(out)

    def epl205(self) -> list[dict]:
        """Python side effects in a user tf.function: how often they ran against its calls."""
        finals = {e["fn"]: e for e in self.by_kind["function_final"]}
        names = {e["fn"]: e.get("name", "?") for e in self.by_kind["function_created"]}
        groups: dict[tuple, dict] = {}
        for e in self.by_kind["side_effects"]:
            for x in e["effects"]:
                key = (x["file"], x["line"], x["effect"], e["fn"])
                g = groups.setdefault(key, {"runs": 0, "in_traces": 0, "errors": []})
                g["runs"] += x["count"]
                g["in_traces"] += x["count"] if e.get("traced") else 0
                if e.get("error"):
                    g["errors"].append(e["error"])
        out = []
        for (file, line, effect, fn), g in groups.items():
            calls, traces = finals.get(fn, {}).get("calls"), finals.get(fn, {}).get("traces")
            name = names.get(fn, "?")
            evidence = {"effect": effect, "function": name, "runs": g["runs"], "runs_while_tracing": g["in_traces"],
                        "calls": calls, "traces": traces, "error": g["errors"][0] if g["errors"] else None}
            if effect.startswith("."):
                error = g["errors"][0] if g["errors"] else None
                msg = (f"{effect} was looked up on a symbolic tensor while {name} was traced"
                       + (f": {error['type']} at trace time" if error else ""))
                out.append(_obs("EPL205", file, line, True, msg, **evidence))
            elif calls is not None and calls > g["runs"]:
                msg = (f"{effect} ran {_plural(g['runs'], 'time')} for {_plural(calls, 'call')} of {name} "
                       f"({_plural(traces or 0, 'trace')}): once per trace, not per call")
                out.append(_obs("EPL205", file, line, True, msg, **evidence))
            elif calls is not None and calls >= 2:
                out.append(_obs("EPL205", file, line, False, f"{effect} ran at each of the {calls} calls of {name} "
                                "(each call ran its Python: retraced, or run eagerly)", **evidence))
            else:
                out.append(_obs("EPL205", file, line, None, f"{effect} ran {_plural(g['runs'], 'time')}; {name} was "
                                f"called {calls if calls is not None else 'an unknown number of'} time(s)", **evidence))
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


def _per_site(observations: list[dict]) -> list[dict]:
    """One observation per (code, file, line): the first showing the problem, else the first
    showing it did not occur, else the first; `evidence.calls` counts the calls seen there."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for o in observations:
        groups[(o["code"], o["file"], o["line"])].append(o)
    out = []
    for items in groups.values():
        chosen = next((o for o in items if o["problem"] is True), None) \
            or next((o for o in items if o["problem"] is False), None) or items[0]
        if len(items) > 1:
            chosen = {**chosen, "evidence": {**chosen["evidence"], "calls": len(items)}}
        out.append(chosen)
    return out


def unobserved(codes) -> list[str]:
    """The codes (of the rule registry) trace does not observe: their findings are "not checked"."""
    return sorted(set(codes) - set(OBSERVED))


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
