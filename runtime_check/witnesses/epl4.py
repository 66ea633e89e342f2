"""Witnesses for EPL4xx: callbacks, optimizers and training state across `fit` and `compile` calls
(EPL401-EPL403)."""
from __future__ import annotations

from runtime_check import data, models
from runtime_check.env import Env, capture
from runtime_check.witnesses.base import Checks, Outcome, r, witness

TURNS = 3


def _xy():
    x, y = data.witness_data()
    return x[:64], y[:64]  # 2 batches: these witnesses count epochs and read learning rates


def _lr(model) -> float:
    return r(model.optimizer.learning_rate.numpy() if hasattr(model.optimizer.learning_rate, "numpy")
             else model.optimizer.learning_rate)


def _run(env: Env, make_callbacks, style: str) -> dict:
    """Train `models.small` with the same callback objects: one fit(epochs=TURNS) ("single"), TURNS
    fit(epochs=1) calls ("loop"), or TURNS fit(initial_epoch=t, epochs=t + 1) calls ("initial_epoch").
    Returns the epochs run, the epoch indices the callbacks saw and the final learning rate."""
    x, y = _xy()
    model = models.small(env, compile=False)
    model.compile(optimizer=env.keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)  # nothing to trace
    cbs = make_callbacks()
    seen: list[int] = []
    k = env.keras

    class Seen(k.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(int(epoch))

    epochs = 0
    with capture():
        if style == "single":
            epochs = len(model.fit(x, y, epochs=TURNS, callbacks=[*cbs, Seen()], verbose=0, shuffle=False).epoch)
        else:
            for t in range(TURNS):
                kw = {"epochs": 1} if style == "loop" else {"initial_epoch": t, "epochs": t + 1}
                epochs += len(model.fit(x, y, callbacks=[*cbs, Seen()], verbose=0, shuffle=False, **kw).epoch)
    return {"epochs_run": epochs, "epochs_seen": seen, "learning_rate": _lr(model)}


@witness("EPL401", covers={"callback": ("EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler"),
                           "epochs": ("one", "initial_epoch")})
def epl401(env: Env) -> Outcome:
    k = env.keras

    def plateau():
        # a loss that falls never improves under mode="max": the "diverging" run, for both callbacks at once
        return [k.callbacks.EarlyStopping(monitor="loss", mode="max", patience=1),
                k.callbacks.ReduceLROnPlateau(monitor="loss", mode="max", patience=1, factor=0.5, min_lr=0.0)]

    def scheduler():
        return [k.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)]

    ev = {"EarlyStopping+ReduceLROnPlateau": {style: _run(env, plateau, style) for style in ("single", "loop", "initial_epoch")},
          "LearningRateScheduler": {style: _run(env, scheduler, style) for style in ("loop", "initial_epoch")}}
    ok = Checks()
    es, ls = ev["EarlyStopping+ReduceLROnPlateau"], ev["LearningRateScheduler"]
    scheduled = r(0.1 * 0.5 ** (TURNS - 1))
    ok.add("one fit: EarlyStopping stops early", es["single"]["epochs_run"] < TURNS)
    ok.add("one fit: ReduceLROnPlateau lowers the rate", es["single"]["learning_rate"] < 0.1)
    for style in ("loop", "initial_epoch"):
        ok.add(f"{style}: EarlyStopping never stops", es[style]["epochs_run"] == TURNS)
        ok.add(f"{style}: ReduceLROnPlateau never lowers the rate", es[style]["learning_rate"] == r(0.1))
    ok.add("loop: LearningRateScheduler sees epoch 0 every turn", ls["loop"]["epochs_seen"] == [0] * TURNS)
    ok.add("loop: LearningRateScheduler leaves the rate unchanged", ls["loop"]["learning_rate"] == r(0.1))
    ok.add("initial_epoch=t: LearningRateScheduler follows the epochs", ls["initial_epoch"]["learning_rate"] == scheduled)
    summary = (f"{TURNS} turns of fit(epochs=1): EarlyStopping ran {es['loop']['epochs_run']} epochs (one fit: "
               f"{es['single']['epochs_run']}), ReduceLROnPlateau left lr {es['loop']['learning_rate']} (one fit: "
               f"{es['single']['learning_rate']}); LearningRateScheduler saw epochs {ls['loop']['epochs_seen']}")
    return Outcome(ev, ok, summary)


@witness("EPL403", covers={"optimizer": ("string", "default")})
def epl403(env: Env) -> Outcome:
    k = env.keras
    x, y = _xy()
    same = k.optimizers.Adam(1e-3)
    eager = {"run_eagerly": True}  # nothing to trace: 6 tiny steps per way
    ways = {"string": lambda m: m.compile(optimizer="adam", loss="mse", **eager),
            "default": lambda m: m.compile(loss="mse", **eager),
            "same object": lambda m: m.compile(optimizer=same, loss="mse", **eager)}
    ev: dict = {}
    for way, compile_ in ways.items():
        model = models.small(env, compile=False)
        iterations, ids, first_losses = [], [], []
        with capture():
            for _ in range(TURNS):
                compile_(model)
                hist = model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)  # 2 steps
                iterations.append(int(model.optimizer.iterations.numpy()))
                ids.append(id(model.optimizer))
                first_losses.append(r(hist.history["loss"][0]))
        ev[way] = {"iterations_per_turn": iterations, "optimizer_objects": len(set(ids)),
                   "optimizer": type(model.optimizer).__name__, "loss_per_turn": first_losses}
    ok = Checks()
    for way in ("string", "default"):
        ok.add(f"{way}: iterations restart every turn", ev[way]["iterations_per_turn"] == [2] * TURNS)
        ok.add(f"{way}: a new optimizer per turn", ev[way]["optimizer_objects"] == TURNS)
    ok.add("default is RMSprop", ev["default"]["optimizer"] == "RMSprop")
    ok.add("the weights carry on (loss falls turn to turn)", ev["string"]["loss_per_turn"][-1] < ev["string"]["loss_per_turn"][0])
    ok.add("same object: iterations keep counting", ev["same object"]["iterations_per_turn"] == [2 * (t + 1) for t in range(TURNS)])
    return Outcome(ev, ok, f"{TURNS} turns of compile + fit (2 steps): iterations compile('adam') "
                   f"{ev['string']['iterations_per_turn']}, default {ev['default']['iterations_per_turn']} "
                   f"({ev['default']['optimizer']}), same object {ev['same object']['iterations_per_turn']}")


def _checkpoint_saves(env: Env, directory: str, **kwargs) -> dict:
    """Fit 3 epochs of 2 batches with a ModelCheckpoint(**kwargs) writing `w-{epoch}`: the files it wrote."""
    import os

    from runtime_check.witnesses.base import raised

    k = env.keras
    x, y = _xy()
    model = models.small(env, compile=False)
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    built: dict = {}
    os.makedirs(directory)
    path = os.path.join(directory, "w-{epoch}" + (".weights.h5" if env.keras_major >= 3 else ".h5"))
    with capture() as cap:
        e = raised(lambda: built.setdefault("cb", k.callbacks.ModelCheckpoint(path, save_weights_only=True, **kwargs)))
    e["warnings"] = [m[:120] for m in cap.all_messages()]
    if "cb" in built:
        with capture():
            model.fit(x, y, batch_size=32, epochs=3, callbacks=[built["cb"]], verbose=0, shuffle=False)
        e["files"] = sorted(os.listdir(directory))
    return e


@witness("EPL402", covers={"argument": ("epsilon", "period", "save_freq")})
def epl402(env: Env) -> Outcome:
    import tempfile

    k = env.keras
    ev: dict = {}
    with capture() as cap:
        rl = k.callbacks.ReduceLROnPlateau(epsilon=0.5)
    ev["epsilon"] = {"min_delta": r(rl.min_delta), "warnings": [m[:120] for m in cap.all_messages()]}
    with tempfile.TemporaryDirectory() as directory:
        ev["period"] = _checkpoint_saves(env, f"{directory}/period", period=2)
        ev["save_freq"] = _checkpoint_saves(env, f"{directory}/save_freq", save_freq=3)
    ok = Checks()
    if env.keras_major >= 3:
        ok.add("epsilon= ignored silently: min_delta 1e-4", ev["epsilon"]["min_delta"] == r(1e-4) and not ev["epsilon"]["warnings"])
        ok.add("period= TypeError", ev["period"].get("type") == "TypeError")
    else:
        ok.add("epsilon= mapped to min_delta", ev["epsilon"]["min_delta"] == 0.5)
        ok.add("period=2 saves every 2 epochs", ev["period"].get("files") == ["w-2.h5"])
    # 3 epochs x 2 batches: save_freq=3 saves after the 3rd and the 6th batch (epochs 2 and 3), not every 3 epochs (1 file)
    ok.add("save_freq=3 counts batches", len(ev["save_freq"].get("files", [])) == 2)
    return Outcome(ev, ok, f"ReduceLROnPlateau(epsilon=0.5).min_delta = {ev['epsilon']['min_delta']}; "
                   f"ModelCheckpoint(period=2): {ev['period'].get('type') or 'wrote ' + str(ev['period'].get('files'))}; "
                   f"save_freq=3 over 3 epochs x 2 batches wrote {ev['save_freq'].get('files')}")
