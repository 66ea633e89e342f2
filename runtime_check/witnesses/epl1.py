"""Witnesses for EPL1xx: how many epochs `fit` really runs (EPL101-EPL106)."""
from __future__ import annotations

import contextlib
import logging

from runtime_check import data, models
from runtime_check.env import Env, capture
from runtime_check.witnesses.base import Checks, Outcome, epochs_run, r, raised, witness


def _xy():
    return data.witness_data()


@witness("EPL101", covers={"assignment": ("attribute", "setattr")})
def epl101(env: Env) -> Outcome:
    x, y = _xy()
    model = models.small(env)
    model.epochs = 10
    with capture():
        hist = model.fit(x, y, verbose=0)
    setattr(model, "epochs", 10)
    with capture():
        hist2 = model.fit(x, y, verbose=0)
    ev = {"attribute_value": int(model.epochs), "epochs_run": epochs_run(hist),
          "epochs_run_after_setattr": epochs_run(hist2)}
    ok = Checks()
    ok.add("one_epoch", ev["epochs_run"] == 1 and ev["epochs_run_after_setattr"] == 1)
    return Outcome(ev, ok, f"model.epochs = 10 -> fit() ran {ev['epochs_run']} epoch(s) "
                   f"(setattr: {ev['epochs_run_after_setattr']})")


@witness("EPL102", covers={"call": ("Model", "Sequential", "compile", "evaluate", "predict")})
def epl102(env: Env) -> Outcome:
    k = env.keras
    x, y = _xy()
    ev: dict = {}
    env.seed(0)
    inputs = k.Input(shape=(x.shape[1],))
    outputs = k.layers.Dense(1)(inputs)
    built: dict = {}

    def make_model():
        built["model"] = k.Model(inputs, outputs, epochs=10)

    with capture() as cap:
        ev["Model"] = raised(make_model)
    if "model" in built:
        ev["Model"]["warnings"] = [m[:160] for m in cap.all_messages()]
        model = built["model"]
        model.compile(optimizer="sgd", loss="mse")
        with capture():
            ev["Model"]["fit_epochs_run"] = epochs_run(model.fit(x, y, verbose=0))
    ev["Sequential"] = raised(lambda: k.Sequential([k.Input(shape=(x.shape[1],)), k.layers.Dense(1)], epochs=10))
    model = models.small(env, compile=False)
    ev["compile"] = raised(lambda: model.compile(optimizer="sgd", loss="mse", epochs=10))
    model.compile(optimizer="sgd", loss="mse")
    with capture():
        ev["evaluate"] = raised(lambda: model.evaluate(x, y, epochs=10, verbose=0))
        ev["predict"] = raised(lambda: model.predict(x, epochs=10, verbose=0))
    ok = Checks()
    if env.keras_major >= 3:
        ok.add("Model accepted silently", not ev["Model"]["raised"] and not ev["Model"]["warnings"])
        ok.add("Model then fit runs 1 epoch", ev["Model"].get("fit_epochs_run") == 1)
        expected = {"Sequential": "TypeError", "compile": "TypeError", "evaluate": "ValueError", "predict": "TypeError"}
    else:
        expected = {"Model": "TypeError", "Sequential": "TypeError", "compile": "TypeError",
                    "evaluate": "TypeError", "predict": "TypeError"}
    for call, exc_type in expected.items():
        ok.add(f"{call} raises {exc_type}", ev[call].get("type") == exc_type)
    parts = []
    for call in ("Model", "Sequential", "compile", "evaluate", "predict"):
        e = ev[call]
        if e["raised"]:
            parts.append(f"{call}: {e['type']}")
        else:
            parts.append(f"{call}: accepted" + (f", fit ran {e['fit_epochs_run']} epoch" if "fit_epochs_run" in e else ""))
    return Outcome(ev, ok, "; ".join(parts))


KERAS1_ARGUMENTS = ("nb_epoch", "samples_per_epoch", "nb_val_samples", "val_samples")
KERAS1_CALLS = ("fit", "evaluate", "predict")


@witness("EPL103", covers={"argument": KERAS1_ARGUMENTS, "call": KERAS1_CALLS})
def epl103(env: Env) -> Outcome:
    x, y = _xy()
    model = models.small(env)
    calls = {"fit": lambda **kw: model.fit(x, y, verbose=0, **kw),
             "evaluate": lambda **kw: model.evaluate(x, y, verbose=0, **kw),
             "predict": lambda **kw: model.predict(x, verbose=0, **kw)}
    ev: dict = {call: {} for call in KERAS1_CALLS}
    with capture():
        for call in KERAS1_CALLS:
            for kw in KERAS1_ARGUMENTS:
                ev[call][kw] = raised(lambda call=call, kw=kw: calls[call](**{kw: 2}))
    ok = Checks()
    for call in KERAS1_CALLS:
        for kw in KERAS1_ARGUMENTS:
            e = ev[call][kw]
            if call == "evaluate":  # evaluate checks its **kwargs itself
                expected = ("ValueError", "Arguments not recognized") if env.keras_major >= 3 else ("TypeError", "Invalid keyword arguments")
                ok.add(f"{call}({kw}=)", e.get("type") == expected[0] and expected[1] in e.get("message", ""))
            else:
                ok.add(f"{call}({kw}=)", e.get("type") == "TypeError" and "unexpected keyword argument" in e.get("message", ""))
    return Outcome(ev, ok, "; ".join(
        f"{call}: " + "/".join(sorted({e.get("type", "accepted") for e in ev[call].values()})) for call in KERAS1_CALLS))


@witness("EPL104", covers={"call": ("fit",)})
def epl104(env: Env) -> Outcome:
    x, y = _xy()
    model = models.small(env)
    turns, n = 3, 3
    per_call, first_losses = [], []
    with capture():
        for _ in range(turns):
            hist = model.fit(x, y, epochs=n, verbose=0, shuffle=False)
            per_call.append(epochs_run(hist))
            first_losses.append(r(hist.history["loss"][0]))
    ev = {"turns": turns, "epochs_per_call": n, "epochs_per_call_run": per_call, "total_epochs": sum(per_call),
          "first_epoch_loss_per_call": first_losses}
    ok = Checks()
    ok.add("total == turns x N", ev["total_epochs"] == turns * n)
    ok.add("second call starts lower", first_losses[1] < first_losses[0])
    return Outcome(ev, ok, f"{turns} turns x fit(epochs={n}) = {ev['total_epochs']} epochs; first-epoch loss "
                   f"per call {first_losses[0]:.4g} -> {first_losses[1]:.4g} -> {first_losses[2]:.4g}")


@witness("EPL105", covers={"call": ("fit",)})
def epl105(env: Env) -> Outcome:
    x, y = _xy()
    model = models.small(env)
    before = models.weights(model)
    with capture():
        hist = model.fit(x, y, epochs=5, initial_epoch=5, verbose=0)
    after = models.weights(model)
    unchanged = all((a == b).all() for a, b in zip(before, after))
    with capture():
        hist2 = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    ev = {"epochs_5_initial_5_epochs_run": epochs_run(hist), "weights_unchanged": bool(unchanged),
          "epochs_5_initial_3_epochs_run": epochs_run(hist2), "epochs_5_initial_3_epoch_indices": list(map(int, hist2.epoch))}
    ok = Checks()
    ok.add("I >= E: 0 epochs", ev["epochs_5_initial_5_epochs_run"] == 0)
    ok.add("weights unchanged", unchanged)
    ok.add("E - I epochs", ev["epochs_5_initial_3_epochs_run"] == 2)
    return Outcome(ev, ok, f"epochs=5, initial_epoch=5: {ev['epochs_5_initial_5_epochs_run']} epochs, weights "
                   f"{'unchanged' if unchanged else 'changed'}; epochs=5, initial_epoch=3: {ev['epochs_5_initial_3_epochs_run']} epochs")


@witness("EPL106", covers={"method": ("fit_generator", "evaluate_generator", "predict_generator")})
def epl106(env: Env) -> Outcome:
    x, y = _xy()
    model = models.small(env)
    names = ("fit_generator", "evaluate_generator", "predict_generator")
    ev: dict = {f"has_{n}": hasattr(model, n) for n in names}

    def gen():
        while True:
            yield x[:32], y[:32]

    with capture() as cap:
        ev["fit_generator_call"] = raised(lambda: model.fit_generator(gen(), steps_per_epoch=2, epochs=1, verbose=0))
    ev["fit_generator_warned"] = any("deprecated" in m for m in cap.all_messages())
    with capture():
        ev["fit_with_generator_epochs"] = epochs_run(model.fit(gen(), steps_per_epoch=2, epochs=2, verbose=0))
    ok = Checks()
    if env.keras_major >= 3:
        ok.add("methods removed", not any(ev[f"has_{n}"] for n in names))
        ok.add("AttributeError", ev["fit_generator_call"].get("type") == "AttributeError")
    else:
        ok.add("methods exist", all(ev[f"has_{n}"] for n in names))
        ok.add("fit_generator trains", not ev["fit_generator_call"]["raised"])
    ok.add("fit takes a generator", ev["fit_with_generator_epochs"] == 2)
    call = ev["fit_generator_call"]
    return Outcome(ev, ok, f"hasattr(model, 'fit_generator') = {ev['has_fit_generator']}; calling it: "
                   f"{call['type'] if call['raised'] else 'trains'}; fit(generator) ran {ev['fit_with_generator_epochs']} epochs")


def _train_weights(env: Env, optimizer, steps: int = 4) -> list:
    """The weights of `models.small` after `steps` SGD batches of the witness data with `optimizer`."""
    x, y = _xy()
    model = models.small(env, compile=False)
    model.compile(optimizer=optimizer, loss="mse")
    with capture():
        model.fit(x[: 32 * steps], y[: 32 * steps], batch_size=32, epochs=1, shuffle=False, verbose=0)
    return models.weights(model)


@contextlib.contextmanager
def _absl_log():
    """The absl logger's WARNING records (tf_keras warns about `lr=` there), kept off the terminal."""
    sink: list[str] = []

    class Sink(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sink.append(record.getMessage())

    logger = logging.getLogger("absl")
    handler, propagate = Sink(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield sink
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _same(a: list, b: list, tol: float = 1e-6) -> bool:
    import numpy as np

    return len(a) == len(b) and all(np.allclose(u, v, rtol=tol, atol=tol) for u, v in zip(a, b))


@witness("EPL107", covers={"argument": ("lr", "decay")})
def epl107(env: Env) -> Outcome:
    k = env.keras
    ev: dict = {"lr": {}, "decay": {}}
    ok = Checks()
    for cls in ("Adam", "SGD", "RMSprop"):
        opt_cls = getattr(k.optimizers, cls)
        default = r(opt_cls().learning_rate.numpy())
        built: dict = {}
        with capture(), _absl_log() as logged:
            e = raised(lambda: built.setdefault("opt", opt_cls(lr=0.5)))
        e["log_warning"] = any("lr" in m for m in logged)
        if "opt" in built:
            e["learning_rate"] = r(built["opt"].learning_rate.numpy())
        e["default"] = default
        ev["lr"][cls] = e
        if env.keras_major >= 3:
            ok.add(f"{cls}(lr=) ValueError", e.get("type") == "ValueError" and "not recognized" in e.get("message", ""))
        else:
            ok.add(f"{cls}(lr=) dropped: default rate", not e["raised"] and e.get("learning_rate") == default != 0.5)
            ok.add(f"{cls}(lr=) only a log warning", e["log_warning"])
    lr0, decay = 0.1, 0.5
    schedule = k.optimizers.schedules.InverseTimeDecay(lr0, decay_steps=1, decay_rate=decay)
    ev["decay"]["schedule_vs_formula"] = [[r(schedule(t)), r(lr0 / (1 + decay * t))] for t in range(4)]
    ok.add("InverseTimeDecay(lr, 1, d)(t) == lr / (1 + d t)", all(a == b for a, b in ev["decay"]["schedule_vs_formula"]))
    if env.keras_major >= 3:
        with capture() as cap:
            opt = k.optimizers.SGD(lr0, decay=decay)
        ev["decay"]["warning"] = [m[:120] for m in cap.all_messages() if "decay" in m]
        decayed = _train_weights(env, opt)
        ev["decay"]["learning_rate_after"] = r(opt.learning_rate.numpy())
        ev["decay"]["weights_equal_plain_sgd"] = _same(decayed, _train_weights(env, k.optimizers.SGD(lr0)))
        ok.add("decay= ignored (warning)", bool(ev["decay"]["warning"]))
        ok.add("weights == SGD without decay", ev["decay"]["weights_equal_plain_sgd"])
        summary = (f"Adam/SGD/RMSprop(lr=0.5): {'/'.join(ev['lr'][c].get('type', 'accepted') for c in ev['lr'])}; "
                   f"SGD(decay=0.5): ignored (weights == plain SGD: {ev['decay']['weights_equal_plain_sgd']})")
    else:
        ev["decay"]["new_optimizer"] = raised(lambda: k.optimizers.SGD(lr0, decay=decay))
        legacy = _train_weights(env, k.optimizers.legacy.SGD(lr0, decay=decay))
        ev["decay"]["legacy_equals_inverse_time_decay"] = _same(legacy, _train_weights(env, k.optimizers.SGD(schedule)))
        ev["decay"]["legacy_differs_from_no_decay"] = not _same(legacy, _train_weights(env, k.optimizers.SGD(lr0)))
        ok.add("SGD(decay=) ValueError", ev["decay"]["new_optimizer"].get("type") == "ValueError")
        ok.add("legacy decay == InverseTimeDecay(lr, 1, decay)", ev["decay"]["legacy_equals_inverse_time_decay"])
        ok.add("the decay matters", ev["decay"]["legacy_differs_from_no_decay"])
        summary = ("Adam/SGD/RMSprop(lr=0.5): learning_rate " + "/".join(str(ev["lr"][c].get("learning_rate")) for c in ev["lr"])
                   + f"; SGD(decay=): {ev['decay']['new_optimizer'].get('type', 'accepted')}; legacy decay == "
                   f"InverseTimeDecay: {ev['decay']['legacy_equals_inverse_time_decay']}")
    return Outcome(ev, ok, summary)


WORKER_ARGUMENTS = ("workers", "use_multiprocessing", "max_queue_size")


@witness("EPL108", covers={"argument": WORKER_ARGUMENTS, "call": KERAS1_CALLS})
def epl108(env: Env) -> Outcome:
    x, y = _xy()
    model = models.small(env)
    values = {"workers": 2, "use_multiprocessing": False, "max_queue_size": 4}
    calls = {"fit": lambda **kw: model.fit(x, y, epochs=1, verbose=0, **kw),
             "evaluate": lambda **kw: model.evaluate(x, y, verbose=0, **kw),
             "predict": lambda **kw: model.predict(x, verbose=0, **kw)}
    ev: dict = {call: {} for call in KERAS1_CALLS}
    with capture():
        for call in KERAS1_CALLS:
            for kw in WORKER_ARGUMENTS:
                ev[call][kw] = raised(lambda call=call, kw=kw: calls[call](**{kw: values[kw]}))
    ok = Checks()
    for call in KERAS1_CALLS:
        for kw in WORKER_ARGUMENTS:
            e = ev[call][kw]
            if env.keras_major < 3:
                ok.add(f"{call}({kw}=) accepted", not e["raised"])
            elif call == "evaluate":
                ok.add(f"{call}({kw}=) ValueError", e.get("type") == "ValueError" and "not recognized" in e.get("message", ""))
            else:
                ok.add(f"{call}({kw}=) TypeError", e.get("type") == "TypeError" and "unexpected keyword argument" in e.get("message", ""))
    return Outcome(ev, ok, "; ".join(
        f"{call}: " + "/".join(sorted({e.get("type", "accepted") for e in ev[call].values()})) for call in KERAS1_CALLS))


@witness("EPL109", covers={"compiled": ("accuracy", "acc")})
def epl109(env: Env) -> Outcome:
    x, y = _xy()
    y = (y > 0).astype("float32")
    ev: dict = {}
    ok = Checks()
    model = models.small(env, compile=False)
    for compiled, other in (("accuracy", "acc"), ("acc", "accuracy")):
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[compiled], run_eagerly=True)
        with capture():
            hist = model.fit(x[:64], y[:64], validation_data=(x[64:], y[64:]), epochs=1, verbose=0)
        keys = sorted(hist.history)
        ev[compiled] = {"keys": keys, f"history[{other!r}]": raised(lambda: hist.history[other]),
                        f"history['val_{other}']": raised(lambda: hist.history["val_" + other])}
        ok.add(f"metrics=[{compiled!r}] -> {compiled}, val_{compiled}", {compiled, "val_" + compiled} <= set(keys))
        ok.add(f"metrics=[{compiled!r}]: {other!r} KeyError", ev[compiled][f"history[{other!r}]"].get("type") == "KeyError"
               and ev[compiled][f"history['val_{other}']"].get("type") == "KeyError")
    return Outcome(ev, ok, f"metrics=['accuracy'] -> keys {ev['accuracy']['keys']}; metrics=['acc'] -> keys {ev['acc']['keys']}")


SCHEDULES = ("ExponentialDecay", "InverseTimeDecay", "PolynomialDecay", "CosineDecay", "CosineDecayRestarts")


@witness("EPL110", covers={"schedule": SCHEDULES})
def epl110(env: Env) -> Outcome:
    k = env.keras
    x, y = _xy()
    epochs, steps_per_epoch = 2, 3  # 96 samples in batches of 32
    s = k.optimizers.schedules
    makers = {  # decay_steps (first_decay_steps) = the epoch count
        "ExponentialDecay": lambda: s.ExponentialDecay(0.1, decay_steps=epochs, decay_rate=0.5),
        "InverseTimeDecay": lambda: s.InverseTimeDecay(0.1, decay_steps=epochs, decay_rate=1.0),
        "PolynomialDecay": lambda: s.PolynomialDecay(0.1, decay_steps=epochs, end_learning_rate=0.0),
        "CosineDecay": lambda: s.CosineDecay(0.1, decay_steps=epochs),
        "CosineDecayRestarts": lambda: s.CosineDecayRestarts(0.1, first_decay_steps=epochs, t_mul=1.0, m_mul=0.8),
    }
    ev: dict = {}
    ok = Checks()
    model = models.small(env, compile=False)  # one model: each schedule gets a fresh optimizer (iterations from 0)
    for name, make in makers.items():
        schedule = make()
        model.compile(optimizer=k.optimizers.SGD(schedule), loss="mse", run_eagerly=True)
        seen: list = []

        class RateAtEpochEnd(k.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                # the optimizer's own rate: Keras 3 evaluates the schedule at `iterations` when read; tf_keras
                # keeps the rate of the last step (`iterations - 1`) in its `current_learning_rate` variable
                seen.append(r(self.model.optimizer.learning_rate.numpy()))

        with capture():
            model.fit(x[:96], y[:96], batch_size=32, epochs=epochs, callbacks=[RateAtEpochEnd()], verbose=0, shuffle=False)
        per_epoch = [r(schedule(e + 1)) for e in range(epochs)]
        ev[name] = {"iterations": int(model.optimizer.iterations.numpy()), "rate_after_each_epoch": seen,
                    "rate_if_it_counted_epochs": per_epoch, "rate_at_steps": [r(schedule(t)) for t in range(0, epochs * steps_per_epoch + 1)]}
        at_steps = ev[name]["rate_at_steps"]
        lag = 0 if env.keras_major >= 3 else 1
        ok.add(f"{name}: evaluated at the step count", seen == [at_steps[(e + 1) * steps_per_epoch - lag] for e in range(epochs)])
        ok.add(f"{name}: not at the epoch", seen[0] != per_epoch[0])
    e = ev["ExponentialDecay"]
    ok.add("ExponentialDecay ends below 0.05 (the per-epoch rate)", e["rate_after_each_epoch"][-1] < e["rate_if_it_counted_epochs"][-1] == r(0.05))
    return Outcome(ev, ok, f"decay_steps={epochs} with fit(epochs={epochs}) of {steps_per_epoch} batches: ExponentialDecay rate after "
                   f"each epoch {e['rate_after_each_epoch']} (per epoch it would be {e['rate_if_it_counted_epochs']})")
