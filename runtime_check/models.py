"""Tiny model builders shared by the patterns and the witnesses.

`seed_functional`/`seed_sequential`/`seed_subclassed` are the seed article's network
(Input(10) -> Dense(64, relu) -> Dense(1)) in Keras's three model-building styles; `small`
is a Dense(8) net for witnesses that only count epochs, batches or exceptions. Every builder
seeds first, so the same seed gives the same initial weights.
"""
from __future__ import annotations

from typing import Any

from runtime_check.data import N_FEATURES
from runtime_check.env import Env


def seed_functional(env: Env, seed: int = 0, d: int = N_FEATURES, units: int = 64) -> Any:
    env.seed(seed)
    k = env.keras
    inputs = k.Input(shape=(d,))
    x = k.layers.Dense(units, activation="relu")(inputs)
    outputs = k.layers.Dense(1)(x)
    return k.Model(inputs=inputs, outputs=outputs)


def seed_sequential(env: Env, seed: int = 0, d: int = N_FEATURES, units: int = 64) -> Any:
    env.seed(seed)
    k = env.keras
    return k.Sequential([k.Input(shape=(d,)), k.layers.Dense(units, activation="relu"), k.layers.Dense(1)])


def seed_subclassed(env: Env, seed: int = 0, d: int = N_FEATURES, units: int = 64) -> Any:
    env.seed(seed)
    k = env.keras

    class TwoLayer(k.Model):
        def __init__(self):
            super().__init__()
            self.hidden = k.layers.Dense(units, activation="relu")
            self.out = k.layers.Dense(1)

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    model = TwoLayer()
    model(k.ops.zeros((1, d)) if env.keras_major >= 3 else env.tf.zeros((1, d)))  # build the weights
    return model


def small(env: Env, seed: int = 0, d: int = N_FEATURES, compile: bool = True, optimizer: str = "sgd") -> Any:
    """Input(d) -> Dense(8, relu) -> Dense(1), compiled with MSE unless `compile=False`."""
    model = seed_functional(env, seed=seed, d=d, units=8)
    if compile:
        model.compile(optimizer=optimizer, loss="mse")
    return model


def weights(model: Any) -> list:
    """A numpy copy of every weight, for before/after comparisons."""
    return [w.numpy().copy() for w in model.weights]
