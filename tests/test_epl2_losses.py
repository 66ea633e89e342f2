"""Loss data flow (`linter.analysis.losses`) and the custom-loop rules built on it: EPL201
unreduced-loss and EPL209 regularization-ignored, plus EPL202 on the seed's loops.

Unit tests mark the expression to classify with `probe(<expr>)`: the probe records where it
was seen (scope, binding order, ancestors) exactly as a rule does during the walk.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from linter.analysis.losses import PER_SAMPLE, SCALAR, UNKNOWN, LossShapes
from linter.analysis.tape import Site
from linter.engine import _dispatch
from linter.semantic import SemanticModel
from linter.walker import Walker
from tests.conftest import lint

ROOT = Path(__file__).resolve().parent.parent
EPL2 = ("EPL201", "EPL202", "EPL209")


class _Probe:
    def __init__(self, sem: SemanticModel) -> None:
        self.sem = sem
        self.seen: list[tuple[cst.BaseExpression, Site]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.seen.append((node.args[0].value, Site.here(self.sem)))


def probed(code: str):
    module = cst.parse_module(textwrap.dedent(code).lstrip("\n"))
    sem = SemanticModel(module)
    probe = _Probe(sem)
    enter, leave = _dispatch([sem, probe])
    Walker(enter, leave, sem.stack).walk(module)
    assert probe.seen, "the snippet has no probe(...)"
    return sem, probe.seen


def shape_of(code: str) -> str:
    sem, seen = probed(code)
    expr, site = seen[-1]
    return LossShapes(sem).shape(expr, site).kind


def terms_of(code: str):
    sem, seen = probed(code)
    expr, site = seen[-1]
    return LossShapes(sem).terms(expr, site)


# ----------------------------------------------------------------------------- shapes
PER_SAMPLE_SPELLINGS = [
    "import tensorflow as tf\nprobe(tf.keras.losses.MSE(y, p))",
    "import tensorflow as tf\nprobe(tf.keras.losses.mse(y, p))",
    "import tensorflow as tf\nprobe(tf.keras.losses.mae(y, p))",
    "import tensorflow as tf\nprobe(tf.losses.mean_squared_error(y, p))",
    "import keras\nprobe(keras.losses.mean_squared_error(y, p))",
    "import keras\nprobe(keras.losses.categorical_crossentropy(y, p))",
    "import keras\nprobe(keras.losses.huber(y, p))",
    "import keras\nprobe(keras.losses.kl_divergence(y, p))",
    "import keras\nprobe(keras.losses.hinge(y, p))",
    "import keras\nprobe(keras.metrics.mean_squared_error(y, p))",
    "import keras\nprobe(keras.ops.binary_crossentropy(y, p))",
    "from keras import ops\nprobe(ops.sparse_categorical_crossentropy(y, p))",
    "from tensorflow.keras.losses import mean_squared_error\nprobe(mean_squared_error(y, p))",
    "from tensorflow.keras.losses import sparse_categorical_crossentropy as scce\nprobe(scce(y, p, from_logits=True))",
    "from keras.losses import MAE\nprobe(MAE(y, p))",
    "import tf_keras\nprobe(tf_keras.losses.binary_crossentropy(y, p))",
    "from tensorflow import keras\nprobe(keras.losses.MSLE(y, p))",
    "from tensorflow.keras import backend as K\nprobe(K.categorical_crossentropy(y, p))",
    "import tensorflow as tf\nprobe(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=p))",
    "import tensorflow as tf\nprobe(tf.nn.sparse_softmax_cross_entropy_with_logits(y, p))",
    "import tensorflow as tf\nprobe(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=p))",
    # an alias of the function
    "import tensorflow as tf\nloss_fn = tf.keras.losses.mse\nprobe(loss_fn(y, p))",
    # loss objects without reduction
    "import keras\nbce = keras.losses.BinaryCrossentropy(reduction=None)\nprobe(bce(y, p))",
    "import tensorflow as tf\nbce = tf.keras.losses.BinaryCrossentropy(reduction='none')\nprobe(bce(y, p))",
    "import tensorflow as tf\nl = tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.NONE)\nprobe(l(y, p))",
    "import keras\nprobe(keras.losses.Huber(reduction=None)(y, p))",
]


@pytest.mark.parametrize("code", PER_SAMPLE_SPELLINGS)
def test_per_sample_loss_in_every_spelling(code):
    assert shape_of(code) == PER_SAMPLE


SCALAR_CASES = [
    "import tensorflow as tf\nprobe(tf.reduce_mean(tf.keras.losses.MSE(y, p)))",
    "import tensorflow as tf\nprobe(tf.math.reduce_sum(tf.keras.losses.MSE(y, p)))",
    "import keras\nprobe(keras.ops.mean(keras.losses.mse(y, p)))",
    "import keras\nprobe(keras.ops.sum(keras.losses.mse(y, p)))",
    "import tensorflow as tf\nprobe(tf.nn.compute_average_loss(tf.keras.losses.mse(y, p), global_batch_size=64))",
    "import keras\nprobe(keras.losses.mse(y, p).mean())",
    "import numpy as np\nimport keras\nprobe(np.mean(keras.losses.mse(y, p)))",
    # default-reduction loss objects
    "import keras\nloss_fn = keras.losses.MeanSquaredError()\nprobe(loss_fn(y, p))",
    "import tensorflow as tf\nprobe(tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, p))",
    "import tensorflow as tf\nl = tf.keras.losses.MeanSquaredError(reduction=tf.keras.losses.Reduction.SUM)\nprobe(l(y, p))",
    # arithmetic on scalars
    "import tensorflow as tf\na = tf.reduce_mean(x)\nb = tf.reduce_sum(z)\nprobe(a + 0.5 * b)",
    # reassignment: reduced after the per-sample call
    "import tensorflow as tf\nloss = tf.keras.losses.mse(y, p)\nloss = tf.reduce_mean(loss)\nprobe(loss)",
]


@pytest.mark.parametrize("code", SCALAR_CASES)
def test_reduced_losses_are_scalar(code):
    assert shape_of(code) == SCALAR


UNKNOWN_CASES = [
    # a partial reduction: the result's shape depends on the rank
    "import tensorflow as tf\nprobe(tf.reduce_mean(tf.keras.losses.MSE(y, p), axis=0))",
    # a scalar plus the (unknown) regularization losses
    "import tensorflow as tf\nprobe(tf.reduce_mean(tf.keras.losses.MSE(y, p)) + tf.add_n(model.losses))",
    # matrix products may reduce
    "import tensorflow as tf\nprobe(tf.keras.losses.MSE(y, p) @ w)",
    # dice/tversky reduce everything by default
    "import keras\nprobe(keras.losses.dice(y, p))",
    # TF1 losses reduce by default
    "import tensorflow as tf\nprobe(tf.compat.v1.losses.mean_squared_error(y, p))",
    # parameters, unknown calls
    "def f(loss):\n    probe(loss)",
    "import mylib\nprobe(mylib.loss(y, p))",
    # the two branches disagree
    "import tensorflow as tf\nif c:\n    loss = tf.keras.losses.mse(y, p)\nelse:\n    loss = tf.reduce_mean(tf.keras.losses.mse(y, p))\nprobe(loss)",
    # a 1-D prediction makes MSE a scalar
    "import tensorflow as tf\nprobe(tf.keras.losses.mse(y, tf.squeeze(p)))",
    "import tensorflow as tf\nprobe(tf.keras.losses.mse(y[:, 0], p[:, 0]))",
    # a loss object whose reduction is a parameter
    "import keras\ndef f(r):\n    l = keras.losses.MeanSquaredError(reduction=r)\n    probe(l(y, p))",
]


@pytest.mark.parametrize("code", UNKNOWN_CASES)
def test_unknown_shapes_stay_unknown(code):
    assert shape_of(code) == UNKNOWN


def test_arithmetic_with_a_vector_stays_a_vector():
    assert shape_of("import keras\nl = keras.losses.mse(y, p)\nprobe(0.5 * l + tf_reduced)") == PER_SAMPLE
    assert shape_of("import keras\nl = keras.losses.mse(y, p)\nprobe(-l * w)") == PER_SAMPLE


def test_augmented_assignment_follows_the_previous_value():
    code = """
    import tensorflow as tf
    loss = tf.keras.losses.mse(y, p)
    loss += 0.01 * tf.reduce_sum(w)
    probe(loss)
    """
    assert shape_of(code) == PER_SAMPLE
    code = """
    import tensorflow as tf
    loss = tf.reduce_mean(tf.keras.losses.mse(y, p))
    loss += 0.01 * tf.reduce_sum(w)
    probe(loss)
    """
    assert shape_of(code) == SCALAR


def test_accumulation_in_a_loop():
    code = """
    import tensorflow as tf
    total = 0.0
    for head in heads:
        total += tf.keras.losses.mse(y, head)
    probe(total)
    """
    # a loop may run zero times: then `total` is the scalar 0.0, so the shape is not known
    assert shape_of(code) == UNKNOWN
    inside = """
    import tensorflow as tf
    total = 0.0
    for head in heads:
        total += tf.keras.losses.mse(y, head)
        probe(total)
    """
    assert shape_of(inside) == PER_SAMPLE


def test_a_binding_after_the_use_does_not_reach_it():
    code = """
    import tensorflow as tf
    loss = tf.reduce_mean(tf.keras.losses.mse(y, p))
    probe(loss)
    loss = tf.keras.losses.mse(y, p)
    """
    assert shape_of(code) == SCALAR


def test_a_helper_function_is_followed():
    code = """
    import tensorflow as tf

    def compute_loss(y, p):
        per_example = tf.keras.losses.mse(y, p)
        return per_example

    def compute_mean_loss(y, p):
        return tf.reduce_mean(tf.keras.losses.mse(y, p))

    probe(compute_loss(y, p))
    """
    assert shape_of(code) == PER_SAMPLE
    assert shape_of(code.replace("probe(compute_loss", "probe(compute_mean_loss")) == SCALAR


def test_a_loss_object_held_by_the_model():
    code = """
    import keras
    class M(keras.Model):
        def __init__(self):
            super().__init__()
            self.loss_fn = keras.losses.CategoricalCrossentropy(reduction="none")
        def train_step(self, data):
            probe(self.loss_fn(y, p))
    """
    assert shape_of(code) == PER_SAMPLE


# ----------------------------------------------------------------------------- terms (EPL209)
@pytest.mark.parametrize(
    "expr",
    ["tf.add_n(model.losses)", "sum(model.losses)", "tf.reduce_sum(model.losses)", "tf.math.add_n(self.losses)"],
)
def test_terms_see_model_losses(expr):
    code = f"import tensorflow as tf\nloss = tf.reduce_mean(tf.keras.losses.mse(y, p))\nloss += {expr}\nprobe(loss)"
    t = terms_of(code)
    assert t.has_loss and t.adds_model_losses and not t.unknown


def test_terms_of_a_plain_loss():
    t = terms_of("import keras\nloss_fn = keras.losses.MeanSquaredError()\nloss = loss_fn(y, p)\nprobe(loss)")
    assert t.has_loss and not t.adds_model_losses and not t.unknown


def test_terms_loop_over_model_losses():
    code = """
    import keras
    loss_fn = keras.losses.MeanSquaredError()
    loss = loss_fn(y, p)
    for reg in model.losses:
        loss += reg
    probe(loss)
    """
    t = terms_of(code)
    assert t.has_loss and t.adds_model_losses


def test_terms_unknown_call():
    t = terms_of("loss = self.compute_loss(y=y, y_pred=p)\nprobe(loss)")
    assert t.unknown and not t.has_loss


# ----------------------------------------------------------------------------- the seed
SEED_EXAMPLE_1 = """
import tensorflow as tf

# Incorrect attempt to use epochs directly with a functional model
inputs = tf.keras.Input(shape=(10,))
x = tf.keras.layers.Dense(64, activation='relu')(inputs)
outputs = tf.keras.layers.Dense(1)(x)
model = tf.keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer='adam', loss='mse')
model.fit(X_train, y_train, epochs=10) # This will likely not iterate correctly.
"""

SEED_EXAMPLE_2 = """
import tensorflow as tf
import numpy as np

# Correct implementation with custom training loop and epochs
inputs = tf.keras.Input(shape=(10,))
x = tf.keras.layers.Dense(64, activation='relu')(inputs)
outputs = tf.keras.layers.Dense(1)(x)
model = tf.keras.Model(inputs=inputs, outputs=outputs)
optimizer = tf.keras.optimizers.Adam()

epochs = 10
batch_size = 32
X_train = np.random.rand(1000, 10)
y_train = np.random.rand(1000, 1)

for epoch in range(epochs):
  for batch in range(0, len(X_train), batch_size):
    X_batch = X_train[batch:batch + batch_size]
    y_batch = y_train[batch:batch + batch_size]
    with tf.GradientTape() as tape:
      predictions = model(X_batch)
      loss = tf.keras.losses.MSE(y_batch, predictions)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
  print(f"Epoch {epoch+1}/{epochs} completed.")
"""

SEED_EXAMPLE_3 = """
import tensorflow as tf
import numpy as np

# Optimized training loop with tf.function for performance
@tf.function
def train_step(X_batch, y_batch):
  with tf.GradientTape() as tape:
    predictions = model(X_batch)
    loss = tf.keras.losses.MSE(y_batch, predictions)
  gradients = tape.gradient(loss, model.trainable_variables)
  optimizer.apply_gradients(zip(gradients, model.trainable_variables))
  return loss

# ... (model definition and data loading as in Example 2) ...

for epoch in range(epochs):
  for batch in range(0, len(X_train), batch_size):
    X_batch = X_train[batch:batch + batch_size]
    y_batch = y_train[batch:batch + batch_size]
    loss = train_step(X_batch, y_batch)
  print(f"Epoch {epoch+1}/{epochs} completed. Loss: {loss.numpy()}")
"""


def _line_of(code: str, needle: str) -> int:
    lines = textwrap.dedent(code).lstrip("\n").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_seed_example_1_is_silent():
    assert lint(SEED_EXAMPLE_1, select=EPL2) == []


@pytest.mark.parametrize("code", [SEED_EXAMPLE_2, SEED_EXAMPLE_3], ids=["example-2", "example-3"])
def test_seed_custom_loops_fire_epl201_at_the_gradient_call(code):
    findings = lint(code, select=EPL2)
    assert [(f.code, f.line) for f in findings] == [("EPL201", _line_of(code, "tape.gradient("))]
    assert findings[0].column == textwrap.dedent(code).lstrip("\n").splitlines()[findings[0].line - 1].index("tape") + 1


def test_seed_example_2_model_is_dense_only_so_epl202_is_silent():
    assert not [f for f in lint(SEED_EXAMPLE_2, select=("EPL202",), strict=True)]


# ----------------------------------------------------------------------------- tapes
def test_persistent_tape_with_two_gradients():
    code = """
    import tensorflow as tf
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        per_sample = tf.keras.losses.mse(y, model(x))
        reduced = tf.reduce_mean(per_sample)
    g1 = tape.gradient(per_sample, model.trainable_variables)
    g2 = tape.gradient(reduced, model.trainable_variables)
    del tape
    """
    findings = lint(code, select=("EPL201",))
    assert [f.line for f in findings] == [_line_of(code, "g1 =")]


def test_two_tapes_in_one_with():
    code = """
    import tensorflow as tf
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        fake = generator(noise, training=True)
        gen_loss = tf.keras.losses.binary_crossentropy(ones, discriminator(fake, training=True), from_logits=True)
        disc_loss = tf.reduce_mean(tf.keras.losses.binary_crossentropy(zeros, discriminator(fake, training=True)))
    gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
    disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
    """
    findings = lint(code, select=("EPL201",))
    assert [f.line for f in findings] == [_line_of(code, "gen_grads =")]


def test_target_assigned_outside_the_with_block():
    code = """
    import tensorflow as tf
    with tf.GradientTape() as tape:
        predictions = model(x)
    loss = tf.keras.losses.mse(y, predictions)
    grads = tape.gradient(loss, model.trainable_variables)
    """
    assert [f.line for f in lint(code, select=("EPL201",))] == [5]


def test_gradient_of_a_non_tape_is_silent():
    code = """
    import tensorflow as tf
    import torch
    loss = tf.keras.losses.mse(y, p)
    opt = make_optimizer()
    g = opt.gradient(loss, params)
    """
    assert lint(code, select=EPL2, strict=True) == []


# ----------------------------------------------------------------------------- not a finding
def test_custom_loop_with_add_n_model_losses_is_silent():
    code = """
    import tensorflow as tf

    model = tf.keras.Sequential([
        tf.keras.layers.Dense(64, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(1e-4)),
        tf.keras.layers.Dropout(0.5),
        tf.keras.layers.Dense(1),
    ])
    optimizer = tf.keras.optimizers.Adam()
    loss_fn = tf.keras.losses.MeanSquaredError()

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            predictions = model(x, training=True)
            loss = loss_fn(y, predictions)
            loss += tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss
    """
    assert lint(code, select=EPL2) == []
    # and without the penalties, EPL209 fires at the gradient call
    broken = code.replace("        loss += tf.add_n(model.losses)\n", "")
    assert [(f.code, f.line) for f in lint(broken, select=EPL2)] == [("EPL209", _line_of(broken, "tape.gradient("))]


def test_print_numpy_and_appends_in_an_undecorated_step_are_silent():
    code = """
    import tensorflow as tf

    model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(1)])
    optimizer = tf.keras.optimizers.SGD(0.01)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.keras.losses.mse(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        print("loss:", loss.numpy())
        history.append(loss.numpy())
        return loss.numpy()

    history = []
    """
    assert lint(code, select=EPL2, strict=True) == []


def test_fit_on_every_model_kind_is_silent():
    code = """
    import keras
    from keras import layers

    seq = keras.Sequential([layers.Dense(8, kernel_regularizer="l2"), layers.Dropout(0.5), layers.Dense(1)])
    seq.compile(optimizer="sgd", loss="mse")
    seq.fit(x, y, epochs=10)

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1, kernel_regularizer="l2")
        def call(self, x):
            return self.d(x)

    sub = Sub()
    sub.compile(optimizer="sgd", loss="mse")
    sub.fit(x, y, epochs=10)
    """
    assert lint(code, select=EPL2, strict=True) == []


# ----------------------------------------------------------------------------- fixes
def test_epl201_fix_is_unsafe_only(tmp_path):
    path = tmp_path / "step.py"
    path.write_text(textwrap.dedent(SEED_EXAMPLE_3).lstrip("\n"), encoding="utf-8")
    before = path.read_text(encoding="utf-8")
    cmd = [sys.executable, "-m", "epochlint", "check", "--select", "EPL201", "--no-cache", "--fix", str(path)]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert path.read_text(encoding="utf-8") == before
    proc = subprocess.run([*cmd, "--unsafe-fixes"], cwd=ROOT, capture_output=True, text=True)
    after = path.read_text(encoding="utf-8")
    assert "loss = tf.reduce_mean(tf.keras.losses.MSE(y_batch, predictions))" in after
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "imports,reducer",
    [
        ("import tensorflow as tf2\nimport keras", "tf2.reduce_mean("),
        ("import keras\nfrom tensorflow import GradientTape as Tape", "keras.ops.mean("),
        ("from keras import ops, losses\nfrom tensorflow import GradientTape as Tape", "ops.mean("),
    ],
)
def test_epl201_fix_matches_the_module_imports(imports, reducer):
    from linter.fixes import apply_edits

    body = """
    with {tape}() as tape:
        loss = {fn}(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    """
    tape = "tf2.GradientTape" if "tf2" in imports else "Tape"
    fn = "losses.mse" if "losses" in imports else "keras.losses.mse"
    code = imports + "\n" + textwrap.dedent(body).format(tape=tape, fn=fn)
    findings = lint(code, select=("EPL201",))
    assert len(findings) == 1 and findings[0].fix is not None and findings[0].fix.applicability == "unsafe"
    fixed, n = apply_edits(code, findings, unsafe=True)
    assert n == 1 and f"loss = {reducer}{fn}(y, model(x)))" in fixed


# ----------------------------------------------------------------------------- real shapes
KERAS_IO_LOOP_WITH_ADD_LOSS = """
import keras
import tensorflow as tf


class ActivityRegularizationLayer(keras.layers.Layer):
    def call(self, inputs):
        self.add_loss(1e-2 * tf.reduce_sum(inputs))
        return inputs


inputs = keras.Input(shape=(784,), name="digits")
x = keras.layers.Dense(64, activation="relu")(inputs)
x = ActivityRegularizationLayer()(x)
x = keras.layers.Dense(64, activation="relu")(x)
outputs = keras.layers.Dense(10, name="predictions")(x)
model = keras.Model(inputs=inputs, outputs=outputs)
optimizer = keras.optimizers.Adam(learning_rate=1e-3)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss_value = loss_fn(y, logits)
        # Add any extra losses created during the forward pass.
        loss_value += sum(model.losses)
    grads = tape.gradient(loss_value, model.trainable_weights)
    optimizer.apply(grads, model.trainable_weights)
    train_acc_metric.update_state(y, logits)
    return loss_value
"""


def test_keras_io_loop_adding_model_losses_is_silent():
    assert lint(KERAS_IO_LOOP_WITH_ADD_LOSS, select=EPL2) == []


def test_keras_io_loop_without_model_losses_fires_epl209_for_a_custom_add_loss_layer():
    broken = KERAS_IO_LOOP_WITH_ADD_LOSS.replace("        loss_value += sum(model.losses)\n", "")
    findings = lint(broken, select=EPL2)
    assert [(f.code, f.line) for f in findings] == [("EPL209", _line_of(broken, "tape.gradient("))]
    assert "ActivityRegularizationLayer.add_loss()" in findings[0].message


TF_DCGAN_TUTORIAL = """
import tensorflow as tf
from tensorflow.keras import layers

BATCH_SIZE = 256
noise_dim = 100


def make_generator_model():
    model = tf.keras.Sequential()
    model.add(layers.Dense(7*7*256, use_bias=False, input_shape=(100,)))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())
    model.add(layers.Reshape((7, 7, 256)))
    model.add(layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding='same', use_bias=False, activation='tanh'))
    return model


def make_discriminator_model():
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(64, (5, 5), strides=(2, 2), padding='same', input_shape=[28, 28, 1]))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))
    model.add(layers.Flatten())
    model.add(layers.Dense(1))
    return model


generator = make_generator_model()
discriminator = make_discriminator_model()
cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)


def discriminator_loss(real_output, fake_output):
    real_loss = cross_entropy(tf.ones_like(real_output), real_output)
    fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
    total_loss = real_loss + fake_loss
    return total_loss


def generator_loss(fake_output):
    return cross_entropy(tf.ones_like(fake_output), fake_output)


generator_optimizer = tf.keras.optimizers.Adam(1e-4)
discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)


@tf.function
def train_step(images):
    noise = tf.random.normal([BATCH_SIZE, noise_dim])

    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
      generated_images = generator(noise, training=True)

      real_output = discriminator(images, training=True)
      fake_output = discriminator(generated_images, training=True)

      gen_loss = generator_loss(fake_output)
      disc_loss = discriminator_loss(real_output, fake_output)

    gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
    gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

    generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
    discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
"""


def test_tf_dcgan_tutorial_is_silent():
    assert lint(TF_DCGAN_TUTORIAL, select=EPL2) == []


def test_tf_dcgan_without_training_flags_fires_epl202_for_both_builders():
    broken = TF_DCGAN_TUTORIAL.replace("generator(noise, training=True)", "generator(noise)").replace(
        "discriminator(images, training=True)", "discriminator(images)"
    )
    findings = lint(broken, select=EPL2)
    assert [(f.code, f.line) for f in findings] == [
        ("EPL202", _line_of(broken, "generated_images = generator(noise)")),
        ("EPL202", _line_of(broken, "real_output = discriminator(images)")),
    ]
    assert "BatchNormalization" in findings[0].message and "Dropout" in findings[1].message


TF_CUSTOM_TRAINING_WALKTHROUGH = """
import tensorflow as tf

model = tf.keras.Sequential([
  tf.keras.layers.Dense(10, activation=tf.nn.relu, input_shape=(4,)),
  tf.keras.layers.Dense(10, activation=tf.nn.relu),
  tf.keras.layers.Dense(3)
])
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def loss(model, x, y, training):
  y_ = model(x, training=training)
  return loss_object(y_true=y, y_pred=y_)


def grad(model, inputs, targets):
  with tf.GradientTape() as tape:
    loss_value = loss(model, inputs, targets, training=True)
  return loss_value, tape.gradient(loss_value, model.trainable_variables)


optimizer = tf.keras.optimizers.SGD(learning_rate=0.01)
epoch_loss_avg = tf.keras.metrics.Mean()
for epoch in range(201):
  epoch_loss_avg.reset_state()
  for x, y in train_dataset:
    loss_value, grads = grad(model, x, y)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    epoch_loss_avg.update_state(loss_value)
  print("Epoch {:03d}: Loss: {:.3f}".format(epoch, epoch_loss_avg.result()))
"""


def test_tf_custom_training_walkthrough_is_silent_even_under_strict():
    assert lint(TF_CUSTOM_TRAINING_WALKTHROUGH, select=EPL2, strict=True) == []


KERAS_IO_VAE_TRAIN_STEP = """
import keras
import tensorflow as tf
from keras import ops


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(
                    keras.losses.binary_crossentropy(data, reconstruction),
                    axis=(1, 2),
                )
            )
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        return {"loss": self.total_loss_tracker.result()}
"""


def test_keras_io_vae_train_step_is_silent():
    assert lint(KERAS_IO_VAE_TRAIN_STEP, select=EPL2) == []
    # its sub-models are constructor parameters: unknown contents, reported only under --strict
    strict = lint(KERAS_IO_VAE_TRAIN_STEP, select=("EPL202",), strict=True)
    assert [f.line for f in strict] == [_line_of(KERAS_IO_VAE_TRAIN_STEP, "self.encoder(data)"), _line_of(KERAS_IO_VAE_TRAIN_STEP, "self.decoder(z)")]


# ----------------------------------------------------------------------------- what the gradient is for
def test_input_gradients_of_a_per_sample_loss_are_silent():
    # per-example input gradients (adversarial examples, saliency): the sum is what is wanted
    code = """
    import tensorflow as tf

    model = tf.keras.applications.MobileNetV2(weights="imagenet")

    def input_gradients(images, labels):
        with tf.GradientTape() as tape:
            tape.watch(images)
            loss = tf.keras.losses.categorical_crossentropy(labels, model(images))
        return tape.gradient(loss, images)
    """
    assert lint(code, select=EPL2, strict=True) == []


def test_variables_of_a_hand_written_model_are_weights():
    code = """
    import tensorflow as tf

    w = tf.Variable(tf.zeros((3, 1)))
    b = tf.Variable(0.0)
    with tf.GradientTape() as t:
        loss = tf.keras.losses.mse(y, x @ w + b)
    dw, db = t.gradient(loss, [w, b])
    """
    assert [f.line for f in lint(code, select=("EPL201",), strict=True)] == [7]
    # the rank of `x @ w + b` is unknown (x may be 1-D): silent in default mode
    assert lint(code, select=("EPL201",)) == []


def test_unknown_sources_fire_only_under_strict():
    code = """
    import tensorflow as tf

    def step(params, x, y):
        with tf.GradientTape() as tape:
            loss = tf.keras.losses.mse(y, forward(params, x))
        return tape.gradient(loss, params)
    """
    assert lint(code, select=("EPL201",)) == []
    assert [f.line for f in lint(code, select=("EPL201",), strict=True)] == [6]


def test_list_of_targets():
    code = """
    import tensorflow as tf
    with tf.GradientTape() as tape:
        a = tf.reduce_mean(tf.keras.losses.mse(y, model(x)))
        b = tf.keras.losses.mae(y, model(x))
    grads = tape.gradient([a, b], model.trainable_variables)
    """
    assert [f.line for f in lint(code, select=("EPL201",))] == [5]


def test_trainable_variables_through_a_name_and_a_sum_of_models():
    code = """
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss = tf.keras.losses.mse(y, decoder(encoder(x)))
    variables = encoder.trainable_variables + decoder.trainable_variables
    grads = tape.gradient(loss, variables)
    """
    assert [f.line for f in lint(code, select=("EPL201",))] == [5]
