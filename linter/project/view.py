"""What one checked file sees of its project: `ProjectView`.

A view holds the file's own module name (for relative imports), the project modules its imports
resolve to (absolute dotted name -> module key, the module's path) and the summaries of those
modules. It is plain data (picklable: the parent builds it and sends it to the worker that
checks the file) and answers one question for the `SemanticModel`: what does a qualified name
(`models.build_model`, `pkg.nets.Net`, `network.model`) denote in the project? `fact` returns the
summary's fact for it, or None when the name is not a project name or nothing is known.

`digest` is the key of the file's project context: it changes when the file's imports resolve
differently or the summary of any module it (transitively) imports changes, so a cached result
that depends on them is not reused (linter.cache).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

MAX_HOPS = 16  # re-export chains followed (a cycle of re-exports ends here)
SUMMARY_VERSION = 2  # 2: "data", "random" and "metric" facts (dataset builders, map functions, metric factories)


def empty(keras: bool = False, broken: bool = False) -> dict:
    """The summary of a module nothing is known of (not Keras-related, or cannot be parsed);
    the shape of every summary (linter.project.summary)."""
    return {"v": SUMMARY_VERSION, "keras": keras, "all": None, "broken": broken, "names": {}}


@dataclass
class ProjectView:
    module: str = ""  # the checked file's dotted module name ("" when unknown)
    is_package: bool = False  # an __init__.py: relative imports start from the module itself
    resolved: dict = field(default_factory=dict)  # absolute dotted module -> module key (found ones)
    summaries: dict = field(default_factory=dict)  # module key -> summary (dict, see summary.py)
    related_keras: bool = False  # a project module it imports (transitively) mentions keras/tensorflow
    used_by_keras: bool = False  # a module related to keras/tensorflow imports it (it is checked)
    digest: str = ""  # what its cached result depends on besides its own bytes
    summary_key: str = ""  # the key its summary is cached under (its content and its imports')
    want_summary: bool = False  # the check computes this file's summary (another file imports it)
    # calls across modules (linter.project.links): the functions of imported modules whose uses
    # this check records ({module key: [names]}), and the calls other modules make of this
    # module's functions ({name: [call records] | "escape"}; set when it is checked again)
    wanted: dict = field(default_factory=dict)
    incoming: dict = field(default_factory=dict)

    def absolute(self, level: int, module: Optional[str]) -> Optional[str]:
        """The absolute module a relative import (`from ..a import b`: level 2, "a") names."""
        if not self.module:
            return None
        parts = self.module.split(".")
        if not self.is_package:
            parts = parts[:-1]
        if level - 1 > len(parts) or (level - 1 == len(parts) and not module):
            return None
        base = parts[: len(parts) - (level - 1)]
        if module:
            base = base + module.split(".")
        return ".".join(base) or None

    def module_key(self, dotted: str) -> Optional[str]:
        return self.resolved.get(dotted)

    def fact(self, qname: Optional[str]) -> Optional[dict]:
        """The project fact a qualified name denotes: {"kind": "function"|"class"|"value"|
        "module"|"import", ...} (see summary.py), or None."""
        if not qname or not self.resolved:
            return None
        parts = qname.split(".")
        for i in range(len(parts), 0, -1):
            key = self.resolved.get(".".join(parts[:i]))
            if key is not None:
                return self._walk(key, parts[i:], 0)
        return None

    def _walk(self, key: str, rest: list, hops: int) -> Optional[dict]:
        if not rest:
            return {"kind": "module", "module": key}
        if hops > MAX_HOPS:
            return None
        summary = self.summaries.get(key)
        if not summary:
            return None
        found = summary.get("names", {}).get(rest[0])
        if found is None:
            return None
        if found.get("kind") == "module":
            return self._walk(found["module"], rest[1:], hops + 1)
        return found if len(rest) == 1 else None

    def star_names(self, dotted: str) -> Optional[dict]:
        """The names `from dotted import *` binds, with their facts (None: not a project module
        or no summary)."""
        key = self.resolved.get(dotted)
        summary = self.summaries.get(key) if key is not None else None
        if not summary:
            return None
        names = summary.get("names", {})
        exported = summary.get("all")
        if exported is None:
            exported = [n for n in names if not n.startswith("_")]
        return {n: names[n] for n in exported if n in names}
