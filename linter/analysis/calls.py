"""Call signatures and the one argument lookup every rule and analysis uses.

`find_argument(call, name, params)` finds the argument that gives parameter `name`, by keyword
or by position (`params` lists the positional parameters in order, without `self`), and says
whether it may be hidden in `*args`/`**kwargs` instead (then its value is unknown: precision
first). `SIGNATURES` holds the positional parameters of the Keras training methods (the same
in Keras 2 and 3 for the parameters the rules read), so `fit`'s positional signature is
written once.
"""
from __future__ import annotations

from typing import Optional, Sequence

import libcst as cst

# Positional parameters (after self) of the model methods the rules read.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "fit": (
        "x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data",
        "shuffle", "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps",
        "validation_batch_size", "validation_freq",
    ),
    "fit_generator": (
        "generator", "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data", "validation_steps",
        "validation_freq", "class_weight", "max_queue_size", "workers", "use_multiprocessing", "shuffle",
        "initial_epoch",
    ),
    "evaluate": ("x", "y", "batch_size", "verbose", "sample_weight", "steps", "callbacks"),
    "predict": ("x", "batch_size", "verbose", "steps", "callbacks"),
    "evaluate_generator": ("generator", "steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing", "verbose"),
    "predict_generator": ("generator", "steps", "callbacks", "max_queue_size", "workers", "use_multiprocessing", "verbose"),
    "train_on_batch": ("x", "y", "sample_weight", "class_weight"),
    "test_on_batch": ("x", "y", "sample_weight"),
    "predict_on_batch": ("x",),
}
# Positional parameters of other calls the analyses read (by canonical name or role).
GRADIENT = ("target", "sources")  # tape.gradient
SEQUENTIAL = ("layers",)  # keras.Sequential
FUNCTIONAL = ("inputs", "outputs")  # keras.Model(inputs, outputs) and functional-style subclasses
CLONE_MODEL = ("model",)  # keras.models.clone_model
TF_FUNCTION = ("func",)  # tf.function, and wrappers taking the function first
RUN_EAGERLY = ("run_eagerly",)  # tf.config.run_functions_eagerly
LOSS_FUNCTION = ("y_true", "y_pred")  # keras.losses.mean_squared_error & co.
NN_LOSS = ("labels", "logits")  # tf.nn.*_cross_entropy_with_logits (keyword-only in TF 2, positional in TF 1)
REDUCTION = ("input_tensor", "axis")  # tf.reduce_mean & co.; keras.ops.mean(x, axis)

# The model methods that run a training/evaluation/prediction loop over data.
TRAINING_METHODS = frozenset({"fit", "fit_generator", "evaluate", "evaluate_generator", "predict", "predict_generator"})
BATCH_METHODS = frozenset({"train_on_batch", "test_on_batch", "predict_on_batch"})
MODEL_METHODS = TRAINING_METHODS | BATCH_METHODS  # what `training_calls.TrainingCalls` collects
DEFAULT_EPOCHS = 1

# Keras 1 keyword -> (what replaced it, whether renaming is the whole fix)
KERAS1_EPOCH_ARGUMENTS: dict[str, tuple[str, bool]] = {
    "nb_epoch": ("epochs", True),
    "samples_per_epoch": ("steps_per_epoch", False),
    "nb_val_samples": ("validation_steps", False),
    "val_samples": ("steps", False),
}
# Other Keras 1 keywords of the generator methods (not about epochs, but they block a rename).
KERAS1_OTHER_ARGUMENTS = frozenset({"nb_worker", "max_q_size", "pickle_safe"})
KERAS1_ARGUMENTS = frozenset(KERAS1_EPOCH_ARGUMENTS) | KERAS1_OTHER_ARGUMENTS
# Keras 2's input-pipeline keywords of fit/evaluate/predict; Keras 3 moved them to `PyDataset(...)`.
WORKER_ARGUMENTS = ("workers", "use_multiprocessing", "max_queue_size")


def find_argument(call: cst.Call, name: str, params: Sequence[str] = ()) -> tuple[Optional[cst.Arg], bool]:
    """The Arg giving parameter `name` (keyword `name=`, or the positional slot of `name` in
    `params`), and whether `*args`/`**kwargs` in the call may give it instead (unknown)."""
    hidden = False
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == name:
                return arg, False
        elif arg.star == "**":
            hidden = True
    position = params.index(name) if name in params else None
    index = 0
    for arg in call.args:
        if arg.keyword is not None or arg.star == "**":
            continue
        if arg.star:
            return None, True  # *args: every position from here on is unknown
        if index == position:
            return arg, False
        index += 1
    return None, hidden


def argument(call: cst.Call, name: str, params: Sequence[str] = ()) -> Optional[cst.BaseExpression]:
    """The value given for parameter `name` (see `find_argument`), None when absent or unknown."""
    arg, _ = find_argument(call, name, params)
    return None if arg is None else arg.value


def method_argument(call: cst.Call, method: str, name: str) -> tuple[Optional[cst.Arg], bool]:
    """`find_argument` with the positional signature of the Keras model method `method`."""
    return find_argument(call, name, SIGNATURES.get(method, ()))


def positional_count(call: cst.Call) -> int:
    """How many arguments are passed by position, not counting `*args`."""
    return sum(1 for a in call.args if a.keyword is None and not a.star)


def method_name(call: cst.Call) -> Optional[str]:
    """`x.fit(...)` -> "fit"; None for a call of a plain name or an expression."""
    func = call.func
    return func.attr.value if isinstance(func, cst.Attribute) else None
