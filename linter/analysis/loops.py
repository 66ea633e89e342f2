"""Loops: which `for`/`while` bodies enclose a node in its own function, the calls made inside
loops, the Python numbers a loop changes every turn, which loop is "the epoch loop", and what a
loop does each turn to a model: rebinds it, resets, grows or snapshots it, changes what trains
(`.trainable`, also through `setattr`), loads new data; `kind` names the loop for messages
(epochs, batches, folds, stages).

`LoopIndex` is a shared walk-time collector (`ctx.analysis(LoopIndex)`): it keeps, per function
frame, the stack of loops whose *body* is being walked (a loop's `iter`, `else` and the test of
a `while` are not its body; a `def`, `lambda` or `class` starts a new frame, because its body
does not run once per turn of the loop around it). Rules snapshot `current` for their
candidates; calls inside loop bodies are recorded once for every rule (`calls`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst

from linter.semantic import Binding, Scope, SemanticModel, Site
from linter.walker import iter_nodes

LOOPS = (cst.For, cst.While)
_BRANCHES = (cst.If, cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Match, cst.IfExp, cst.BooleanOperation)
# Calls on a model that keep a snapshot of it (a checkpoint per turn is a deliberate continuation).
SAVE_METHODS = frozenset({"save", "save_weights", "export"})
SAVE_FUNCTIONS = frozenset({"keras.models.save_model", "keras.saving.save_model", "tensorflow.saved_model.save"})
# Calls on a model that put its weights back: each turn starts afresh.
RESET_METHODS = frozenset({"set_weights", "load_weights"})
# Calls on a model that change what it trains (a growing model: progressive training).
GROW_METHODS = frozenset({"add", "pop"})
FRAMES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)

# Calls that build or reset a model: a loop containing one is a fold/trial loop.
CLEAR_SESSION = frozenset(
    {
        "keras.backend.clear_session",
        "keras.utils.clear_session",
        "keras.src.backend.common.global_state.clear_session",
        "tensorflow.compat.v1.reset_default_graph",
    }
)
# Iterables that yield the elements of their first argument (progress bars, reordering).
_PASS_THROUGH = frozenset(
    {
        "builtins.reversed", "builtins.sorted", "builtins.list", "builtins.tuple", "builtins.iter",
        "tqdm.tqdm", "tqdm.auto.tqdm", "tqdm.notebook.tqdm", "tqdm.std.tqdm", "tqdm.autonotebook.tqdm",
        "tqdm.rich.tqdm", "tqdm.keras.tqdm",
    }
)
_RANGES = frozenset({"builtins.range", "tqdm.trange", "tqdm.auto.trange", "tqdm.notebook.trange", "tqdm.std.trange"})
# One-to-one on the numbers a loop produces (`min`, `round`, `%`, `//` can repeat values: no).
_NUMERIC_CASTS = frozenset({"builtins.int", "builtins.float", "builtins.abs"})
_INJECTIVE_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power)
_MAX_DEPTH = 6


@dataclass(frozen=True, eq=False)
class LoopCall:
    """A call made in the body of `loops` (outermost first, all in the call's own frame)."""

    call: cst.Call
    scope: Scope
    loops: tuple


class LoopIndex:
    """Per-file loop facts, collected in the engine's single walk."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.sem: SemanticModel = ctx.semantic
        self._frames: list[list] = [[]]
        self.current: tuple = ()  # loops around the node being visited, outermost first
        self.calls: list[LoopCall] = []
        self.def_loops: dict[int, tuple] = {}  # id(FunctionDef/Lambda/ClassDef) -> loops around it
        self.loop_scope: dict[int, Scope] = {}  # id(loop) -> the scope its body runs in
        self.loop_sites: dict[int, Site] = {}  # id(loop) -> where its header is evaluated
        self.outer_loops: dict[int, tuple] = {}  # id(loop) -> the loops around it (same frame)
        self._calls_by_loop: Optional[dict[int, list[LoopCall]]] = None

    # ------------------------------------------------------------------ walk
    def _enter_frame(self, node: cst.CSTNode) -> None:
        self.def_loops[id(node)] = self.current
        self._frames.append([])
        self.current = ()

    def _leave_frame(self, node: cst.CSTNode) -> None:
        self._frames.pop()
        self.current = tuple(self._frames[-1])

    visit_FunctionDef = visit_Lambda = visit_ClassDef = _enter_frame
    leave_FunctionDef = leave_Lambda = leave_ClassDef = _leave_frame

    def _enter_block(self, node: cst.CSTNode) -> None:
        stack = self.ctx.stack
        parent = stack[-1] if stack else None
        if isinstance(parent, LOOPS) and parent.body is node:
            self.outer_loops[id(parent)] = self.current
            self.loop_scope[id(parent)] = self.sem.scope
            self.loop_sites[id(parent)] = Site(self.sem.scope, self.sem.seq + 1, tuple(stack))
            self._frames[-1].append(parent)
            self.current = self.current + (parent,)

    def _leave_block(self, node: cst.CSTNode) -> None:
        frame = self._frames[-1]
        if frame and frame[-1].body is node:
            frame.pop()
            self.current = tuple(frame)

    visit_IndentedBlock = visit_SimpleStatementSuite = _enter_block
    leave_IndentedBlock = leave_SimpleStatementSuite = _leave_block

    def visit_Call(self, node: cst.Call) -> None:
        if self.current:
            self.calls.append(LoopCall(node, self.sem.scope, self.current))

    # ------------------------------------------------------------------ queries
    def calls_in(self, loop: cst.CSTNode) -> list[LoopCall]:
        """Calls made anywhere in `loop`'s body (nested loops included, nested defs not)."""
        if self._calls_by_loop is None:
            table: dict[int, list[LoopCall]] = {}
            for c in self.calls:
                for lp in c.loops:
                    table.setdefault(id(lp), []).append(c)
            self._calls_by_loop = table
        return self._calls_by_loop.get(id(loop), [])

    def rebuilds_model(self, loop: cst.CSTNode) -> bool:
        """Does each turn of `loop` build a new model (a fold/trial loop), or reset Keras'
        global state with `clear_session()`?"""
        key = ("rebuilds", id(loop))
        memo = self.sem._memo
        if key in memo:
            return memo[key]
        memo[key] = False
        result = False
        for c in self.calls_in(loop):
            q = self.sem.qualified_name(c.call.func, c.scope)
            if q in CLEAR_SESSION or builds_model(self.sem, c.call, c.scope):
                result = True
                break
        memo[key] = result
        return result

    def sets_trainable(self, loop: cst.CSTNode) -> bool:
        """Does `loop`'s body assign a `.trainable` flag (a fine-tuning stage loop)?"""
        for node in _statements_in(loop.body):
            if isinstance(node, cst.Assign):
                for t in node.targets:
                    if isinstance(t.target, cst.Attribute) and t.target.attr.value == "trainable":
                        return True
            elif isinstance(node, cst.Call):
                f = node.func
                if (
                    isinstance(f, cst.Name) and f.value == "setattr" and len(node.args) >= 2
                    and isinstance(node.args[1].value, cst.SimpleString)
                    and node.args[1].value.evaluated_value == "trainable"
                ):
                    return True
        return False

    def rebinds(self, receiver: cst.BaseExpression, scope: Scope, loop: cst.CSTNode) -> bool:
        """Is `receiver` (a name, or `self.<attr>`) bound inside `loop`, or its own target?"""
        sem = self.sem
        bindings: list = []
        if isinstance(receiver, cst.Name):
            bindings = sem.lookup(receiver.value, scope)
        elif isinstance(receiver, cst.Attribute) and isinstance(receiver.value, cst.Name):
            cls_scope = scope.class_scope()
            if cls_scope is not None and sem.is_self_param(receiver.value.value, scope):
                bindings = sem.class_attrs.get(id(cls_scope.node), {}).get(receiver.attr.value, [])
        return any(b.stmt is loop or b.inside(loop) for b in bindings)

    def method_calls_on(self, receiver: cst.BaseExpression, loop: cst.CSTNode, methods: frozenset) -> list[LoopCall]:
        """Calls `<receiver>.<method>(...)` (or on an attribute/item of it) in `loop`'s body."""
        target = _text(receiver)
        out = []
        for c in self.calls_in(loop):
            func = c.call.func
            if isinstance(func, cst.Attribute) and func.attr.value in methods:
                owner = _text(func.value)
                if owner == target or owner.startswith((target + ".", target + "[")):
                    out.append(c)
        return out

    def changes_what_trains(self, loop: cst.CSTNode, model: Optional[cst.BaseExpression] = None, scope: Optional[Scope] = None) -> bool:
        """Does each turn of `loop` change what is trained: a `.trainable` flag (staged
        fine-tuning), or `model` rebound (`model = grow(model, res)`) or grown (`model.add`)
        inside it (progressive training)? EPL104 and EPL204 share this."""
        if self.sets_trainable(loop):
            return True
        if model is None:
            return False
        return self.rebinds(model, scope or self.sem.module_scope, loop) or bool(self.method_calls_on(model, loop, GROW_METHODS))

    def snapshots_each_turn(self, model: cst.BaseExpression, loop: cst.CSTNode, ancestors_of) -> bool:
        """Does every turn of `loop` save `model` (`model.save(...)`, `save_weights`, `keras.models.save_model(model, ...)`)
        outside any condition? `ancestors_of(call)` gives a call's ancestors (recorded while walking)."""
        target = _text(model)
        saves = list(self.method_calls_on(model, loop, SAVE_METHODS))
        for c in self.calls_in(loop):
            if c.call.args and self.sem.qualified_name(c.call.func, c.scope) in SAVE_FUNCTIONS and _text(c.call.args[0].value) == target:
                saves.append(c)
        for c in saves:
            anc = ancestors_of(c.call)
            if anc is None:
                continue
            inside = anc[next((i for i, a in enumerate(anc) if a is loop), len(anc)):]
            if not any(isinstance(a, _BRANCHES) for a in inside):
                return True
        return False

    def loads_each_turn(self, expr: cst.BaseExpression, scope: Scope, loop: cst.CSTNode) -> bool:
        """Is `expr` new data each turn: a call made in the loop that reads the loop's own names
        (`*load_chunk(i)`) or calls a function of the project (`make_data_set()`: not a library
        function, not a method of data bound outside the loop such as `ds.shuffle(100)`), inline
        or through a name bound to it in the loop body (`x, y = make_data_set()`)? Subscripts of
        fixed arrays (`x[train_idx]`, a fold) are not new data."""
        if isinstance(expr, cst.Name):
            return any(
                b.inside(loop) and _in_body(b, loop) and isinstance(b.stmt, (cst.Assign, cst.AnnAssign))
                and isinstance(b.stmt.value, cst.Call) and self.loads_each_turn(b.stmt.value, b.scope, loop)
                for b in self.sem.lookup(expr.value, scope)
            )
        if not isinstance(expr, cst.Call):
            return False
        inner = loop_bound_names(loop)
        if any(n.value in inner for n in _names_in(expr)):
            return True
        return isinstance(expr.func, cst.Name) and self.sem.qualified_name(expr.func, scope) is None

    def header_site(self, loop: cst.CSTNode) -> Site:
        """Where `loop`'s iterable (or test) is evaluated."""
        return self.loop_sites.get(id(loop)) or Site.end_of(self.loop_scope.get(id(loop)) or self.sem.module_scope)

    def kind(self, loop: cst.CSTNode) -> str:
        """What the loop walks, for messages: "epochs" (it counts turns and holds another loop
        or is the loop around one), "batches" (a loop over data inside a counting loop),
        "folds" (it builds a model each turn), "stages" (it changes what trains), else "turns"."""
        if self.rebuilds_model(loop):
            return "folds"
        if self.sets_trainable(loop):
            return "stages"
        outer = self.outer_loops.get(id(loop), ())
        if not self.is_counting_loop(loop) and outer and self.is_counting_loop(outer[-1]):
            return "batches"
        if self.is_counting_loop(loop) and isinstance(loop, cst.For) and any(lc.loops[-1] is not loop for lc in self.calls_in(loop)):
            return "epochs"
        return "turns"

    def header(self, loop: cst.CSTNode) -> str:
        """`for res in resolutions` / `while not done`, as written (for messages)."""
        if isinstance(loop, cst.For):
            return f"for {_text(loop.target, spaced=True)} in {_text(loop.iter, spaced=True)}"
        return f"while {_text(loop.test, spaced=True)}" if isinstance(loop, cst.While) else "loop"

    def is_counting_loop(self, loop: cst.CSTNode) -> bool:
        """A loop that counts turns rather than walking data: `while ...`, `for e in range(...)`
        (also through `tqdm`, `enumerate`, `reversed`, a name bound to a range), `itertools.count()`.
        Epoch loops are counting loops; a loop over a dataset is a pass over the data."""
        if isinstance(loop, cst.While):
            return True
        if not isinstance(loop, cst.For):
            return False
        return self._counts(loop.iter, self.header_site(loop), 0)

    def _counts(self, it: cst.BaseExpression, site: Site, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        scope = site.scope
        if isinstance(it, cst.Call):
            q = self.sem.qualified_name(it.func, scope)
            if q in _RANGES or q == "itertools.count":
                return True
            args = [a.value for a in it.args if a.keyword is None and not a.star]
            if (q in _PASS_THROUGH or q == "builtins.enumerate") and args:
                return self._counts(args[0], site, depth + 1)
            return False
        if isinstance(it, cst.Name):
            b = self.sem.single_value(it.value, site)
            if b is not None:
                return self._counts(b.value, Site.of_binding(b), depth + 1)
        return False

    def loop_targets(self, loop: cst.CSTNode) -> set[str]:
        """Names a `for` loop binds."""
        if isinstance(loop, cst.For):
            return set(_target_names(loop.target))
        return set()

    def number_targets(self, loop: cst.CSTNode) -> set[str]:
        """Names a `for` loop binds to a Python number that differs every turn: the counter of
        `range(...)`/`trange`, the index of `enumerate(...)`, elements of a literal list of numbers."""
        if not isinstance(loop, cst.For):
            return set()
        return set(self._number_targets(loop.target, loop.iter, self.header_site(loop), 0))

    def _number_targets(self, target: cst.BaseExpression, it: cst.BaseExpression, site: Site, depth: int) -> list[str]:
        if depth > _MAX_DEPTH:
            return []
        scope = site.scope
        if isinstance(it, cst.Call):
            q = self.sem.qualified_name(it.func, scope)
            args = [a.value for a in it.args if a.keyword is None and not a.star]
            if q in _RANGES:
                return _target_names(target) if isinstance(target, cst.Name) else []
            if q in _PASS_THROUGH and args:
                return self._number_targets(target, args[0], site, depth + 1)
            if q == "builtins.enumerate" and args and isinstance(target, (cst.Tuple, cst.List)):
                els = [e.value for e in target.elements]
                if len(els) == 2:
                    out = _target_names(els[0]) if isinstance(els[0], cst.Name) else []
                    return out + self._number_targets(els[1], args[0], site, depth + 1)
            if q == "builtins.zip" and isinstance(target, (cst.Tuple, cst.List)):
                els = [e.value for e in target.elements]
                out: list[str] = []
                if len(els) == len(args):
                    for el, arg in zip(els, args):
                        out += self._number_targets(el, arg, site, depth + 1)
                return out
            return []
        if isinstance(it, (cst.List, cst.Tuple)) and it.elements and isinstance(target, cst.Name):
            if all(_is_number_literal(e.value) for e in it.elements):
                values = {_literal_text(e.value) for e in it.elements}
                return [target.value] if len(values) > 1 else []
            return []
        if isinstance(it, cst.Name):
            b = self.sem.single_value(it.value, site)
            if b is not None:
                return self._number_targets(target, b.value, Site.of_binding(b), depth + 1)
        return []

    def changes_per_turn(self, expr: cst.BaseExpression, loops: tuple, scope: Scope, _depth: int = 0) -> Optional[str]:
        """If `expr` is a Python number (not a tensor) that differs on every turn of one of
        `loops`, the name it comes from; else None."""
        if _depth > _MAX_DEPTH:
            return None
        if isinstance(expr, cst.Name):
            for loop in reversed(loops):
                if expr.value in self.number_targets(loop):
                    return expr.value
            bindings = self.sem.lookup(expr.value, scope)
            if not bindings or any(b.kind not in ("assign", "augassign", "annassign") for b in bindings):
                return None
            for loop in reversed(loops):
                inner = [b for b in bindings if b.inside(loop) and _in_body(b, loop)]
                if not inner:
                    continue
                # a counter: `step += 1` in the loop, started from a number outside it
                if any(b.kind == "augassign" and _is_number_literal(b.value) for b in inner):
                    starts = [b for b in bindings if b.kind in ("assign", "annassign") and not b.inside(loop)]
                    if starts and all(_is_number_literal(b.value) for b in starts):
                        return expr.value
                # `global_step = epoch * steps + i`: every binding in the loop changes per turn
                if all(b.kind in ("assign", "annassign") for b in inner):
                    if all(b.value is not None and self.changes_per_turn(b.value, loops, b.scope, _depth + 1) for b in inner):
                        return expr.value
                return None
            return None
        if isinstance(expr, cst.BinaryOperation):
            if not isinstance(expr.operator, _INJECTIVE_OPERATORS):
                return None  # `epoch % 2`, `epoch // 10`: a few values, a few traces
            left = self._number_part(expr.left, loops, scope, _depth)
            right = self._number_part(expr.right, loops, scope, _depth)
            if left is False or right is False:
                return None
            return left if isinstance(left, str) else (right if isinstance(right, str) else None)
        if isinstance(expr, cst.UnaryOperation):
            return self.changes_per_turn(expr.expression, loops, scope, _depth + 1)
        if isinstance(expr, cst.Call) and len(expr.args) >= 1 and self.sem.qualified_name(expr.func, scope) in _NUMERIC_CASTS:
            found = [self._number_part(a.value, loops, scope, _depth) for a in expr.args if a.keyword is None]
            if any(f is False for f in found):
                return None
            return next((f for f in found if isinstance(f, str)), None)
        return None

    def _number_part(self, expr: cst.BaseExpression, loops: tuple, scope: Scope, depth: int):
        """An operand: the changing name (str), True for a constant number, False otherwise."""
        if _is_number_literal(expr):
            return True
        changing = self.changes_per_turn(expr, loops, scope, depth + 1)
        if changing:
            return changing
        if isinstance(expr, cst.Name):
            bindings = self.sem.lookup(expr.value, scope)
            if bindings and all(b.kind in ("assign", "annassign") and _is_number_literal(b.value) for b in bindings):
                return True
        return False


def epoch_loop(chain: tuple, is_counting=None) -> Optional[cst.CSTNode]:
    """The epoch loop of a chain of loops around a per-batch statement (outermost first): the
    loop around the innermost one, when it counts turns (`is_counting`, e.g.
    `LoopIndex.is_counting_loop`: `for epoch in range(...)`, `while`). A single loop is one
    pass over the data (an evaluation, or an epoch loop whose statement runs once per epoch),
    and a loop over data around another loop (`for batch in ds: for sample in batch`) is
    one pass too: neither is an epoch loop."""
    if len(chain) < 2:
        return None
    candidate = chain[-2]
    if is_counting is not None and not is_counting(candidate):
        return None
    return candidate


def builds_model(sem: SemanticModel, call: cst.Call, scope: Scope) -> bool:
    """Is `call` known to build a Keras model (a factory, a model class, a same-module function
    returning one, also inside a returned tuple such as `model, optimizer = build()`)?"""
    if sem.model_provenance(call, scope) is True:
        return True
    fn = sem.local_def(call.func, scope)
    if isinstance(fn, cst.FunctionDef):
        fn_scope = sem.scope_for(fn)
        if fn_scope is not None:
            for r in fn_scope.returns:
                if isinstance(r, (cst.Tuple, cst.List)):
                    if any(sem.model_provenance(e.value, fn_scope) is True for e in r.elements):
                        return True
    return False


def _in_body(b: Binding, loop: cst.CSTNode) -> bool:
    """Is binding `b` (inside `loop`) in its body rather than its target/iter/else?"""
    anc = b.ancestors
    for i, a in enumerate(anc):
        if a is loop:
            nxt = anc[i + 1] if i + 1 < len(anc) else b.stmt
            return nxt is loop.body
    return False


def _statements_in(node: cst.CSTNode):
    """Assignments and calls in a loop body (not entering nested defs or classes)."""
    return (n for n in iter_nodes(node, FRAMES) if isinstance(n, (cst.Assign, cst.Call)))


def loop_bound_names(loop: cst.CSTNode) -> set[str]:
    """Names bound by `loop` itself or in its body (they may differ from one turn to the next)."""
    out = set(_target_names(loop.target)) if isinstance(loop, cst.For) else set()
    for node in _statements_in(loop.body):
        if isinstance(node, cst.Assign):
            for t in node.targets:
                out.update(_target_names(t.target))
    return out


def _names_in(expr: cst.CSTNode):
    """The names an expression reads (not inside lambdas)."""
    return (n for n in iter_nodes(expr, (cst.Name, cst.Lambda, *FRAMES)) if isinstance(n, cst.Name))


_EMPTY = cst.Module(body=[])


def _text(node: cst.CSTNode, spaced: bool = False) -> str:
    """Source text of a node; whitespace removed (for comparing) unless `spaced`."""
    code = _EMPTY.code_for_node(node)
    return " ".join(code.split()) if spaced else "".join(code.split())


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        out: list[str] = []
        for el in target.elements:
            out += _target_names(el.value)
        return out
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _is_number_literal(node: Optional[cst.CSTNode]) -> bool:
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        return isinstance(node.expression, (cst.Integer, cst.Float))
    return False


def _literal_text(node: cst.CSTNode) -> str:
    if isinstance(node, cst.UnaryOperation):
        return "-" + _literal_text(node.expression)
    return getattr(node, "value", "")
