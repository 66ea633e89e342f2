"""Model provenance through every import spelling and alias (RULES.md "Model provenance").

Each case binds a name to a Keras model in one way; two probes then use it: an `epochs`
assignment (EPL101) and a `fit_generator` call (EPL106). Both must fire when the name is known
to be a model, and neither when it is not (unknown or known-other receivers stay silent)."""
from __future__ import annotations

import textwrap

import pytest

from tests.conftest import lint

# case id -> (code binding the receiver, receiver expression, indentation of the probe lines)
MODEL_CASES: dict[str, tuple[str, str, str]] = {
    "import keras": ("import keras\nmodel = keras.Sequential()\n", "model", ""),
    "import keras.models": ("import keras.models\nmodel = keras.models.Sequential()\n", "model", ""),
    "from tensorflow import keras": ("from tensorflow import keras\nmodel = keras.Model(inp, out)\n", "model", ""),
    "tf.keras": ("import tensorflow as tf\nmodel = tf.keras.Sequential([tf.keras.layers.Dense(1)])\n", "model", ""),
    "tf.keras.models.Model": ("import tensorflow as tf\nmodel = tf.keras.models.Model(inp, out)\n", "model", ""),
    "import tensorflow (no alias)": ("import tensorflow\nmodel = tensorflow.keras.Sequential()\n", "model", ""),
    "from keras.models import Model": ("from keras.models import Model\nmodel = Model(inputs=inp, outputs=out)\n", "model", ""),
    "from tensorflow.keras.models import Sequential": (
        "from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.layers import Dense\nmodel = Sequential([Dense(1)])\n",
        "model",
        "",
    ),
    "from tensorflow.keras import Model": ("from tensorflow.keras import Model\nmodel = Model(inp, out)\n", "model", ""),
    "import tensorflow.keras.models as km": ("import tensorflow.keras.models as km\nmodel = km.Sequential()\n", "model", ""),
    "import tf_keras": ("import tf_keras\nmodel = tf_keras.Sequential()\n", "model", ""),
    "import tf_keras as keras": ("import tf_keras as keras\nmodel = keras.models.Sequential()\n", "model", ""),
    "from tf_keras.models import load_model": ("from tf_keras.models import load_model\nmodel = load_model('m.h5')\n", "model", ""),
    "import keras as K": ("import keras as K\nmodel = K.Sequential()\n", "model", ""),
    "from keras import Model as M": ("from keras import Model as M\nmodel = M(inp, out)\n", "model", ""),
    "from keras import models as km": ("from keras import models as km\nmodel = km.load_model('m.keras')\n", "model", ""),
    "tensorflow.compat.v2 as tf": ("import tensorflow.compat.v2 as tf\nmodel = tf.keras.Sequential()\n", "model", ""),
    "from tensorflow.compat.v2 import keras": ("from tensorflow.compat.v2 import keras\nmodel = keras.Sequential()\n", "model", ""),
    "keras.saving.load_model": ("import keras\nmodel = keras.saving.load_model('m.keras')\n", "model", ""),
    "keras.models.load_model": ("import keras\nmodel = keras.models.load_model('m.keras')\n", "model", ""),
    "tf.keras.models.clone_model": ("import tensorflow as tf\nmodel = tf.keras.models.clone_model(base)\n", "model", ""),
    "keras.models.model_from_json": ("import keras\nmodel = keras.models.model_from_json(text)\n", "model", ""),
    "keras.applications.ResNet50": ("import keras\nmodel = keras.applications.ResNet50(weights=None)\n", "model", ""),
    "from keras.applications import ResNet50": ("from keras.applications import ResNet50\nmodel = ResNet50(weights=None)\n", "model", ""),
    "tf.keras.applications.resnet50.ResNet50": (
        "import tensorflow as tf\nmodel = tf.keras.applications.resnet50.ResNet50(weights=None)\n",
        "model",
        "",
    ),
    "alias of an alias": ("import keras\nSeq = keras.Sequential\nmodel = Seq()\n", "model", ""),
    "model rebound from another name": ("import keras\nbase = keras.Sequential()\nmodel = base\n", "model", ""),
    "chained call receiver": ("import keras\n", "keras.Sequential()", ""),
    "same-module function": (
        "import keras\n\ndef build():\n    m = keras.Sequential()\n    m.compile(optimizer='adam', loss='mse')\n    return m\n\nmodel = build()\n",
        "model",
        "",
    ),
    "same-module function defined below its use": (
        "import keras\n\ndef main():\n    model = build()\n    PROBE\n\ndef build():\n    return keras.Sequential()\n",
        "model",
        "    ",
    ),
    "function returning another function's model": (
        "from tensorflow import keras\n\ndef base():\n    return keras.Sequential()\n\ndef build():\n    return base()\n\nmodel = build()\n",
        "model",
        "",
    ),
    "function annotated -> keras.Model": (
        "import keras\n\ndef build() -> keras.Model:\n    return make_it_somehow()\n\nmodel = build()\n",
        "model",
        "",
    ),
    "class deriving from keras.Model": (
        "import keras\n\nclass Net(keras.Model):\n    def call(self, x):\n        return x\n\nmodel = Net()\n",
        "model",
        "",
    ),
    "class deriving from a same-module subclass": (
        "import tensorflow as tf\n\nclass Base(tf.keras.Model):\n    pass\n\nclass Net(Base):\n    pass\n\nmodel = Net()\n",
        "model",
        "",
    ),
    "class deriving from keras.Sequential alias": (
        "from keras.models import Sequential as S\n\nclass Stack(S):\n    pass\n\nmodel = Stack()\n",
        "model",
        "",
    ),
    "self.model in a Callback": (
        "import keras\n\nclass Hook(keras.callbacks.Callback):\n    def on_train_end(self, logs=None):\n        PROBE\n",
        "self.model",
        "        ",
    ),
    "self.model in a subclass of a same-module Callback": (
        "from tensorflow import keras\n\nclass Base(keras.callbacks.Callback):\n    pass\n\nclass Hook(Base):\n    def on_epoch_end(self, epoch, logs=None):\n        PROBE\n",
        "self.model",
        "        ",
    ),
    "self.model in a tf.keras Callback": (
        "import tensorflow as tf\n\nclass Hook(tf.keras.callbacks.Callback):\n    def on_train_begin(self, logs=None):\n        PROBE\n",
        "self.model",
        "        ",
    ),
    "parameter annotated keras.Model": (
        "import keras\n\ndef train(model: keras.Model, gen):\n    PROBE\n",
        "model",
        "    ",
    ),
    "parameter annotated tf.keras.Model": (
        "import tensorflow as tf\n\ndef train(net: tf.keras.Model):\n    PROBE\n",
        "net",
        "    ",
    ),
    "attribute annotated as a model": (
        "import keras\n\nclass Trainer:\n    def __init__(self):\n        self.net: keras.Model = make()\n\n    def run(self):\n        PROBE\n",
        "self.net",
        "        ",
    ),
    "attribute assigned a model": (
        "import keras\n\nclass Trainer:\n    def __init__(self):\n        self.net = keras.Sequential()\n\n    def run(self):\n        PROBE\n",
        "self.net",
        "        ",
    ),
}

NOT_MODEL_CASES: dict[str, tuple[str, str, str]] = {
    "unannotated parameter": ("import keras\n\ndef train(model):\n    PROBE\n", "model", "    "),
    "Sequential of another library": ("import keras\nfrom mylib import Sequential\nmodel = Sequential()\n", "model", ""),
    "a keras layer": ("import keras\nmodel = keras.layers.Dense(4)\n", "model", ""),
    "a keras optimizer": ("import tensorflow as tf\nmodel = tf.keras.optimizers.Adam()\n", "model", ""),
    "gensim model": ("import keras\nfrom gensim.models import Word2Vec\nmodel = Word2Vec(sentences)\n", "model", ""),
    "scikeras wrapper": ("import keras\nfrom scikeras.wrappers import KerasClassifier\nmodel = KerasClassifier(build)\n", "model", ""),
    "keras shadowed by a local object": ("import tensorflow\n\nclass keras:\n    Sequential = dict\n\nmodel = keras.Sequential()\n", "model", ""),
    "class not deriving from a model": ("import keras\n\nclass Net:\n    pass\n\nmodel = Net()\n", "model", ""),
    "function returning a non-model": ("import keras\n\ndef build():\n    return [1, 2]\n\nmodel = build()\n", "model", ""),
    "self.model outside a Callback": (
        "import keras\n\nclass Trainer:\n    def run(self):\n        PROBE\n",
        "self.model",
        "        ",
    ),
    "string mentioning keras.Sequential": ("import keras\nmodel = 'keras.Sequential()'\n", "model", ""),
}


def _snippet(case: tuple[str, str, str]) -> str:
    code, receiver, indent = case
    probe = f"{receiver}.epochs = 3\n{indent}{receiver}.fit_generator(gen)"
    if "PROBE" in code:
        return code.replace("PROBE", probe)
    return code + probe + "\n"


@pytest.mark.parametrize("case_id", list(MODEL_CASES))
def test_spelling_resolves_to_a_keras_model(case_id):
    code = _snippet(MODEL_CASES[case_id])
    got = sorted(f.code for f in lint(code, select=["EPL101", "EPL106"]))
    assert got == ["EPL101", "EPL106"], code


@pytest.mark.parametrize("case_id", list(NOT_MODEL_CASES))
def test_non_models_and_unknowns_stay_silent(case_id):
    code = _snippet(NOT_MODEL_CASES[case_id])
    assert lint(code, select=["EPL101", "EPL106"]) == [], code


def test_unknown_receiver_fires_under_strict_only():
    code = _snippet(NOT_MODEL_CASES["unannotated parameter"])
    assert lint(code, select=["EPL101", "EPL106"]) == []
    assert sorted(f.code for f in lint(code, select=["EPL101", "EPL106"], strict=True)) == ["EPL101", "EPL106"]


def test_known_non_model_stays_silent_even_under_strict():
    code = _snippet(NOT_MODEL_CASES["a keras layer"])
    assert lint(code, select=["EPL101", "EPL106"], strict=True) == []


def test_canonical_names_of_spellings():
    """The resolver gives one canonical name for every spelling of the same API."""
    import libcst as cst

    from linter.engine import _dispatch
    from linter.semantic import SemanticModel
    from linter.walker import Walker

    code = textwrap.dedent(
        """
        import keras
        import keras as K
        import tensorflow as tf
        import tf_keras
        import tensorflow.compat.v2 as tf2
        from tensorflow import keras as tk
        from keras.models import Model as M
        from tensorflow.keras.layers import Dense
        a = keras.Model
        b = K.models.Model
        c = tf.keras.Model
        d = tf_keras.Model
        e = tf2.keras.Model
        f = tk.Model
        g = M
        h = Dense
        i = tf.function
        j = tf2.function
        """
    )
    module = cst.parse_module(code)
    sem = SemanticModel(module)
    enter, leave = _dispatch([sem])
    Walker(enter, leave, sem.stack).walk(module)
    got = {}
    for stmt in module.body:
        node = stmt.body[0]
        if isinstance(node, cst.Assign):
            got[node.targets[0].target.value] = sem.qualified_name(node.value, sem.module_scope)
    assert {k: got[k] for k in "abcdefg"} == dict.fromkeys("abcdefg", "keras.Model")
    assert got["h"] == "keras.layers.Dense"
    assert got["i"] == got["j"] == "tensorflow.function"
