"""Witnesses for EPL2xx: custom training loops with `GradientTape` and `tf.function` (EPL201-EPL209)."""
from __future__ import annotations

import numpy as np

from runtime_check import data, models
from runtime_check.env import Env, capture
from runtime_check.witnesses.base import Checks, Outcome, r, raised, witness


def _global_norm(tf, grads) -> float:
    return float(tf.linalg.global_norm(grads).numpy())


@witness("EPL201", covers={"loss": ("loss function",)})
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
    return Outcome(ev, ok, f"loss shape {tuple(ev['loss_shape'])}; grad-norm ratio unreduced/reduced "
                   f"{ratio:.4f} (batch 32); batch fed twice: SUM x{sum_ratio:.3f}, MEAN x{mean_ratio:.3f}; SGD(0.01) "
                   f"eval MSE unreduced {sgd['unreduced']:.4f} vs reduced {sgd['reduced']:.4f}")


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


@witness("EPL202", covers={"layer": ("BatchNormalization", "Dropout")})
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
    return Outcome(ev, ok, f"10 epochs without training=True: BN moving_mean max |.| {stats[None][0]:.3g} "
                   f"(with training=True: {stats[True][0]:.3g}); model(x) == model(x, training=False): "
                   f"{ev['default_call_equals_inference']}; dropout output == input: {ev['dropout_default_output_equals_input']}")


@witness("EPL203", covers={"form": ("call",)})
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
    ev = {"turns": turns, "traces_in_loop": traces["in_loop"], "traces_hoisted": traces["hoisted"]}
    ok = Checks()
    ok.add("traces == turns", traces["in_loop"] == turns)
    ok.add("hoisted traces once", traces["hoisted"] == 1)
    return Outcome(ev, ok, f"{turns} turns: {traces['in_loop']} traces with tf.function in the loop, "
                   f"{traces['hoisted']} hoisted")


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


@witness("EPL205", covers={"call": ("numpy", "print", "append")})
def epl205(env: Env) -> Outcome:
    tf = env.tf
    traces, appended = [0], []

    @tf.function
    def step(a):
        traces[0] += 1
        print("step", a.shape)
        appended.append(1)
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
    ev = {"calls": calls, "traces": traces[0], "prints": prints, "appends": len(appended), "numpy_in_tf_function": numpy_call}
    ok = Checks()
    ok.add("AttributeError", numpy_call.get("type") == "AttributeError")
    ok.add("print count == trace count", prints == traces[0] == 1)
    ok.add("appends == trace count", len(appended) == traces[0])
    return Outcome(ev, ok, f"{calls} calls: {traces[0]} trace, {prints} print, {len(appended)} append; "
                   f".numpy(): {numpy_call.get('type', 'no error')}")


@witness("EPL206", covers={"value": ("int",)})
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
    ev = {"turns": turns, "traces_python_int": python_traces, "traces_tensor": tensor_traces}
    ok = Checks()
    ok.add("traces == turns", python_traces == turns)
    ok.add("tensors trace once", tensor_traces == 1)
    return Outcome(ev, ok, f"{turns} Python ints -> {python_traces} traces; {turns} tensors -> {tensor_traces}")


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


@witness("EPL208", covers={"update": ("update_state",)})
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
    ok = Checks()
    ok.add("running mean", abs(results[2][0] - ev["mean_over_both_epochs"]) < 1e-6)
    ok.add("not epoch 2's", abs(results[2][0] - 1.0) > 1e-3 and abs(results[2][1] - 1.0) < 1e-6)
    return Outcome(ev, ok, f"epoch means 2.0, 1.0: never-reset metric reports {results[2][0]:.3g} after "
                   f"epoch 2 (mean of both), reset each epoch: {results[2][1]:.3g}")


def _regularized(env: Env):
    env.seed(3)
    k = env.keras
    inputs = k.Input(shape=(data.N_FEATURES,))
    h = k.layers.Dense(8, activation="relu", kernel_regularizer=k.regularizers.l2(0.05))(inputs)
    return k.Model(inputs, k.layers.Dense(1, kernel_regularizer=k.regularizers.l2(0.05))(h))


@witness("EPL209", covers={"penalty": ("kernel_regularizer",)})
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
    ok = Checks()
    ok.add("model.losses non-empty", n_losses > 0)
    ok.add("loop without losses differs from fit", abs(norms["loop_without_losses"] - norms["fit"]) > 1e-3 * norms["fit"])
    ok.add("loop with losses matches fit", abs(norms["loop_with_losses"] - norms["fit"]) <= 1e-3 * norms["fit"])
    return Outcome(ev, ok, f"{n_losses} penalties in model.losses; kernel norm after {epochs} epochs: fit "
                   f"{norms['fit']:.4f}, loop without model.losses {norms['loop_without_losses']:.4f}, "
                   f"with {norms['loop_with_losses']:.4f}")


def _kernel_norm(model) -> float:
    return float(np.sqrt(sum(float(np.sum(w.numpy() ** 2)) for w in model.trainable_weights if "kernel" in w.name)))
