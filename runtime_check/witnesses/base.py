"""Witness plumbing: the `Witness` record, the `witness(...)` registering decorator, `Outcome`,
and small measuring helpers (exceptions, epoch/batch counting callbacks, trace counters).

A witness function takes the loaded `Env` and returns an `Outcome`: structured evidence
(numbers and strings only, JSON-serialisable), named boolean `checks` whose conjunction is
`confirmed` (the version-appropriate claim holds) and a one-line `summary` for the text table
and `epochlint explain`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from runtime_check.env import Env

REGISTRY: dict[str, "Witness"] = {}


@dataclass(frozen=True)
class Outcome:
    evidence: dict[str, Any]
    checks: "Checks"
    summary: str

    @property
    def confirmed(self) -> bool:
        return self.checks.confirmed


@dataclass(frozen=True)
class Witness:
    code: str
    claim: str  # the rule's claim (`Rule.claim`): what happens, in every Keras version where it differs
    run: Callable[[Env], Outcome]
    covers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the firing conditions it measures


def witness(code: str, covers: Mapping[str, Sequence[str]]) -> Callable[[Callable[[Env], Outcome]], Callable[[Env], Outcome]]:
    """Register `fn` as the witness of rule `code` (one per code). The claim it proves is the
    rule's own (`Rule.claim`, never a copy); `covers` names, per dimension of the rule's
    `fires_on`, the conditions the witness really measures (tests/test_rule_contract.py checks
    that they include every condition the rule fires on)."""
    from linter.rules import RULES_BY_CODE  # the linter never imports TensorFlow: neither does this

    rule = RULES_BY_CODE.get(code)
    if rule is None:
        raise RuntimeError(f"a witness for {code}, which is not a rule")

    def register(fn: Callable[[Env], Outcome]) -> Callable[[Env], Outcome]:
        if code in REGISTRY:
            raise RuntimeError(f"two witnesses for {code}")
        measured = {dim: tuple(values) for dim, values in covers.items()}
        REGISTRY[code] = Witness(code=code, claim=" ".join(rule.claim.split()), run=fn, covers=measured)
        return fn

    return register


def raised(fn: Callable[[], Any]) -> dict[str, Any]:
    """Call fn; `{"raised": False}` or `{"raised": True, "type": ..., "message": ...}`.

    The message is the exception's last meaningful line (tf.function wraps errors raised at
    trace time in a traceback-like "in user code:" text), cut to 240 characters.
    """
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the exception is the measurement
        return {"raised": True, "type": type(exc).__name__, "message": last_line(exc)}
    return {"raised": False}


def clip(text: str, limit: int = 120) -> str:
    """`text` in at most `limit` characters without cutting a sentence or a word: up to the last
    sentence end that fits, else the last whole word and "...". Keras glues sentences ("NumPy
    arrays.Found incompatible type"): a space goes back after such a full stop first."""
    import re

    text = re.sub(r"(?<=[a-z)\]`'\"])\.(?=[A-Z])", ". ", " ".join(text.split()))
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s)", head)]
    if ends and ends[-1] >= limit // 3:
        return head[: ends[-1]]
    cut = head[: limit - 4].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " ..."


def last_line(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc.args, tuple) or len(exc.args) != 2 else " ".join(map(str, exc.args))
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else type(exc).__name__
    prefix = type(exc).__name__ + ": "
    if line.startswith(prefix):
        line = line[len(prefix):]
    return line[:240]


def counter_callback(env: Env, max_batches: int | None = None, hard_limit: int | None = None) -> Any:
    """A Keras callback that counts batches per epoch and begun/ended epochs.

    With `max_batches` it sets `model.stop_training` after that many batches in all; with
    `hard_limit` it raises `RunawayTraining` if training goes on anyway (never an endless run).
    """
    k = env.keras

    class Counter(k.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.per_epoch: list[int] = []
            self.begun: list[int] = []
            self.ended: list[int] = []
            self.ended_at: list[int] = []  # batches run in all when each epoch ended
            self.total = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.begun.append(int(epoch))
            self.per_epoch.append(0)

        def on_epoch_end(self, epoch, logs=None):
            self.ended.append(int(epoch))
            self.ended_at.append(self.total)

        def on_train_batch_end(self, batch, logs=None):
            self.total += 1
            if self.per_epoch:
                self.per_epoch[-1] += 1
            if max_batches is not None and self.total >= max_batches:
                self.model.stop_training = True
            if hard_limit is not None and self.total >= hard_limit:
                raise RunawayTraining(f"training went on for {self.total} batches after stop_training")

    return Counter()


class RunawayTraining(RuntimeError):
    """A bounded experiment did not stop when asked."""


def epochs_run(history: Any) -> int:
    return len(history.epoch)


def rounded(values, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


def r(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


@dataclass
class Checks:
    """Named boolean checks; `confirmed` is all of them."""

    items: dict[str, bool] = field(default_factory=dict)

    def add(self, name: str, ok: bool) -> bool:
        self.items[name] = bool(ok)
        return bool(ok)

    @property
    def confirmed(self) -> bool:
        return bool(self.items) and all(self.items.values())

    def failed(self) -> list[str]:
        return [k for k, v in self.items.items() if not v]
