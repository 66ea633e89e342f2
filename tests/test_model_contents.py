"""Model contents (`linter.analysis.model_contents`): which layers with training behaviour and
which regularizers a same-module model contains, across Sequential lists, `.add()`, the
functional API, subclassed models, builder functions and applications; and EPL202 on them.

`probe(model)` marks the model expression to ask about, at the place it appears.
"""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from linter.analysis.model_contents import ModelContents
from linter.analysis.tape import Site
from linter.engine import _dispatch
from linter.semantic import SemanticModel
from linter.walker import Walker
from tests.conftest import lint


class _Probe:
    def __init__(self, sem: SemanticModel) -> None:
        self.sem = sem
        self.seen: list = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "probe":
            self.seen.append((node.args[0].value, Site.here(self.sem)))


def contents(code: str):
    module = cst.parse_module(textwrap.dedent(code).lstrip("\n"))
    sem = SemanticModel(module)
    probe = _Probe(sem)
    enter, leave = _dispatch([sem, probe])
    Walker(enter, leave, sem.stack).walk(module)
    assert probe.seen, "the snippet has no probe(...)"
    expr, site = probe.seen[-1]
    return ModelContents(sem).of_callee(expr, site)


# ----------------------------------------------------------------------------- Sequential
def test_sequential_list():
    c = contents(
        """
        import tensorflow as tf
        model = tf.keras.Sequential([tf.keras.layers.Dense(8), tf.keras.layers.Dropout(0.5), tf.keras.layers.Dense(1)])
        probe(model)
        """
    )
    assert c.training == ["Dropout"] and c.regularizers == [] and c.complete


def test_sequential_dense_only_is_complete_and_empty():
    c = contents(
        """
        from keras import Sequential, Input
        from keras.layers import Dense
        model = Sequential([Input(shape=(4,)), Dense(8, activation="relu"), Dense(1)])
        probe(model)
        """
    )
    assert c.training == [] and c.regularizers == [] and c.complete


def test_sequential_add_calls():
    c = contents(
        """
        from tensorflow.keras.models import Sequential
        from tensorflow.keras import layers
        model = Sequential()
        model.add(layers.Conv2D(8, 3, kernel_regularizer="l2"))
        model.add(layers.BatchNormalization())
        for _ in range(2):
            model.add(layers.SpatialDropout2D(0.1))
        model.add(layers.Dense(1))
        probe(model)
        """
    )
    assert c.training == ["BatchNormalization", "SpatialDropout2D"]
    assert c.regularizers == ["Conv2D(kernel_regularizer=...)"]
    assert c.complete


@pytest.mark.parametrize(
    "layer,expected",
    [
        ("layers.AlphaDropout(0.1)", "AlphaDropout"),
        ("layers.GaussianDropout(0.1)", "GaussianDropout"),
        ("layers.GaussianNoise(0.1)", "GaussianNoise"),
        ("layers.SpatialDropout1D(0.1)", "SpatialDropout1D"),
        ("layers.LSTM(8, dropout=0.2)", "LSTM(dropout=...)"),
        ("layers.GRU(8, recurrent_dropout=0.1)", "GRU(recurrent_dropout=...)"),
        ("layers.Bidirectional(layers.LSTM(8, dropout=0.3))", "LSTM(dropout=...)"),
        ("layers.TimeDistributed(layers.Dropout(0.2))", "Dropout"),
        ("layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1)", "MultiHeadAttention(dropout=...)"),
    ],
)
def test_layers_with_training_behaviour(layer, expected):
    c = contents(
        f"""
        import keras
        from keras import layers
        model = keras.Sequential([{layer}, layers.Dense(1)])
        probe(model)
        """
    )
    assert expected in c.training


@pytest.mark.parametrize(
    "layer",
    ["layers.LSTM(8, dropout=0.0)", "layers.LayerNormalization()", "layers.Dense(4, kernel_regularizer=None)", "layers.Flatten()"],
)
def test_layers_without_training_behaviour(layer):
    c = contents(
        f"""
        import keras
        from keras import layers
        model = keras.Sequential([{layer}, layers.Dense(1)])
        probe(model)
        """
    )
    assert c.training == [] and c.regularizers == [] and c.complete


@pytest.mark.parametrize(
    "layer,expected",
    [
        ("layers.Dense(4, kernel_regularizer=keras.regularizers.l2(1e-4))", "Dense(kernel_regularizer=...)"),
        ("layers.Dense(4, bias_regularizer='l1')", "Dense(bias_regularizer=...)"),
        ("layers.Dense(4, activity_regularizer=reg)", "Dense(activity_regularizer=...)"),
        ("layers.Embedding(10, 4, embeddings_regularizer='l2')", "Embedding(embeddings_regularizer=...)"),
        ("layers.ActivityRegularization(l1=0.01)", "ActivityRegularization"),
    ],
)
def test_regularizers(layer, expected):
    c = contents(
        f"""
        import keras
        from keras import layers
        reg = keras.regularizers.L1L2(1e-5, 1e-4)
        model = keras.Sequential([{layer}, layers.Dense(1)])
        probe(model)
        """
    )
    assert c.regularizers == [expected]


# ----------------------------------------------------------------------------- functional
def test_functional_chain_with_reassigned_name():
    c = contents(
        """
        import tensorflow as tf
        inputs = tf.keras.Input(shape=(10,))
        x = tf.keras.layers.Dense(64, activation="relu")(inputs)
        x = tf.keras.layers.BatchNormalization()(x)
        x = tf.keras.layers.Dropout(0.3)(x)
        outputs = tf.keras.layers.Dense(1)(x)
        model = tf.keras.Model(inputs=inputs, outputs=outputs)
        probe(model)
        """
    )
    assert c.training == ["Dropout", "BatchNormalization"] and c.complete


def test_functional_seed_model_is_dense_only():
    c = contents(
        """
        import tensorflow as tf
        inputs = tf.keras.Input(shape=(10,))
        x = tf.keras.layers.Dense(64, activation='relu')(inputs)
        outputs = tf.keras.layers.Dense(1)(x)
        model = tf.keras.Model(inputs=inputs, outputs=outputs)
        probe(model)
        """
    )
    assert c.training == [] and c.regularizers == [] and c.complete


def test_functional_branch_not_leading_to_the_outputs_is_excluded():
    c = contents(
        """
        import keras
        from keras import layers
        inputs = keras.Input(shape=(10,))
        h = layers.Dense(8)(inputs)
        aux = layers.Dropout(0.5)(h)
        outputs = layers.Dense(1)(h)
        model = keras.Model(inputs, outputs)
        probe(model)
        """
    )
    assert c.training == [] and c.complete


def test_functional_layer_bound_to_a_name_and_merges():
    c = contents(
        """
        import keras
        from keras import layers
        a = keras.Input(shape=(4,))
        b = keras.Input(shape=(4,))
        noise = layers.GaussianNoise(0.1)
        merged = layers.concatenate([noise(a), b])
        out = layers.Dense(1, kernel_regularizer="l2")(merged) + keras.ops.mean(b)
        model = keras.Model(inputs=[a, b], outputs=out)
        probe(model)
        """
    )
    assert c.training == ["GaussianNoise"] and c.regularizers == ["Dense(kernel_regularizer=...)"] and c.complete


def test_functional_block_helper_and_builder_function():
    c = contents(
        """
        import keras
        from keras import layers

        def conv_block(x, filters):
            x = layers.Conv2D(filters, 3, padding="same")(x)
            x = layers.BatchNormalization()(x)
            return layers.ReLU()(x)

        def build():
            inputs = keras.Input(shape=(32, 32, 3))
            x = conv_block(inputs, 16)
            x = conv_block(x, 32)
            outputs = layers.Dense(10)(layers.GlobalAveragePooling2D()(x))
            return keras.Model(inputs, outputs)

        model = build()
        probe(model)
        """
    )
    assert c.training == ["BatchNormalization"] and c.complete


def test_transfer_learning_base_output_and_sub_model():
    c = contents(
        """
        import tensorflow as tf
        base = tf.keras.applications.ResNet50(include_top=False, weights="imagenet")
        x = tf.keras.layers.GlobalAveragePooling2D()(base.output)
        outputs = tf.keras.layers.Dense(5)(x)
        model = tf.keras.Model(base.input, outputs)
        probe(model)
        """
    )
    assert c.training == ["ResNet50 (BatchNormalization)"]
    c = contents(
        """
        import keras
        encoder = keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.2)])
        inputs = keras.Input(shape=(4,))
        outputs = keras.layers.Dense(1)(encoder(inputs))
        model = keras.Model(inputs, outputs)
        probe(model)
        """
    )
    assert c.training == ["Dropout"] and c.complete


def test_applications():
    assert contents("import keras\nm = keras.applications.VGG16(weights=None)\nprobe(m)").training == []
    assert contents("import keras\nm = keras.applications.VGG16(weights=None)\nprobe(m)").complete
    c = contents("from keras.applications import EfficientNetB0\nm = EfficientNetB0()\nprobe(m)")
    assert c.training == ["EfficientNetB0 (BatchNormalization)", "EfficientNetB0 (Dropout)"]
    assert not contents("import keras\nm = keras.applications.ConvNeXtTiny()\nprobe(m)").complete


# ----------------------------------------------------------------------------- subclassed
def test_subclassed_model_attributes_and_add_loss():
    c = contents(
        """
        import keras
        import tensorflow as tf

        class Net(keras.Model):
            def __init__(self, n):
                super().__init__()
                self.n = n
                self.blocks = [keras.layers.Dense(8) for _ in range(n)]
                self.norm = keras.layers.BatchNormalization()
                self.head = keras.layers.Dense(1, bias_regularizer="l2")

            def call(self, x, training=False):
                for block in self.blocks:
                    x = block(x)
                x = self.norm(x, training=training)
                self.add_loss(tf.reduce_sum(x) * 0.0)
                return self.head(x)

        model = Net(3)
        probe(model)
        """
    )
    assert c.training == ["BatchNormalization"]
    assert c.regularizers == ["Dense(bias_regularizer=...)", "Net.add_loss()"]
    assert c.complete


def test_custom_layer_that_branches_on_training_and_add_weight_regularizer():
    c = contents(
        """
        import keras
        import tensorflow as tf

        class NoisyScale(keras.layers.Layer):
            def build(self, shape):
                self.scale = self.add_weight(shape=(1,), regularizer=keras.regularizers.l2(0.1))

            def call(self, x, training=None):
                if training:
                    x = x + tf.random.normal(tf.shape(x))
                return x * self.scale

        class PassThrough(keras.layers.Layer):
            def __init__(self):
                super().__init__()
                self.inner = keras.layers.Dense(2)

            def call(self, x, training=None):
                return self.inner(x, training=training)

        model = keras.Sequential([PassThrough(), NoisyScale(), keras.layers.Dense(1)])
        probe(model)
        """
    )
    assert c.training == ["NoisyScale.call(training)"]
    assert c.regularizers == ["NoisyScale.add_weight(regularizer=...)"]


def test_self_in_train_step_of_a_functional_style_subclass():
    c = contents(
        """
        import keras
        import tensorflow as tf

        class CustomModel(keras.Model):
            def train_step(self, data):
                probe(self)

        inputs = keras.Input(shape=(32,))
        x = keras.layers.Dropout(0.1)(inputs)
        outputs = keras.layers.Dense(1)(x)
        model = CustomModel(inputs, outputs)
        """
    )
    assert c.training == ["Dropout"] and c.complete


def test_self_of_a_functional_style_subclass_never_instantiated_is_unknown():
    c = contents(
        """
        import keras

        class CustomModel(keras.Model):
            def train_step(self, data):
                probe(self)
        """
    )
    assert c.training == [] and not c.complete


# ----------------------------------------------------------------------------- unknown parts
@pytest.mark.parametrize(
    "code",
    [
        "import keras\ndef f(model):\n    probe(model)",
        "import keras\nm = keras.models.load_model('m.keras')\nprobe(m)",
        "import keras\nimport tensorflow_hub as hub\nm = keras.Sequential([hub.KerasLayer(url), keras.layers.Dense(1)])\nprobe(m)",
        "import keras\ndef f(layer):\n    m = keras.Sequential([layer, keras.layers.Dense(1)])\n    probe(m)",
    ],
)
def test_unknown_parts_make_contents_incomplete(code):
    c = contents(code)
    assert c is None or (c.training == [] and not c.complete)


def test_clone_model_keeps_the_contents():
    c = contents(
        """
        import keras
        m = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5)])
        m2 = keras.models.clone_model(m)
        probe(m2)
        """
    )
    assert c.training == ["Dropout"]


# ----------------------------------------------------------------------------- EPL202 end to end
def test_epl202_strict_fires_on_unknown_contents_only_under_strict():
    code = """
    import keras
    import tensorflow as tf

    model = keras.models.load_model("saved.keras")
    with tf.GradientTape() as tape:
        pred = model(x)
    """
    assert lint(code, select=("EPL202",)) == []
    assert [f.line for f in lint(code, select=("EPL202",), strict=True)] == [6]


def test_epl202_dense_only_is_silent_even_under_strict():
    code = """
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    with tf.GradientTape() as tape:
        pred = model(x)
    """
    assert lint(code, select=("EPL202",), strict=True) == []


def test_epl202_fires_only_for_calls_inside_the_tape_block():
    code = """
    import keras
    import tensorflow as tf

    model = keras.Sequential([keras.layers.Dense(8), keras.layers.Dropout(0.4), keras.layers.Dense(1)])
    pred_before = model(x)
    with tf.GradientTape() as tape:
        pred = model(x)
        other = loss_fn(y, pred)
    pred_after = model(x)
    grads = tape.gradient(other, model.trainable_variables)
    """
    assert [f.line for f in lint(code, select=("EPL202",))] == [7]


def test_keras3_internal_spelling_of_layers_is_recognised():
    c = contents(
        """
        import keras
        from keras.src.layers import Dropout, Dense
        from keras.src.layers.normalization.batch_normalization import BatchNormalization
        model = keras.Sequential([Dense(4), BatchNormalization(), Dropout(0.1)])
        probe(model)
        """
    )
    assert c.training == ["BatchNormalization", "Dropout"] and c.complete


def test_augmentation_layers_are_not_training_dependent():
    """RandomFlip & co. augment without `training=True` (their default is True): not counted."""
    for layer in ("tf.keras.layers.experimental.preprocessing.RandomFlip('horizontal')", "tf.keras.layers.RandomRotation(0.1)", "keras.layers.MixUp()"):
        c = contents(
            f"""
            import keras
            import tensorflow as tf
            aug = tf.keras.Sequential([{layer}])
            model = tf.keras.Sequential([aug, tf.keras.layers.Conv2D(4, 3)])
            probe(model)
            """
        )
        assert c.training == [] and c.complete, layer


def test_a_deep_functional_chain_is_followed_to_its_first_layer():
    body = "\n".join("x = keras.layers.Dense(8)(x)" for _ in range(100))
    code = f"import keras\ninputs = keras.Input(shape=(8,))\nx = keras.layers.BatchNormalization()(inputs)\n{body}\nmodel = keras.Model(inputs, x)\nprobe(model)\n"
    c = contents(code)
    assert c.training == ["BatchNormalization"] and c.complete


def test_an_absurdly_deep_chain_gives_unknown_not_a_crash():
    body = "\n".join("x = keras.layers.Dense(8)(x)" for _ in range(400))
    code = f"import keras\ninputs = keras.Input(shape=(8,))\nx = keras.layers.Dropout(0.1)(inputs)\n{body}\nmodel = keras.Model(inputs, x)\nprobe(model)\n"
    c = contents(code)
    assert c.training == [] and not c.complete
    assert lint(code.replace("probe(model)", "import tensorflow as tf\nwith tf.GradientTape() as t:\n    y = model(x)"), select=("EPL202", "EPL000")) == []


def test_epl202_only_for_the_model_the_tape_trains():
    # knowledge distillation: the teacher runs in inference mode on purpose; the student trains
    code = """
    import keras
    import tensorflow as tf
    from keras import layers

    teacher = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.Dropout(0.5), layers.Dense(10)])
    student = keras.Sequential([layers.Dense(16), layers.Dropout(0.2), layers.Dense(10)])
    optimizer = keras.optimizers.Adam()

    @tf.function
    def distill_step(x, y):
        with tf.GradientTape() as tape:
            teacher_logits = teacher(x)
            student_logits = student(x)
            loss = keras.losses.KLDivergence()(tf.nn.softmax(teacher_logits), tf.nn.softmax(student_logits))
        grads = tape.gradient(loss, student.trainable_variables)
        optimizer.apply_gradients(zip(grads, student.trainable_variables))
    """
    findings = lint(code, select=("EPL202",))
    assert [f.line for f in findings] == [13]
    assert "student(...)" in findings[0].message


def test_epl202_sub_models_of_self_are_trained_by_self_trainable_variables():
    code = """
    import keras
    import tensorflow as tf

    class Classifier(keras.Model):
        def __init__(self):
            super().__init__()
            self.backbone = keras.Sequential([keras.layers.Conv2D(8, 3), keras.layers.BatchNormalization()])
            self.head = keras.layers.Dense(10)

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                features = self.backbone(x)
                loss = self.compute_loss(y=y, y_pred=self.head(features))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return {}
    """
    assert [f.line for f in lint(code, select=("EPL202",))] == [13]


def test_epl202_a_wrapper_model_calling_itself_trains_its_inner_model():
    # the shape of tf_keras' SharpnessAwareMinimization.train_step (first forward pass); the inner
    # model is a constructor parameter, so this is reported only under --strict
    code = """
    import tensorflow as tf
    from tf_keras.models import Model

    class SharpnessAwareMinimization(Model):
        def __init__(self, model, rho=0.05):
            super().__init__()
            self.model = model
            self.rho = rho

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                pred = self(x)
                loss = self.compiled_loss(y, pred)
            trainable_variables = self.model.trainable_variables
            gradients = tape.gradient(loss, trainable_variables)
            return {}

        def call(self, inputs):
            return self.model(inputs)
    """
    assert lint(code, select=("EPL202",)) == []
    assert [f.line for f in lint(code, select=("EPL202",), strict=True)] == [13]
