"""Witnesses for EPL3xx: steps, batches and datasets given to `fit` (EPL301-EPL305)."""
from __future__ import annotations

from runtime_check import data, models
from runtime_check.env import Env, capture
from runtime_check.witnesses.base import Checks, Outcome, clip, counter_callback, epochs_run, raised, witness

RAN_OUT = "ran out of data"


def _dataset(env: Env, x, y, batch_size: int = data.BATCH_SIZE):
    return env.tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


@witness("EPL301", """Keras 3: `fit` on a `.repeat()`ed (infinite) dataset without `steps_per_epoch` never ends
its first epoch. Keras 2 (tf_keras): `fit` raises ValueError ("When providing an infinite dataset, you must
specify the number of steps to run").""")
def epl301(env: Env) -> Outcome:
    x, y = data.witness_data()
    per_pass = data.num_batches(len(x))
    passes = 5
    model = models.small(env)
    counter = counter_callback(env, max_batches=passes * per_pass, hard_limit=4 * passes * per_pass)
    ds = _dataset(env, x, y).repeat()
    with capture():
        call = raised(lambda: model.fit(ds, epochs=2, verbose=0, callbacks=[counter]))
    ev = {"batches_per_pass": per_pass, "stopped_after_batches": counter.total, "fit": call,
          "epochs_begun": counter.begun, "epoch_ends_at_batch": counter.ended_at,
          "batches_in_epoch_1": counter.per_epoch[0] if counter.per_epoch else 0}
    ok = Checks()
    if env.keras_major >= 3:
        ok.add("no error", not call["raised"])
        ok.add("epoch 1 not ended after several passes", ev["batches_in_epoch_1"] >= 3 * per_pass and counter.begun == [0]
               and all(at == counter.total for at in counter.ended_at))  # it ends only when the callback stops it
        summary = (f"{ev['batches_in_epoch_1']} batches of a {per_pass}-batch dataset ({passes} passes) and still in "
                   f"epoch 1 (epochs begun {counter.begun}); stopped by a callback")
    else:
        ok.add("ValueError", call.get("type") == "ValueError" and "infinite dataset" in call.get("message", ""))
        summary = f"fit raised {call.get('type', 'nothing')}: {clip(call.get('message', ''), 90)}"
    return Outcome(ev, ok, summary)


@witness("EPL302", """`.repeat(E)` on a dataset plus `fit(..., epochs=E)` without `steps_per_epoch` makes
E x E passes over the data: every epoch runs the whole repeated dataset (Keras 2 and 3).""")
def epl302(env: Env) -> Outcome:
    x, y = data.witness_data()
    per_pass, e = data.num_batches(len(x)), 3
    model = models.small(env)
    counter = counter_callback(env, hard_limit=10 * e * e * per_pass)
    with capture():
        hist = model.fit(_dataset(env, x, y).repeat(e), epochs=e, verbose=0, callbacks=[counter])
    ev = {"repeat": e, "epochs": e, "epochs_run": epochs_run(hist), "batches_per_pass": per_pass,
          "batches_per_epoch": counter.per_epoch, "total_batches": counter.total, "passes": counter.total / per_pass}
    ok = Checks()
    ok.add("passes == E * E", counter.total == e * e * per_pass)
    return Outcome(ev, ok, f"repeat({e}) + epochs={e}: {counter.total} batches = {ev['passes']:g} passes "
                   f"({counter.per_epoch} per epoch)")


def _sample_counter(env: Env):
    k, tf = env.keras, env.tf

    class Samples(k.metrics.Metric):
        """Samples seen in the epoch (the metric is reset at the start of every epoch)."""

        def __init__(self, name="samples", **kwargs):
            super().__init__(name=name, **kwargs)
            self.n = self.add_weight(name="n", shape=(), initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.n.assign_add(tf.cast(tf.shape(y_true)[0], self.n.dtype))

        def result(self):
            return self.n

        def reset_state(self):
            self.n.assign(0.0)

    return Samples()


@witness("EPL303", """`steps_per_epoch` counts batches, not samples. Set to the sample count N: with a repeated
dataset every epoch runs N batches (batch_size times too long); with a finite input the data runs out ("Your
input ran out of data") -- Keras 3 cuts every epoch short and goes on with the next, Keras 2 (tf_keras) stops
training; with arrays and no `batch_size`, Keras 2 and 3 derive batch_size = ceil(N / steps) = 1 (N steps of
one sample each).""")
def epl303(env: Env) -> Outcome:
    x, y = data.regression(n=64, seed=0)
    n, per_pass = len(x), data.num_batches(len(x))
    ev: dict = {"samples": n, "steps_per_epoch": n, "batches_per_pass": per_pass}
    ok = Checks()
    runs = {"arrays_batch_size_32": dict(args=(x, y), kwargs={"batch_size": 32}, epochs=2),
            "finite_dataset": dict(args=(_dataset(env, x, y),), kwargs={}, epochs=2),
            "repeated_dataset": dict(args=(_dataset(env, x, y).repeat(),), kwargs={}, epochs=1),
            "arrays_no_batch_size": dict(args=(x, y), kwargs={}, epochs=1)}
    model = models.small(env, compile=False)  # one model for the four fits: the claim is about the input
    model.compile(optimizer="sgd", loss="mse", metrics=[_sample_counter(env)])
    for name, run in runs.items():
        counter = counter_callback(env, hard_limit=4 * n * 2)
        with capture() as cap:
            hist = model.fit(*run["args"], steps_per_epoch=n, epochs=run["epochs"], verbose=0, callbacks=[counter], **run["kwargs"])
        ev[name] = {"epochs_run": epochs_run(hist), "batches_per_epoch": counter.per_epoch,
                    "ran_out_warning": any(RAN_OUT in m for m in cap.all_messages())}
        if name == "arrays_no_batch_size":
            ev[name]["samples_in_epoch"] = int(hist.history["samples"][-1])
    a, f, rep, nb = ev["arrays_batch_size_32"], ev["finite_dataset"], ev["repeated_dataset"], ev["arrays_no_batch_size"]
    ok.add("finite input runs out", a["ran_out_warning"] and f["ran_out_warning"])
    ok.add("repeated: epoch is batch_size times too long", rep["batches_per_epoch"] == [n] and not rep["ran_out_warning"])
    ok.add("no batch_size: N steps of one sample", nb["batches_per_epoch"] == [n] and nb["samples_in_epoch"] == n)
    if env.keras_major >= 3:
        ok.add("each epoch cut short, training goes on", a["batches_per_epoch"] == [per_pass, per_pass]
               and f["batches_per_epoch"] == [per_pass, per_pass])
        summary = (f"steps_per_epoch={n} (samples), {per_pass} batches available: arrays/finite dataset -> "
                   f"{a['batches_per_epoch']} batches per epoch + 'ran out of data' warning; repeated dataset -> "
                   f"{rep['batches_per_epoch']} batches ({n // per_pass}+ passes) per epoch; arrays without batch_size -> "
                   f"{nb['samples_in_epoch']} samples in {nb['batches_per_epoch'][-1]} steps (batch of 1)")
    else:
        ok.add("training stops when the input runs out", f["epochs_run"] == 1 and f["batches_per_epoch"] == [per_pass])
        summary = (f"steps_per_epoch={n} (samples), {per_pass} batches available: finite dataset -> "
                   f"{f['batches_per_epoch']} batches, then training stops ('ran out of data'); arrays -> "
                   f"{a['batches_per_epoch']}; repeated dataset -> {rep['batches_per_epoch']} batches per epoch; arrays "
                   f"without batch_size -> {nb['samples_in_epoch']} samples in {nb['batches_per_epoch'][-1]} steps")
    return Outcome(ev, ok, summary)


@witness("EPL304", """`batch_size=` given to `fit`/`evaluate`/`predict` with a tf.data dataset is silently
ignored: the dataset's own batching wins (Keras 2 and 3).""")
def epl304(env: Env) -> Outcome:
    x, y = data.witness_data()
    per_pass = data.num_batches(len(x))
    results = {}
    model = models.small(env)
    for batch_size in (None, 4):
        counter = counter_callback(env, hard_limit=100 * per_pass)
        kwargs = {} if batch_size is None else {"batch_size": batch_size}
        with capture() as cap:
            call = raised(lambda: model.fit(_dataset(env, x, y), epochs=1, verbose=0, callbacks=[counter], **kwargs))
            pred = model.predict(_dataset(env, x, y), verbose=0, **kwargs)
        results[str(batch_size)] = {"fit": call, "batches_per_epoch": counter.per_epoch,
                                    "predict_rows": int(pred.shape[0]),
                                    "batch_size_warned": any("batch_size" in m for m in cap.all_messages())}
    ev = {"dataset_batch_size": data.BATCH_SIZE, "without_batch_size": results["None"], "with_batch_size_4": results["4"]}
    ok = Checks()
    ok.add("no error", not results["4"]["fit"]["raised"])
    ok.add("batches unchanged", results["4"]["batches_per_epoch"] == results["None"]["batches_per_epoch"] == [per_pass])
    ok.add("silently", not results["4"]["batch_size_warned"])
    return Outcome(ev, ok, f"fit(dataset batched by 32): {results['None']['batches_per_epoch'][0]} batches; with "
                   f"batch_size=4: {results['4']['batches_per_epoch'][0]} batches, no error, no warning")


@witness("EPL305", """`validation_split=` with a tf.data dataset or generator raises ValueError: it is only
supported for arrays/tensors (Keras 2 and 3).""")
def epl305(env: Env) -> Outcome:
    x, y = data.witness_data()
    model = models.small(env)
    with capture():
        call = raised(lambda: model.fit(_dataset(env, x, y), validation_split=0.2, verbose=0))
    ev = {"fit": call}
    ok = Checks()
    ok.add("ValueError", call.get("type") == "ValueError" and "validation_split" in call.get("message", ""))
    return Outcome(ev, ok, f"fit(dataset, validation_split=0.2): {call.get('type', 'accepted')}: "
                   f"{clip(call.get('message', ''), 100)}")
