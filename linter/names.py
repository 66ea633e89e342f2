"""Canonical qualified names for Keras and TensorFlow APIs.

Every import spelling maps to one canonical dotted name so rules compare against a single
form: `tensorflow.keras.X`, `tf_keras.X`, `tensorflow.python.keras.X`, `keras.api.X` and the
`keras.models`/`keras.src` paths of the model classes all become `keras.X`;
`tensorflow.compat.v2.X` becomes `tensorflow.X`.
"""
from __future__ import annotations

from functools import lru_cache

_PREFIX_REWRITES: tuple[tuple[str, str], ...] = (
    ("tensorflow.compat.v2.keras", "keras"),
    ("tensorflow.compat.v1.keras", "keras"),
    ("tensorflow.compat.v2", "tensorflow"),
    ("tensorflow.python.keras", "keras"),
    ("tensorflow.keras", "keras"),
    ("tensorflow._api.v2.keras", "keras"),
    ("tf_keras", "keras"),
    ("keras._tf_keras.keras", "keras"),
    ("keras.api._v2.keras", "keras"),
    ("keras.api", "keras"),
)

# Exact aliases after prefix rewriting: internal or legacy homes of public names.
_ALIASES: dict[str, str] = {}


def _alias(canonical: str, *spellings: str) -> None:
    for s in spellings:
        _ALIASES[s] = canonical


_alias(
    "keras.Model",
    "keras.models.Model",
    "keras.src.models.Model",
    "keras.src.models.model.Model",
    "keras.engine.training.Model",
    "keras.src.engine.training.Model",
    "keras.training.Model",
    "keras.Functional",
    "keras.src.models.functional.Functional",
    "keras.engine.functional.Functional",
    "keras.src.engine.functional.Functional",
)
_alias(
    "keras.Sequential",
    "keras.models.Sequential",
    "keras.src.models.Sequential",
    "keras.src.models.sequential.Sequential",
    "keras.engine.sequential.Sequential",
    "keras.src.engine.sequential.Sequential",
)
_alias(
    "keras.callbacks.Callback",
    "keras.src.callbacks.Callback",
    "keras.src.callbacks.callback.Callback",
)
_alias("keras.models.load_model", "keras.saving.load_model", "keras.src.saving.saving_api.load_model")
_alias("keras.models.clone_model", "keras.src.models.cloning.clone_model")
_alias("keras.models.model_from_json", "keras.src.models.model.model_from_json", "keras.saving.model_from_json")
_alias("tensorflow.function", "tensorflow.compat.v1.function")

MODEL_CLASSES = frozenset({"keras.Model", "keras.Sequential"})
MODEL_FACTORIES = frozenset(
    {
        "keras.Model",
        "keras.Sequential",
        "keras.models.load_model",
        "keras.models.clone_model",
        "keras.models.model_from_json",
        "keras.models.model_from_yaml",
        "keras.models.model_from_config",
        "keras.saving.deserialize_keras_object",
    }
)
CALLBACK_CLASSES = frozenset({"keras.callbacks.Callback"})


@lru_cache(maxsize=4096)
def canonical(qname: str) -> str:
    for old, new in _PREFIX_REWRITES:
        if qname == old or qname.startswith(old + "."):
            qname = new + qname[len(old):]
            break
    return _ALIASES.get(qname, qname)


def is_keras_name(qname: str) -> bool:
    return qname == "keras" or qname.startswith("keras.")


def is_application(qname: str) -> bool:
    """`keras.applications.ResNet50`, `keras.applications.resnet50.ResNet50`, ..."""
    if not qname.startswith("keras.applications."):
        return False
    last = qname.rsplit(".", 1)[1]
    return last[:1].isupper()


def is_model_factory(qname: str) -> bool:
    return qname in MODEL_FACTORIES or is_application(qname)


_NON_MODEL_KERAS_NAMESPACES = frozenset(
    {
        "layers", "optimizers", "losses", "metrics", "callbacks", "initializers", "regularizers",
        "constraints", "activations", "ops", "utils", "preprocessing", "datasets", "backend",
        "mixed_precision", "random", "config", "quantizers", "dtype_policies", "tree", "Input",
        "KerasTensor", "Variable", "ops", "export", "visualization", "distribution",
    }
)
_MODEL_ZOO_PACKAGES = frozenset({"keras_hub", "keras_nlp", "keras_cv", "tensorflow_hub", "tensorflow_addons", "tf_models", "official"})


def call_result_is_not_model(qname: str) -> "bool | None":
    """Provenance of `qname(...)` for a resolved, non-factory callee: False when the result is
    known not to be a Keras model, None when it might be one (model zoos, unknown Keras APIs)."""
    top, _, rest = qname.partition(".")
    if top == "keras":
        second = rest.split(".", 1)[0]
        return False if second in _NON_MODEL_KERAS_NAMESPACES else None
    if top in _MODEL_ZOO_PACKAGES:
        return None
    return False
