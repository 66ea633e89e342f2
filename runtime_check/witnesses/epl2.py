"""Witnesses for EPL2xx: custom training loops with `GradientTape` and `tf.function` (EPL201-EPL209)."""
from __future__ import annotations

import numpy as np

from runtime_check import data, models
from runtime_check.env import Env, capture
from runtime_check.witnesses.base import Checks, Outcome, r, raised, witness


def _global_norm(tf, grads) -> float:
    return float(tf.linalg.global_norm(grads).numpy())


@witness("EPL201", covers={"loss": ("loss function", "loss object with reduction=None")})
def epl201(env: Env) -> Outcome:
    tf, k = env.tf, env.keras
    x, y = data.witness_data()
    xb, yb = x[:32], y[:32]
    model = models.seed_functional(env)
    with tf.GradientTape(persistent=True) as tape:
        pred = model(xb)
        per_sample = k.losses.MSE(yb, pred)  # the seed's loss, as written
        reduced = tf.reduce_mean(per_sample)
        summed = tf.reduce_sum(per_sample)
    g_vec = tape.gradient(per_sample, model.trainable_variables)
    g_mean = tape.gradient(reduced, model.trainable_variables)
    g_sum = tape.gradient(summed, model.trainable_variables)
    del tape
    ratio = _global_norm(tf, g_vec) / _global_norm(tf, g_mean)
    vec_vs_sum = max(float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(g_vec, g_sum))
    # duplicated batch: the same 32 samples fed twice
    x2, y2 = np.concatenate([xb, xb]), np.concatenate([yb, yb])
    per2 = k.losses.MSE(y2, model(x2))
    sum_ratio = float(tf.reduce_sum(per2) / summed)
    mean_ratio = float(tf.reduce_mean(per2) / reduced)
    # the effect on training: SGD(0.01), 10 epochs, same seed, unreduced vs reduced
    sgd = {name: _sgd_eval_mse(env, x, y, reduce) for name, reduce in (("unreduced", False), ("reduced", True))}
    ev = {"batch_size": 32, "loss_shape": [int(d) for d in per_sample.shape],
          "grad_norm_ratio_unreduced_over_reduced": r(ratio), "grad_vector_vs_sum_max_abs_diff": r(vec_vs_sum, 9),
          "duplicated_batch_sum_ratio": r(sum_ratio), "duplicated_batch_mean_ratio": r(mean_ratio),
          "sgd_0.01_eval_mse_after_10_epochs": {k_: r(v) for k_, v in sgd.items()}}
    ok = Checks()
    ok.add("loss shape (batch,)", ev["loss_shape"] == [32])
    ok.add("ratio == batch size", abs(ratio - 32) / 32 <= 1e-3)
    ok.add("gradient of vector == gradient of sum", vec_vs_sum <= 1e-5 * max(1.0, _global_norm(tf, g_sum)))
    ok.add("duplicated batch doubles SUM", abs(sum_ratio - 2) <= 1e-4)
    ok.add("duplicated batch leaves MEAN", abs(mean_ratio - 1) <= 1e-4)
    # the same per-sample vector from a loss object built with reduction=None / "none"
    objects = {}
    for spelling in (None, "none"):
        try:
            loss_object = k.losses.MeanSquaredError(reduction=spelling)
        except Exception as exc:  # noqa: BLE001 - a spelling this Keras refuses is a measurement too
            objects[str(spelling)] = {"accepted": False, "error": type(exc).__name__}
            continue
        with tf.GradientTape() as tape:
            vec = loss_object(yb, model(xb))
        g_obj = tape.gradient(vec, model.trainable_variables)
        objects[str(spelling)] = {"accepted": True, "loss_shape": [int(d) for d in vec.shape],
                                  "grad_norm_ratio_over_reduced": r(_global_norm(tf, g_obj) / _global_norm(tf, g_mean))}
    ev["loss_object"] = objects
    accepted = [o for o in objects.values() if o["accepted"]]
    ok.add("reduction=None loss object: a (batch,) vector, gradient x batch size",
           bool(accepted) and all(o["loss_shape"] == [32] and abs(o["grad_norm_ratio_over_reduced"] - 32) / 32 <= 1e-3 for o in accepted))
    return Outcome(ev, ok, f"loss shape {tuple(ev['loss_shape'])}; grad-norm ratio unreduced/reduced "
                   f"{ratio:.4f} (batch 32); batch fed twice: SUM x{sum_ratio:.3f}, MEAN x{mean_ratio:.3f}; SGD(0.01) "
                   f"eval MSE unreduced {sgd['unreduced']:.4f} vs reduced {sgd['reduced']:.4f}; MeanSquaredError(reduction=None/'none'): "
                   + ", ".join(f"{s}: ratio {o['grad_norm_ratio_over_reduced']:.4f}" if o["accepted"] else f"{s}: refused ({o['error']})"
                               for s, o in objects.items()))


def _sgd_eval_mse(env: Env, x, y, reduce: bool) -> float:
    tf, k = env.tf, env.keras
    model = models.seed_functional(env, seed=1)
    opt = k.optimizers.SGD(0.01)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = k.losses.MSE(yb, model(xb))
            if reduce:
                loss = tf.reduce_mean(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))

    for _ in range(10):
        for xb, yb in data.slices(x, y):
            step(xb, yb)
    return float(tf.reduce_mean(k.losses.MSE(y, model(x))))


def _bn_dropout_model(env: Env):
    env.seed(0)
    k = env.keras
    inputs = k.Input(shape=(data.N_FEATURES,))
    h = k.layers.Dense(8)(inputs)
    h = k.layers.BatchNormalization(name="bn")(h)
    h = k.layers.Dropout(0.5, name="drop")(h)
    return k.Model(inputs, k.layers.Dense(1)(h))


# What EPL202's "layers with training behaviour" are (linter.analysis.model_contents: one list).
def _dropout_family() -> tuple:
    from linter.analysis.model_contents import DROPOUT_FAMILY

    return tuple(sorted(DROPOUT_FAMILY))


SPATIAL_RANK = {"SpatialDropout1D": 3, "SpatialDropout2D": 4, "SpatialDropout3D": 5}
AUGMENTATION_SAMPLE = (("RandomFlip", (), {}), ("RandomRotation", (0.5,), {}), ("RandomZoom", (0.5,), {}),
                       ("RandomTranslation", (0.5, 0.5), {}), ("RandomContrast", (0.9,), {}))


def _identity_at_inference(env: Env, layer, x) -> dict:
    """In a model (as EPL202 sees it): `model(x)` (no flag) == `model(x, training=False)` == x, and
    `model(x, training=True)` != x."""
    k = env.keras
    inputs = k.Input(shape=x.shape[1:])
    model = k.Model(inputs, layer(inputs))
    default = np.asarray(model(x))
    inference = np.asarray(model(x, training=False))
    training = np.asarray(model(x, training=True))
    return {"default_is_identity": bool(np.allclose(default, x)), "default_equals_inference": bool(np.array_equal(default, inference)),
            "training_changes_it": not bool(np.allclose(training, x))}


def _inactive_by_default(env: Env) -> dict:
    """Every layer family EPL202 names, called without `training=`: dropout/noise and augmentation
    layers are the identity, batch normalization does not update its moving statistics, spectral
    normalization does not run its power iteration, `dropout=` of recurrent/attention layers drops nothing."""
    k, tf = env.keras, env.tf
    rng = np.random.default_rng(0)
    out: dict = {"dropout and noise layers": {}, "augmentation layers": {}}
    for name in _dropout_family():
        cls = getattr(k.layers, name, None)
        if cls is None:
            out["dropout and noise layers"][name] = {"available": False}
            continue
        x = (rng.standard_normal((4,) + (3,) * (SPATIAL_RANK.get(name, 2) - 2) + (8,)) + 2.0).astype(np.float32)
        out["dropout and noise layers"][name] = _identity_at_inference(env, cls(0.5), x)
    images = rng.uniform(0.0, 1.0, (4, 8, 8, 3)).astype(np.float32)
    for name, args, kwargs in AUGMENTATION_SAMPLE:
        env.seed(0)
        out["augmentation layers"][name] = _identity_at_inference(env, getattr(k.layers, name)(*args, **kwargs), images)
    for name in ("BatchNormalization", "SyncBatchNormalization"):
        if name == "BatchNormalization":
            bn = k.layers.BatchNormalization()
        elif env.keras_major >= 3:  # Keras 3 spells it BatchNormalization(synchronized=True)
            bn = k.layers.BatchNormalization(synchronized=True)
        else:
            bn = getattr(getattr(k.layers, "experimental", None), "SyncBatchNormalization", None) or getattr(k.layers, "SyncBatchNormalization", None)
            if bn is None:
                out[name] = {"available": False}
                continue
            bn = bn()
        x = (rng.standard_normal((16, 8)) + 3.0).astype(np.float32)
        bn(x)
        unchanged = bool(np.allclose(bn.moving_mean.numpy(), 0.0))
        bn(x, training=True)
        out[name] = {"moving_mean_unchanged_without_flag": unchanged, "training_true_updates_it": not bool(np.allclose(bn.moving_mean.numpy(), 0.0))}
    sn_cls = getattr(k.layers, "SpectralNormalization", None)
    if sn_cls is None:
        out["SpectralNormalization"] = {"available": False}
    else:
        env.seed(0)
        sn = sn_cls(k.layers.Dense(4))
        x = rng.standard_normal((8, 6)).astype(np.float32)
        sn(x)
        u0 = np.array(sn.vector_u.numpy())
        sn(x)
        u1 = np.array(sn.vector_u.numpy())
        sn(x, training=True)
        out["SpectralNormalization"] = {"power_iteration_idle_without_flag": bool(np.array_equal(u0, u1)),
                                        "training_true_runs_it": not bool(np.array_equal(u1, sn.vector_u.numpy()))}
    seq = rng.standard_normal((4, 5, 6)).astype(np.float32)
    args: dict = {}
    env.seed(0)
    lstm = k.layers.LSTM(4, dropout=0.5, recurrent_dropout=0.5)
    args["LSTM(dropout=, recurrent_dropout=)"] = lstm
    env.seed(0)
    mha = k.layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.5)
    out["dropout= arguments"] = {}
    for label, layer in (*args.items(), ("MultiHeadAttention(dropout=)", mha)):
        call = (lambda lay=layer, **kw: lay(seq, **kw)) if label.startswith("LSTM") else (lambda lay=layer, **kw: lay(seq, seq, **kw))
        default, inference = np.asarray(call()), np.asarray(call(training=False))
        training = np.asarray(call(training=True))
        out["dropout= arguments"][label] = {"default_equals_inference": bool(np.allclose(default, inference)),
                                            "training_differs": not bool(np.allclose(training, inference))}
    return out


def _all_true(d: dict) -> bool:
    return all(v is True for k_, v in d.items() if k_ != "available") and d.get("available", True) is not False


@witness("EPL202", covers={"layer": ("dropout and noise layers", "BatchNormalization", "SyncBatchNormalization",
                                     "SpectralNormalization", "dropout= arguments")})
def epl202(env: Env) -> Outcome:
    tf, k = env.tf, env.keras
    x, y = data.witness_data()
    stats = {}
    for flag in (None, True):
        model = _bn_dropout_model(env)
        bn = model.get_layer("bn")
        opt = k.optimizers.SGD(0.01)

        @tf.function
        def step(xb, yb, model=model, opt=opt, flag=flag):
            with tf.GradientTape() as tape:
                pred = model(xb) if flag is None else model(xb, training=True)
                loss = tf.reduce_mean(k.losses.MSE(yb, pred))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))

        for _ in range(10):
            for xb, yb in data.slices(x, y):
                step(xb, yb)
        stats[flag] = (float(np.max(np.abs(bn.moving_mean.numpy()))), float(np.max(np.abs(bn.moving_variance.numpy() - 1))))
    drop = model.get_layer("drop")
    xb = x[:32]
    default = model(xb).numpy()
    inference = model(xb, training=False).numpy()
    training = model(xb, training=True).numpy()
    drop_default = drop(tf.ones((4, 8))).numpy()
    ev = {"epochs": 10, "no_flag_moving_mean_max_abs": r(stats[None][0]), "no_flag_moving_variance_max_abs_change": r(stats[None][1]),
          "training_true_moving_mean_max_abs": r(stats[True][0]),
          "default_call_equals_inference": bool(np.array_equal(default, inference)),
          "default_call_equals_training": bool(np.array_equal(default, training)),
          "dropout_default_output_equals_input": bool(np.array_equal(drop_default, np.ones((4, 8), np.float32)))}
    ok = Checks()
    ok.add("BN moving stats unchanged", stats[None] == (0.0, 0.0))
    ok.add("BN moving stats change with training=True", stats[True][0] > 0)
    ok.add("default call == inference", ev["default_call_equals_inference"] and not ev["default_call_equals_training"])
    ok.add("dropout inactive", ev["dropout_default_output_equals_input"])
    families = ev["without_training_flag"] = _inactive_by_default(env)
    for family in ("dropout and noise layers", "dropout= arguments"):
        for name, m in families[family].items():
            if m.get("available", True):
                ok.add(f"{name}: inactive without training=True", _all_true(m))
    # Measured, and NOT part of the claim: random augmentation layers augment when the model is
    # called without `training=` (their own default is training=True), in Keras 2 and 3.
    ev["augmentation_layers_augment_without_training_flag"] = sorted(
        name for name, m in families["augmentation layers"].items() if not m["default_is_identity"] and m["training_changes_it"])
    for name in ("BatchNormalization", "SyncBatchNormalization", "SpectralNormalization"):
        if families[name].get("available", True):  # (absent from this Keras: nothing to claim there)
            ok.add(f"{name}: inactive without training=True", _all_true(families[name]))
    return Outcome(ev, ok, f"10 epochs without training=True: BN moving_mean max |.| {stats[None][0]:.3g} "
                   f"(with training=True: {stats[True][0]:.3g}); model(x) == model(x, training=False): "
                   f"{ev['default_call_equals_inference']}; dropout output == input: {ev['dropout_default_output_equals_input']}; "
                   f"inactive without training=True: {sum(1 for n in ok.items if n.endswith('inactive without training=True') and ok.items[n])}"
                   f" of {sum(1 for n in ok.items if n.endswith('inactive without training=True'))} layers/arguments measured"
                   + "".join(f"; {n} absent" for n in ("SyncBatchNormalization", "SpectralNormalization") if not families[n].get("available", True))
                   + f"; augmentation layers that DO augment without training=True (not claimed): "
                   + (", ".join(ev["augmentation_layers_augment_without_training_flag"]) or "none"))


@witness("EPL203", covers={"form": ("decorator", "call")})
def epl203(env: Env) -> Outcome:
    tf = env.tf
    traces = {"in_loop": 0, "hoisted": 0}

    def make(key):
        def step(a):
            traces[key] += 1
            return a * 2.0
        return step

    turns = 4
    value = tf.constant([1.0, 2.0])
    for _ in range(turns):
        fn = tf.function(make("in_loop"))
        fn(value)
    hoisted = tf.function(make("hoisted"))
    for _ in range(turns):
        hoisted(value)
    decorated = [0]
    for _ in range(turns):
        @tf.function
        def step(a):
            decorated[0] += 1
            return a * 2.0

        step(value)
    ev = {"turns": turns, "traces_in_loop": traces["in_loop"], "traces_hoisted": traces["hoisted"],
          "traces_decorator_in_loop": decorated[0]}
    ok = Checks()
    ok.add("traces == turns", traces["in_loop"] == turns)
    ok.add("decorator in the loop: traces == turns", decorated[0] == turns)
    ok.add("hoisted traces once", traces["hoisted"] == 1)
    return Outcome(ev, ok, f"{turns} turns: {traces['in_loop']} traces with tf.function(...) in the loop, "
                   f"{decorated[0]} with @tf.function in the loop, {traces['hoisted']} hoisted")


@witness("EPL204", covers={"where": ("loop", "tf.function step")})
def epl204(env: Env) -> Outcome:
    tf, k = env.tf, env.keras
    x, y = data.witness_data()
    steps = data.num_batches(len(x))
    iterations = {}
    for where in ("in_loop", "outside"):
        model = models.small(env, compile=False)
        opt = k.optimizers.SGD(0.01)
        for _ in range(3):
            if where == "in_loop":
                opt = k.optimizers.SGD(0.01)
            for xb, yb in data.slices(x, y):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(k.losses.MSE(yb, model(xb)))
                grads = tape.gradient(loss, model.trainable_variables)
                opt.apply_gradients(zip(grads, model.trainable_variables))
        iterations[where] = int(opt.iterations.numpy())
    model = models.small(env, compile=False)

    @tf.function
    def step(xb, yb):
        inner = k.optimizers.SGD(0.01)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(k.losses.MSE(yb, model(xb)))
        grads = tape.gradient(loss, model.trainable_variables)
        inner.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    with capture():
        in_function = raised(lambda: step(x[:32], y[:32]))
    ev = {"epochs": 3, "steps_per_epoch": steps, "iterations_optimizer_in_loop": iterations["in_loop"],
          "iterations_optimizer_outside": iterations["outside"], "in_tf_function": in_function}
    ok = Checks()
    ok.add("iterations == one turn", iterations["in_loop"] == steps)
    ok.add("outside == all turns", iterations["outside"] == 3 * steps)
    ok.add("ValueError in tf.function", in_function.get("type") == "ValueError")
    return Outcome(ev, ok, f"3 epochs x {steps} steps: optimizer.iterations = {iterations['in_loop']} "
                   f"(built outside: {iterations['outside']}); in a tf.function step: {in_function.get('type', 'no error')}")


@witness("EPL205", covers={"call": ("numpy", "item", "print", "append", "extend", "insert")})
def epl205(env: Env) -> Outcome:
    tf = env.tf
    traces, appended, extended, inserted = [0], [], [], []

    @tf.function
    def step(a):
        traces[0] += 1
        print("step", a.shape)
        appended.append(1)
        extended.extend([1])
        inserted.insert(0, 1)
        return a + 1.0

    calls = 4
    with capture() as cap:
        for i in range(calls):
            step(tf.constant(float(i)))
    prints = sum(1 for line in cap.stdout.splitlines() if line.startswith("step"))

    @tf.function
    def to_numpy(a):
        return a.numpy()

    numpy_call = raised(lambda: to_numpy(tf.constant(1.0)))

    @tf.function
    def to_item(a):
        return a.item()

    item_call = raised(lambda: to_item(tf.constant(1.0)))
    ev = {"calls": calls, "traces": traces[0], "prints": prints, "appends": len(appended), "extends": len(extended),
          "inserts": len(inserted), "numpy_in_tf_function": numpy_call, "item_in_tf_function": item_call}
    ok = Checks()
    ok.add("AttributeError", numpy_call.get("type") == "AttributeError")
    ok.add(".item(): AttributeError", item_call.get("type") == "AttributeError")
    ok.add("print count == trace count", prints == traces[0] == 1)
    ok.add("appends == trace count", len(appended) == traces[0])
    ok.add("extends and inserts == trace count", len(extended) == len(inserted) == traces[0])
    return Outcome(ev, ok, f"{calls} calls: {traces[0]} trace, {prints} print, {len(appended)} append, "
                   f"{len(extended)} extend, {len(inserted)} insert; .numpy(): {numpy_call.get('type', 'no error')}; "
                   f".item(): {item_call.get('type', 'no error')}")


@witness("EPL206", covers={"value": ("int", "float")})
def epl206(env: Env) -> Outcome:
    tf = env.tf
    traces = [0]

    @tf.function
    def step(a, epoch):
        traces[0] += 1
        return a * tf.cast(epoch, tf.float32)

    turns = 5
    value = tf.constant(1.0)
    for epoch in range(turns):
        step(value, epoch)
    python_traces = traces[0]
    traces[0] = 0
    for epoch in range(turns):
        step(value, tf.constant(epoch))
    tensor_traces = traces[0]
    traces[0] = 0
    for lr in (0.1, 0.05, 0.01, 0.005, 0.001)[:turns]:
        step(value, lr)
    float_traces = traces[0]
    ev = {"turns": turns, "traces_python_int": python_traces, "traces_python_float": float_traces, "traces_tensor": tensor_traces}
    ok = Checks()
    ok.add("traces == turns", python_traces == turns)
    ok.add("floats: traces == turns", float_traces == turns)
    ok.add("tensors trace once", tensor_traces == 1)
    return Outcome(ev, ok, f"{turns} Python ints -> {python_traces} traces; {turns} Python floats -> {float_traces}; "
                   f"{turns} tensors -> {tensor_traces}")


@witness("EPL207", covers={"method": ("reset_states",)})
def epl207(env: Env) -> Outcome:
    k = env.keras
    metric = k.metrics.Mean()
    metric.update_state([4.0, 6.0])
    old = raised(lambda: metric.reset_states())
    after_old = float(metric.result())
    metric.update_state([4.0, 6.0])
    metric.reset_state()
    ev = {"reset_states": old, "result_after_reset_states": r(after_old), "reset_state_result": r(float(metric.result()))}
    ok = Checks()
    if env.keras_major >= 3:
        ok.add("AttributeError", old.get("type") == "AttributeError")
    else:
        ok.add("reset_states works", not old["raised"] and after_old == 0.0)
    ok.add("reset_state works", ev["reset_state_result"] == 0.0)
    return Outcome(ev, ok, f"reset_states(): {old['type'] if old['raised'] else 'works'}; "
                   f"reset_state(): result {ev['reset_state_result']}")


@witness("EPL208", covers={"update": ("update_state", "call")})
def epl208(env: Env) -> Outcome:
    k = env.keras
    epochs = {1: [1.0, 3.0], 2: [0.5, 1.5]}  # batch losses: epoch 1 mean 2.0, epoch 2 mean 1.0
    never_reset, with_reset = k.metrics.Mean(), k.metrics.Mean()
    results = {}
    for epoch, losses in epochs.items():
        with_reset.reset_state()
        for loss in losses:
            never_reset.update_state(loss)
            with_reset.update_state(loss)
        results[epoch] = (float(never_reset.result()), float(with_reset.result()))
    ev = {"epoch_means": {str(e): float(np.mean(v)) for e, v in epochs.items()},
          "never_reset_result_after_epoch_2": r(results[2][0]), "reset_each_epoch_result_after_epoch_2": r(results[2][1]),
          "mean_over_both_epochs": r(np.mean(epochs[1] + epochs[2]))}
    called = k.metrics.Mean()  # updated by calling it: `metric(value)` updates and returns the result
    for losses in epochs.values():
        for loss in losses:
            called_result = float(called(loss))
    ev["called_metric_result_after_epoch_2"] = r(called_result)
    ok = Checks()
    ok.add("running mean", abs(results[2][0] - ev["mean_over_both_epochs"]) < 1e-6)
    ok.add("metric(value) is a running mean too", abs(called_result - ev["mean_over_both_epochs"]) < 1e-6)
    ok.add("not epoch 2's", abs(results[2][0] - 1.0) > 1e-3 and abs(results[2][1] - 1.0) < 1e-6)
    return Outcome(ev, ok, f"epoch means 2.0, 1.0: never-reset metric reports {results[2][0]:.3g} after "
                   f"epoch 2 (mean of both), reset each epoch: {results[2][1]:.3g}")


def _regularized(env: Env):
    env.seed(3)
    k = env.keras
    inputs = k.Input(shape=(data.N_FEATURES,))
    h = k.layers.Dense(8, activation="relu", kernel_regularizer=k.regularizers.l2(0.05))(inputs)
    return k.Model(inputs, k.layers.Dense(1, kernel_regularizer=k.regularizers.l2(0.05))(h))


PENALTIES = ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "ActivityRegularization layer", "add_loss",
             "add_weight(regularizer=)")


def _penalised(env: Env, kind: str):
    """Input(10) -> [a layer with the `kind` of penalty, 8 units] -> Dense(1)."""
    env.seed(3)
    k = env.keras
    l2 = k.regularizers.l2(0.05)
    if env.keras_major >= 3:
        square_sum = lambda t: k.ops.sum(k.ops.square(t))  # noqa: E731
    else:
        square_sum = lambda t: env.tf.reduce_sum(env.tf.square(t))  # noqa: E731

    class AddLoss(k.layers.Layer):
        def call(self, inputs):
            self.add_loss(0.05 * square_sum(inputs))
            return inputs

    class RegularizedWeight(k.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(int(input_shape[-1]), 8), initializer="ones", regularizer=l2)

        def call(self, inputs):
            return inputs @ self.w if env.keras_major >= 3 else env.tf.matmul(inputs, self.w)

    inputs = k.Input(shape=(data.N_FEATURES,))
    layer = {"kernel_regularizer": lambda: k.layers.Dense(8, kernel_regularizer=l2),
             "bias_regularizer": lambda: k.layers.Dense(8, bias_initializer="ones", bias_regularizer=l2),
             "activity_regularizer": lambda: k.layers.Dense(8, activity_regularizer=l2),
             "add_weight(regularizer=)": RegularizedWeight}.get(kind)
    if layer is not None:
        h = layer()(inputs)
    elif kind == "ActivityRegularization layer":
        h = k.layers.ActivityRegularization(l2=0.05)(k.layers.Dense(8)(inputs))
    else:  # add_loss
        h = AddLoss()(k.layers.Dense(8)(inputs))
    return k.Model(inputs, k.layers.Dense(1)(h))


def _penalty_in_keras_loss(env: Env, kind: str) -> dict:
    """Keras's own loss (`evaluate`, as `fit` computes it) == MSE + sum(model.losses), penalty > 0:
    a custom loop that computes only the MSE drops exactly `sum(model.losses)`."""
    k = env.keras
    x, y = data.witness_data()
    xb, yb = x[:32], y[:32]
    model = _penalised(env, kind)
    model.compile(optimizer="sgd", loss="mse")
    with capture():
        keras_loss = float(model.evaluate(xb, yb, batch_size=32, verbose=0))
    mse = float(np.mean(k.losses.MSE(yb, model(xb)).numpy()))
    penalty = float(sum(float(v) for v in model.losses))
    return {"keras_loss": r(keras_loss), "mse": r(mse), "sum_model_losses": r(penalty), "n_losses": len(model.losses)}


@witness("EPL209", covers={"penalty": PENALTIES})
def epl209(env: Env) -> Outcome:
    tf, k = env.tf, env.keras
    x, y = data.witness_data()
    epochs = 5
    norms = {}
    model = _regularized(env)
    model.compile(optimizer=k.optimizers.SGD(0.05), loss="mse")
    with capture():
        model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0)
    norms["fit"] = _kernel_norm(model)
    n_losses = len(model.losses)
    for add in (False, True):
        model = _regularized(env)
        opt = k.optimizers.SGD(0.05)

        @tf.function
        def step(xb, yb, model=model, opt=opt, add=add):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(k.losses.MSE(yb, model(xb, training=True)))
                if add:
                    loss = loss + tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))

        for _ in range(epochs):
            for xb, yb in data.slices(x, y):
                step(xb, yb)
        norms["loop_with_losses" if add else "loop_without_losses"] = _kernel_norm(model)
    ev = {"model_losses": n_losses, "epochs": epochs, **{f"kernel_norm_{k_}": r(v) for k_, v in norms.items()}}
    ev["keras_loss_includes_penalty"] = {kind: _penalty_in_keras_loss(env, kind) for kind in PENALTIES}
    ok = Checks()
    ok.add("model.losses non-empty", n_losses > 0)
    for kind, m in ev["keras_loss_includes_penalty"].items():
        ok.add(f"{kind}: Keras's loss == MSE + model.losses > MSE",
               m["sum_model_losses"] > 1e-4 and abs(m["keras_loss"] - (m["mse"] + m["sum_model_losses"])) <= 1e-4 * max(1.0, m["keras_loss"]))
    ok.add("loop without losses differs from fit", abs(norms["loop_without_losses"] - norms["fit"]) > 1e-3 * norms["fit"])
    ok.add("loop with losses matches fit", abs(norms["loop_with_losses"] - norms["fit"]) <= 1e-3 * norms["fit"])
    return Outcome(ev, ok, f"{n_losses} penalties in model.losses; kernel norm after {epochs} epochs: fit "
                   f"{norms['fit']:.4f}, loop without model.losses {norms['loop_without_losses']:.4f}, "
                   f"with {norms['loop_with_losses']:.4f}; Keras's loss == MSE + model.losses for "
                   + ", ".join(kind for kind, m in ev["keras_loss_includes_penalty"].items() if ok.items.get(f"{kind}: Keras's loss == MSE + model.losses > MSE")))


def _kernel_norm(model) -> float:
    return float(np.sqrt(sum(float(np.sum(w.numpy() ** 2)) for w in model.trainable_weights if "kernel" in w.name)))
