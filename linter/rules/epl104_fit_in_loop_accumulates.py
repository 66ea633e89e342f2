"""EPL104 fit-in-loop-accumulates: `fit(epochs=N)` in a loop keeps training the same model."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.analysis.calls import DEFAULT_EPOCHS, method_argument
from linter.analysis.loops import RESET_METHODS, SAVE_METHODS, LoopIndex
from linter.analysis.numbers import linear_form
from linter.analysis.training_calls import TrainingCalls
from linter.rules.base import Invalid, Rule, Valid
from linter.semantic import Site

_FIT_METHODS = ("fit", "fit_generator")


class FitInLoopAccumulates(Rule):
    """
    ## What it does
    Flags `model.fit(..., epochs=N)` with N > 1 (or not known) inside a `for`/`while` loop of the
    same function, when the model is built **outside** the loop: not rebuilt or
    `clone_model`-ed inside it, and its weights not reset there (`set_weights`/`load_weights`).
    A loop that changes what trains (`layer.trainable = ...`, staged fine-tuning) continues
    training on purpose and is not flagged.

    ## Why is this bad
    `fit()` does not start over: each call continues training the model from where the last
    call left it. A loop of T turns trains T x N epochs in total (an "epoch loop" around
    `fit(epochs=EPOCHS)` trains EPOCHS squared), and in a loop over trials, folds or
    hyper-parameters the weights of one turn leak into the next, so later turns start from an
    already-trained model and their scores are not comparable. Measured: `fit(epochs=3)` in a
    3-turn loop ran 9 epochs, and the second call started from a lower loss than the first.

    ## Example
    ```python
    model = build_model()
    for fold, (train_idx, val_idx) in enumerate(kfold.split(x)):
        model.fit(x[train_idx], y[train_idx], epochs=10)  # fold 2 starts from fold 1's weights
    ```
    Use instead:
    ```python
    for fold, (train_idx, val_idx) in enumerate(kfold.split(x)):
        model = build_model()
        model.fit(x[train_idx], y[train_idx], epochs=10)
    ```

    ## Fix
    Build (or `keras.models.clone_model`) the model inside the loop, or restore its initial
    weights at the top of each turn (`model.set_weights(initial_weights)`). For an epoch loop,
    call `fit(epochs=1)` per turn, or pass `initial_epoch=epoch, epochs=epoch + 1`. No automatic fix.
    """

    code = "EPL104"
    name = "fit-in-loop-accumulates"
    summary = "`fit(epochs=N)` inside a loop on a model built outside it: turns x N epochs, weights leak between turns"
    claim = (
        "Each `fit(epochs=N)` call continues training the same model: a loop of T turns trains T x N epochs, and "
        "weights leak from one turn (trial, fold) into the next (Keras 2 and 3). Measured: `fit(epochs=3)` in a "
        "3-turn loop = 9 epochs."
    )
    witness = "total epochs == turns x N; the second call starts from a lower loss than the first"
    fires_on = {"call": ("fit",)}

    VALID = [
        # epochs=1 (explicit or default) in an epoch loop
        Valid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            for epoch in range(10):
                model.fit(x, y, epochs=1, verbose=0)
                model.fit(x, y, verbose=0)
                model.evaluate(x_val, y_val)
            """
        ),
        # the running-index idiom
        Valid(
            """
            import keras

            EPOCHS = 30
            model = keras.Sequential([keras.layers.Dense(1)])
            for epoch in range(EPOCHS):
                model.fit(x, y, initial_epoch=epoch, epochs=epoch + 1)
            """
        ),
        # a fold loop that rebuilds the model
        Valid(
            """
            import keras

            def build():
                model = keras.Sequential([keras.layers.Dense(1)])
                model.compile(optimizer="adam", loss="mse")
                return model

            for train_idx, val_idx in folds:
                model = build()
                model.fit(x[train_idx], y[train_idx], epochs=10)
            """
        ),
        # a trial loop that clones the model
        Valid(
            """
            from tensorflow import keras

            base = keras.models.load_model("base.keras")
            for lr in (1e-2, 1e-3):
                model = keras.models.clone_model(base)
                model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
                model.fit(x, y, epochs=5)
            """
        ),
        # weights restored at the start of every turn
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            initial = model.get_weights()
            for trial in range(3):
                model.set_weights(initial)
                model.fit(x, y, epochs=5)
            """
        ),
        Valid(
            """
            import keras

            model = keras.models.load_model("init.keras")
            while not good_enough():
                model.load_weights("init.weights.h5")
                model.fit(x, y, epochs=5)
            """
        ),
        # the loop variable is the model
        Valid(
            """
            import keras

            models = [keras.Sequential([keras.layers.Dense(1)]) for _ in range(3)]
            for model in models:
                model.fit(x, y, epochs=5)
            """
        ),
        # a function defined in the loop is not the loop body; the for-else runs once
        Valid(
            """
            import keras

            model = keras.Sequential()
            for name in names:
                def train():
                    model.fit(x, y, epochs=5)
            else:
                model.fit(x, y, epochs=5)
            """
        ),
        # a name bound once to 1
        Valid(
            """
            import keras

            EPOCHS_PER_ROUND = 1
            model = keras.Sequential()
            for round_ in range(10):
                model.fit(x, y, epochs=EPOCHS_PER_ROUND)
            """
        ),
        # a retry loop: the turn that trains also leaves the loop
        Valid(
            """
            import keras

            model = keras.models.load_model("m.keras")
            while True:
                try:
                    model.fit(x, y, epochs=10)
                    break
                except MemoryError:
                    x, y = x[: len(x) // 2], y[: len(y) // 2]
            """
        ),
        # a loop of a single turn
        Valid(
            """
            import keras

            model = keras.Sequential()
            for _ in range(1):
                model.fit(x, y, epochs=5)
            for ds in [train_ds]:
                model.fit(ds, epochs=5)
            """
        ),
        # unknown receiver: silent unless --strict
        Valid(
            """
            import keras

            def train(model, folds):
                for tr, va in folds:
                    model.fit(tr, epochs=10)
            """
        ),
    ]
    INVALID = [
        # the same data every turn and a snapshot only sometimes: still accumulates
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            for i in range(40):
                model.fit(x, x, epochs=5)
                if i % 10 == 0:
                    model.save(f"m{i}.h5")
            """,
            line=5,
            column=5,
            message_contains="40 x 5 epochs in total",
        ),
        # the same data reshuffled is the same data
        Invalid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            turn = 0
            while turn < 3:
                model.fit(ds.shuffle(100), epochs=5)
                turn += 1
            """,
            line=6,
            column=5,
            message_contains="`model.fit(..., epochs=5)` in a `while` loop",
        ),
        Invalid(
            """
            import tensorflow as tf

            model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            for epoch in range(10):
                model.fit(x, y, epochs=10)
            """,
            line=6,
            column=5,
            message_contains="10 x 10",
        ),
        # a fold loop around a model built once
        Invalid(
            """
            import keras
            from sklearn.model_selection import KFold

            model = keras.Sequential([keras.layers.Dense(1)])
            model.compile(optimizer="adam", loss="mse")
            scores = []
            for train_idx, val_idx in KFold(5).split(x):
                model.fit(x[train_idx], y[train_idx], epochs=20, verbose=0)
                scores.append(model.evaluate(x[val_idx], y[val_idx]))
            """,
            line=8,
            column=5,
            message_contains="in total",
        ),
        # epochs unknown
        Invalid(
            """
            from keras.models import Model
            from keras.layers import Dense, Input

            def train(x, y, epochs, rounds):
                inp = Input(shape=(4,))
                model = Model(inp, Dense(1)(inp))
                model.compile(optimizer="sgd", loss="mse")
                n = 0
                while n < rounds:
                    model.fit(x, y, epochs=epochs)
                    n += 1
            """,
            line=10,
            column=9,
            message_contains="`model.fit(..., epochs=epochs)` in a `while` loop keeps training one model",
        ),
        # nested: rebuilt per trial, but the inner loop accumulates
        Invalid(
            """
            import keras

            def build():
                return keras.Sequential([keras.layers.Dense(1)])

            for trial in range(3):
                model = build()
                for stage in stages:
                    model.fit(stage.x, stage.y, epochs=5)
            """,
            line=9,
            column=9,
            message_contains="`model.fit(..., epochs=5)` in a `for` loop keeps training one model",
        ),
        # epochs by position; a reset of another model does not count
        Invalid(
            """
            import keras as K

            model = K.Sequential()
            other = K.Sequential()
            for i in range(4):
                other.set_weights(w)
                model.fit(x, y, 32, 3)
            """,
            line=7,
            column=5,
            message_contains="`model.fit(..., epochs=3)` in a `for` loop keeps training one model",
        ),
        Invalid(
            """
            from tensorflow import keras

            class Finetune(keras.callbacks.Callback):
                def on_train_end(self, logs=None):
                    for ds in self.extra:
                        self.model.fit(ds, epochs=2)
            """,
            line=6,
            column=13,
            message_contains="`self.model.fit(..., epochs=2)` in a `for` loop keeps training one model",
        ),
        Invalid(
            """
            import keras

            def train(model, folds):
                for tr, va in folds:
                    model.fit(tr, epochs=10)
            """,
            line=5,
            column=9,
            message_contains="`model.fit(..., epochs=10)` in a `for` loop keeps training one model",
            strict=True,
        ),
    ]

    VALID = [
        *VALID,
        # staged fine-tuning (progressive unfreezing): continuing training is the point
        Valid(
            """
            import keras

            base = keras.applications.MobileNetV2(include_top=False)
            model = keras.Sequential([base, keras.layers.Dense(1)])
            for stage, lr in enumerate([1e-3, 1e-4]):
                base.trainable = stage > 0
                model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
                model.fit(x, y, epochs=2)
            """
        ),
        # each turn trains on a new chunk of data and keeps a snapshot
        Valid(
            """
            import keras

            model = keras.models.load_model("m.h5")
            for i in range(50, 78):
                model.fit(*load_chunk(i), epochs=30)
                model.save("m.h5")
            """
        ),
        # each turn trains on newly generated data
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            for r in range(R):
                x, y = make_data_set()
                model.fit(x, y, epochs=5)
            """
        ),
        # the same data, but a snapshot every turn: the accumulation is what is kept
        Valid(
            """
            import keras

            model = keras.Sequential([keras.layers.Dense(1)])
            for i in range(40):
                model.fit(x, x, epochs=5)
                model.save(f"m{i}.h5")
            """
        ),
        # staged fine-tuning through setattr (the same loop fact as EPL204's)
        Valid(
            """
            import keras

            model = keras.Sequential([base, keras.layers.Dense(1)])
            for stage in range(2):
                setattr(base, "trainable", stage > 0)
                model.fit(x, y, epochs=3)
            """
        ),
    ]

    ANALYSES = (LoopIndex, TrainingCalls)  # built once per file by the engine

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.loops: LoopIndex = self.analysis(LoopIndex)
        self.training: TrainingCalls = self.analysis(TrainingCalls)
        self.saves: dict[int, tuple] = {}  # id(call) -> ancestors, for calls that may save a model

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
        elif isinstance(func, cst.Name):
            method = func.value
        else:
            return
        if method in SAVE_METHODS or method == "save_model":
            self.saves[id(node)] = self.ctx.ancestors()

    def finish(self) -> None:
        sem = self.ctx.semantic
        code = self.ctx.module.code_for_node
        loops = self.loops
        for tc in self.training.of(_FIT_METHODS):
            if not tc.loops:
                continue
            call, method, site, loop = tc.call, tc.method, tc.site, tc.loops[-1]
            scope = site.scope
            if _leaves_loop_after(call, site.ancestors, loop):
                continue
            epochs_text = self._epochs_text(call, method, site)
            if epochs_text is None:
                continue
            receiver = call.func.value  # type: ignore[attr-defined]
            if loops.changes_what_trains(loop, receiver, scope) or loops.method_calls_on(receiver, loop, RESET_METHODS):
                continue  # rebuilt, reset, grown, or staged fine-tuning: each turn starts afresh or on purpose
            data = [a.value for a in (method_argument(call, method, "x")[0], method_argument(call, method, "generator")[0]) if a is not None]
            if any(loops.loads_each_turn(d, scope, loop) for d in data):
                continue  # each turn trains on new data (chunks loaded one by one): continuing is the point
            if loops.snapshots_each_turn(receiver, loop, lambda c: self.saves.get(id(c))):
                continue  # a snapshot every turn: the accumulation is what is kept
            if not sem.is_keras_model(receiver, scope, self.ctx.strict):
                continue
            turns = _turns(loop, sem, loops.header_site(loop))
            if turns is not None and turns.lstrip("-").isdigit() and int(turns) <= 1:
                continue  # a loop of one turn accumulates nothing
            total = f"{turns} x {epochs_text}" if turns else f"turns x {epochs_text}"
            kind = "while" if isinstance(loop, cst.While) else "for"
            self.report(
                call,
                f"`{code(receiver).strip()}.{method}(..., epochs={epochs_text})` in a `{kind}` loop keeps training one "
                f"model: {total} epochs in total.",
            )

    def _epochs_text(self, call: cst.Call, method: str, site: Site) -> Optional[str]:
        """The epochs per call as text when more than one epoch or unknown; None when <= 1 or
        when the call manages a running epoch index itself (`initial_epoch=`)."""
        sem = self.ctx.semantic
        initial, _ = method_argument(call, method, "initial_epoch")
        if initial is not None:
            form = linear_form(initial.value, site, sem)
            if not (form is not None and form.base is None and form.offset == 0):
                return None  # a running index: the idiom of training one epoch range per turn
        epochs, _ = method_argument(call, method, "epochs")
        if epochs is None:
            return None  # the default, 1 (or hidden in **kwargs: unknown, and precision comes first)
        form = linear_form(epochs.value, site, sem)
        if form is not None and form.base is None:
            return str(form.offset) if form.offset > DEFAULT_EPOCHS else None
        return self.ctx.module.code_for_node(epochs.value).strip()


def _leaves_loop_after(call: cst.Call, ancestors: tuple, loop: cst.CSTNode) -> bool:
    """Does an unconditional `break`/`return`/`raise` follow the call's statement in one of its
    blocks inside the loop? Then a turn that trains also ends the loop (a retry loop)."""
    chain = (*ancestors, call)
    start = next(i for i, node in enumerate(chain) if node is loop)
    for i in range(len(chain) - 2, start, -1):
        block = chain[i]
        if not isinstance(block, cst.IndentedBlock):
            continue
        stmt = chain[i + 1]
        index = next((k for k, s in enumerate(block.body) if s is stmt), None)
        if index is None:
            continue
        for later in block.body[index + 1:]:
            if isinstance(later, cst.SimpleStatementLine) and any(
                isinstance(small, (cst.Break, cst.Return, cst.Raise)) for small in later.body
            ):
                return True
    return False


def _turns(loop: cst.CSTNode, sem, site: Site) -> Optional[str]:
    """How many turns the loop makes, as text, when it says so: `for ... in range(n)` (n as
    written, or its value when known) or a literal list/tuple; None otherwise."""
    if not isinstance(loop, cst.For):
        return None
    it = loop.iter
    if isinstance(it, (cst.List, cst.Tuple)) and not any(isinstance(el, cst.StarredElement) for el in it.elements):
        return str(len(it.elements))
    if not (isinstance(it, cst.Call) and sem.qualified_name(it.func, site.scope) == "builtins.range" and len(it.args) == 1):
        return None
    form = linear_form(it.args[0].value, site, sem)
    if form is not None and form.base is None:
        return str(form.offset)
    return cst.Module(body=[]).code_for_node(it.args[0].value).strip()
