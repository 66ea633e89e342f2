"""Which layers a same-module Keras model contains: those with training behaviour (EPL202) and
those that add regularization losses (EPL209).

A model is followed to where it is built: a `Sequential([...])` list plus `.add()` calls on its
name; the functional API (`keras.Model(inputs, outputs)`: the layers applied on the way from the
outputs back to the inputs, through names, helper functions and sub-models); a subclassed model
(`self.x = layers.Dropout(...)` in its methods, layers built and applied inline, `add_loss`); a
builder function's return value; `keras.applications.*`. Layer arguments count too: `dropout=`
on recurrent/attention layers, `*_regularizer=`, `add_weight(regularizer=)`.

`Contents.complete` is False when some part could not be followed (a parameter, a layer from
another package, a loaded model): then the absence of a layer proves nothing, and rules stay
silent unless `--strict`. Parts of the module are re-walked only on demand, for models a rule
actually asks about.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

import libcst as cst

from linter import names as N
from linter.analysis.calls import CLONE_MODEL, FUNCTIONAL, SEQUENTIAL, argument, find_argument
from linter.analysis.tape import AFTER_ALL, Site
from linter.semantic import Scope, SemanticModel
from linter.walker import child_fields, iter_nodes

# Layers whose call depends on `training`: dropout and noise are identity at inference,
# BatchNormalization normalizes with (and only in training updates) its moving statistics,
# SpectralNormalization only updates its power iteration in training. Not the augmentation layers
# (RandomFlip, RandomRotation, ..., MixUp): their `training` defaults to True, so they augment
# when the model is called without it (measured on Keras 3.15 and tf_keras 2.21).
DROPOUT_FAMILY = frozenset(
    {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout", "GaussianDropout", "GaussianNoise"}
)
NORMALIZATION_WITH_STATE = frozenset({"BatchNormalization", "SyncBatchNormalization", "SpectralNormalization"})
# Layers whose own `dropout=`-style arguments act only in training.
DROPOUT_ARGUMENTS = ("dropout", "recurrent_dropout", "attention_dropout")
REGULARIZER_LAYERS = frozenset({"ActivityRegularization"})
INPUTS = frozenset({"keras.Input", "keras.layers.Input", "keras.layers.InputLayer"})
LAYER_BASES = frozenset({"keras.layers.Layer", "keras.Layer", "keras.Model", "keras.Sequential", "builtins.object"})
# keras.applications: families built with BatchNormalization (EfficientNet also has Dropout);
# VGG has neither.
_APPLICATIONS_WITH_BN = ("ResNet", "MobileNet", "EfficientNet", "DenseNet", "Inception", "Xception", "NASNet", "RegNet")
_APPLICATIONS_PLAIN = ("VGG",)
# How far back from a functional model's outputs the layers are followed (two steps per layer
# application): deep enough for real models, shallow enough for Python's recursion limit.
MAX_TENSOR_DEPTH = 240
_OP_NAMESPACES = ("tensorflow.", "keras.ops.", "keras.backend.", "keras.activations.", "numpy.", "builtins.", "keras.random.")


def layer_class(qname: Optional[str]) -> Optional[str]:
    """The layer class a canonical name constructs: `keras.layers.Dense`, `keras.layers.experimental.
    preprocessing.RandomFlip`, and Keras 3's internal `keras.src.layers.core.dense.Dense` (which
    IDEs auto-import) give "Dense"/"RandomFlip"; functions (`keras.layers.add`), inputs and
    anything else give None."""
    if qname is None or qname in INPUTS or not qname.startswith(("keras.layers.", "keras.src.layers.")):
        return None
    last = qname.rsplit(".", 1)[1]
    return last if last[:1].isupper() and last not in ("Input", "InputLayer") else None


def is_layer_function(qname: Optional[str]) -> bool:
    """`keras.layers.add`, `concatenate`, ...: functional merges applied to tensors."""
    return qname is not None and qname.startswith(("keras.layers.", "keras.src.layers.")) and not qname.rsplit(".", 1)[1][:1].isupper()


def has_training_behaviour(layer_name: str) -> bool:
    return layer_name in DROPOUT_FAMILY or layer_name in NORMALIZATION_WITH_STATE


@dataclass
class Contents:
    """What a model (or a part of one) is known to contain."""

    training: list = field(default_factory=list)  # layers with training behaviour, described
    regularizers: list = field(default_factory=list)  # regularized layers / add_loss, described
    complete: bool = True  # False: some part is unknown, so an absence proves nothing

    def add(self, other: "Contents") -> "Contents":
        for t in other.training:
            if t not in self.training:
                self.training.append(t)
        for r in other.regularizers:
            if r not in self.regularizers:
                self.regularizers.append(r)
        self.complete = self.complete and other.complete
        return self

    def copy(self) -> "Contents":
        return Contents(list(self.training), list(self.regularizers), self.complete)


def _unknown() -> Contents:
    return Contents(complete=False)


def _imported(fact: Optional[dict]) -> Contents:
    """What a model built by another project module contains, from its summary
    (linter.project.summary: a builder function's or model class's "contents")."""
    contents = fact.get("contents") if fact is not None and fact.get("model") is True else None
    if not isinstance(contents, dict):
        return _unknown()
    training, regularizers = contents.get("training"), contents.get("regularizers")
    if not isinstance(training, list) or not isinstance(regularizers, list):
        return _unknown()
    return Contents([str(t) for t in training], [str(r) for r in regularizers], contents.get("complete") is True)


_NESTED_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


@dataclass
class _ClassIndex:
    called_attrs: set = field(default_factory=set)  # `self.<attr>(...)` calls
    add_loss: bool = False
    weight_regularizer: bool = False
    inline_layers: list = field(default_factory=list)  # (call whose func is a call, method scope)
    uses_training: bool = False  # `call()` branches on its `training` argument
    defines_call: bool = False


class ModelContents:
    """Model contents for one module (memoised; on-demand indexes of frames and classes)."""

    def __init__(self, ctx) -> None:
        self.sem: SemanticModel = getattr(ctx, "semantic", ctx)  # a file's context (or its SemanticModel)
        self._memo: dict = {}
        self._frame_calls: dict = {}
        self._class_index: dict = {}
        self._instances: Optional[dict] = None
        # id(builder FunctionDef) -> its flag parameters this construction leaves off
        # (`downsample(64)` with `def downsample(ch, apply_dropout=False)`): the `if flag:` blocks
        # of that builder never run for this model
        self._off: dict[int, frozenset] = {}

    # ------------------------------------------------------------------ public
    def of_callee(self, expr: cst.CSTNode, site: Site) -> Optional[Contents]:
        """Contents of the model that `expr(...)` calls, or None if `expr` is not followed."""
        try:
            return self._of_callee(expr, site)
        except RecursionError:  # an absurdly deep chain: give up on this model, not on the file
            return _unknown()

    def _of_callee(self, expr: cst.CSTNode, site: Site) -> Optional[Contents]:
        sem = self.sem
        if isinstance(expr, cst.Name) and sem.is_self_param(expr.value, site.scope):
            cls_scope = site.scope.class_scope()
            if cls_scope is None or sem.is_model_class(cls_scope.node) is not True:
                return None
            return self.of_class(cls_scope.node, as_model=True)
        return self.component(expr, site)

    def of_class(self, cls: cst.ClassDef, as_model: bool = False) -> Contents:
        """A same-module Layer/Model subclass; `as_model`: a functional-style subclass (no
        `call`) takes its layers from where it is instantiated with inputs and outputs."""
        key = ("class", id(cls), as_model)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = _unknown()
        out = self._class(cls, set())
        if as_model and not self._defines_call(cls, set()):
            out.add(self._instances_of(cls))
        self._memo[key] = out
        return out

    def component(self, expr: cst.CSTNode, site: Site, depth: int = 0) -> Contents:
        """A layer- or model-valued expression."""
        if depth > 30:
            return _unknown()
        key = ("component", id(expr), site.seq, self._off_key())
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = _unknown()  # recursion guard
        out = self._component(expr, site, depth + 1)
        self._memo[key] = out
        return out

    def tensor(self, expr: cst.CSTNode, site: Site, depth: int = 0) -> Contents:
        """The layers that produced a (symbolic) tensor, back to the model's inputs."""
        if depth > MAX_TENSOR_DEPTH:
            return _unknown()
        key = ("tensor", id(expr), site.seq, self._off_key())
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = Contents()  # a cycle adds nothing new
        out = self._tensor(expr, site, depth + 1)
        self._memo[key] = out
        return out

    # ------------------------------------------------------------------ components
    def _component(self, expr: cst.CSTNode, site: Site, depth: int) -> Contents:
        sem = self.sem
        if isinstance(expr, cst.Call):
            return self._constructed(expr, site, depth)
        if isinstance(expr, cst.Name):
            if sem.is_self_param(expr.value, site.scope):
                cls_scope = site.scope.class_scope()
                return self.of_class(cls_scope.node, as_model=True) if cls_scope else _unknown()
            bindings = sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
            if not bindings:
                return _unknown()
            out = Contents()
            for b in bindings:
                if self._never_runs(b):
                    continue
                if b.kind in ("assign", "annassign") and b.value is not None:
                    out.add(self.component(b.value, Site.of_binding(b), depth))
                    out.add(self._added_to(b, depth))
                elif b.kind == "param" and sem.param_arguments(b):
                    for value, call_site in sem.param_arguments(b):  # the model every call passes
                        out.add(self.component(value, call_site, depth))
                else:
                    out.complete = False
            return out
        if isinstance(expr, cst.Attribute):
            if isinstance(expr.value, cst.Name) and sem.is_self_param(expr.value.value, site.scope):
                cls_scope = site.scope.class_scope()
                bindings = sem.class_attrs.get(id(cls_scope.node), {}).get(expr.attr.value) if cls_scope else None
                if not bindings:
                    return _unknown()
                out = Contents()
                for b in bindings:
                    out.add(self.component(b.value, Site.of_binding(b), depth) if b.value is not None else _unknown())
                return out
            return _unknown()
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            out = Contents()
            for el in expr.elements:
                out.add(self.component(el.value, site, depth))
            return out
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            inner = sem.scope_for(expr) or site.scope
            return self.component(expr.elt, Site(inner, site.seq, site.ancestors), depth)
        if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
            return Contents()
        return _unknown()

    def _constructed(self, call: cst.Call, site: Site, depth: int) -> Contents:
        sem = self.sem
        q = sem.qualified_name(call.func, site.scope)
        if q in INPUTS:
            return Contents()  # `keras.Input(...)` as the first entry of a Sequential list
        if q == "keras.Sequential":
            layers = argument(call, "layers", SEQUENTIAL)
            return self.component(layers, site, depth) if layers is not None else Contents()
        if q == "keras.Model":
            outputs = argument(call, "outputs", FUNCTIONAL)
            return self.tensor(outputs, site, depth) if outputs is not None else _unknown()
        if q is not None and N.is_application(q):
            return _application(q.rsplit(".", 1)[1])
        if q == "keras.models.clone_model":
            source = argument(call, "model", CLONE_MODEL)
            return self.component(source, site, depth) if source is not None else _unknown()
        name = layer_class(q)
        if name is not None:
            return self._layer(call, name, site, depth)
        local = sem.local_def(call.func, site.scope)
        if isinstance(local, cst.ClassDef):
            out = self.of_class(local).copy()
            if sem.is_model_class(local) and not self._defines_call(local, set()):
                outputs = argument(call, "outputs", FUNCTIONAL)
                out.add(self.tensor(outputs, site, depth) if outputs is not None else _unknown())
            return out
        if isinstance(local, cst.FunctionDef):
            fn_scope = sem.scope_for(local)
            if fn_scope is None or not fn_scope.returns or fn_scope.yields:
                return _unknown()
            out = Contents()
            saved = self._off.get(id(local))
            self._off[id(local)] = flags_left_off(local, call)
            try:
                for r in fn_scope.returns:
                    out.add(self.component(r, Site(fn_scope, AFTER_ALL, ()), depth))
            finally:
                if saved is None:
                    del self._off[id(local)]
                else:
                    self._off[id(local)] = saved
            return out
        return _imported(sem.project_fact(call.func, site.scope) if local is None else None)

    def built_with_training_layers(self, expr: cst.CSTNode, site: Site) -> Optional[bool]:
        """False when every value `expr` may hold is built by a same-module builder function or
        class whose code names no layer with training behaviour (no Dropout, noise,
        BatchNormalization, `dropout=` argument, Keras application): then its
        unknown parts (helpers from elsewhere) are not Keras training layers either, as far as
        this module shows. None when unknown; True when such a layer is named."""
        sem = self.sem
        if not isinstance(expr, cst.Name):
            return None
        bindings = sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
        if not bindings:
            return None
        verdicts = []
        for b in bindings:
            value = b.value if b.kind in ("assign", "annassign") else None
            local = sem.local_def(value.func, b.scope) if isinstance(value, cst.Call) else None
            if not isinstance(local, (cst.FunctionDef, cst.ClassDef)):
                return None
            verdicts.append(_names_training_layer(local))
        return True if any(verdicts) else False

    def _off_key(self) -> frozenset:
        return frozenset(self._off.items()) if self._off else frozenset()

    def _never_runs(self, b) -> bool:
        """Is binding `b` inside an `if flag:` block of a builder whose construction leaves `flag` off?"""
        off = self._off.get(id(b.scope.node)) if self._off else None
        return bool(off) and _guarded_by(b.ancestors + (b.stmt,), off)

    def _layer(self, call: cst.Call, name: str, site: Site, depth: int) -> Contents:
        out = Contents()
        if has_training_behaviour(name):
            out.training.append(name)
        if name in REGULARIZER_LAYERS:
            out.regularizers.append(name)
        for arg in call.args:
            kw = arg.keyword.value if arg.keyword is not None else None
            if kw in DROPOUT_ARGUMENTS and not _is_zero(arg.value):
                out.training.append(f"{name}({kw}=...)")
            elif kw is not None and kw.endswith("_regularizer") and not _is_none(arg.value, self.sem, site):
                out.regularizers.append(f"{name}({kw}=...)")
            elif self._is_layer_value(arg.value, site):
                out.add(self.component(arg.value, site, depth))  # wrappers: Bidirectional(LSTM(...)), ...
        return out

    def _is_layer_value(self, expr: cst.CSTNode, site: Site, depth: int = 0) -> bool:
        """Is `expr` recognisably a layer or model object (a construction, or a name bound to one)?"""
        sem = self.sem
        if depth > 4:
            return False
        if isinstance(expr, cst.Call):
            q = sem.qualified_name(expr.func, site.scope)
            if q is not None:
                if layer_class(q) is not None:
                    return True
                return N.is_model_factory(q)
            local = sem.local_def(expr.func, site.scope)
            if isinstance(local, cst.ClassDef):
                return sem.class_derives_from(local, frozenset({"keras.layers.Layer", "keras.Layer", *N.MODEL_CLASSES})) is not False
            return False
        if isinstance(expr, (cst.List, cst.Tuple)):
            return any(self._is_layer_value(el.value, site, depth + 1) for el in expr.elements)
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
            inner = sem.scope_for(expr) or site.scope
            return self._is_layer_value(expr.elt, Site(inner, site.seq, site.ancestors), depth + 1)
        if isinstance(expr, cst.Name):
            return any(
                b.value is not None and b.kind in ("assign", "annassign") and self._is_layer_value(b.value, Site.of_binding(b), depth + 1)
                for b in sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
            )
        return False

    def is_plain_layer(self, expr: cst.CSTNode, site: Site) -> bool:
        """Is `expr` a name bound only to layer constructions (a layer, not a model)?"""
        if not isinstance(expr, cst.Name):
            return False
        bindings = self.sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
        return bool(bindings) and all(
            b.kind in ("assign", "annassign")
            and isinstance(b.value, cst.Call)
            and layer_class(self.sem.qualified_name(b.value.func, b.scope)) is not None
            for b in bindings
        )

    def _added_to(self, b, depth: int) -> Contents:
        """`name.add(layer)` and `name.add_loss(...)` calls in the frame that binds `name`."""
        calls = self._calls_in_frame(b.scope).get(b.name)
        out = Contents()
        if not calls:
            return out
        site = Site(b.scope, AFTER_ALL, ())
        off = self._off.get(id(b.scope.node)) if self._off else None
        for method, call, guards in calls:
            if off and guards & off:
                continue  # `if apply_dropout: block.add(Dropout(...))` in a builder called without the flag
            if method == "add_loss":
                out.regularizers.append("add_loss()")
            elif call.args:
                out.add(self.component(call.args[0].value, site, depth))
        return out

    def _calls_in_frame(self, scope: Scope) -> dict:
        key = id(scope.node)
        if key not in self._frame_calls:
            found: dict = {}
            node = scope.node
            roots = [node.body] if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else [node]
            for root in roots:
                for n, guards in _guarded_nodes(root):
                    if (
                        isinstance(n, cst.Call)
                        and isinstance(n.func, cst.Attribute)
                        and n.func.attr.value in ("add", "add_loss")
                        and isinstance(n.func.value, cst.Name)
                    ):
                        found.setdefault(n.func.value.value, []).append((n.func.attr.value, n, guards))
            self._frame_calls[key] = found
        return self._frame_calls[key]

    # ------------------------------------------------------------------ functional tensors
    def _tensor(self, expr: cst.CSTNode, site: Site, depth: int) -> Contents:
        sem = self.sem
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, cst.Call):
                out = self.component(func, site).copy()
            else:
                q = sem.qualified_name(func, site.scope)
                if q in INPUTS:
                    return Contents()
                local = sem.local_def(func, site.scope)
                if isinstance(local, cst.FunctionDef):
                    out = self._block(local, depth)
                elif q is not None and q.startswith(_OP_NAMESPACES):
                    out = Contents()
                elif is_layer_function(q):
                    out = Contents()  # keras.layers.add / concatenate: functional merges
                elif isinstance(func, (cst.Name, cst.Attribute)) and q is None:
                    out = self.component(func, site).copy()  # a layer or sub-model bound to a name
                else:
                    out = _unknown()
            for arg in expr.args:
                out.add(self.tensor(arg.value, site, depth))
            return out
        if isinstance(expr, cst.Name):
            if expr.value in ("True", "False", "None"):
                return Contents()
            bindings = sem.reaching(expr.value, site.scope, site.seq, site.ancestors)
            if not bindings:
                return _unknown()
            out = Contents()
            for b in bindings:
                if self._never_runs(b):
                    continue
                if b.kind in ("assign", "annassign") and b.value is not None:
                    out.add(self.tensor(b.value, Site.of_binding(b), depth))
                elif b.kind == "param":
                    pass  # a tensor handed in: the inputs of a block or of the model
                else:
                    out.complete = False
            return out
        if isinstance(expr, cst.Attribute):
            if expr.attr.value in ("output", "outputs"):
                return self.component(expr.value, site)
            if expr.attr.value in ("input", "inputs"):
                return Contents()
            return _unknown()
        if isinstance(expr, cst.Subscript):
            return self.tensor(expr.value, site, depth)
        if isinstance(expr, cst.BinaryOperation):
            return Contents().add(self.tensor(expr.left, site, depth)).add(self.tensor(expr.right, site, depth))
        if isinstance(expr, cst.UnaryOperation):
            return self.tensor(expr.expression, site, depth)
        if isinstance(expr, (cst.List, cst.Tuple)):
            out = Contents()
            for el in expr.elements:
                out.add(self.tensor(el.value, site, depth))
            return out
        if isinstance(expr, cst.Dict):
            out = Contents()
            for el in expr.elements:
                if isinstance(el, cst.DictElement):
                    out.add(self.tensor(el.value, site, depth))
                else:
                    out.complete = False
            return out
        if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
            return Contents()
        return _unknown()

    def _block(self, fn: cst.FunctionDef, depth: int) -> Contents:
        """A helper applied to tensors (`x = conv_block(x)`): the layers on its returned values."""
        scope = self.sem.scope_for(fn)
        if scope is None or not scope.returns or scope.yields:
            return _unknown()
        out = Contents()
        for r in scope.returns:
            out.add(self.tensor(r, Site(scope, AFTER_ALL, ()), depth))
        return out

    # ------------------------------------------------------------------ classes
    def _class(self, cls: cst.ClassDef, seen: set) -> Contents:
        if id(cls) in seen:
            return Contents()
        seen.add(id(cls))
        sem = self.sem
        index = self._index_class(cls)
        out = Contents()
        for attr, bindings in sem.class_attrs.get(id(cls), {}).items():
            for b in bindings:
                if b.value is None:
                    continue
                site = Site.of_binding(b)
                if self._is_layer_value(b.value, site):
                    out.add(self.component(b.value, site))
                elif attr in index.called_attrs:
                    out.complete = False  # a called attribute we cannot follow (a parameter, ...)
        for call, scope in index.inline_layers:
            site = Site(scope, AFTER_ALL, ())
            if self._is_layer_value(call.func, site):
                out.add(self.component(call.func, site))
        if index.add_loss:
            out.regularizers.append(f"{cls.name.value}.add_loss()")
        if index.weight_regularizer:
            out.regularizers.append(f"{cls.name.value}.add_weight(regularizer=...)")
        if index.uses_training:
            out.training.append(f"{cls.name.value}.call(training)")
        outer = (sem.scope_for(cls) or sem.module_scope).parent or sem.module_scope
        for base in cls.bases:
            if base.keyword is not None:
                continue
            local = sem.local_def(base.value, outer)
            if isinstance(local, cst.ClassDef):
                out.add(self._class(local, seen))
                continue
            q = sem.qualified_name(base.value, outer)
            if q in LAYER_BASES or q in N.MODEL_CLASSES:
                continue
            name = layer_class(q)
            if name is not None:
                if has_training_behaviour(name):
                    out.training.append(name)
                continue
            out.complete = False
        return out

    def _defines_call(self, cls: cst.ClassDef, seen: set) -> bool:
        if id(cls) in seen:
            return False
        seen.add(id(cls))
        if self._index_class(cls).defines_call:
            return True
        outer = (self.sem.scope_for(cls) or self.sem.module_scope).parent or self.sem.module_scope
        for base in cls.bases:
            local = self.sem.local_def(base.value, outer) if base.keyword is None else None
            if isinstance(local, cst.ClassDef) and self._defines_call(local, seen):
                return True
        return False

    def _index_class(self, cls: cst.ClassDef) -> _ClassIndex:
        key = id(cls)
        if key in self._class_index:
            return self._class_index[key]
        index = _ClassIndex()
        body = cls.body.body if isinstance(cls.body, cst.IndentedBlock) else ()
        for stmt in body:
            if not isinstance(stmt, cst.FunctionDef):
                continue
            params = stmt.params.posonly_params or stmt.params.params
            if not params:
                continue
            self_name = params[0].name.value
            scope = self.sem.scope_for(stmt) or self.sem.module_scope
            for n in iter_nodes(stmt.body, (cst.ClassDef,)):
                if not isinstance(n, cst.Call):
                    continue
                func = n.func
                if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == self_name:
                    method = func.attr.value
                    if method == "add_loss":
                        index.add_loss = True
                    elif method == "add_weight":
                        reg = argument(n, "regularizer")
                        if reg is not None and not _is_none(reg, self.sem, Site(scope, AFTER_ALL, ())):
                            index.weight_regularizer = True
                    else:
                        index.called_attrs.add(method)
                elif isinstance(func, cst.Call):
                    index.inline_layers.append((n, scope))
            if stmt.name.value == "call":
                index.defines_call = True
                index.uses_training = _branches_on_training(stmt)
        self._class_index[key] = index
        return index

    def _instances_of(self, cls: cst.ClassDef) -> Contents:
        """A functional-style Model subclass (`CustomModel(inputs, outputs)`): the layers of every
        instantiation in the module; unknown when there is none."""
        if self._instances is None:
            self._instances = {}
            self._collect_instances(self.sem.module_scope.node, self.sem.module_scope)
        out = Contents()
        found = False
        for call, scope in self._instances.get(cls.name.value, []):
            if self.sem.local_def(call.func, scope) is not cls:
                continue
            outputs = argument(call, "outputs", FUNCTIONAL)
            if outputs is None:
                continue
            found = True
            out.add(self.tensor(outputs, Site(scope, AFTER_ALL, ())))
        return out if found else _unknown()

    def _collect_instances(self, root: cst.CSTNode, scope: Scope) -> None:
        """Calls of plain names, with the function scope they are in."""
        for n in iter_nodes(root, (cst.FunctionDef,)):
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Name):
                self._instances.setdefault(n.func.value, []).append((n, scope))
            elif isinstance(n, cst.FunctionDef) and n is not root:
                self._collect_instances(n, self.sem.scope_for(n) or scope)


def _names_training_layer(node: cst.CSTNode) -> bool:
    """Does the code of a def/class name a layer with training behaviour (any spelling: the last
    part of a name or attribute), a `dropout=`-style argument, or a Keras application?"""
    for n in iter_nodes(node):
        if isinstance(n, cst.Name):
            name = n.value
        elif isinstance(n, cst.Attribute):
            name = n.attr.value
        elif isinstance(n, cst.Arg) and n.keyword is not None:
            name = n.keyword.value
            if name in DROPOUT_ARGUMENTS:
                return True
            continue
        else:
            continue
        if has_training_behaviour(name) or name.startswith(_APPLICATIONS_WITH_BN) or name == "applications":
            return True
    return False


def flags_left_off(fn: cst.FunctionDef, call: cst.Call) -> frozenset:
    """The parameters of `fn` with a false default (`apply_dropout=False`, `None`, `0`) that
    `call` leaves false: not passed, or passed as a false literal (unknown values count as on)."""
    p = fn.params
    positional = [q.name.value for q in (*p.posonly_params, *p.params)]
    off = set()
    for q in (*p.posonly_params, *p.params, *p.kwonly_params):
        if q.default is None or not _false_literal(q.default):
            continue
        arg, hidden = find_argument(call, q.name.value, positional if q in (*p.posonly_params, *p.params) else ())
        if hidden:
            continue
        if arg is None or _false_literal(arg.value):
            off.add(q.name.value)
    return frozenset(off)


def _false_literal(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Name) and node.value in ("False", "None")) or _is_zero(node)


def _guard(node: cst.CSTNode, child: cst.CSTNode) -> Optional[str]:
    """`flag` when `child` is the body of `if flag:` (a plain name as the test)."""
    if isinstance(node, cst.If) and child is node.body and isinstance(node.test, cst.Name):
        return node.test.value
    return None


def _guarded_by(chain: tuple, off: frozenset) -> bool:
    """Does a chain of nodes (outermost first) pass through the body of `if flag:` for a flag in `off`?"""
    return any(_guard(a, b) in off for a, b in zip(chain, chain[1:]))


def _guarded_nodes(root: cst.CSTNode) -> Iterator[tuple[cst.CSTNode, frozenset]]:
    """`iter_nodes(root, _NESTED_SCOPES)` with, for each node, the flags of the `if flag:` bodies around it."""
    stack: list = [(root, frozenset())]
    Node = cst.CSTNode
    while stack:
        n, guards = stack.pop()
        yield n, guards
        if n is not root and isinstance(n, _NESTED_SCOPES):
            continue
        children = []
        for name in child_fields(type(n)):
            v = getattr(n, name)
            for c in (v if v.__class__ is tuple or v.__class__ is list else (v,)):
                if isinstance(c, Node):
                    flag = _guard(n, c)
                    children.append((c, guards | {flag} if flag else guards))
        stack.extend(reversed(children))


def _application(name: str) -> Contents:
    if name.startswith(_APPLICATIONS_WITH_BN):
        out = Contents(training=[f"{name} (BatchNormalization)"])
        if name.startswith("EfficientNet"):
            out.training.append(f"{name} (Dropout)")
        return out
    if name.startswith(_APPLICATIONS_PLAIN):
        return Contents()
    return _unknown()


def _is_zero(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Integer):
        return int(value.value.replace("_", ""), 0) == 0
    if isinstance(value, cst.Float):
        try:
            return float(value.value.replace("_", "")) == 0.0
        except ValueError:
            return False
    return False


def _is_none(value: cst.BaseExpression, sem: SemanticModel, site: Site) -> bool:
    if isinstance(value, cst.Name) and value.value == "None":
        return True
    if isinstance(value, cst.Name):
        bindings = sem.reaching(value.value, site.scope, site.seq, site.ancestors)
        return bool(bindings) and all(
            b.kind in ("assign", "annassign") and isinstance(b.value, cst.Name) and b.value.value == "None" for b in bindings
        )
    return False


def _branches_on_training(fn: cst.FunctionDef) -> bool:
    """Does `call(self, inputs, training=...)` use `training` other than passing it on as
    `training=training`?"""
    p = fn.params
    name = next((q.name.value for q in (*p.posonly_params, *p.params, *p.kwonly_params) if q.name.value == "training"), None)
    if name is None:
        return False
    stack: list = [fn.body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Arg) and n.keyword is not None and n.keyword.value == "training" and isinstance(n.value, cst.Name):
            continue
        if isinstance(n, cst.Name) and n.value == name:
            return True
        for fname in child_fields(type(n)):
            v = getattr(n, fname)
            if v.__class__ is tuple or v.__class__ is list:
                stack.extend(c for c in v if isinstance(c, cst.CSTNode))
            elif isinstance(v, cst.CSTNode):
                stack.append(v)
    return False
