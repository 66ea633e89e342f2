"""EPL107-EPL110 and EPL401-EPL403 beyond their own examples: the shared analyses they read
(callbacks lists, compile calls, optimizer classes) and how the new rules sit beside EPL103,
EPL104, EPL106 and EPL204."""
from __future__ import annotations

from linter.analysis.callbacks import callback_class
from linter.analysis.optimizers import is_keras_optimizer_class, is_legacy_optimizer, is_optimizer_class

from tests.conftest import lint


def codes(code: str, select=("EPL1", "EPL2", "EPL4"), strict: bool = False) -> list[tuple[int, str]]:
    return sorted((f.line, f.code) for f in lint(code, select=list(select), strict=strict))


def test_optimizer_class_names():
    assert is_keras_optimizer_class("keras.optimizers.Adam")
    assert is_keras_optimizer_class("tensorflow.optimizers.SGD")
    assert not is_keras_optimizer_class("keras.optimizers.legacy.SGD") and is_legacy_optimizer("keras.optimizers.legacy.SGD")
    assert is_optimizer_class("tensorflow.compat.v1.train.AdamOptimizer")
    assert not is_keras_optimizer_class("tensorflow.compat.v1.train.AdamOptimizer")
    assert not is_keras_optimizer_class("keras.optimizers.schedules.ExponentialDecay")
    assert not is_keras_optimizer_class("torch.optim.Adam")


def test_callback_class_names():
    assert callback_class("keras.callbacks.EarlyStopping") == "EarlyStopping"
    assert callback_class("keras.src.callbacks.ReduceLROnPlateau") == "ReduceLROnPlateau"
    assert callback_class("pytorch_lightning.callbacks.EarlyStopping") is None
    assert callback_class("keras.callbacks.experimental") is None


def test_callbacks_followed_through_plus_and_unpacking():
    code = """
        import keras

        model = keras.Sequential([keras.layers.Dense(1)])
        base = [keras.callbacks.TerminateOnNaN()]
        extra = [keras.callbacks.EarlyStopping(patience=2)]
        for epoch in range(10):
            model.fit(x, y, callbacks=base + extra)
            model.fit(x, y, callbacks=[*extra, keras.callbacks.CSVLogger("log.csv")])
    """
    assert codes(code, select=("EPL401",)) == [(7, "EPL401"), (8, "EPL401")]


def test_a_callback_rebound_in_the_loop_is_still_reset():
    code = """
        import keras

        model = keras.Sequential([keras.layers.Dense(1)])
        for epoch in range(10):
            es = keras.callbacks.EarlyStopping(patience=2)
            model.fit(x, y, epochs=1, callbacks=[es])
    """
    assert codes(code, select=("EPL401",)) == [(6, "EPL401")]


def test_compile_with_an_optimizer_constructor_in_the_loop_is_epl204_not_epl403():
    code = """
        import keras

        model = keras.Sequential([keras.layers.Dense(1)])
        for epoch in range(10):
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
            model.fit(x, y)
    """
    assert codes(code) == [(5, "EPL204")]


def test_keras1_generator_call_gets_epl103_and_epl106_but_not_epl108():
    code = """
        from keras.models import Sequential

        model = Sequential()
        model.fit_generator(gen, samples_per_epoch=2000, nb_epoch=5, workers=4)
    """
    assert codes(code) == [(4, "EPL103"), (4, "EPL103"), (4, "EPL106")]


def test_lr_fix_then_decay_message_names_the_learning_rate():
    found = lint(
        """
        import keras

        opt = keras.optimizers.SGD(lr=0.05, decay=1e-4)
        """,
        select=["EPL107"],
    )
    assert [f.column for f in found] == [28, 37]
    assert "InverseTimeDecay(0.05, decay_steps=1, decay_rate=1e-4)" in found[1].message


def test_history_key_after_two_fits_of_models_compiled_differently():
    """Each History follows its own model's compile."""
    code = """
        import keras

        a = keras.Sequential([keras.layers.Dense(1)])
        a.compile(loss="binary_crossentropy", metrics=["acc"])
        b = keras.Sequential([keras.layers.Dense(1)])
        b.compile(loss="binary_crossentropy", metrics=["accuracy"])
        ha = a.fit(x, y)
        hb = b.fit(x, y)
        print(ha.history["acc"], hb.history["acc"])
    """
    found = lint(code, select=["EPL109"])
    assert [(f.line, f.column) for f in found] == [(9, 37)]


def test_schedule_steps_silent_when_the_model_was_compiled_again_without_it():
    code = """
        import keras

        EPOCHS = 10
        model = keras.Sequential([keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, EPOCHS)), loss="mse")
        model = keras.Sequential([keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(x, y, epochs=EPOCHS)
    """
    assert codes(code, select=("EPL110",)) == []


def test_lr_of_a_function_of_the_users_own_in_a_keras_module_is_silent():
    code = """
        import keras

        def f(lr=0.1, decay=0.0):
            return keras.optimizers.Adam(learning_rate=lr)

        opt = f(lr=0.01, decay=0.1)
    """
    assert lint(code, select=["EPL107"]) == []
