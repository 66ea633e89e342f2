"""What a loss value is, followed through a function's assignments: per-sample or scalar, and
which terms it adds up.

`LossShapes.shape(expr, site)` says whether an expression holds a per-sample loss vector (the
result of `keras.losses.mean_squared_error` & co., `tf.nn.*_cross_entropy_with_logits`, or a loss
object built with `reduction=None`/`"none"`), a scalar (a full reduction, a default-reduction loss
object, arithmetic on scalars), or something unknown. A loss *function* returns a vector only
when its inputs have rank >= 2 (it averages over the last axis: rank-1 inputs give the batch
mean), so its `Shape.known` is True only when an input is known to be of rank >= 2 (a model's
output, followed through names and element-wise arithmetic); `known=False` is for `--strict`.
Names are followed through their reaching bindings (`SemanticModel.reaching`): `loss = mse(...); loss = tf.reduce_mean(loss)` is scalar.

`LossShapes.terms(expr, site)` lists what a loss is made of, for EPL209: whether it includes
`model.losses` (the regularization penalties) and whether anything in it is unknown.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.analysis.calls import LOSS_FUNCTION, NN_LOSS, REDUCTION, argument, find_argument
from linter.analysis.tape import AFTER_ALL, Site
from linter.semantic import SemanticModel, dotted

PER_SAMPLE = "per-sample"
SCALAR = "scalar"
UNKNOWN = "unknown"

# Loss functions that return one value per sample: (batch,) from (batch, d) inputs.
_KERAS_LOSS_FUNCTIONS = frozenset(
    {
        "mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE",
        "mean_absolute_percentage_error", "mape", "MAPE", "mean_squared_logarithmic_error", "msle",
        "MSLE", "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
        "categorical_focal_crossentropy", "sparse_categorical_crossentropy",
        "categorical_generalized_cross_entropy", "categorical_hinge", "hinge", "squared_hinge",
        "huber", "log_cosh", "logcosh", "kl_divergence", "kld", "KLD", "kullback_leibler_divergence",
        "poisson", "cosine_similarity", "ctc", "circle",
    }
)
# `dice` and `tversky` are absent on purpose: with the default `axis=None` they return a scalar.
_KERAS_LOSS_NAMESPACES = ("keras.losses.", "keras.metrics.", "keras.src.losses.losses.", "tensorflow.losses.", "tensorflow.metrics.")
_OTHER_PER_SAMPLE = frozenset(
    {
        "keras.backend.binary_crossentropy", "keras.backend.categorical_crossentropy",
        "keras.backend.sparse_categorical_crossentropy", "keras.backend.binary_focal_crossentropy",
        "keras.backend.categorical_focal_crossentropy", "keras.backend.ctc_batch_cost",
        "keras.ops.binary_crossentropy", "keras.ops.categorical_crossentropy",
        "keras.ops.sparse_categorical_crossentropy", "keras.ops.ctc_loss",
        "keras.ops.nn.binary_crossentropy", "keras.ops.nn.categorical_crossentropy",
        "keras.ops.nn.sparse_categorical_crossentropy", "keras.ops.nn.ctc_loss",
        "tensorflow.nn.softmax_cross_entropy_with_logits", "tensorflow.nn.softmax_cross_entropy_with_logits_v2",
        "tensorflow.nn.sparse_softmax_cross_entropy_with_logits", "tensorflow.nn.sigmoid_cross_entropy_with_logits",
        "tensorflow.nn.weighted_cross_entropy_with_logits", "tensorflow.nn.ctc_loss", "tensorflow.nn.log_poisson_loss",
    }
)

# Reductions over every axis unless an axis is given (then the result's shape is unknown).
_REDUCTIONS = frozenset(
    {
        *(f"tensorflow.{p}reduce_{r}" for p in ("", "math.") for r in ("mean", "sum", "max", "min", "prod", "logsumexp", "euclidean_norm")),
        "tensorflow.norm", "tensorflow.linalg.norm",
        *(f"keras.ops.{r}" for r in ("mean", "sum", "max", "min", "prod", "logsumexp", "nanmean", "nansum", "average", "median", "std", "var")),
        *(f"keras.ops.numpy.{r}" for r in ("mean", "sum")),
        *(f"keras.backend.{r}" for r in ("mean", "sum", "max", "min", "prod", "std", "var")),
        *(f"{m}.{r}" for m in ("numpy", "tensorflow.experimental.numpy", "jax.numpy", "torch") for r in ("mean", "sum", "average")),
    }
)
# Always a scalar, whatever the input.
_SCALAR_RESULTS = frozenset(
    {"tensorflow.nn.compute_average_loss", "tensorflow.nn.scale_regularization_loss", "tensorflow.nn.l2_loss", "builtins.sum", "builtins.float"}
)
# Element-wise: the result has the broadcast shape of the (tensor) arguments.
_ELEMENTWISE_NAMES = frozenset(
    {"add_n", "square", "abs", "sqrt", "exp", "log", "multiply", "add", "subtract", "divide", "maximum", "minimum", "cast", "negative", "pow", "power", "divide_no_nan", "multiply_no_nan", "squared_difference"}
)
_ELEMENTWISE_NAMESPACES = ("tensorflow.", "tensorflow.math.", "keras.ops.", "keras.backend.", "numpy.")
_REDUCING_METHODS = frozenset({"mean", "sum"})
_RANK_CHANGING_NAMES = frozenset({"squeeze", "reshape", "flatten", "ravel"})
_ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power, cst.FloorDivide, cst.Modulo)
_AUG_ARITHMETIC = (cst.AddAssign, cst.SubtractAssign, cst.MultiplyAssign, cst.DivideAssign, cst.PowerAssign, cst.FloorDivideAssign)
_MAX_DEPTH = 40


@dataclass(frozen=True)
class Shape:
    """PER_SAMPLE / SCALAR / UNKNOWN; for PER_SAMPLE, the call that produced the vector."""

    kind: str
    origin: Optional[cst.Call] = None
    origin_name: str = ""
    known: bool = True  # PER_SAMPLE: the vector's rank is known (False: a guess, for --strict)


_UNKNOWN = Shape(UNKNOWN)
_SCALAR = Shape(SCALAR)


@dataclass
class Terms:
    """What a loss adds up (EPL209)."""

    has_loss: bool = False  # a recognised loss computation is part of it
    adds_model_losses: bool = False  # `model.losses` (or `self.losses`) is part of it
    unknown: bool = False  # some part could not be followed (an unknown call, a parameter, ...)

    def add(self, other: "Terms") -> "Terms":
        self.has_loss |= other.has_loss
        self.adds_model_losses |= other.adds_model_losses
        self.unknown |= other.unknown
        return self


def loss_function_name(qname: Optional[str]) -> Optional[str]:
    """The canonical per-sample loss function a name refers to, or None."""
    if qname is None:
        return None
    if qname in _OTHER_PER_SAMPLE:
        return qname
    for ns in _KERAS_LOSS_NAMESPACES:
        if qname.startswith(ns) and qname[len(ns):] in _KERAS_LOSS_FUNCTIONS:
            return qname
    return None


def is_loss_class(qname: Optional[str]) -> bool:
    """`keras.losses.MeanSquaredError` & co. (classes: capitalised, not the `MSE` aliases)."""
    if qname is None or not qname.startswith(("keras.losses.", "tensorflow.losses.")):
        return False
    last = qname.rsplit(".", 1)[1]
    return last[:1].isupper() and not last.isupper() and last not in ("Reduction", "Loss")


def _elementwise(qname: str) -> bool:
    ns, _, last = qname.rpartition(".")
    return last in _ELEMENTWISE_NAMES and f"{ns}." in _ELEMENTWISE_NAMESPACES


class LossShapes:
    """Shape and terms of loss expressions in one module (memoised)."""

    def __init__(self, ctx) -> None:
        self.sem: SemanticModel = getattr(ctx, "semantic", ctx)  # a file's context (or its SemanticModel)
        self.models: frozenset = frozenset()  # see `set_models`
        self._shapes: dict = {}
        self._ranks: dict = {}
        # id(helper scope) -> {parameter: (argument, caller's Site)} while a call of that helper
        # is followed (`generator_loss(fake_output)`): a parameter's rank is its argument's
        self._args: dict[int, dict] = {}
        self._terms: dict = {}

    def set_models(self, models: frozenset) -> None:
        """The dotted names of the objects whose weights the module differentiates (calling one
        gives a value of rank >= 2); answers given before are forgotten."""
        if models != self.models:
            self.models = models
            self._shapes.clear()
            self._ranks.clear()

    # ------------------------------------------------------------------ shape
    def shape(self, expr: cst.CSTNode, site: Site, _depth: int = 0) -> Shape:
        if _depth > _MAX_DEPTH:
            return _UNKNOWN
        key = (id(expr), site.seq, self._args_key())
        if key in self._shapes:
            return self._shapes[key]
        self._shapes[key] = _UNKNOWN  # recursion guard
        result = self._shape(expr, site, _depth + 1)
        self._shapes[key] = result
        return result

    def _shape(self, expr: cst.CSTNode, site: Site, depth: int) -> Shape:
        if isinstance(expr, (cst.Integer, cst.Float)):
            return _SCALAR
        if isinstance(expr, cst.Name):
            return self._name_shape(expr, site, depth)
        if isinstance(expr, cst.BinaryOperation):
            if not isinstance(expr.operator, _ARITHMETIC):
                return _UNKNOWN
            return _combine([self.shape(expr.left, site, depth), self.shape(expr.right, site, depth)])
        if isinstance(expr, cst.UnaryOperation):
            return self.shape(expr.expression, site, depth) if isinstance(expr.operator, (cst.Minus, cst.Plus)) else _UNKNOWN
        if isinstance(expr, cst.Call):
            return self._call_shape(expr, site, depth)
        return _UNKNOWN

    def _name_shape(self, expr: cst.Name, site: Site, depth: int) -> Shape:
        bindings = self.sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
        if not bindings:
            return _UNKNOWN
        shapes = []
        for b in bindings:
            inner = Site.of_binding(b)
            if b.kind in ("assign", "annassign") and b.value is not None:
                shapes.append(self.shape(b.value, inner, depth))
            elif b.kind == "augassign" and isinstance(b.stmt, cst.AugAssign) and isinstance(b.stmt.operator, _AUG_ARITHMETIC):
                shapes.append(_combine([self.shape(expr, inner, depth), self.shape(b.value, inner, depth)]))
            else:
                return _UNKNOWN
        return _join(shapes)

    def _call_shape(self, call: cst.Call, site: Site, depth: int) -> Shape:
        sem = self.sem
        func = call.func
        qname = sem.qualified_name(func, site.scope)
        fn = loss_function_name(qname)
        if fn is not None:
            if self._rank_changed(call, site):
                return _UNKNOWN
            inputs = [argument(call, name, params) for params in (LOSS_FUNCTION, NN_LOSS) for name in params]
            known = any(v is not None and self.at_least_2d(v, site, depth) for v in inputs)
            return Shape(PER_SAMPLE, call, fn, known)
        if qname in _SCALAR_RESULTS:
            return _SCALAR
        if qname in _REDUCTIONS:
            return _UNKNOWN if argument(call, "axis", REDUCTION) is not None or argument(call, "dim") is not None else _SCALAR
        if qname is not None and _elementwise(qname):
            shapes = []
            for arg in call.args:
                if arg.keyword is not None:
                    continue
                if isinstance(arg.value, (cst.List, cst.Tuple)):
                    shapes.extend(self.shape(el.value, site, depth) for el in arg.value.elements)
                else:
                    shapes.append(self.shape(arg.value, site, depth))
            return _combine(shapes) if shapes else _UNKNOWN
        if isinstance(func, cst.Attribute) and func.attr.value in _REDUCING_METHODS and qname is None:
            # `loss.mean()` / `.sum()` (NumPy, torch tensors): a full reduction without arguments
            return _SCALAR if not call.args else _UNKNOWN
        obj = self.loss_object(func, site, depth)
        if obj is not None:
            reduction_none, name = obj
            if reduction_none is None:
                return _UNKNOWN
            return Shape(PER_SAMPLE, call, name) if reduction_none else _SCALAR  # a loss object keeps the batch axis
        local = sem.local_def(func, site.scope)
        if isinstance(local, cst.FunctionDef):
            fn_scope = sem.scope_for(local)
            if fn_scope is None or not fn_scope.returns or fn_scope.yields:
                return _UNKNOWN
            params = [p.name.value for p in (*local.params.posonly_params, *local.params.params)]
            args = {}
            for name in params:
                arg, _ = find_argument(call, name, params)
                if arg is not None:
                    args[name] = (arg.value, site)
            saved = self._args.get(id(fn_scope))
            self._args[id(fn_scope)] = args
            try:
                return _join([self.shape(r, Site(fn_scope, seq, anc), depth) for r, seq, anc in fn_scope.return_sites])
            finally:
                if saved is None:
                    del self._args[id(fn_scope)]
                else:
                    self._args[id(fn_scope)] = saved
        return _UNKNOWN

    def _args_key(self) -> tuple:
        if not self._args:
            return ()
        return tuple((scope, name, id(value)) for scope, args in self._args.items() for name, (value, _) in args.items())

    def at_least_2d(self, expr: cst.CSTNode, site: Site, depth: int = 0) -> bool:
        """Is `expr` known to have rank >= 2: a model's output (a call of a known Keras model, or
        of an object whose weights the module differentiates), through names and element-wise
        arithmetic (broadcasting never lowers the rank)? False means unknown."""
        if depth > _MAX_DEPTH:
            return False
        key = (id(expr), site.seq, self._args_key())
        if key not in self._ranks:
            self._ranks[key] = False  # recursion guard
            self._ranks[key] = self._at_least_2d(expr, site, depth + 1)
        return self._ranks[key]

    def _at_least_2d(self, expr: cst.CSTNode, site: Site, depth: int) -> bool:
        sem = self.sem
        if isinstance(expr, cst.Name):
            bindings = sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
            return bool(bindings) and all(self._binding_2d(b, depth) for b in bindings)
        if isinstance(expr, cst.BinaryOperation):
            return isinstance(expr.operator, _ARITHMETIC) and (self.at_least_2d(expr.left, site, depth) or self.at_least_2d(expr.right, site, depth))
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, (cst.Name, cst.Attribute)):
                if dotted(func) in self.models or sem.model_provenance(func, site.scope, site=site) is True:
                    return True
                qname = sem.qualified_name(func, site.scope)
                if qname is not None and _elementwise(qname) and not qname.endswith("add_n"):
                    return any(arg.keyword is None and self.at_least_2d(arg.value, site, depth) for arg in expr.args)
        return False

    def _binding_2d(self, b, depth: int) -> bool:
        if b.kind in ("assign", "annassign") and b.value is not None:
            return self.at_least_2d(b.value, Site.of_binding(b), depth)
        passed = self._args.get(id(b.scope), {}).get(b.name) if b.kind == "param" else None
        return passed is not None and self.at_least_2d(passed[0], passed[1], depth)  # the caller's argument

    def _rank_changed(self, call: cst.Call, site: Site) -> bool:
        """A loss function fed 1-D values (`tf.squeeze(pred)`, `pred[:, 0]`) reduces to a scalar."""
        for arg in call.args[:2]:
            values = [arg.value]
            if isinstance(arg.value, cst.Name):
                values = [b.value for b in self.sem.reaching(arg.value.value, site.scope, site.seq, site.ancestors) if b.value is not None]
            for v in values:
                if isinstance(v, cst.Subscript) and len(v.slice) > 1:
                    return True
                if isinstance(v, cst.Call):
                    q = self.sem.qualified_name(v.func, site.scope)
                    last = q.rsplit(".", 1)[-1] if q else (v.func.attr.value if isinstance(v.func, cst.Attribute) else None)
                    if last in _RANK_CHANGING_NAMES:
                        return True
        return False

    def loss_object(self, func: cst.CSTNode, site: Site, depth: int = 0) -> Optional[tuple[Optional[bool], str]]:
        """If calling `func` calls a Keras loss object: (reduction is none? [None: unknown], name)."""
        if depth > _MAX_DEPTH:
            return None
        sem = self.sem
        values: list[tuple[cst.CSTNode, Site]] = []
        if isinstance(func, cst.Call):
            values = [(func, site)]
        elif isinstance(func, cst.Name):
            for b in sem.reaching(func.value, site.scope, site.seq, site.ancestors):
                if b.kind not in ("assign", "annassign") or b.value is None:
                    return None
                values.append((b.value, Site.of_binding(b)))
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and sem.is_self_param(func.value.value, site.scope):
            cls_scope = site.scope.class_scope()
            attrs = sem.class_attrs.get(id(cls_scope.node), {}).get(func.attr.value, []) if cls_scope else []
            for b in attrs:
                if b.value is None:
                    return None
                values.append((b.value, Site.of_binding(b)))
        if not values:
            return None
        verdicts = []
        for value, vsite in values:
            got = self._loss_constructor(value, vsite)
            if got is None:
                return None
            verdicts.append(got)
        nones = {v[0] for v in verdicts}
        return (nones.pop() if len(nones) == 1 else None), verdicts[0][1]

    def _loss_constructor(self, value: cst.CSTNode, site: Site) -> Optional[tuple[Optional[bool], str]]:
        if not isinstance(value, cst.Call):
            return None
        sem = self.sem
        qname = sem.qualified_name(value.func, site.scope)
        if is_loss_class(qname):
            name = qname.rsplit(".", 1)[1]
        else:
            local = sem.local_def(value.func, site.scope)
            if not (isinstance(local, cst.ClassDef) and sem.class_derives_from(local, frozenset({"keras.losses.Loss"}))):
                return None
            name = local.name.value
        reduction = argument(value, "reduction")
        if reduction is None:
            return False, name
        verdict = self._reduction_is_none(reduction, site)
        return verdict, f"{name}(reduction=None)" if verdict else name

    def _reduction_is_none(self, value: cst.BaseExpression, site: Site) -> Optional[bool]:
        if isinstance(value, cst.Name) and value.value == "None":
            return True
        if isinstance(value, cst.SimpleString):
            return str(value.evaluated_value).lower() == "none"
        q = self.sem.qualified_name(value, site.scope)
        if q is not None and ".Reduction." in q:
            return q.endswith(".NONE")
        return None

    # ------------------------------------------------------------------ terms (EPL209)
    def terms(self, expr: cst.CSTNode, site: Site, _depth: int = 0) -> Terms:
        if _depth > _MAX_DEPTH:
            return Terms(unknown=True)
        key = (id(expr), site.seq)
        if key in self._terms:
            return self._terms[key]
        self._terms[key] = Terms(unknown=True)  # recursion guard
        result = self._terms_of(expr, site, _depth + 1)
        self._terms[key] = result
        return result

    def _terms_of(self, expr: cst.CSTNode, site: Site, depth: int) -> Terms:
        sem = self.sem
        if isinstance(expr, (cst.Integer, cst.Float)):
            return Terms()
        if isinstance(expr, cst.Attribute):
            if expr.attr.value == "losses":
                return Terms(adds_model_losses=True)
            return Terms(unknown=True)
        if isinstance(expr, cst.Name):
            bindings = sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
            if not bindings:
                return Terms(unknown=True)
            out = Terms()
            for b in bindings:
                inner = Site.of_binding(b)
                if b.kind in ("assign", "annassign", "for") and b.value is not None:
                    out.add(self.terms(b.value, inner, depth))
                elif b.kind == "augassign" and b.value is not None:
                    out.add(self.terms(expr, inner, depth)).add(self.terms(b.value, inner, depth))
                else:
                    out.unknown = True
            return out
        if isinstance(expr, cst.BinaryOperation):
            return Terms().add(self.terms(expr.left, site, depth)).add(self.terms(expr.right, site, depth))
        if isinstance(expr, cst.UnaryOperation):
            return Terms().add(self.terms(expr.expression, site, depth))
        if isinstance(expr, (cst.List, cst.Tuple)):
            out = Terms()
            for el in expr.elements:
                out.add(self.terms(el.value, site, depth))
            return out
        if isinstance(expr, cst.Subscript):
            return Terms().add(self.terms(expr.value, site, depth))
        if isinstance(expr, cst.Call):
            return self._call_terms(expr, site, depth)
        return Terms(unknown=True)

    def _call_terms(self, call: cst.Call, site: Site, depth: int) -> Terms:
        sem = self.sem
        qname = sem.qualified_name(call.func, site.scope)
        if loss_function_name(qname) is not None:
            return Terms(has_loss=True)
        if self.loss_object(call.func, site, depth) is not None:
            return Terms(has_loss=True)
        if qname is not None and (qname in _REDUCTIONS or qname in _SCALAR_RESULTS or _elementwise(qname)):
            out = Terms()
            for arg in call.args:
                if arg.keyword is None:
                    out.add(self.terms(arg.value, site, depth))
            return out
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in _REDUCING_METHODS and qname is None:
            return Terms().add(self.terms(call.func.value, site, depth))
        local = sem.local_def(call.func, site.scope)
        if isinstance(local, cst.FunctionDef):
            fn_scope = sem.scope_for(local)
            if fn_scope is None or not fn_scope.returns or fn_scope.yields:
                return Terms(unknown=True)
            inner = Site(fn_scope, AFTER_ALL, ())
            out = Terms()
            for r in fn_scope.returns:
                out.add(self.terms(r, inner, depth))
            return out
        return Terms(unknown=True)


def _combine(shapes: list[Shape]) -> Shape:
    """Arithmetic / element-wise: a vector operand keeps the result a vector (broadcasting
    never reduces); scalars with scalars stay scalar; anything else is unknown."""
    vectors = [s for s in shapes if s.kind == PER_SAMPLE]
    if vectors:
        return next((s for s in vectors if s.known), vectors[0])
    if shapes and all(s.kind == SCALAR for s in shapes):
        return _SCALAR
    return _UNKNOWN


def _join(shapes: list[Shape]) -> Shape:
    """Several bindings may reach a use: a verdict only when they all agree."""
    if not shapes:
        return _UNKNOWN
    kinds = {s.kind for s in shapes}
    if kinds == {PER_SAMPLE}:
        return shapes[0] if all(s.known for s in shapes) else next(s for s in shapes if not s.known)
    if kinds == {SCALAR}:
        return _SCALAR
    return _UNKNOWN
