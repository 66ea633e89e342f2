"""Keras optimizer classes and the Keras 1/2 constructor arguments Keras 3 no longer takes.

`is_optimizer_class(q)` says whether a canonical name is an optimizer class (EPL204 for an
optimizer built in a loop, EPL107 for its old arguments, EPL403 for `compile(optimizer=...)`);
`is_legacy_optimizer(q)` singles out `keras.optimizers.legacy.*`, which keeps Keras 2's
`lr=`/`decay=` on purpose.
"""
from __future__ import annotations

from typing import Optional

_OPTIMIZER_NAMESPACES = ("keras.optimizers.", "keras.src.optimizers.", "tensorflow.optimizers.")
_TF1_NAMESPACES = ("tensorflow.compat.v1.train.", "tensorflow.train.")
_NOT_OPTIMIZERS = frozenset({"LossScaleOptimizer"})  # wraps an optimizer built next to it
# `optimizer="adam"` & co. in compile: Keras builds a new optimizer from the string.
OPTIMIZER_STRINGS = frozenset(
    {"adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "ftrl", "adamw", "lion", "adafactor", "lamb"}
)


def is_optimizer_class(q: Optional[str]) -> bool:
    """`keras.optimizers.Adam`, `tf.keras.optimizers.legacy.SGD`, `tf.compat.v1.train.AdamOptimizer`
    (a class; learning-rate schedules and wrappers are not optimizers)."""
    if q is None:
        return False
    parts = q.split(".")
    last = parts[-1]
    if not last[:1].isupper() or last in _NOT_OPTIMIZERS or "schedules" in parts:
        return False
    if q.startswith(_OPTIMIZER_NAMESPACES):
        return True
    return q.startswith(_TF1_NAMESPACES) and last.endswith("Optimizer")


def is_keras_optimizer_class(q: Optional[str]) -> bool:
    """A Keras optimizer class of the current API (`keras.optimizers.Adam`, `tf.optimizers.SGD`):
    not TF 1's `tf.compat.v1.train.*Optimizer`, not `keras.optimizers.legacy.*`."""
    return is_optimizer_class(q) and q.startswith(_OPTIMIZER_NAMESPACES) and not is_legacy_optimizer(q)  # type: ignore[union-attr]


def is_legacy_optimizer(q: Optional[str]) -> bool:
    """`keras.optimizers.legacy.Adam` (tf.keras 2.11+ / tf_keras): Keras 2's optimizers kept as they were."""
    return q is not None and ".legacy." in q
