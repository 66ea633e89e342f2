"""Lazy TensorFlow/Keras loading, version facts, seeding and output capture.

`load()` imports TensorFlow once per process and returns an `Env`. Keras is always reached as
`tf.keras`, like the seed article: with Keras 3 installed that is Keras 3; with the `tf_keras`
package installed and `TF_USE_LEGACY_KERAS=1` set before the import it is Keras 2 (tf_keras).
Nothing here runs at import time; `import runtime_check.env` does not import TensorFlow.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from typing import Any

INSTALL_HINT = "pip install 'epochlint[runtime]'"


class TensorFlowMissing(RuntimeError):
    """TensorFlow (or Keras) cannot be imported."""


@dataclass(frozen=True)
class Env:
    tf: Any
    keras: Any
    tensorflow_version: str
    keras_version: str
    keras_major: int
    backend: str

    def seed(self, value: int = 0) -> None:
        """Seed Python, numpy and TensorFlow (and Keras 3's generators) for one experiment."""
        self.keras.utils.set_random_seed(value)

    def info(self) -> dict[str, Any]:
        return {
            "keras_version": self.keras_version,
            "keras_major": self.keras_major,
            "tensorflow_version": self.tensorflow_version,
            "backend": self.backend,
            # which package `tf.keras` resolved to: "keras" (Keras 3) or "tf_keras" (Keras 2)
            "keras_package": str(getattr(self.keras.Model, "__module__", "?")).split(".")[0],
        }


_ENV: Env | None = None


def quiet_environment() -> None:
    """Environment variables that must be set before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def load() -> Env:
    """Import TensorFlow and Keras (once) and describe them; raises TensorFlowMissing."""
    global _ENV
    if _ENV is not None:
        return _ENV
    quiet_environment()
    with _native_stderr_silenced():
        try:
            import tensorflow as tf
        except ImportError as exc:  # exercised in a subprocess test
            raise TensorFlowMissing(f"TensorFlow is not installed ({exc}). Install the runtime extra: {INSTALL_HINT}") from exc
        try:
            keras = tf.keras
            version = _keras_version(keras)
        except (ImportError, AttributeError) as exc:  # pragma: no cover
            raise TensorFlowMissing(f"Keras cannot be loaded through tf.keras ({exc}). Install the runtime extra: "
                                    f"{INSTALL_HINT}") from exc
    tf.get_logger().setLevel(logging.ERROR)
    try:
        backend = str(keras.backend.backend())
    except AttributeError:  # pragma: no cover
        backend = "tensorflow"
    _ENV = Env(tf=tf, keras=keras, tensorflow_version=tf.__version__, keras_version=version,
               keras_major=int(version.split(".")[0]), backend=backend)
    return _ENV


@contextlib.contextmanager
def _native_stderr_silenced():
    """Hide what TensorFlow's C++ runtime writes to file descriptor 2 while it is imported (absl's
    "All log messages before absl::InitializeLog()", "Could not find cuda drivers"); it is
    replayed if the import fails."""
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2
        yield
        return
    sink = tempfile.TemporaryFile()
    failed = True
    try:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        yield
        failed = False
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if failed:
            sink.seek(0)
            os.write(2, sink.read()[-4000:])
        sink.close()


def _keras_version(keras: Any) -> str:
    version = getattr(keras, "__version__", None)
    if version:
        return str(version)
    if "tf_keras" in type(keras).__module__ or "tf_keras" in repr(keras):
        import tf_keras

        return str(tf_keras.__version__)
    import keras as keras3

    return str(keras3.__version__)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]):
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@dataclass
class Captured:
    warnings: list[str]
    logs: list[str]
    stdout: str = ""

    def all_messages(self) -> list[str]:
        return [*self.warnings, *self.logs]


@contextlib.contextmanager
def capture():
    """Record Python warnings, TensorFlow's WARNING log records and stdout of an experiment.

    Keras 3 reports "Your input ran out of data" with `warnings.warn`; tf.keras 2 with the
    TensorFlow logger. Both end up in `Captured`, and nothing reaches the terminal.
    """
    got = Captured(warnings=[], logs=[])
    handler = _ListHandler(got.logs)
    tf_logger = logging.getLogger("tensorflow")
    old_level, old_propagate = tf_logger.level, tf_logger.propagate
    tf_logger.addHandler(handler)
    tf_logger.setLevel(logging.WARNING)
    tf_logger.propagate = False
    old_handlers = list(tf_logger.handlers)
    for h in old_handlers:
        if h is not handler:
            tf_logger.removeHandler(h)
    out = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
            warnings.simplefilter("always")
            yield got
    finally:
        for h in old_handlers:
            if h is not handler:
                tf_logger.addHandler(h)
        tf_logger.removeHandler(handler)
        tf_logger.setLevel(old_level)
        tf_logger.propagate = old_propagate
        got.warnings.extend(str(w.message) for w in caught)
        got.stdout = out.getvalue()
