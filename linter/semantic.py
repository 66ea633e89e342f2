"""Name resolution and model provenance, built in the same single walk as the rules.

The `SemanticModel` records scopes, bindings (imports, assignments, parameters, defs,
classes), `self.<attr>` assignments per class and each function's return values while the
engine walks the tree. Rules collect candidate nodes during the walk and ask the model
questions when the walk is done (`Rule.finish`), so forward references (a helper defined
below its caller) resolve too. Nothing here matches source text: names are resolved
through the module's own imports and bindings (see `linter.names` for canonical forms).
"""
from __future__ import annotations

import bisect
import builtins
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

import libcst as cst

from linter import names as N
from linter.walker import iter_nodes

_BUILTINS = frozenset(dir(builtins))


@dataclass(eq=False)
class Scope:
    kind: str  # "module" | "function" | "class" | "lambda" | "comprehension"
    node: cst.CSTNode
    parent: Optional["Scope"]
    names: dict = field(default_factory=dict)  # name -> list[Binding]
    aliases: dict = field(default_factory=dict)  # name -> its import and `x = a.b` bindings (qualified_name)
    globals: set = field(default_factory=set)
    returns: list = field(default_factory=list)  # function scopes: returned expressions
    return_sites: list = field(default_factory=list)  # (returned expression, seq, ancestors) per `return`
    yields: bool = False

    def function(self) -> Optional["Scope"]:
        s: Optional[Scope] = self
        while s is not None and s.kind not in ("function", "lambda"):
            s = s.parent
        return s

    def class_scope(self) -> Optional["Scope"]:
        """The class whose method this scope belongs to (a function directly in a class)."""
        fn = self.function()
        if fn is not None and fn.parent is not None and fn.parent.kind == "class":
            return fn.parent
        return None


@dataclass(eq=False)
class Binding:
    name: str
    kind: str  # import | assign | annassign | augassign | param | def | class | for | with | other
    value: Optional[cst.CSTNode]  # assigned expression, annotation (param), def/class node
    scope: Scope
    stmt: cst.CSTNode
    ancestors: tuple  # nodes enclosing the binding statement, outermost first
    qname: Optional[str] = None  # imports: the canonical name bound
    annotation: Optional[cst.BaseExpression] = None
    seq: int = 0  # source order: bindings made earlier in the walk have smaller numbers

    def inside(self, node: cst.CSTNode) -> bool:
        return any(a is node for a in self.ancestors)


Provenance = Optional[bool]  # True: known Keras model; False: known not; None: unknown
AFTER_ALL = 1 << 60  # a `Site.seq` after every binding (e.g. the end of a scope)


@dataclass(frozen=True)
class Site:
    """Where a node was seen: its scope, the semantic binding counter then, its ancestors
    (what `SemanticModel.reaching` needs to place a use)."""

    scope: Scope
    seq: int
    ancestors: tuple

    @classmethod
    def of(cls, ctx) -> "Site":
        """The node being visited (every binding made so far precedes it)."""
        return cls.here(ctx.semantic)

    @classmethod
    def here(cls, sem: "SemanticModel") -> "Site":
        return cls(sem.scope, sem.seq + 1, tuple(sem.stack))

    @classmethod
    def of_binding(cls, b: "Binding") -> "Site":
        """The site of the expressions inside binding `b`'s value (evaluated before `b`)."""
        return cls(b.scope, b.seq, b.ancestors)

    @classmethod
    def end_of(cls, scope: Scope) -> "Site":
        """After every binding of `scope` (outside all its branches)."""
        return cls(scope, AFTER_ALL, ())


def dotted(node: cst.CSTNode) -> Optional[str]:
    """`a.b.c` as text for Name/Attribute chains, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _import_name(node: Union[cst.Attribute, cst.Name]) -> str:
    return dotted(node) or ""


class SemanticModel:
    """Scopes and bindings of one module, with resolution queries."""

    def __init__(self, module: cst.Module, project=None) -> None:
        self.module_scope = Scope("module", module, None)
        # the file's linter.project.view.ProjectView (None: no project facts): what the project
        # modules it imports define (`from models import build_model`)
        self.project = project
        self.star_imports: list[str] = []  # absolute modules of the module's `from m import *`
        self.calls_by_name: dict[str, list] = {}  # name -> (call, scope, seq, ancestors) of every call `name(...)`
        self.scope = self.module_scope
        self.stack: list = []  # set by the engine: the live ancestor stack
        self.scope_of_node: dict[int, Scope] = {}  # id(def/class/lambda node) -> its scope
        self.class_attrs: dict[int, dict[str, list[Binding]]] = {}  # id(ClassDef) -> attr -> bindings
        self.classes: list[cst.ClassDef] = []
        self.seq = 0  # counts bindings; snapshot it to know which bindings precede a node
        self.module_calls: dict[str, list] = {}  # name -> (seq, ancestors) of module-level calls `name(...)`
        self._memo: dict = {}
        self._name_counts: Optional[dict] = None
        # module-level functions whose parameters' provenance a rule asked for: the calls other
        # project modules make of them could change the answer (linter.project.links)
        self.asked_functions: set[str] = set()

    # ------------------------------------------------------------------ building
    def _bind(self, name: str, kind: str, value, stmt, qname=None, annotation=None, scope=None) -> None:
        scope = scope or self.scope
        if name in scope.globals:
            scope = self.module_scope
        self.seq += 1
        b = Binding(name, kind, value, scope, stmt, tuple(self.stack), qname, annotation, self.seq)
        scope.names.setdefault(name, []).append(b)
        if kind == "import" or (kind in ("assign", "annassign") and value.__class__ in (cst.Name, cst.Attribute)):
            scope.aliases.setdefault(name, []).append(b)

    def _bind_target(self, target: cst.BaseExpression, kind: str, value, stmt, annotation=None) -> None:
        if isinstance(target, cst.Name):
            self._bind(target.value, kind, value, stmt, annotation=annotation)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._bind_target(el.value, "other", None, stmt)
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value, "other", None, stmt)
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            cls_scope = self.scope.class_scope()
            if cls_scope is not None and self._is_self(target.value.value):
                attrs = self.class_attrs.setdefault(id(cls_scope.node), {})
                self.seq += 1
                b = Binding(target.attr.value, kind, value, self.scope, stmt, tuple(self.stack), annotation=annotation, seq=self.seq)
                attrs.setdefault(target.attr.value, []).append(b)

    def _is_self(self, name: str) -> bool:
        return self.is_self_param(name, self.scope)

    def _push(self, kind: str, node) -> None:
        s = Scope(kind, node, self.scope)
        self.scope_of_node[id(node)] = s
        self.scope = s

    def _pop(self) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    # handlers, registered by the engine like a rule's visit_/leave_ methods
    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = _import_name(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._bind(alias.asname.name.value, "import", alias, node, qname=N.canonical(full))
            else:
                top = full.split(".", 1)[0]
                self._bind(top, "import", alias, node, qname=N.canonical(top))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative:
            module = _import_name(node.module) if node.module is not None else None
            base = self.project.absolute(len(node.relative), module) if self.project is not None else None
        elif node.module is None:
            base = None
        else:
            base = _import_name(node.module)
        if isinstance(node.names, cst.ImportStar):
            if base and self.scope is self.module_scope:
                self.star_imports.append(base)
            return
        for alias in node.names:
            nm = _import_name(alias.name)
            bound = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else nm
            qname = N.canonical(f"{base}.{nm}") if base else None
            if qname is not None and self.project is not None:  # a project module re-exporting a library name
                fact = self.project.fact(qname)
                if fact is not None and fact.get("kind") == "import":
                    qname = fact["qname"]
            self._bind(bound, "import", alias, node, qname=qname)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._bind(node.name.value, "def", node, node)
        self._push("function", node)
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            ann = param.annotation.annotation if param.annotation else None
            self._bind(param.name.value, "param", param, node, annotation=ann)
        for star in (p.star_arg, p.star_kwarg):
            if isinstance(star, cst.Param):
                self._bind(star.name.value, "other", star, node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._push("lambda", node)
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            self._bind(param.name.value, "param", param, node)

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind(node.name.value, "class", node, node)
        self.classes.append(node)
        self._push("class", node)

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self._pop()

    def _visit_comp(self, node) -> None:
        self._push("comprehension", node)
        comp = node.for_in
        while comp is not None:
            self._bind_target(comp.target, "for", comp.iter, node)
            comp = comp.inner_for_in

    def _leave_comp(self, node) -> None:
        self._pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comp
    leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave_comp

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self.scope.globals.add(item.name.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind_target(t.target, "assign", node.value, node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind_target(node.target, "annassign", node.value, node, annotation=node.annotation.annotation)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind_target(node.target, "augassign", node.value, node)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target, "assign", node.value, node)

    def visit_For(self, node: cst.For) -> None:
        self._bind_target(node.target, "for", node.iter, node)

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            if item.asname is not None:
                self._bind_target(item.asname.name, "with", item.item, node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None and isinstance(node.name.name, cst.Name):
            self._bind(node.name.name.value, "other", None, node)

    def visit_Return(self, node: cst.Return) -> None:
        fn = self.scope.function()
        if fn is not None and node.value is not None:
            fn.returns.append(node.value)
            fn.return_sites.append((node.value, self.seq + 1, (*self.stack, node)))

    def visit_Call(self, node: cst.Call) -> None:
        # calls of plain names made at module level: where a module-level function runs (`reaching`)
        if node.func.__class__ is cst.Name:
            if self.scope is self.module_scope:
                self.module_calls.setdefault(node.func.value, []).append((self.seq + 1, tuple(self.stack)))
            self.calls_by_name.setdefault(node.func.value, []).append((node, self.scope, self.seq + 1, tuple(self.stack)))

    def visit_Yield(self, node: cst.Yield) -> None:
        fn = self.scope.function()
        if fn is not None:
            fn.yields = True

    # ------------------------------------------------------------------ queries
    def lookup(self, name: str, scope: Scope) -> list[Binding]:
        """Bindings of `name` visible from `scope` (Python's LEGB, class scopes skipped)."""
        s: Optional[Scope] = scope
        first = True
        while s is not None:
            if name in s.globals:
                return self.module_scope.names.get(name, [])
            if s.kind != "class" or first:
                found = s.names.get(name)
                if found:
                    return found
            first = False
            s = s.parent
        return []

    def reaching(self, name: str, scope: Scope, before: int, at: tuple) -> list[Binding]:
        """The bindings of `name` that may reach a use: the one reaching-definitions model every
        rule and analysis uses (in source order).

        The use is placed by `before` (bindings with `seq < before` precede it: pass
        `self.seq + 1` snapshotted when the use is visited, or a binding's `seq` for a use inside
        that binding's value) and `at`, its ancestors. In the use's own frame the branch tree
        decides: walking back from the use, a binding that runs whenever the use runs ends the
        search; one under a condition the use is not under (an `if`/`elif`/`else` arm, `try`
        body, `except`/`else` clause, `match` case, a loop body: loops may run zero times) is
        kept and the search goes on; one in an arm exclusive of the use's is skipped. Inside a
        loop, bindings later in the loop body reach the use through the next turn unless a
        binding in that loop's body already precedes the use on every path. A module-level name
        read inside a module-level function resolves to the bindings that reach the places the
        function is called from, when every reference to the function is a call at module
        level; otherwise (closures, other callers) to all its bindings.
        """
        bindings = self.lookup(name, scope)
        if not bindings:
            return []
        frame = scope
        while frame.kind == "comprehension" and frame.parent is not None:
            frame = frame.parent
        owner = bindings[0].scope
        if owner is frame or owner is scope:
            return _reaching_in_frame(bindings, before, at)
        if owner is self.module_scope:
            sites = self._call_sites(frame)
            if sites:
                found: dict[int, Binding] = {}
                for seq, anc in sites:
                    for b in _reaching_in_frame(bindings, seq, anc):
                        found[id(b)] = b
                return sorted(found.values(), key=_seq_of)
        return list(bindings)

    def reaching_at(self, name: str, site: Site) -> list[Binding]:
        """`reaching` for a use at `site`."""
        return self.reaching(name, site.scope, site.seq, site.ancestors)

    def single_value(self, name: str, site: Site) -> Optional[Binding]:
        """The one assignment (`name = value`) reaching a use at `site`, when exactly one reaches it."""
        found = self.reaching(name, site.scope, site.seq, site.ancestors)
        if len(found) == 1 and found[0].kind in ("assign", "annassign") and found[0].value is not None:
            return found[0]
        return None

    def _call_sites(self, frame: Scope) -> Optional[list]:
        """(seq, ancestors) of every call of a module-level function, when all references to it
        are calls at module level (None otherwise: it may run from anywhere, at any time)."""
        fn = frame.node
        if frame.kind != "function" or frame.parent is not self.module_scope or not isinstance(fn, cst.FunctionDef):
            return None
        key = ("call_sites", id(fn))
        if key in self._memo:
            return self._memo[key]
        name = fn.name.value
        calls = self.module_calls.get(name, [])
        result = None
        defs = self.module_scope.names.get(name, [])
        if calls and len(defs) == 1 and defs[0].value is fn and not frame.globals:
            if self._name_counts is None:
                self._name_counts = _count_names(self.module_scope.node)
            if self._name_counts.get(name, 0) == len(calls):
                result = calls
        self._memo[key] = result
        return result

    def qualified_name(self, node: cst.CSTNode, scope: Scope, _depth: int = 0) -> Optional[str]:
        """Canonical dotted name an expression refers to, resolved through imports/aliases."""
        if _depth > 20:
            return None
        if isinstance(node, cst.Name):
            bindings = self.lookup(node.value, scope)
            if not bindings:
                if self.star_imports:
                    star = self._star_qname(node.value)
                    if star is not None:
                        return star
                return f"builtins.{node.value}" if node.value in _BUILTINS else None
            # only imports and aliases (`Dense = layers.Dense`) name something: a scope keeps them
            # apart, so a name bound n times (`model = ...` per cell) is not scanned n times per use
            for b in reversed(bindings[0].scope.aliases.get(node.value, ())):
                if b.kind == "import":
                    return b.qname
                q = self.qualified_name(b.value, b.scope, _depth + 1)
                if q:
                    return q
            return None
        if isinstance(node, cst.Attribute):
            base = self.qualified_name(node.value, scope, _depth + 1)
            if base is None:
                return None
            return N.canonical(f"{base}.{node.attr.value}")
        return None

    def _star_qname(self, name: str) -> Optional[str]:
        """`module.name` when a project module star-imported here exports `name` (the last star
        import that does wins, as in Python)."""
        for module in reversed(self.star_imports):
            names = self.project.star_names(module) if self.project is not None else None
            if names and name in names:
                fact = names[name]
                return fact["qname"] if fact.get("kind") == "import" else f"{module}.{name}"
        return None

    def project_fact(self, node: cst.CSTNode, scope: Scope) -> Optional[dict]:
        """The project fact (linter.project.summary) a Name/Attribute chain denotes, when its
        root name is bound only by imports (a name also bound here is not the imported one)."""
        if self.project is None:
            return None
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if not isinstance(root, cst.Name):
            return None
        if any(b.kind != "import" for b in self.lookup(root.value, scope)):
            return None
        return self.project.fact(self.qualified_name(node, scope))

    def call_name(self, call: cst.Call, scope: Scope) -> Optional[str]:
        return self.qualified_name(call.func, scope)

    def local_def(self, node: cst.CSTNode, scope: Scope):
        """The same-module FunctionDef/ClassDef a Name refers to, if any."""
        if not isinstance(node, cst.Name):
            return None
        for b in reversed(self.lookup(node.value, scope)):
            if b.kind in ("def", "class"):
                return b.value
        return None

    def local_def_at(self, node: cst.CSTNode, site: Site):
        """The same-module FunctionDef/ClassDef a Name used at `site` refers to: the one def
        reaching it (a function defined twice resolves to the definition live at the call);
        None when it is not a def there, or when several may reach it."""
        if not isinstance(node, cst.Name):
            return None
        found = self.reaching_at(node.value, site)
        if found and all(b.kind in ("def", "class") and b.value is found[-1].value for b in found):
            return found[-1].value
        return None

    def scope_for(self, node: cst.CSTNode) -> Optional[Scope]:
        return self.scope_of_node.get(id(node))

    # provenance -----------------------------------------------------------
    def class_derives_from(self, cls: cst.ClassDef, targets: frozenset, _seen=None) -> Provenance:
        """Does a same-module class derive from one of `targets` (canonical names)?"""
        _seen = _seen or set()
        if id(cls) in _seen:
            return None
        _seen.add(id(cls))
        outer = self.scope_of_node[id(cls)].parent or self.module_scope
        verdict: Provenance = False
        for base in cls.bases:
            if base.keyword is not None:
                continue
            q = self.qualified_name(base.value, outer)
            if q in targets:
                return True
            local = self.local_def(base.value, outer)
            if isinstance(local, cst.ClassDef):
                sub = self.class_derives_from(local, targets, _seen)
                if sub:
                    return True
                if sub is None:
                    verdict = None
            elif q is None or N.is_keras_name(q):
                # unknown base, or a Keras class that might be a model subclass (e.g. keras.src internals)
                if q is None or q.rsplit(".", 1)[-1].endswith("Model"):
                    verdict = None
        return verdict

    def is_model_class(self, cls: cst.ClassDef) -> Provenance:
        key = ("model_class", id(cls))
        if key not in self._memo:
            self._memo[key] = self.class_derives_from(cls, N.MODEL_CLASSES)
        return self._memo[key]

    def is_callback_class(self, cls: cst.ClassDef) -> bool:
        return bool(self.class_derives_from(cls, N.CALLBACK_CLASSES))

    def returns_model(self, fn: cst.FunctionDef) -> Provenance:
        key = ("returns", id(fn))
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = None  # recursion guard
        scope = self.scope_of_node.get(id(fn))
        result: Provenance = None
        if scope is not None and scope.returns and not scope.yields:
            verdicts = [self.model_provenance(r, scope) for r in scope.returns]
            if any(v is True for v in verdicts):
                result = True
            elif all(v is False for v in verdicts):
                result = False
        if fn.returns is not None and scope is not None:
            q = self.qualified_name(fn.returns.annotation, scope.parent or self.module_scope)
            if q in N.MODEL_CLASSES:
                result = True
        self._memo[key] = result
        return result

    def model_provenance(self, node: cst.CSTNode, scope: Scope, _depth: int = 0, site: Optional[Site] = None) -> Provenance:
        """True when `node` is known to evaluate to a Keras model, False when known not to.

        A name is judged by its bindings: with `site` (where `node` is used), the bindings that
        reach it; without, every binding of it in `scope`. It is a model when one of them is and
        none is known to be something else (`None` aside: `model = None` before or after the
        model is no other value a method could be called on); all known non-models: not one."""
        if _depth > 12:
            return None
        if site is not None and site.scope is not scope:
            site = None
        key = ("prov", id(node), id(scope), site.seq if site is not None else -1)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = None  # recursion guard
        result = self._provenance(node, scope, _depth, site)
        self._memo[key] = result
        return result

    def _provenance(self, node: cst.CSTNode, scope: Scope, depth: int, site: Optional[Site] = None) -> Provenance:
        if isinstance(node, cst.Call):
            q = self.qualified_name(node.func, scope)
            if q is not None and N.is_model_factory(q):
                return True
            local = self.local_def(node.func, scope)
            if isinstance(local, cst.ClassDef):
                return self.is_model_class(local)
            if isinstance(local, cst.FunctionDef):
                return self.returns_model(local)
            if self.project is not None:
                fact = self.project_fact(node.func, scope)
                if fact is not None:
                    return fact.get("model") if fact.get("kind") in ("function", "class") else None
                if self.project.fact(q) is not None or _in_project(self.project, q):
                    return None  # a project name nothing is known of (not a library call)
            if q is not None:
                return N.call_result_is_not_model(q)
            return None
        if isinstance(node, cst.Name):
            bindings = self.lookup(node.value, scope)
            if not bindings:
                return False if node.value in _BUILTINS else None
            if site is not None:
                bindings = self.reaching(node.value, site.scope, site.seq, site.ancestors) or bindings
            key = ("name_prov", node.value, id(bindings) if site is None else tuple(id(b) for b in bindings), len(bindings))
            if key in self._memo:  # once per name and scope (or set of reaching bindings), not per use
                return self._memo[key]
            self._memo[key] = None  # recursion guard
            verdicts = [self._binding_provenance(b, depth) for b in bindings if not _binds_none(b)]
            if any(v is True for v in verdicts) and not any(v is False for v in verdicts):
                result: Provenance = True
            elif all(v is False for v in verdicts):
                result = False
            else:
                result = None
            self._memo[key] = result
            return result
        if isinstance(node, cst.Attribute) and self.project is not None:
            fact = self.project_fact(node, scope)
            if fact is not None:
                return fact.get("model") if fact.get("kind") == "value" else False
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            cls_scope = scope.class_scope()
            if cls_scope is not None and self.is_self_param(node.value.value, scope):
                cls = cls_scope.node
                if node.attr.value == "model" and self.is_callback_class(cls):
                    return True
                attrs = self.class_attrs.get(id(cls), {}).get(node.attr.value)
                if attrs:
                    verdicts = [self._binding_provenance(b, depth) for b in attrs]
                    if any(v is True for v in verdicts):
                        return True
            return None
        if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString,
                             cst.FormattedString, cst.List, cst.Dict, cst.Tuple, cst.Set,
                             cst.ListComp, cst.DictComp, cst.SetComp, cst.GeneratorExp,
                             cst.BinaryOperation, cst.Comparison, cst.Lambda)):
            return False
        return None

    def is_self_param(self, name: str, scope: Scope) -> bool:
        """Is `name` the first parameter (self) of a method, seen from `scope`?"""
        fn = scope.function()
        if fn is None or not isinstance(fn.node, cst.FunctionDef) or scope.class_scope() is None:
            return False
        if any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod" for d in fn.node.decorators):
            return False
        params = fn.node.params.posonly_params or fn.node.params.params
        return bool(params) and params[0].name.value == name

    def _binding_provenance(self, b: Binding, depth: int) -> Provenance:
        ann = b.annotation
        if ann is not None:
            q = self.qualified_name(ann, b.scope.parent or self.module_scope if b.kind == "param" else b.scope)
            if q in N.MODEL_CLASSES:
                return True
        if b.kind in ("assign", "annassign") and b.value is not None:
            return self.model_provenance(b.value, b.scope, depth + 1)
        if b.kind == "import" and self.project is not None and b.qname is not None:
            fact = self.project.fact(b.qname)
            if fact is not None:
                return fact.get("model") if fact.get("kind") == "value" else False
            if _in_project(self.project, b.qname):
                return None  # a project name nothing is known of
        if b.kind in ("import", "def", "class"):
            return False
        if b.kind == "param" and isinstance(b.value, cst.Param) and isinstance(b.stmt, cst.FunctionDef):
            return self._param_provenance(b, depth)
        return None

    def _param_provenance(self, b: Binding, depth: int) -> Provenance:
        """A parameter is known when every call passes it a known model (or every call a known
        non-model): the calls in this module (`param_arguments`) and, when the project gives
        them, the calls other modules checked in the same run make (`ProjectView.incoming`)."""
        key = ("param_prov", id(b.stmt), b.name)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = None  # recursion guard (a recursive call passes the parameter on)
        local = self._local_arguments(b)
        result: Provenance = None
        if local is not None:
            verdicts = [self.model_provenance(value, site.scope, depth + 1, site) for value, site in local]
            elsewhere = self._incoming_verdicts(b)
            if elsewhere is not None:
                verdicts.extend(elsewhere)
                if verdicts and all(v is True for v in verdicts):
                    result = True
                elif verdicts and all(v is False for v in verdicts):
                    result = False
        self._memo[key] = result
        return result

    def param_arguments(self, b: Binding) -> Optional[list]:
        """The argument every call passes for parameter `b` ((expression, Site of the call)), for
        a module-level function called only by name in this module; None when the function is
        referenced otherwise (passed around), a call unpacks `*args`/`**kwargs` or leaves the
        parameter to its default, it is not called here, or other project modules call it too
        (their arguments are known only by their provenance: see `_param_provenance`)."""
        local = self._local_arguments(b)
        if not local or self._incoming_calls(b) is not None:
            return None
        return local

    def _incoming_calls(self, b: Binding):
        """What the project says of the calls other modules make of `b`'s function: None (none
        known), "escape" (referenced otherwise) or a list of call records (linter.project.links)."""
        project = self.project
        incoming = getattr(project, "incoming", None) if project is not None else None
        if not incoming:
            return None
        return incoming.get(b.stmt.name.value)

    def _incoming_verdicts(self, b: Binding) -> Optional[list]:
        """The provenance of what each call from another project module passes for parameter `b`
        ([] when there are none), or None when one cannot be followed (escape, `*args`, the
        parameter left to its default)."""
        calls = self._incoming_calls(b)
        if calls is None:
            return []
        if not isinstance(calls, list):
            return None
        from linter.project.links import argument_verdict

        positional, keyword_ok = _param_slots(b)
        out = []
        for record in calls:
            verdict = argument_verdict(record, positional, b.name, keyword_ok)
            if verdict == "unknown-argument":
                return None
            out.append(verdict)
        return out

    def _local_arguments(self, b: Binding) -> Optional[list]:
        """The arguments the calls in this module pass for parameter `b` (see `param_arguments`;
        [] when the function is not referenced in this module at all), or None."""
        fn = b.stmt
        if not isinstance(fn, cst.FunctionDef) or b.kind != "param" or b.scope.parent is not self.module_scope:
            return None
        key = ("param_args", id(fn), b.name)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = None
        name = fn.name.value
        calls = self.calls_by_name.get(name, [])
        bound = self.module_scope.names.get(name, [])
        if len(bound) != 1 or bound[0].kind != "def" or bound[0].value is not fn:
            return None
        if self._name_counts is None:
            self._name_counts = _count_names(self.module_scope.node)
        if self._name_counts.get(name, 0) != len(calls):
            return None
        positional, keyword_ok = _param_slots(b)
        found = []
        for call, scope, seq, ancestors in calls:
            if any(a.star for a in call.args):
                return None
            value = None
            for k, a in enumerate(call.args):
                if a.keyword is None and k < len(positional) and positional[k] == b.name:
                    value = a.value
                elif a.keyword is not None and a.keyword.value == b.name and keyword_ok:
                    value = a.value
            if value is None:
                return None
            found.append((value, Site(scope, seq, ancestors)))
        self.asked_functions.add(name)  # usable here: the calls other modules make may decide it
        self._memo[key] = found
        return found

    def is_keras_model(self, node: cst.CSTNode, scope: Scope, strict: bool = False, site: Optional[Site] = None) -> bool:
        """Rules' receiver test: known model, or (strict) not known to be something else
        (`site`: where it is used, see `model_provenance`)."""
        p = self.model_provenance(node, scope, site=site)
        return p is True or (strict and p is None)


def _param_slots(b: Binding) -> tuple:
    """(the positional parameter names of `b`'s function, whether `b` may be passed by keyword)."""
    p = b.stmt.params
    return [q.name.value for q in (*p.posonly_params, *p.params)], b.name not in [q.name.value for q in p.posonly_params]


def _binds_none(b: Binding) -> bool:
    """`name = None` (a placeholder before the model, or the model let go after it)."""
    return b.kind == "assign" and isinstance(b.value, cst.Name) and b.value.value == "None"


def _in_project(project, qname: Optional[str]) -> bool:
    """Does `qname` name something inside a project module (`models.build_model`)?"""
    if not qname:
        return False
    parts = qname.split(".")
    return any(project.module_key(".".join(parts[:i])) is not None for i in range(len(parts), 0, -1))


def _seq_of(b: Binding) -> int:
    return b.seq


_EXCLUSIVE_BRANCHES = (cst.If, cst.Match)
_CONDITIONAL = (
    cst.If, cst.Else, cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Match, cst.MatchCase,
    cst.For, cst.While, cst.IfExp, cst.BooleanOperation,
)
_FRAMES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
_LOOPS = (cst.For, cst.While)


_ASSIGNMENTS = (cst.Assign, cst.AnnAssign, cst.AugAssign)


def _reaching_in_frame(bindings: list, before: int, at: tuple) -> list:
    """`SemanticModel.reaching` within the frame that owns `bindings` (walk order = seq order)."""
    end = bisect.bisect_left(bindings, before, key=_seq_of)
    # a use inside an assignment (`model = train(model)`) is evaluated before the assignment binds:
    # the semantic model binds when it enters the statement, so its bindings come off the end
    while end and bindings[end - 1].stmt.__class__ in _ASSIGNMENTS and any(a is bindings[end - 1].stmt for a in at):
        end -= 1
    out: list[Binding] = []
    kill: Optional[Binding] = None
    for i in range(end - 1, -1, -1):
        b = bindings[i]
        relation = _branch_relation(b.ancestors, at)
        if relation == "exclusive":
            continue
        out.append(b)
        if relation == "always":
            kill = b
            break
    if end < len(bindings):
        start = max((k + 1 for k, a in enumerate(at) if isinstance(a, _FRAMES)), default=0)
        for k in range(start, len(at) - 1):
            loop = at[k]
            if not (isinstance(loop, _LOOPS) and at[k + 1] is loop.body):
                continue
            if kill is not None and kill.inside(loop.body):
                continue  # each turn of this loop binds the name again before the use: look further in
            # the outermost loop whose turns carry bindings over to the next one; its body holds the
            # inner loops', and is one stretch of the walk: its bindings are consecutive
            for b in bindings[end:]:
                if not b.inside(loop.body):
                    break
                out.append(b)
            break
    out.sort(key=_seq_of)
    return out


def _count_names(module: cst.CSTNode) -> dict:
    """How often each name is referenced in the module (not counting def/class names)."""
    counts: dict[str, int] = {}
    for n in iter_nodes(module):
        if n.__class__ is cst.Name:
            counts[n.value] = counts.get(n.value, 0) + 1
        elif n.__class__ is cst.FunctionDef or n.__class__ is cst.ClassDef:
            counts[n.name.value] = counts.get(n.name.value, 0) - 1  # its own name node is no reference
    return counts


def _branch_relation(binding_at: tuple, use_at: tuple) -> str:
    """"always" when a binding (its ancestors) runs whenever the use does, "maybe" when it
    sits under a condition the use is not under (an `if`/`else` arm, `try` body, handler, a
    `match` case, a loop body), "exclusive" when they are in different arms of one
    `if`/`match`. A `finally` block and a `with` body always run."""
    common = 0
    for a, b in zip(binding_at, use_at):
        if a is not b:
            break
        common += 1
    if common and common < len(binding_at) and common < len(use_at) and isinstance(binding_at[common - 1], _EXCLUSIVE_BRANCHES):
        # both under the same `if`: body vs. `else` (or an `elif` chain) are exclusive
        first_b, first_u = binding_at[common], use_at[common]
        if first_b is not first_u:
            return "exclusive"
    rest = binding_at[common:]
    for k, n in enumerate(rest):
        if isinstance(n, _CONDITIONAL):
            if isinstance(n, (cst.Try, cst.TryStar)) and k + 1 < len(rest) and rest[k + 1] is n.finalbody:
                continue  # `finally:` runs whatever happens in the `try`
            return "maybe"
    return "always"
