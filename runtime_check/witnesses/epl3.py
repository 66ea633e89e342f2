"""Witnesses for EPL3xx: steps, batches and datasets given to `fit` (EPL301-EPL305)."""
from __future__ import annotations

from runtime_check import data, models
from runtime_check.env import Env, capture
from runtime_check.witnesses.base import Checks, Outcome, clip, counter_callback, epochs_run, raised, witness

RAN_OUT = "ran out of data"


def _dataset(env: Env, x, y, batch_size: int = data.BATCH_SIZE):
    return env.tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


@witness("EPL301", covers={"call": ("fit",)})
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


@witness("EPL302", covers={"call": ("fit",)})
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


def _validation_counter(env: Env):
    class ValidationBatches(env.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.per_epoch: list[int] = []

        def on_test_begin(self, logs=None):
            self.per_epoch.append(0)

        def on_test_batch_end(self, batch, logs=None):
            self.per_epoch[-1] += 1

    return ValidationBatches()


def _validation_steps_as_samples(env: Env, model) -> dict:
    """`validation_steps=` set to the validation sample count: a finite validation set runs out,
    a repeated one is validated for that many batches (batch_size times too long)."""
    xv, yv = data.regression(n=64, seed=1)
    x, y = data.witness_data()
    n_val, per_pass = len(xv), data.num_batches(len(xv))
    out: dict = {"validation_samples": n_val, "validation_batches_per_pass": per_pass}
    for name, make in (("finite_validation_dataset", lambda: _dataset(env, xv, yv)),
                       ("repeated_validation_dataset", lambda: _dataset(env, xv, yv).repeat())):
        counter = _validation_counter(env)
        with capture() as cap:
            hist = model.fit(x, y, batch_size=32, epochs=2, validation_data=make(), validation_steps=n_val, verbose=0,
                             callbacks=[counter])
        out[name] = {"epochs_run": epochs_run(hist), "validation_batches_per_epoch": counter.per_epoch,
                     "ran_out_warning": any(RAN_OUT in m for m in cap.all_messages())}
    return out


@witness("EPL303", covers={"argument": ("steps_per_epoch", "validation_steps")})
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
    val = ev["validation_steps"] = _validation_steps_as_samples(env, model)
    vf, vr = val["finite_validation_dataset"], val["repeated_validation_dataset"]
    ok.add("validation_steps: a finite validation set runs out", vf["ran_out_warning"]
           and all(b <= val["validation_batches_per_pass"] for b in vf["validation_batches_per_epoch"]))
    ok.add("validation_steps: a repeated validation set is validated batch_size times too long",
           vr["validation_batches_per_epoch"] == [val["validation_samples"]] * vr["epochs_run"] and not vr["ran_out_warning"])
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
        summary += (f"; validation_steps={val['validation_samples']} (samples), {val['validation_batches_per_pass']} validation batches: "
                    f"finite -> {vf['validation_batches_per_epoch']} + warning, repeated -> {vr['validation_batches_per_epoch']}")
    else:
        ok.add("training stops when the input runs out", f["epochs_run"] == 1 and f["batches_per_epoch"] == [per_pass])
        summary = (f"steps_per_epoch={n} (samples), {per_pass} batches available: finite dataset -> "
                   f"{f['batches_per_epoch']} batches, then training stops ('ran out of data'); arrays -> "
                   f"{a['batches_per_epoch']}; repeated dataset -> {rep['batches_per_epoch']} batches per epoch; arrays "
                   f"without batch_size -> {nb['samples_in_epoch']} samples in {nb['batches_per_epoch'][-1]} steps")
        summary += (f"; validation_steps={val['validation_samples']} (samples), {val['validation_batches_per_pass']} validation batches: "
                    f"finite -> {vf['validation_batches_per_epoch']} + warning, repeated -> {vr['validation_batches_per_epoch']}")
    return Outcome(ev, ok, summary)


INPUT_KINDS = ("dataset", "generator", "iterator", "PyDataset")  # inputs that deliver whole batches
IMAGE_SHAPE = (data.N_FEATURES, 1, 1)  # ImageDataGenerator.flow takes rank-4 arrays: every kind gets these


def _image_data():
    x, y = data.witness_data()
    return x.reshape((len(x), *IMAGE_SHAPE)), y


def _image_model(env: Env):
    """Input(10, 1, 1) -> Flatten -> Dense(8, relu) -> Dense(1), MSE: one model for every input kind."""
    k = env.keras
    env.seed(0)
    inputs = k.Input(shape=IMAGE_SHAPE)
    h = k.layers.Dense(8, activation="relu")(k.layers.Flatten()(inputs))
    model = k.Model(inputs, k.layers.Dense(1)(h))
    model.compile(optimizer="sgd", loss="mse")
    return model


def _streamed(env: Env, kind: str, x, y, batch_size: int = data.BATCH_SIZE):
    """The same samples, in order, batched by `batch_size`, as a `kind` of input (a fresh one:
    generators are used up)."""
    k, tf = env.keras, env.tf
    if kind == "dataset":
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    if kind == "generator":
        return ((x[b:b + batch_size], y[b:b + batch_size]) for b in range(0, len(x), batch_size))
    if kind == "iterator":  # what ImageDataGenerator().flow(...) returns (NumpyArrayIterator)
        image = getattr(k, "preprocessing").image
        return image.ImageDataGenerator().flow(x, y, batch_size=batch_size, shuffle=False)
    if kind == "PyDataset":
        base = getattr(k.utils, "PyDataset", None) or k.utils.Sequence

        class Batches(base):
            def __len__(self):
                return data.num_batches(len(x), batch_size)

            def __getitem__(self, i):
                return x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size]

        return Batches()
    raise ValueError(kind)


def _batch_counter(env: Env):
    class Batches(env.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.train = self.test = self.predict = 0

        def on_train_batch_end(self, batch, logs=None):
            self.train += 1

        def on_test_batch_end(self, batch, logs=None):
            self.test += 1

        def on_predict_batch_end(self, batch, logs=None):
            self.predict += 1

    return Batches()


@witness("EPL304", covers={"input": INPUT_KINDS, "call": ("fit", "evaluate", "predict")})
def epl304(env: Env) -> Outcome:
    x, y = _image_data()
    per_pass = data.num_batches(len(x))
    model = _image_model(env)
    ev: dict = {"input_batch_size": data.BATCH_SIZE, "batches_per_pass": per_pass}
    ok = Checks()
    for kind in INPUT_KINDS:
        ev[kind] = {}
        for call in ("fit", "evaluate", "predict"):
            runs = {}
            for batch_size in (None, 4):
                kwargs = {} if batch_size is None else {"batch_size": batch_size}
                counter = _batch_counter(env)
                run = getattr(model, call)
                extra = {"epochs": 1} if call == "fit" else {}
                with capture() as cap:
                    result = raised(lambda: run(_streamed(env, kind, x, y), verbose=0, callbacks=[counter], **extra, **kwargs))
                batches = {"fit": counter.train, "evaluate": counter.test, "predict": counter.predict}[call]
                runs[str(batch_size)] = {"call": result, "batches": batches,
                                         "batch_size_warned": any("batch_size" in m for m in cap.all_messages())}
            ev[kind][call] = runs
            got = runs["4"]
            ok.add(f"{kind} {call}: batch_size=4 ignored silently", not got["call"]["raised"] and not got["batch_size_warned"]
                   and got["batches"] == runs["None"]["batches"] == per_pass)
    failed = [name for name in ok.failed()]
    summary = (f"inputs batched by {data.BATCH_SIZE} ({per_pass} batches): with batch_size=4, "
               + ("every one of fit/evaluate/predict x dataset/generator/iterator/PyDataset still ran "
                  f"{per_pass} batches, no error, no warning" if not failed else "NOT ignored: " + "; ".join(failed)))
    return Outcome(ev, ok, summary)


@witness("EPL305", covers={"input": INPUT_KINDS})
def epl305(env: Env) -> Outcome:
    x, y = _image_data()
    model = _image_model(env)
    ev: dict = {}
    ok = Checks()
    for kind in INPUT_KINDS:
        with capture():
            ev[kind] = raised(lambda: model.fit(_streamed(env, kind, x, y), validation_split=0.2, epochs=1, verbose=0))
        ok.add(f"{kind}: ValueError", ev[kind].get("type") == "ValueError" and "validation_split" in ev[kind].get("message", ""))
    return Outcome(ev, ok, "fit(input, validation_split=0.2): " + "; ".join(
        f"{kind}: {ev[kind].get('type', 'accepted')}" for kind in INPUT_KINDS) + f" ({clip(ev['dataset'].get('message', ''), 80)})")


# --------------------------------------------------------------------------- EPL306-EPL311 (issue 11)
def _train_counter(env: Env):
    """Batches per epoch of a fit (`per_epoch`), and the batches of validation/evaluate/predict."""
    return counter_callback(env, hard_limit=1000)


def _finite_generator(x, y, batch_size: int = data.BATCH_SIZE):
    """A generator function without an endless loop (EPL306's first shape)."""
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]


@witness("EPL306", covers={"input": ("generator function", "generator expression"), "call": ("fit",)})
def epl306(env: Env) -> Outcome:
    x, y = data.witness_data()
    per_pass, epochs = data.num_batches(len(x)), 3
    model = models.small(env)
    ev: dict = {"batches_per_pass": per_pass, "epochs": epochs}
    ok = Checks()
    inputs = {"generator function": lambda: _finite_generator(x, y),
              "generator expression": lambda: ((x[i:i + data.BATCH_SIZE], y[i:i + data.BATCH_SIZE])
                                               for i in range(0, len(x), data.BATCH_SIZE))}
    for kind, make in inputs.items():
        counter = _train_counter(env)
        with capture() as cap:
            hist = model.fit(make(), epochs=epochs, verbose=0, callbacks=[counter])
        ev[kind] = {"batches_per_epoch": counter.per_epoch, "epochs_in_history": epochs_run(hist),
                    "ran_out_warning": any(RAN_OUT in m for m in cap.all_messages())}
        got = ev[kind]
        ok.add(f"{kind}: epoch 1 sees every batch", got["batches_per_epoch"][:1] == [per_pass])
        if env.keras_major >= 3:
            ok.add(f"{kind}: later epochs replay the 2 peeked batches",
                   got["batches_per_epoch"] == [per_pass] + [2] * (epochs - 1) and got["ran_out_warning"]
                   and got["epochs_in_history"] == epochs)
        else:
            ok.add(f"{kind}: training stops in epoch 2", got["batches_per_epoch"] == [per_pass, 0]
                   and got["ran_out_warning"] and got["epochs_in_history"] == 2)
    g = ev["generator function"]
    summary = (f"fit(generator of {per_pass} batches, epochs={epochs}): batches per epoch {g['batches_per_epoch']}, "
               f"History {g['epochs_in_history']} epochs, 'ran out of data' warning: {g['ran_out_warning']}; "
               f"generator expression: {ev['generator expression']['batches_per_epoch']}")
    return Outcome(ev, ok, summary)


def _endless_generator(x, y, batch_size: int = data.BATCH_SIZE, with_y: bool = True):
    while True:
        for start in range(0, len(x), batch_size):
            yield (x[start:start + batch_size], y[start:start + batch_size]) if with_y else (x[start:start + batch_size],)


class _Runaway(RuntimeError):
    """Raised by a callback to stop a loop that does not stop by itself."""


def _bounded_counter(env: Env, limit: int):
    """Counts validation/evaluation and prediction batches; raises `_Runaway` at `limit`."""
    class Bounded(env.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.test = self.predict = 0

        def on_test_batch_end(self, batch, logs=None):
            self.test += 1
            if self.test >= limit:
                raise _Runaway(f"{self.test} validation/evaluation batches")

        def on_predict_batch_end(self, batch, logs=None):
            self.predict += 1
            if self.predict >= limit:
                raise _Runaway(f"{self.predict} prediction batches")

    return Bounded()


@witness("EPL307", covers={"input": ("dataset", "generator"), "call": ("fit", "evaluate", "predict")})
def epl307(env: Env) -> Outcome:
    x, y = data.witness_data()
    per_pass, passes = data.num_batches(len(x)), 10
    limit = passes * per_pass
    model = models.small(env)
    train = _dataset(env, x, y)
    inputs = {"dataset": lambda with_y=True: (_dataset(env, x, y) if with_y else env.tf.data.Dataset.from_tensor_slices(x).batch(data.BATCH_SIZE)).repeat(),
              "generator": lambda with_y=True: _endless_generator(x, y, with_y=with_y)}
    calls = {"fit": lambda m, d, cb: m.fit(train, epochs=1, validation_data=d(), verbose=0, callbacks=[cb]),
             "evaluate": lambda m, d, cb: m.evaluate(d(), verbose=0, callbacks=[cb]),
             "predict": lambda m, d, cb: m.predict(d(False), verbose=0, callbacks=[cb])}
    ev: dict = {"batches_per_pass": per_pass, "stopped_at_batches": limit}
    ok = Checks()
    for kind, make in inputs.items():
        ev[kind] = {}
        for call, run in calls.items():
            cb = _bounded_counter(env, limit)
            with capture():
                result = raised(lambda: run(model, make, cb))
            batches = cb.predict if call == "predict" else cb.test
            ev[kind][call] = {"result": result, "batches": batches}
            runaway = result.get("type") == "_Runaway" and batches == limit
            if env.keras_major < 3 and kind == "dataset":
                ok.add(f"{kind} {call}: ValueError", result.get("type") == "ValueError"
                       and "infinite dataset" in result.get("message", ""))
            else:
                ok.add(f"{kind} {call}: still running after {passes} passes", runaway)
    cells = "; ".join(f"{kind} {call}: " + (f"{c['batches']} batches, still running" if c["result"].get("type") == "_Runaway"
                                             else c["result"].get("type", "ended"))
                      for kind in inputs for call, c in ev[kind].items())
    return Outcome(ev, ok, f"endless input of {per_pass} batches per pass without steps: {cells}")


EPL311_ARGUMENTS = ("epochs", "initial_epoch", "steps_per_epoch", "validation_steps", "steps")


@witness("EPL311", covers={"argument": EPL311_ARGUMENTS})
def epl311(env: Env) -> Outcome:
    x, y = data.witness_data()
    per_pass = data.num_batches(len(x))
    model = models.small(env)
    ds = _dataset(env, x, y)
    runs = {
        "epochs=2.5": lambda: model.fit(ds, epochs=2.5, verbose=0),
        "epochs=2.0": lambda: model.fit(ds, epochs=2.0, verbose=0),
        "initial_epoch=1.0": lambda: model.fit(ds, epochs=2, initial_epoch=1.0, verbose=0),
        f"steps_per_epoch={len(x)}/{data.BATCH_SIZE}": lambda: model.fit(ds.repeat(), epochs=1, steps_per_epoch=len(x) / data.BATCH_SIZE, verbose=0),
        f"validation_steps={per_pass}/2": lambda: model.fit(ds, epochs=1, validation_data=ds.repeat(), validation_steps=per_pass / 2, verbose=0),
        "evaluate steps=4/2": lambda: model.evaluate(ds.repeat(), steps=per_pass / 2, verbose=0),
        "predict steps=4/2": lambda: model.predict(ds.repeat(), steps=per_pass / 2, verbose=0),
    }
    argument_of = dict(zip(runs, ("epochs", "epochs", "initial_epoch", "steps_per_epoch", "validation_steps", "steps", "steps")))
    ev: dict = {}
    ok = Checks()
    for name, run in runs.items():
        with capture():
            ev[name] = raised(run)
        type_error = ev[name].get("type") == "TypeError" and "cannot be interpreted as an integer" in ev[name].get("message", "")
        if env.keras_major >= 3 or argument_of[name] in ("epochs", "initial_epoch"):
            ok.add(f"{name}: TypeError", type_error)
        else:
            ok.add(f"{name}: accepted (Keras 2)", not ev[name]["raised"])
    return Outcome(ev, ok, "; ".join(f"{name}: {r.get('type', 'accepted')}" for name, r in ev.items()))


# --------------------------------------------------------------------------- files for the Keras helpers
def _image_tree(env: Env, root: str, per_class: int = 16) -> dict:
    """Two class folders of 4x4 PNGs; image i has every pixel equal to i (its id: 0 .. 2*per_class-1,
    class "a" first). Written with tf.io (no PIL)."""
    import os

    tf = env.tf
    for c, name in enumerate(("a", "b")):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            ident = c * per_class + i
            png = tf.io.encode_png(tf.fill((4, 4, 3), tf.constant(ident, tf.uint8)))
            tf.io.write_file(os.path.join(root, name, f"{i:03d}.png"), png)
    return {"classes": 2, "per_class": per_class}


def _text_tree(root: str, per_class: int = 16) -> None:
    """Two class folders of one-line text files; file i holds its id."""
    import os

    for c, name in enumerate(("a", "b")):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            with open(os.path.join(root, name, f"{i:03d}.txt"), "w") as f:
                f.write(str(c * per_class + i))


def _helper(env: Env, name: str):
    k = env.keras
    return getattr(k.utils, name, None) or getattr(k.preprocessing, name)


def _ids(env: Env, ds, kind: str) -> list[int]:
    """Element ids of one pass over a (batched) dataset of (features, label)."""
    out: list[int] = []
    for features, _ in ds:
        if kind == "image":
            out.extend(int(round(float(v))) for v in env.tf.reduce_mean(features, axis=[1, 2, 3]).numpy())
        elif kind == "text":
            out.extend(int(t) for t in features.numpy())
        else:
            out.extend(int(v) for v in features.numpy().reshape(-1))
    return out


def _split_overlap(env: Env, ds, k: int, kind: str, passes: int = 2) -> dict:
    """ids seen in `ds.take(k)` and in `ds.skip(k)` over `passes` passes of each."""
    a, b = ds.take(k), ds.skip(k)
    seen_a: set = set()
    seen_b: set = set()
    first = None
    for p in range(passes):
        ia, ib = _ids(env, a, kind), _ids(env, b, kind)
        if p == 0:
            first = len(set(ia) & set(ib))
        seen_a |= set(ia)
        seen_b |= set(ib)
    return {"in_both_parts": len(seen_a & seen_b), "in_both_parts_first_pass": first,
            "take_ids_seen": len(seen_a), "skip_ids_seen": len(seen_b)}


@witness("EPL308", covers={"input": ("shuffle", "image_dataset_from_directory", "text_dataset_from_directory")})
def epl308(env: Env) -> Outcome:
    import tempfile

    tf = env.tf
    env.seed(0)
    n, k = 20, 15
    base = tf.data.Dataset.range(n).map(lambda i: (i, i))
    ev: dict = {"elements": n, "split": f"take({k}) / skip({k})"}
    ok = Checks()
    for name, ds in (("shuffle", base.shuffle(n)), ("shuffle_seed_1", base.shuffle(n, seed=1)),
                     ("reshuffle_each_iteration_false", base.shuffle(n, reshuffle_each_iteration=False))):
        ev[name] = _split_overlap(env, ds.batch(5), k // 5, "range")
    ok.add("shuffle: parts overlap", ev["shuffle"]["in_both_parts"] > 0)
    ok.add("shuffle(seed=1): parts overlap", ev["shuffle_seed_1"]["in_both_parts"] > 0)
    ok.add("reshuffle_each_iteration=False: disjoint", ev["reshuffle_each_iteration_false"]["in_both_parts"] == 0)
    with tempfile.TemporaryDirectory() as images, tempfile.TemporaryDirectory() as texts:
        _image_tree(env, images)
        _text_tree(texts)
        for helper, root, kind, extra in (("image_dataset_from_directory", images, "image", {"image_size": (4, 4)}),
                                          ("text_dataset_from_directory", texts, "text", {})):
            make = _helper(env, helper)
            for shuffle in (True, False):
                with capture():
                    ds = make(root, batch_size=4, shuffle=shuffle, seed=0, **extra)
                ev[f"{helper}_shuffle_{shuffle}"] = _split_overlap(env, ds, 2, kind)
            ok.add(f"{helper}: parts overlap by default", ev[f"{helper}_shuffle_True"]["in_both_parts"] > 0)
            ok.add(f"{helper}(shuffle=False): disjoint", ev[f"{helper}_shuffle_False"]["in_both_parts"] == 0)
    summary = (f"ids in both parts of a take/skip split over 2 passes: .shuffle({n}) {ev['shuffle']['in_both_parts']}, "
               f"seed=1 {ev['shuffle_seed_1']['in_both_parts']}, reshuffle_each_iteration=False "
               f"{ev['reshuffle_each_iteration_false']['in_both_parts']}; image_dataset_from_directory "
               f"{ev['image_dataset_from_directory_shuffle_True']['in_both_parts']} (shuffle=False: "
               f"{ev['image_dataset_from_directory_shuffle_False']['in_both_parts']}); text_dataset_from_directory "
               f"{ev['text_dataset_from_directory_shuffle_True']['in_both_parts']} (shuffle=False: "
               f"{ev['text_dataset_from_directory_shuffle_False']['in_both_parts']})")
    return Outcome(ev, ok, summary)


@witness("EPL309", covers={"order": ("batch before shuffle", "shuffle before cache", "random map before cache",
                                     "repeat before shuffle")})
def epl309(env: Env) -> Outcome:
    import numpy as np

    tf, k = env.tf, env.keras
    env.seed(0)
    n = 20
    base = tf.data.Dataset.range(n)

    def two_passes(ds):
        return [[v.tolist() if hasattr(v, "tolist") else v for v in ds.as_numpy_iterator()] for _ in range(2)]

    ev: dict = {"elements": n}
    ok = Checks()
    p1, p2 = two_passes(base.batch(4).shuffle(5))
    same_batches = sorted(map(tuple, p1)) == sorted(map(tuple, p2))
    ev["batch_then_shuffle"] = {"same_batch_contents": same_batches, "batch_order_differs": p1 != p2}
    q1, q2 = two_passes(base.shuffle(n).batch(4))
    ev["shuffle_then_batch_same_batch_contents"] = sorted(map(tuple, map(sorted, q1))) == sorted(map(tuple, map(sorted, q2)))
    ok.add("batch before shuffle: same batches every pass", same_batches and not ev["shuffle_then_batch_same_batch_contents"])
    c1, c2 = two_passes(base.shuffle(n).cache())
    d1, d2 = two_passes(base.cache().shuffle(n))
    ev["shuffle_then_cache_same_order"], ev["cache_then_shuffle_same_order"] = c1 == c2, d1 == d2
    ok.add("shuffle before cache: same order every pass", c1 == c2 and d1 != d2)
    images = tf.data.Dataset.from_tensor_slices(np.arange(n * 4, dtype="float32").reshape(n, 1, 4, 1))
    flip = k.layers.RandomFlip("horizontal")
    maps = {"tf.random.uniform": lambda: base.map(lambda v: tf.cast(v, tf.float32) + tf.random.uniform(())),
            "tf.image.random_flip_left_right": lambda: images.map(tf.image.random_flip_left_right),
            "keras RandomFlip": lambda: images.map(lambda v: flip(v, training=True))}

    def passes(ds):
        return [np.stack(list(ds.as_numpy_iterator())) for _ in range(2)]

    ev["random_map_then_cache"] = {}
    tf.random.set_seed(None)  # no global seed: with one, tf.random ops in a map repeat their values on every pass
    for name, make in maps.items():
        u1, u2 = passes(make())
        c1_, c2_ = passes(make().cache())
        got = ev["random_map_then_cache"][name] = {"uncached_values_differ_between_passes": not bool(np.array_equal(u1, u2)),
                                                  "cached_values_same_on_two_passes": bool(np.array_equal(c1_, c2_))}
        ok.add(f"{name} map before cache: same values every pass",
               got["uncached_values_differ_between_passes"] and got["cached_values_same_on_two_passes"])
    env.seed(0)
    s1, s2 = passes(maps["tf.random.uniform"]())
    ev["with_global_seed_tf_random_map_repeats_without_cache"] = bool(np.array_equal(s1, s2))
    mixed = list(base.repeat(2).shuffle(n).as_numpy_iterator())
    ev["repeat_then_shuffle_distinct_in_first_pass"] = len(set(int(v) for v in mixed[:n]))
    ok.add("repeat before shuffle: the first pass repeats elements", ev["repeat_then_shuffle_distinct_in_first_pass"] < n)
    summary = (f"batch(4).shuffle(5): same batch contents on two passes {same_batches} (shuffle(20).batch(4): "
               f"{ev['shuffle_then_batch_same_batch_contents']}); shuffle().cache() same order {c1 == c2} (cache().shuffle(): "
               f"{d1 == d2}); random map + cache same values: "
               + ", ".join(f"{k_} {v['cached_values_same_on_two_passes']} (uncached: differ "
                           f"{v['uncached_values_differ_between_passes']})" for k_, v in ev["random_map_then_cache"].items())
               + f"; repeat(2).shuffle(20): {ev['repeat_then_shuffle_distinct_in_first_pass']} distinct in the first 20")
    return Outcome(ev, ok, summary)


def _oracle(env: Env):
    """A perfect classifier for `_image_tree` images: class "b" (ids >= per_class) is brighter."""
    k, tf = env.keras, env.tf
    inputs = k.Input(shape=(4, 4, 3))
    out = k.layers.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2, 3])[:, None])(inputs)
    return k.Model(inputs, out)


@witness("EPL310", covers={
    "input": ("flow_from_directory", "image_dataset_from_directory", "text_dataset_from_directory", "shuffle"),
    "labels": ("classes attribute", "second pass"),
})
def epl310(env: Env) -> Outcome:
    import tempfile

    import numpy as np

    k, tf = env.keras, env.tf
    env.seed(0)
    per_class = 16
    ev: dict = {"images": 2 * per_class}
    ok = Checks()
    model = _oracle(env)

    def predicted(data) -> np.ndarray:
        scores = model.predict(data, verbose=0)[:, 0]
        return (scores >= per_class - 0.5).astype(int)  # exact: pixel value == id (rescale=None)

    with tempfile.TemporaryDirectory() as images, tempfile.TemporaryDirectory() as texts:
        _image_tree(env, images, per_class)
        _text_tree(texts, per_class)
        image_gen = getattr(k, "preprocessing").image.ImageDataGenerator
        for shuffle in (None, False):
            kwargs = {} if shuffle is None else {"shuffle": shuffle}
            with capture():
                it = image_gen().flow_from_directory(images, target_size=(4, 4), batch_size=8, class_mode="binary", **kwargs)
            pred = predicted(it)
            ev[f"flow_from_directory_shuffle_{shuffle}"] = {
                "accuracy_vs_classes": float((pred == it.classes).mean()),
                "accuracy_vs_labels": float((pred == np.asarray(it.labels)).mean())}
        helper = _helper(env, "image_dataset_from_directory")
        for shuffle in (None, False):
            kwargs = {} if shuffle is None else {"shuffle": shuffle}
            with capture():
                ds = helper(images, image_size=(4, 4), batch_size=8, **kwargs)
            pred = predicted(ds)
            ev[f"image_dataset_from_directory_shuffle_{shuffle}"] = {
                "accuracy_vs_second_pass": float((pred == np.concatenate([y for _, y in ds])).mean())}
        base = tf.data.Dataset.from_tensor_slices(
            (np.repeat(np.arange(2 * per_class, dtype="float32"), 48).reshape(-1, 4, 4, 3),
             (np.arange(2 * per_class) >= per_class).astype("int32")))
        for name, ds in (("shuffle", base.shuffle(2 * per_class).batch(8)), ("no_shuffle", base.batch(8))):
            pred = predicted(ds)
            ev[f"dataset_{name}"] = {"accuracy_vs_second_pass": float((pred == np.concatenate([y for _, y in ds])).mean())}
        text = _helper(env, "text_dataset_from_directory")
        for shuffle in (None, False):
            kwargs = {} if shuffle is None else {"shuffle": shuffle}
            with capture():
                ds = text(texts, batch_size=8, **kwargs)
            first = [int(t) for b, _ in ds for t in b.numpy()]
            second = [int(t) for b, _ in ds for t in b.numpy()]
            ev[f"text_dataset_from_directory_shuffle_{shuffle}"] = {"two_passes_same_order": first == second}
    f0, f1 = ev["flow_from_directory_shuffle_None"], ev["flow_from_directory_shuffle_False"]
    i0, i1 = ev["image_dataset_from_directory_shuffle_None"], ev["image_dataset_from_directory_shuffle_False"]
    d0, d1 = ev["dataset_shuffle"], ev["dataset_no_shuffle"]
    chance = 0.8  # a perfect model scores 1.0 when aligned; misaligned it scores about 0.5
    ok.add("flow_from_directory: misaligned with .classes and .labels by default",
           f0["accuracy_vs_classes"] < chance and f0["accuracy_vs_labels"] < chance)
    ok.add("flow_from_directory(shuffle=False): aligned", f1["accuracy_vs_classes"] == 1.0 == f1["accuracy_vs_labels"])
    ok.add("image_dataset_from_directory: misaligned with a second pass", i0["accuracy_vs_second_pass"] < chance)
    ok.add("image_dataset_from_directory(shuffle=False): aligned", i1["accuracy_vs_second_pass"] == 1.0)
    ok.add(".shuffle(): misaligned with a second pass", d0["accuracy_vs_second_pass"] < chance and d1["accuracy_vs_second_pass"] == 1.0)
    ok.add("text_dataset_from_directory: another order on the second pass",
           not ev["text_dataset_from_directory_shuffle_None"]["two_passes_same_order"]
           and ev["text_dataset_from_directory_shuffle_False"]["two_passes_same_order"])
    summary = (f"perfect oracle, 32 images: flow_from_directory vs .classes {f0['accuracy_vs_classes']:.2f} "
               f"(shuffle=False {f1['accuracy_vs_classes']:.2f}); image_dataset_from_directory vs a second pass "
               f"{i0['accuracy_vs_second_pass']:.2f} ({i1['accuracy_vs_second_pass']:.2f}); .shuffle() dataset "
               f"{d0['accuracy_vs_second_pass']:.2f} ({d1['accuracy_vs_second_pass']:.2f}); text_dataset_from_directory "
               f"second pass same order: {ev['text_dataset_from_directory_shuffle_None']['two_passes_same_order']} "
               f"(shuffle=False: {ev['text_dataset_from_directory_shuffle_False']['two_passes_same_order']})")
    return Outcome(ev, ok, summary)
