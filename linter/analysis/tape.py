"""`tf.GradientTape` blocks and `tape.gradient(...)` calls.

During the walk rules keep cheap syntactic candidates (`gradient_call`, `Site`); in `finish()`
these helpers decide, through the module's bindings, whether the receiver really is a
GradientTape (`with tf.GradientTape() as tape`, `persistent=True`, several tapes in one `with`,
`tape = tf.GradientTape()` then `with tape:`), and which model a gradient is taken for
(`model.trainable_variables`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.analysis.calls import GRADIENT, argument
from linter.semantic import AFTER_ALL, Scope, SemanticModel, Site, dotted

TAPE_CLASSES = frozenset({"tensorflow.GradientTape", "tensorflow.autodiff.GradientTape"})
TRAINABLE_ATTRS = frozenset({"trainable_variables", "trainable_weights"})
_MAX_DEPTH = 8


@dataclass
class GradientCall:
    """A `<x>.gradient(target, sources)` call: a candidate until `x` is shown to be a tape."""

    call: cst.Call
    tape: cst.BaseExpression
    target: Optional[cst.BaseExpression]
    sources: Optional[cst.BaseExpression]
    site: Site


def gradient_call(node: cst.Call, ctx) -> Optional[GradientCall]:
    """A syntactic candidate (called from a rule's `visit_Call`): `<expr>.gradient(...)`."""
    func = node.func
    if not (isinstance(func, cst.Attribute) and func.attr.value == "gradient"):
        return None
    return GradientCall(node, func.value, argument(node, "target", GRADIENT), argument(node, "sources", GRADIENT), Site.of(ctx))


def is_tape_constructor(expr: cst.CSTNode, scope: Scope, sem: SemanticModel) -> bool:
    return isinstance(expr, cst.Call) and sem.qualified_name(expr.func, scope) in TAPE_CLASSES


def is_tape(expr: cst.CSTNode, site: Site, sem: SemanticModel, _depth: int = 0) -> bool:
    """Is `expr` a GradientTape: a constructor call, or a name bound to one (`as tape`, `tape = ...`)."""
    if _depth > _MAX_DEPTH:
        return False
    if isinstance(expr, cst.Call):
        return is_tape_constructor(expr, site.scope, sem)
    if isinstance(expr, cst.Name):
        for b in sem.reaching(expr.value, site.scope, site.seq, site.ancestors):
            if b.kind in ("with", "assign", "annassign") and b.value is not None:
                if is_tape(b.value, Site.of_binding(b), sem, _depth + 1):
                    return True
    return False


def with_opens_tape(node: cst.With, site: Site, sem: SemanticModel) -> bool:
    """Does this `with` statement record on a GradientTape (any of its items)?"""
    return any(is_tape(item.item, site, sem) for item in node.items)


def gradient_model(sources: Optional[cst.BaseExpression], site: Site, sem: SemanticModel, _depth: int = 0) -> Optional[tuple[cst.BaseExpression, Site]]:
    """The model whose variables a gradient is taken for: `m` in `tape.gradient(loss,
    m.trainable_variables)` (also through a name bound to it), with the site to resolve `m` at."""
    if sources is None or _depth > _MAX_DEPTH:
        return None
    if isinstance(sources, cst.Attribute) and sources.attr.value in TRAINABLE_ATTRS:
        return sources.value, site
    if isinstance(sources, cst.Name):
        found = None
        for b in sem.reaching(sources.value, site.scope, site.seq, site.ancestors):
            if b.kind not in ("assign", "annassign") or b.value is None:
                return None
            got = gradient_model(b.value, Site.of_binding(b), sem, _depth + 1)
            if got is None or (found is not None and found[0] is not got[0]):
                return None
            found = got
        return found
    return None


_WEIGHT_ATTRS = TRAINABLE_ATTRS | {"variables", "weights"}
VARIABLE_CLASSES = frozenset({"tensorflow.Variable", "keras.Variable", "keras.backend.variable"})


def trains_weights(
    sources: Optional[cst.BaseExpression], site: Site, sem: SemanticModel, watched: frozenset = frozenset(),
    owners: Optional[set] = None, _depth: int = 0,
) -> Optional[bool]:
    """Is a gradient taken with respect to weights (a training step) rather than inputs?

    True for `model.trainable_variables` / `trainable_weights` / `.weights`, `tf.Variable`s and
    collections of them (also through names); False for names in `watched` (tensors passed to
    `tape.watch`: saliency maps, adversarial examples, gradient penalties); None when unknown.
    `owners`, when given, collects the dotted names of the objects whose weights these are
    (`model`, `self`, `self.student`; "?" for one that has no dotted name).
    """
    if sources is None or _depth > _MAX_DEPTH:
        return None
    if isinstance(sources, cst.Attribute):
        if sources.attr.value not in _WEIGHT_ATTRS:
            return None
        if owners is not None:
            owners.add(dotted(sources.value) or "?")
        return True
    if isinstance(sources, cst.Call):
        return True if sem.qualified_name(sources.func, site.scope) in VARIABLE_CLASSES else None
    if isinstance(sources, cst.Name):
        if sources.value in watched:
            return False
        verdicts = []
        for b in sem.reaching(sources.value, site.scope, site.seq, site.ancestors):
            if b.kind in ("assign", "annassign") and b.value is not None:
                verdicts.append(trains_weights(b.value, Site.of_binding(b), sem, watched, owners, _depth + 1))
            else:
                verdicts.append(None)
        return _any(verdicts)
    if isinstance(sources, (cst.List, cst.Tuple)):
        return _any([trains_weights(el.value, site, sem, watched, owners, _depth + 1) for el in sources.elements])
    if isinstance(sources, cst.BinaryOperation):
        return _any([trains_weights(sources.left, site, sem, watched, owners, _depth + 1), trains_weights(sources.right, site, sem, watched, owners, _depth + 1)])
    return None


def _any(verdicts: list) -> Optional[bool]:
    if any(v is True for v in verdicts):
        return True
    if verdicts and all(v is False for v in verdicts):
        return False
    return None


def watched_name(node: cst.Call) -> Optional[str]:
    """`tape.watch(x)` -> "x" (a syntactic candidate; the rule checks the tape in finish())."""
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value == "watch" and node.args and isinstance(node.args[0].value, cst.Name):
        return node.args[0].value.value
    return None
