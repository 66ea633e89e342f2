"""Synthetic training data: seeded, deterministic, float32, tiny, with a learnable target.

Numpy only (no TensorFlow). The target is a fixed linear map of the inputs plus a small smooth
non-linearity, scaled so that the variance of y is about 1 (an untrained net's MSE is ~1 and
a net that learns drives it well below). The default size (200 samples, batch 32) gives
6 full batches and one partial batch of 8, like the seed's 1000-sample / batch-32 loop;
witnesses use `witness_data()` (128 samples, 4 full batches), which keeps every fit cheap.
"""
from __future__ import annotations

import numpy as np

N_SAMPLES = 200
N_FEATURES = 10
BATCH_SIZE = 32
WITNESS_SAMPLES = 128  # 4 full batches: witnesses count epochs/batches, they need no more


def regression(n: int = N_SAMPLES, d: int = N_FEATURES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`(x, y)` with x ~ N(0, 1) of shape (n, d) and y of shape (n, 1), both float32."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    w = rng.standard_normal((d, 1)) / np.sqrt(d)
    y = x @ w + 0.3 * np.tanh(x[:, :1] * x[:, 1:2])
    y = y / y.std()
    return x.astype(np.float32), y.astype(np.float32)


def witness_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The witnesses' data: `regression(WITNESS_SAMPLES)`."""
    return regression(n=WITNESS_SAMPLES, seed=seed)


def num_batches(n: int, batch_size: int = BATCH_SIZE) -> int:
    """Batches in one pass over n samples (the last one may be partial)."""
    return -(-n // batch_size)


def slices(x: np.ndarray, y: np.ndarray, batch_size: int = BATCH_SIZE):
    """The seed's batching: `x[b:b + batch_size]` for b in range(0, len(x), batch_size)."""
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]
