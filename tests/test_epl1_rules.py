"""EPL101-EPL106 beyond their own examples: RULES.md's "Not a finding" list for EPL1xx (all EPL1
rules enabled at once), version-specific messages, fix safety, and argument reading."""
from __future__ import annotations

import pytest

from linter.fixes import apply_edits

from tests.conftest import lint


def epl1(code: str, strict: bool = False):
    return lint(code, select=["EPL1"], strict=strict)


def codes(findings) -> list[str]:
    return [f.code for f in findings]


# --------------------------------------------------------------------------- Not a finding
FIT_TEN_EPOCHS = {
    "functional": """
        import tensorflow as tf

        inputs = tf.keras.Input(shape=(10,))
        x = tf.keras.layers.Dense(64, activation="relu")(inputs)
        outputs = tf.keras.layers.Dense(1)(x)
        model = tf.keras.Model(inputs=inputs, outputs=outputs)
        model.compile(optimizer="adam", loss="mse")
        model.fit(X_train, y_train, epochs=10)
    """,
    "sequential": """
        import keras

        model = keras.Sequential([keras.Input(shape=(10,)), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(X_train, y_train, epochs=10)
    """,
    "subclassed": """
        from tensorflow import keras

        class Regressor(keras.Model):
            def __init__(self):
                super().__init__()
                self.dense = keras.layers.Dense(1)

            def call(self, x):
                return self.dense(x)

        model = Regressor()
        model.compile(optimizer="adam", loss="mse")
        model.fit(X_train, y_train, epochs=10)
    """,
}


@pytest.mark.parametrize("kind", sorted(FIT_TEN_EPOCHS))
def test_fit_epochs_10_is_not_a_finding(kind):
    assert epl1(FIT_TEN_EPOCHS[kind]) == []


@pytest.mark.parametrize("kind", sorted(FIT_TEN_EPOCHS))
def test_fit_epochs_10_is_not_a_finding_even_strict(kind):
    assert epl1(FIT_TEN_EPOCHS[kind], strict=True) == []


def test_fit_epochs_one_or_default_in_epoch_loop_is_not_a_finding():
    code = """
        import keras

        model = keras.Sequential([keras.layers.Dense(1)])
        for epoch in range(10):
            model.fit(x, y, epochs=1)
            model.fit(x, y)
    """
    assert epl1(code) == []


def test_running_epoch_index_is_not_a_finding():
    code = """
        import keras

        model = keras.Sequential([keras.layers.Dense(1)])
        for epoch in range(10):
            model.fit(x, y, initial_epoch=epoch, epochs=epoch + 1)
    """
    assert epl1(code) == []


def test_fold_loop_rebuilding_the_model_is_not_a_finding():
    code = """
        import tensorflow as tf

        def make():
            m = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            m.compile(optimizer="adam", loss="mse")
            return m

        for fold in range(5):
            model = make()
            model.fit(x[fold], y[fold], epochs=10)
        for trial in range(3):
            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.fit(x, y, epochs=10)
    """
    assert epl1(code) == []


@pytest.mark.parametrize(
    "code",
    [
        # Callback
        """
        import keras

        class Progress(keras.callbacks.Callback):
            def __init__(self, epochs):
                super().__init__()
                self.epochs = epochs
        """,
        # config class
        """
        import tensorflow as tf

        class TrainConfig:
            def __init__(self, epochs=10):
                self.epochs = epochs

        cfg = TrainConfig()
        cfg.epochs = 20
        """,
        # any non-model object
        """
        import keras
        import argparse

        args = argparse.Namespace()
        args.epochs = 3
        """,
    ],
    ids=["callback", "config-class", "namespace"],
)
def test_self_epochs_on_non_models_is_not_a_finding(code):
    assert epl1(code) == []


def test_gensim_model_epochs_is_not_a_finding():
    code = """
        import keras
        from gensim.models import Word2Vec

        model = Word2Vec(sentences, vector_size=100)
        model.epochs = 5
        model.train(sentences, total_examples=len(sentences), epochs=model.epochs)
    """
    assert epl1(code) == []


def test_scikeras_wrapper_epochs_is_not_a_finding():
    code = """
        import keras
        from scikeras.wrappers import KerasClassifier, KerasRegressor

        def build():
            return keras.Sequential([keras.layers.Dense(1)])

        clf = KerasClassifier(model=build, epochs=10, batch_size=32)
        reg = KerasRegressor(build, epochs=5)
        for fold in range(3):
            clf.fit(X, y, epochs=10)
    """
    assert epl1(code) == []


def test_non_keras_compile_with_epochs_is_not_a_finding():
    code = """
        import keras
        import re

        class Curriculum:
            def compile(self, epochs):
                return list(range(epochs))

        plan = Curriculum().compile(epochs=10)
        pattern = re.compile("epoch")
    """
    assert epl1(code) == []


# --------------------------------------------------------------------------- EPL102
def _one(findings, code):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, found
    return found[0]


def test_epl102_model_message_distinguishes_keras_versions():
    f = _one(epl1("""
        import keras
        model = keras.Model(inp, out, epochs=10)
    """), "EPL102")
    assert "Keras 3 ignores it silently" in f.message and "Keras 2" in f.message and "TypeError" in f.message


def test_epl102_model_without_inputs_raises_in_keras3():
    f = _one(epl1("""
        import keras
        model = keras.Model(epochs=10)
    """), "EPL102")
    assert "Keras 3 raises ValueError" in f.message


@pytest.mark.parametrize("method,expected", [("compile", "TypeError"), ("evaluate", "Keras 3 raises ValueError"), ("predict", "TypeError")])
def test_epl102_method_messages(method, expected):
    f = _one(epl1(f"""
        import keras
        model = keras.Sequential()
        model.{method}(epochs=3)
    """), "EPL102")
    assert expected in f.message
    assert (f.line, f.column) == (3, len(f"model.{method}(") + 1)


def test_epl102_reports_each_argument_not_the_call():
    found = [f for f in epl1("""
        import keras
        model = keras.Sequential()
        model.compile(optimizer="adam", epochs=3)
        model.evaluate(x, y, epochs=1)
    """) if f.code == "EPL102"]
    assert [(f.line, f.column, f.end_column - f.column) for f in found] == [(3, 33, len("epochs=3")), (4, 22, len("epochs=1"))]


def test_epl102_subclass_with_own_init_taking_epochs_is_silent():
    code = """
        import keras

        class Base(keras.Model):
            def __init__(self, epochs=1):
                super().__init__()

        class Child(Base):
            pass

        model = Child(epochs=3)
    """
    assert codes(epl1(code)) == []


def test_epl102_super_init_outside_model_class_is_silent():
    code = """
        import keras

        class Options(dict):
            def __init__(self, epochs):
                super().__init__(epochs=epochs)
    """
    assert epl1(code) == []


# --------------------------------------------------------------------------- EPL103
def test_epl103_fix_keeps_comments_and_other_arguments():
    code = """
        import keras
        model = keras.Sequential()
        model.fit(x, y,
                  nb_epoch=10,  # ten passes
                  verbose=2)
    """
    findings = epl1(code)
    f = _one(findings, "EPL103")
    assert f.fix is not None and f.fix.applicability == "safe"
    from textwrap import dedent

    text = dedent(code).lstrip("\n")
    new, n = apply_edits(text, findings, unsafe=False)
    assert n == 1
    assert "epochs=10,  # ten passes" in new and "nb_epoch" not in new


def test_epl103_no_fix_when_epochs_given_positionally():
    f = _one(epl1("""
        import keras
        model = keras.Sequential()
        model.fit(x, y, 32, 10, nb_epoch=10)
    """), "EPL103")
    assert f.fix is None


@pytest.mark.parametrize("arg,replacement", [("samples_per_epoch", "steps_per_epoch"), ("nb_val_samples", "validation_steps"), ("val_samples", "steps")])
def test_epl103_sample_counts_have_no_fix_and_say_why(arg, replacement):
    f = _one(epl1(f"""
        import keras
        model = keras.Sequential()
        model.fit(gen, {arg}=1000)
    """), "EPL103")
    assert f.fix is None
    assert f"`{replacement}=`" in f.message and "batch_size" in f.message


# --------------------------------------------------------------------------- EPL104
@pytest.mark.parametrize(
    "loop",
    [
        "for i in range(3):",
        "while running:",
        "async for batch in stream():",
    ],
)
def test_epl104_every_loop_kind(loop):
    code = f"""
        import keras

        model = keras.Sequential()

        async def main():
            {loop}
                model.fit(x, y, epochs=4)
    """
    f = _one(epl1(code), "EPL104")
    assert (f.line, f.column) == (7, 9)


def test_epl104_message_counts_turns_when_known():
    f = _one(epl1("""
        import keras
        EPOCHS = 3
        model = keras.Sequential()
        for epoch in range(EPOCHS):
            model.fit(x, y, epochs=EPOCHS)
    """), "EPL104")
    assert "3 x 3 epochs" in f.message


def test_epl104_message_counts_a_literal_list_of_trials():
    f = _one(epl1("""
        import keras
        model = keras.Sequential()
        for lr in [1e-2, 1e-3]:
            model.fit(x, y, epochs=5)
    """), "EPL104")
    assert "2 x 5 epochs" in f.message


def test_epl104_conditional_break_still_accumulates():
    code = """
        import keras
        model = keras.Sequential()
        while True:
            hist = model.fit(x, y, epochs=5)
            if hist.history["loss"][-1] < 0.01:
                break
    """
    assert codes(epl1(code)) == ["EPL104"]


def test_epl104_loop_outside_the_function_does_not_count():
    code = """
        import keras

        model = keras.Sequential()

        def train():
            model.fit(x, y, epochs=5)

        for trial in range(3):
            train()
    """
    assert epl1(code) == []


def test_epl104_reset_in_outer_loop_does_not_cover_inner_loop():
    code = """
        import keras

        model = keras.Sequential()
        weights = model.get_weights()
        for trial in range(3):
            model.set_weights(weights)
            for stage in range(2):
                model.fit(x, y, epochs=5)
    """
    assert _one(epl1(code), "EPL104").line == 8


def test_epl104_epochs_hidden_in_kwargs_is_silent():
    code = """
        import keras

        model = keras.Sequential()
        for trial in range(3):
            model.fit(x, y, **fit_args)
    """
    assert epl1(code) == []


def test_epl104_explicit_initial_epoch_zero_is_not_a_running_index():
    code = """
        import keras

        model = keras.Sequential()
        for trial in range(3):
            model.fit(x, y, initial_epoch=0, epochs=5)
    """
    assert codes(epl1(code)) == ["EPL104"]


# --------------------------------------------------------------------------- EPL105
@pytest.mark.parametrize(
    "args,fires",
    [
        ("epochs=5, initial_epoch=5", True),
        ("epochs=5, initial_epoch=6", True),
        ("epochs=5, initial_epoch=4", False),
        ("epochs=n, initial_epoch=n", True),
        ("epochs=n, initial_epoch=n + 2", True),
        ("epochs=n + 2, initial_epoch=n", False),
        ("epochs=n - 1, initial_epoch=n", True),
        ("epochs=cfg.epochs, initial_epoch=cfg.epochs", True),
        ("epochs=cfg['e'], initial_epoch=cfg['e']", True),
        ("epochs=f(), initial_epoch=f()", False),  # calls may differ between evaluations
        ("epochs=n, initial_epoch=m", False),
        ("initial_epoch=1", True),  # epochs defaults to 1
        ("initial_epoch=0", False),
        ("epochs=2 * 5, initial_epoch=10", True),
    ],
)
def test_epl105_provable_cases(args, fires):
    code = f"""
        import keras

        def go(n, m, cfg, f):
            model = keras.Sequential()
            model.fit(x, y, {args})
    """
    assert codes(epl1(code)) == (["EPL105"] if fires else [])


def test_epl105_location_is_the_initial_epoch_argument():
    f = _one(epl1("""
        import keras
        model = keras.Sequential()
        model.fit(x, y, initial_epoch=3, epochs=2)
    """), "EPL105")
    assert (f.line, f.column, f.end_column) == (3, 17, 17 + len("initial_epoch=3"))


def test_epl105_name_rebound_later_is_not_a_constant():
    code = """
        import keras

        epochs = 5
        start = 5
        start += 0
        model = keras.Sequential()
        model.fit(x, y, epochs=epochs, initial_epoch=start)
    """
    assert epl1(code) == []


# --------------------------------------------------------------------------- EPL106
@pytest.mark.parametrize(
    "call,blocked_by",
    [
        ("model.fit_generator(gen, epochs=3, max_queue_size=10)", "max_queue_size"),
        ("model.fit_generator(gen, nb_epoch=3)", "EPL103"),
        ("model.fit_generator(gen, epochs=3, pickle_safe=True)", "EPL103"),
        ("model.fit_generator(*args)", "*args"),
        ("model.fit_generator(gen, **kw)", "**kwargs"),
        ("model.predict_generator(gen, 10)", "positional"),
    ],
)
def test_epl106_fix_withheld_when_unsafe(call, blocked_by):
    f = _one(epl1(f"""
        import keras
        model = keras.Sequential()
        {call}
    """), "EPL106")
    assert f.fix is None
    assert blocked_by in f.message


def test_epl106_message_is_version_specific():
    f = _one(epl1("""
        import keras
        model = keras.Sequential()
        model.fit_generator(gen)
    """), "EPL106")
    assert "removed in Keras 3 (AttributeError" in f.message and "model.fit(...)" in f.message


def test_epl103_and_epl106_together_then_fix_rounds_converge():
    """The rename waits for EPL103's fix; a second --fix round then renames the method."""
    from textwrap import dedent

    from linter.engine import CheckOptions, check_source
    from linter.fixes import fix_source
    from linter.rules import ALL_CODES
    from linter.source import SourceFile

    text = dedent("""
        import keras
        model = keras.Sequential()
        model.fit_generator(gen, nb_epoch=3)  # legacy
    """).lstrip("\n")
    enabled = frozenset(c for c in ALL_CODES if c.startswith("EPL1"))
    outcome = fix_source(SourceFile("t.py", text), lambda s: check_source(s, CheckOptions(enabled)).findings, unsafe=False)
    assert outcome.new_text.splitlines()[2] == "model.fit(gen, epochs=3)  # legacy"


def test_epl103_no_safe_fix_with_a_keras1_positional_sample_count():
    """`fit_generator(gen, 1720, nb_epoch=1)`: 1720 is Keras 1's samples_per_epoch; renaming
    nb_epoch alone would leave it as 1720 *steps* per epoch in Keras 2+, so no fix is offered."""
    from linter.engine import CheckOptions, check_source
    from linter.source import SourceFile

    code = "import keras\nmodel = keras.Sequential()\nmodel.fit_generator(gen, 1720, nb_epoch=1)\n"
    findings = check_source(SourceFile("x.py", code), CheckOptions(frozenset({"EPL103"}))).findings
    assert [f.code for f in findings] == ["EPL103"]
    assert findings[0].fix is None
    # without the positional count the rename is the whole fix
    code = "import keras\nmodel = keras.Sequential()\nmodel.fit_generator(gen, steps_per_epoch=10, nb_epoch=1)\n"
    findings = check_source(SourceFile("x.py", code), CheckOptions(frozenset({"EPL103"}))).findings
    assert findings[0].fix is not None and findings[0].fix.applicability == "safe"
