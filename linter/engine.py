"""Check one source: pre-check, one guarded libcst parse, one walk with every rule, findings.

`check_source` is the check step of the per-file pipeline (linter.runner): text -> (pre-check)
-> parse -> walk (semantic model + rules) -> `finish` -> positions -> fixes as edits -> noqa ->
sorted findings. Anything that goes wrong inside becomes an `EPL000` finding for that file only
(`epl000` is the one constructor of EPL000 findings). `parses` is the same guarded parse for
`--fix`'s check that a fixed text still parses.
"""
from __future__ import annotations

import ast
import gc
import os
import re
import threading
import warnings
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Iterable, Optional

import libcst as cst

from linter import limits, suppression
from linter.edits import EditFix, TextMap, Unaligned
from linter.finding import FileResult, Finding, Fix  # FileResult: re-exported (defined without libcst)
from linter.positions import node_positions
from linter.rules import Rule, rules_for
from linter.semantic import SemanticModel, Scope
from linter.source import SourceFile
from linter.walker import Walker, deep_recursion, iter_handlers

# A file that names none of these cannot involve Keras: it is skipped without a parse.
KERAS_HINT = re.compile(r"keras|tensorflow")

FULL_COLLECTION_EVERY = 256  # files between full garbage collections (see check_source)
_files_since_full_collection = 0

# libcst's native parser recurses on the C stack: about 1,200 nested brackets or 6,000 nested
# operators crash the process (SIGSEGV), which no `except` can catch. CPython refuses more
# than 200 nested brackets and about 3,000 nested operators, so a file that may nest deeper
# than DEEP_NESTING is first parsed by the standard library, which fails cleanly on it.
DEEP_NESTING = 900
_NOT_BRACKET = re.compile(r"[^()\[\]{}]+")
_BRACKET_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}
_PREFIX_RUN = re.compile(r"(?:[-+~]\s*|not\s+|await\s+){%d}" % DEEP_NESTING)
_CHAIN_TOKENS = ("**", "else", "lambda")
# CPython's parser refuses a chain of about 2,900 binary operators (`a + a + ...`: RecursionError
# "during ast construction"); libcst parses it, slowly, and the file would pass. More operator
# characters than this in a file means the standard library's parser decides first (it is
# about ten times faster than libcst's, and ordinary files of 600 KB hold fewer than 2,000).
BINARY_CHAIN = 2500
_BINARY_OPERATORS = "+-*/%@|&^"
# ... and nesting the guard does not see (a chain of 8,000 `and`s crashes it with the usual 8 MiB
# main-thread stack) gets room: each file is checked on a thread with this much (virtual) stack.
PARSE_STACK_BYTES = 1 << 30


@dataclass(frozen=True)
class CheckOptions:
    enabled: frozenset  # codes (rules and meta codes) reported for this file
    strict: bool = False
    rule_options: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Report:
    rule: Rule
    node: cst.CSTNode
    message: str
    fix: Optional[EditFix]


class FileContext:
    """What a rule sees of the file being checked."""

    def __init__(self, source: SourceFile, module: cst.Module, semantic: SemanticModel, options: CheckOptions) -> None:
        self.source = source
        self.module = module
        self.semantic = semantic
        self.strict = options.strict
        self.options = options.rule_options
        self.stack: list = semantic.stack  # ancestors of the node being visited
        self.reports: list[Report] = []
        self.analyses: dict[type, object] = {}  # shared walk-time collectors, see `analysis()`

    def analysis(self, cls: type):
        """The file's one instance of an analysis (`cls(ctx)`), created on first request.

        The engine builds the analyses each rule declares (`Rule.ANALYSES`) before the walk and
        walks those with `visit_`/`leave_` handlers ahead of the rules, so several rules share
        one collection; a rule gets its instance with `Rule.analysis(cls)`.
        """
        found = self.analyses.get(cls)
        if found is None:
            found = self.analyses[cls] = cls(self)
        return found

    @property
    def scope(self) -> Scope:
        return self.semantic.scope

    def ancestors(self) -> tuple:
        """A snapshot of the ancestor stack (outermost first) for decisions made in finish()."""
        return tuple(self.stack)

    def report(self, rule: Rule, node: cst.CSTNode, message: str, fix: Optional[object] = None) -> None:
        self.reports.append(Report(rule, node, message, fix))


# --------------------------------------------------------------------------- dispatch
_HANDLER_CACHE: dict[type, list[tuple[str, type, str]]] = {}


def _handlers_of(obj: object) -> list[tuple[str, type, str]]:
    cls = type(obj)
    if cls not in _HANDLER_CACHE:
        _HANDLER_CACHE[cls] = list(iter_handlers(obj))
    return _HANDLER_CACHE[cls]


def _dispatch(objs: Iterable[object]) -> tuple[dict, dict]:
    enter: dict[type, list] = {}
    leave: dict[type, list] = {}
    for obj in objs:
        for kind, node_cls, attr in _handlers_of(obj):
            (enter if kind == "visit" else leave).setdefault(node_cls, []).append(getattr(obj, attr))
    # The semantic model pops scopes on leave; rules must see the inner scope on their own
    # leave_ handlers, so semantic leave handlers run last.
    return enter, {k: list(reversed(v)) for k, v in leave.items()}


# --------------------------------------------------------------------------- pipeline
SKIP_NO_KERAS = "no keras/tensorflow mention in it or in the project modules it imports"
SKIP_NOTHING = "nothing in it that any rule looks at"


def check_source(source: SourceFile, options: CheckOptions, rules: Optional[Iterable[type[Rule]]] = None, project=None) -> FileResult:
    """Check one source. `project` (a linter.project.view.ProjectView) gives the facts of the
    project modules it imports; a file that mentions neither keras nor tensorflow is checked
    all the same when one of them (transitively) does."""
    related = project is not None and project.related_keras
    want = project is not None and project.want_summary
    wanted = project is not None and bool(getattr(project, "wanted", None))  # its calls are asked for
    # a module a keras-related module imports is looked at too: its functions may be handed models
    keras_side = related or (project is not None and getattr(project, "used_by_keras", False))
    if not limits.needs_parse(source.text, keras_side) and not (want and related) and not wanted:
        result = FileResult(source.path, [], skipped=True)
        result.reason = SKIP_NOTHING if (keras_side or KERAS_HINT.search(source.text)) else SKIP_NO_KERAS
        if want:
            from linter.project.summary import empty

            result.summary = empty(keras=related)
        return result
    try:
        return limits.bounded(source, on_big_stack, _check_collected, source, options, rules, project, prepare=start_big_stack)
    except limits.TooLarge as exc:  # over --max-seconds / --max-memory, or predicted to be
        return FileResult(source.path, epl000(source.path, "too-large", str(exc), options.enabled))


def summarize_source(source: SourceFile, project) -> dict:
    """The project summary of a module that is imported but not checked in this run: its one
    parse and a walk of the semantic model alone (no rule runs). A module that cannot be parsed
    (or is too large) has an empty summary: its importers see its names as unknown."""
    from linter.project import summary as S

    if not project.related_keras:
        return S.empty(keras=False)
    try:
        return limits.bounded(source, on_big_stack, _summarize, source, project, prepare=start_big_stack)
    except limits.TooLarge:
        return S.empty(keras=True, broken=True)


def _summarize(source: SourceFile, project) -> dict:
    from linter.project import summary as S

    if looks_too_deep(source.text):
        return S.empty(keras=True, broken=True)
    try:
        module = parse_module(source.text)
    except Exception:  # ParserSyntaxError, RecursionError, MemoryError: nothing is known of it
        return S.empty(keras=True, broken=True)
    try:
        with deep_recursion():
            semantic = SemanticModel(module, project)
            enter, leave = _dispatch([semantic])
            Walker(enter, leave, semantic.stack).walk(module)
            return S.summarize(semantic)
    except Exception:
        return S.empty(keras=True, broken=True)


def _check_collected(source: SourceFile, options: CheckOptions, rules: Optional[Iterable[type[Rule]]], project=None) -> FileResult:
    if not gc.isenabled():
        return _check_source(source, options, rules, project)
    # A parse allocates millions of objects and the cyclic GC would scan the growing tree again
    # and again (about a third of the parse time). Nothing in a tree is cyclic; the semantic
    # model and the rules are, so the file's garbage is collected when it is done: the young
    # generation, then the next one. Left to the automatic GC, which rarely runs between
    # files, these trees piled up: +150 MiB and +20% time over the 2,306 files of the wheel
    # corpus. The analyses are no longer cached in a WeakKeyDictionary (the rules declare them
    # and the engine hands them over), and re-measured without these two collections (1,356
    # files of keras/src + tf_keras, in one process) the peak memory is the same (427 vs 428
    # MiB) but the CPU time is +16% (38.3 s vs 44.3 s): they stay. A full collection now and
    # then catches anything longer-winded.
    gc.disable()
    try:
        return _check_source(source, options, rules, project)
    finally:
        gc.enable()
        gc.collect(0)
        gc.collect(1)
        global _files_since_full_collection
        _files_since_full_collection += 1
        if _files_since_full_collection >= FULL_COLLECTION_EVERY:
            _files_since_full_collection = 0
            gc.collect()


def _check_source(source: SourceFile, options: CheckOptions, rules: Optional[Iterable[type[Rule]]], project=None) -> FileResult:
    if looks_too_deep(source.text):
        refused = _refuse_deep(source, options)
        if refused is not None:
            return refused
    try:
        module = parse_module(source.text)
    except cst.ParserSyntaxError as exc:
        return _broken(FileResult(source.path, _epl000(source, options, "syntax-error", *_syntax_error(source.text, exc))), project)
    except (RecursionError, MemoryError) as exc:
        return _broken(FileResult(source.path, _epl000(source, options, "syntax-error", f"cannot parse: {type(exc).__name__} (nesting too deep for the parser)", 1, 1)), project)
    summary: list = []
    links: list = []
    try:
        with deep_recursion():  # walk, finish() and positions on trees nested up to CPython's limits
            findings = run_rules(source, module, options, rules, project, summary, links)
    except RecursionError:
        findings = _epl000(
            source, options, "internal-error",
            "cannot check this file: it is nested too deeply for the checker (RecursionError)", 1, 1,
            detail=_traceback(limit=-8),
        )
    except Exception as exc:  # a bug in a rule must not stop the run
        findings = _epl000(
            source, options, "internal-error",
            f"internal error while checking this file: {type(exc).__name__}: {exc} (please report it)", 1, 1,
            detail=_traceback(),
        )
    result = FileResult(source.path, findings)
    if project is not None and project.want_summary:
        from linter.project.summary import empty

        result.summary = summary[0] if summary else empty(keras=True, broken=True)
    if project is not None and links and (links[0]["asked"] or links[0]["calls"]):
        result.links = links[0]
    return result


def _broken(result: FileResult, project) -> FileResult:
    """A file that cannot be parsed: its importers know nothing of it."""
    if project is not None and project.want_summary:
        from linter.project.summary import empty

        result.summary = empty(keras=True, broken=True)
    return result


def _traceback(limit=None) -> str:
    import traceback  # only for an internal error (traceback imports textwrap: ~3 ms of start-up)

    return traceback.format_exc(limit=limit)


class _Raised:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _BigStackThread:
    """One long-lived daemon thread with PARSE_STACK_BYTES of stack that runs calls for the
    caller, who waits. The whole check of a file runs there, not only the parse: a tree built
    on one thread and walked on another is built and walked on two cores, and the cache misses
    cost 15-30% of the parse (a thread per file would also fault in a fresh stack each time).
    A worker that the caller stopped waiting for (Ctrl-C) is abandoned, and a forked child
    starts its own (threads do not survive a fork)."""

    def __init__(self) -> None:
        self.request = threading.Event()
        self.done = threading.Event()
        self.call_: Optional[tuple] = None
        self.result: object = None
        previous = threading.stack_size(PARSE_STACK_BYTES)
        try:
            self.thread = threading.Thread(target=self._serve, name="epochlint-check", daemon=True)
            self.thread.start()
        finally:
            threading.stack_size(previous)

    def _serve(self) -> None:
        _on_big_stack.inside = True
        while True:
            self.request.wait()
            self.request.clear()
            fn, args = self.call_
            self.call_ = None
            try:
                self.result = fn(*args)
            except BaseException as exc:  # re-raised in the caller's thread
                self.result = _Raised(exc)
            self.done.set()

    def call(self, fn, args: tuple) -> object:
        self.call_ = (fn, args)
        self.result = None
        self.done.clear()
        self.request.set()
        self.done.wait()
        result, self.result = self.result, None
        return result


_worker: Optional[_BigStackThread] = None
_worker_lock = threading.Lock()
_on_big_stack = threading.local()  # .inside is True on a _BigStackThread


def _forget_worker() -> None:
    global _worker, _worker_lock
    _worker = None
    _worker_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_worker)


def on_big_stack(fn, *args):
    """`fn(*args)` on the thread with PARSE_STACK_BYTES of stack (directly when already there)."""
    global _worker
    if getattr(_on_big_stack, "inside", False):
        return fn(*args)
    with _worker_lock:
        worker = _worker
        if worker is None or not worker.thread.is_alive():
            try:
                worker = _BigStackThread()
            except (ValueError, RuntimeError):  # no settable thread stacks on this platform
                return fn(*args)
        _worker = None  # taken: if this call is interrupted, the next one starts afresh
        result = worker.call(fn, args)
        _worker = worker
    if isinstance(result, _Raised):
        raise result.exc
    return result


def start_big_stack() -> None:
    """Start the big-stack thread now (a guarded child does, before its memory limit is set)."""
    on_big_stack(int)


def parse_module(text: str) -> cst.Module:
    """`libcst.parse_module` on the big-stack thread (see DEEP_NESTING)."""
    return on_big_stack(cst.parse_module, text)


def parses(text: str) -> bool:
    """Does `text` parse? The same guarded parse as a check (a deep-looking text is parsed by
    the standard library first, libcst runs on the big-stack thread), so a fixed text that
    nests too deeply is refused instead of crashing the process."""
    if looks_too_deep(text):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    try:
        parse_module(text)
    except Exception:  # ParserSyntaxError, RecursionError, MemoryError
        return False
    return True


def looks_too_deep(text: str) -> bool:
    """Could this text nest deeper than DEEP_NESTING? Cheap, and errs on the side of yes
    (brackets in strings count too): a yes only costs a parse by the standard library."""
    if text.count("(") + text.count("[") + text.count("{") > DEEP_NESTING:
        brackets = _NOT_BRACKET.sub("", text)
        if max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > DEEP_NESTING:
            return True
    if any(text.count(token) > DEEP_NESTING for token in _CHAIN_TOKENS):
        return True
    if sum(map(text.count, _BINARY_OPERATORS)) > BINARY_CHAIN:
        return True
    prefixes = text.count("-") + text.count("+") + text.count("~") + text.count("not") + text.count("await")
    return prefixes > DEEP_NESTING and _PREFIX_RUN.search(text) is not None


def _refuse_deep(source: SourceFile, options: CheckOptions) -> Optional[FileResult]:
    """Parse a deep-looking file with the standard library first: None when it parses (its
    nesting is then within what libcst handles), else the EPL000 finding, libcst untouched."""
    try:
        with warnings.catch_warnings():  # e.g. "'int' object is not callable": not ours to print
            warnings.simplefilter("ignore")
            ast.parse(source.text)
    except SyntaxError as err:
        line, col = err.lineno or 1, max(err.offset or 1, 1)
        return FileResult(source.path, _epl000(source, options, "syntax-error", f"cannot parse: {err.msg}", line, col))
    except (RecursionError, MemoryError) as exc:
        message = f"cannot parse: nested too deeply (Python itself cannot compile it: {type(exc).__name__}: {exc})"
        return FileResult(source.path, _epl000(source, options, "syntax-error", message, 1, 1))
    except ValueError as exc:
        return FileResult(source.path, _epl000(source, options, "syntax-error", f"cannot parse: {exc}", 1, 1))
    return None


def run_rules(source: SourceFile, module: cst.Module, options: CheckOptions, rules: Optional[Iterable[type[Rule]]] = None, project=None, summary: Optional[list] = None, links_out: Optional[list] = None) -> list[Finding]:
    """The walk and the rules; with `summary` (a list) and a `project` that wants it, the
    module's project summary is appended to it, computed from the same semantic model; with
    `links_out` (a list), its calls across project modules (linter.project.links)."""
    rule_classes = [r for r in rules if r.code in options.enabled] if rules is not None else rules_for(options.enabled)
    semantic = SemanticModel(module, project)
    ctx = FileContext(source, module, semantic, options)
    for cls in rule_classes:  # each analysis a rule declares, built once for the file
        for analysis in cls.ANALYSES:
            ctx.analysis(analysis)
    instances = [cls(ctx) for cls in rule_classes]
    links = None
    if links_out is not None and project is not None and getattr(project, "wanted", None):
        from linter.project.call_links import CallLinks

        links = CallLinks(semantic, project)
    enter, leave = _dispatch([semantic, *ctx.analyses.values(), *instances, *([links] if links is not None else [])])
    Walker(enter, leave, semantic.stack).walk(module)
    for rule in instances:
        rule.finish()
    if links_out is not None:
        try:
            calls = links.records() if links is not None else {}
        except Exception:  # the modules it calls stay silent on what it may pass them
            from linter.project.links import escape_all

            calls = escape_all(project.wanted)
        links_out.append({"asked": sorted(semantic.asked_functions), "calls": calls})
    if summary is not None and project is not None and project.want_summary:
        from linter.project.summary import summarize

        try:
            summary.append(summarize(semantic, keras=project.related_keras))
        except Exception:  # the importers see its names as unknown; this file's findings stand
            pass
    findings = _to_findings(source, module, ctx.reports)
    return suppression.apply(source, findings, options.enabled)


def _to_findings(source: SourceFile, module: cst.Module, reports: list[Report]) -> list[Finding]:
    if not reports:
        return []
    anchors = [n for rep in reports if rep.fix is not None for n in rep.fix.anchors]
    positions = node_positions(module, [*(rep.node for rep in reports), *anchors])
    # Positions are measured on libcst's rendering of the module, which is not always the file
    # (a form feed at a line start, a final lone CR, trailing blank lines are dropped): they are
    # carried over to the file's own text, where edits are made (linter.edits.TextMap).
    # the positions' pass generated the module's code already: no second code generation
    code = (positions.code if positions.code is not None else module.code) if (any(rep.fix for rep in reports) or "\x0c" in source.text) else None
    try:
        tmap: Optional[TextMap] = TextMap(source.text, code)
    except Unaligned:
        tmap = None  # positions stay libcst's; no fix is offered (its offsets would be a guess)
    findings = []
    seen = set()
    for rep in reports:
        rng = positions[rep.node]
        if tmap is not None and tmap.points is not None:
            (line, col), (end_line, end_col) = (tmap.line_col(o) for o in tmap.span(rng))
        else:
            line, col, end_line, end_col = rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1
        key = (rep.rule.code, line, col, end_line, end_col)
        if key in seen:
            continue
        seen.add(key)
        f = Finding(
            code=rep.rule.code,
            name=rep.rule.name,
            message=rep.message,
            path=source.path,
            line=line,
            column=col,
            end_line=end_line,
            end_column=end_col,
            fix=_resolve_fix(source, rep.fix, positions, tmap) if rep.fix and tmap is not None else None,
        )
        findings.append(f)
    findings.sort(key=Finding.sort_key)
    return findings


def _resolve_fix(source: SourceFile, fix: EditFix, positions, tmap: TextMap) -> Optional[Fix]:
    """A rule's fix as text edits on the file's own text; None when it cannot be placed."""
    try:
        return fix.resolve(source.text, lambda node: tmap.span(positions[node]), tmap)
    except (ValueError, KeyError, IndexError):  # the fix cannot be placed here: the finding stays, unfixed
        return None


# --------------------------------------------------------------------------- EPL000
def epl000(path: str, name: str, message: str, enabled: frozenset, line: int = 1, column: int = 1, detail: Optional[str] = None) -> list[Finding]:
    """The EPL000 finding of a file that cannot be checked (`name`: syntax-error,
    unreadable-file, too-large or internal-error), or none when EPL000 is not enabled for it."""
    if "EPL000" not in enabled:
        return []
    return [Finding("EPL000", name, message, path, line, column, line, column + 1, detail=detail)]


def _epl000(source: SourceFile, options: CheckOptions, name: str, message: str, line: int, column: int, detail: Optional[str] = None) -> list[Finding]:
    return epl000(source.path, name, message, options.enabled, line, column, detail)


def _syntax_error(text: str, exc: cst.ParserSyntaxError) -> tuple[str, int, int]:
    """Message and 1-based position of a syntax error. libcst's position is often off: 1:1 for
    unindent errors and IPython syntax, or the line after the error (`def f(:` on line 5 is
    reported at 6:4). The standard library's parser is the reference, so its message and
    position win whenever it fails too; libcst's are kept when only libcst fails."""
    try:
        ast.parse(text)
    except SyntaxError as err:
        if err.lineno:
            return f"cannot parse: {err.msg}", err.lineno, max(err.offset or 1, 1)
    except (ValueError, RecursionError, MemoryError):
        pass
    first = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
    return f"cannot parse: {first}", max(exc.raw_line, 1), max(exc.raw_column + 1, 1)

