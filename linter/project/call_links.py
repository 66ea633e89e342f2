"""The walk that records how a module uses the functions of other project modules that a rule
asked about (`CallLinks`; the records and what they mean: linter.project.links)."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from linter.project.links import ESCAPE
from linter.semantic import Site

_IMPORTS = (cst.Import, cst.ImportFrom, cst.ImportAlias, cst.AsName)


class CallLinks:
    """The walk-time half: records the uses of the imported names `ProjectView.wanted` asks for
    (registered by the engine only when it asks for some)."""

    def __init__(self, semantic, project) -> None:
        self.sem = semantic
        self.project = project
        self.wanted = {key: set(names) for key, names in project.wanted.items()}
        self.uses: list = []  # (Name node, scope, seq, ancestors) of every use of an imported name

    def visit_Name(self, node: cst.Name) -> None:
        """A use of a name bound by an import, or bound nowhere yet: a function defined above a
        module-level import uses what the import binds later (`records` resolves each use once
        every binding is known)."""
        sem = self.sem
        stack = sem.stack
        if not stack or _binds_it(node, stack):
            return
        bindings = sem.lookup(node.value, sem.scope)
        if bindings and not any(b.kind == "import" for b in bindings):
            return
        self.uses.append((node, sem.scope, sem.seq + 1, tuple(stack)))

    # ------------------------------------------------------------------ resolution
    def _target(self, qname: Optional[str]):
        """(module key, rest of the dotted name) when `qname` is in a wanted module, else None."""
        if not qname:
            return None
        parts = qname.split(".")
        for i in range(len(parts), 0, -1):
            key = self.project.module_key(".".join(parts[:i]))
            if key is not None:
                return (key, parts[i:]) if key in self.wanted else None
        return None

    def records(self) -> dict:
        """{module key: {function: [call records] | "escape"}} for the wanted functions used here."""
        sem = self.sem
        out: dict = {}

        def escape(key: str, fn: str) -> None:
            out.setdefault(key, {})[fn] = ESCAPE

        def call(key: str, fn: str, node: cst.Call, site: Site) -> None:
            per = out.setdefault(key, {})
            if per.get(fn) == ESCAPE:
                return
            per.setdefault(fn, []).append(_record(sem, node, site))

        for dotted in sem.star_imports:  # `from lib import *`: every wanted name of lib may be used
            hit = self._target(dotted)
            if hit is not None and not hit[1]:
                for fn in self.wanted[hit[0]]:
                    escape(hit[0], fn)
        used: set = set()
        for node, scope, seq, ancestors in self.uses:
            bindings = sem.reaching(node.value, scope, seq, ancestors)
            imports = [b for b in bindings if b.kind == "import" and self._target(b.qname) is not None]
            if not imports:
                continue
            used.update(id(b) for b in imports)
            chain, top = _attribute_chain(node, ancestors)
            targets = set()
            for b in imports:  # (the module object itself, `import lib` then `f(lib)`: not followed)
                hit = self._target(".".join([b.qname, *chain]) if chain else b.qname)
                if hit is not None and len(hit[1]) == 1 and hit[1][0] in self.wanted[hit[0]]:
                    targets.add((hit[0], hit[1][0], top))
            if not targets:
                continue
            mixed = len(imports) != len(bindings) or len({(k, f) for k, f, _ in targets}) != 1
            for key, fn, top in targets:
                parent = _parent_of(top, node, ancestors)
                if mixed or not (isinstance(parent, cst.Call) and parent.func is top):
                    escape(key, fn)
                else:
                    call(key, fn, parent, Site(scope, seq, ancestors))
        for scope in (sem.module_scope, *sem.scope_of_node.values()):  # imported and never used: re-exported?
            for bindings in scope.names.values():
                for b in bindings:
                    if b.kind != "import" or id(b) in used:
                        continue
                    hit = self._target(b.qname)
                    if hit is not None and len(hit[1]) == 1 and hit[1][0] in self.wanted[hit[0]]:
                        escape(hit[0], hit[1][0])
        return out


def _binds_it(node: cst.Name, stack: list) -> bool:
    """Is `node` the name a def, class, parameter or import statement binds (not a use)?"""
    parent = stack[-1]
    if parent.__class__ in (cst.FunctionDef, cst.ClassDef, cst.Param):
        return parent.name is node
    k = len(stack) - 1
    while k >= 0 and stack[k].__class__ is cst.Attribute:  # `import a.b.c`, `from a.b import c`
        k -= 1
    return k >= 0 and stack[k].__class__ in _IMPORTS


def _attribute_chain(node: cst.Name, ancestors: tuple) -> tuple:
    """(attribute names after `node`, the outermost Attribute of the chain or `node`)."""
    chain = []
    top: cst.CSTNode = node
    for parent in reversed(ancestors):
        if isinstance(parent, cst.Attribute) and parent.value is top:
            chain.append(parent.attr.value)
            top = parent
        else:
            break
    return chain, top


def _parent_of(top: cst.CSTNode, node: cst.Name, ancestors: tuple):
    """The parent of `top` (`node` itself or an Attribute chain above it) among `ancestors`."""
    if top is node:
        return ancestors[-1] if ancestors else None
    for k in range(len(ancestors) - 1, -1, -1):
        if ancestors[k] is top:
            return ancestors[k - 1] if k else None
    return None


def _record(sem, call: cst.Call, site: Site) -> dict:
    """What a call passes: each argument's provenance where the call is (`site`)."""
    positional, keywords, star = [], {}, False
    for a in call.args:
        if a.star:
            star = True
            continue
        verdict = sem.model_provenance(a.value, site.scope, site=site)
        if a.keyword is not None:
            keywords[a.keyword.value] = verdict
        else:
            positional.append(verdict)
    return {"a": positional, "k": keywords, "s": star}


