"""A run's project: the import graph of the files checked, and their views in dependency order.

`Project` is built once per run (linter.parallel) from the files to check and the bytes read
for them: it indexes them and every project module they import (read, never parsed: their
imports are found by linter.project.imports), and hands out the waves of modules to process,
modules before the modules that import them. For each module it gives the `ProjectView` its
check needs (the summaries of its imports, its cache digest) and keeps the summaries the checks
produce. A module that is imported but not checked in this run is summarised on its own (its
one parse), unless its summary is cached.

The same object serves a long-lived caller (the language server): `Project.for_path(path)`,
`summary_of(path)`, `view_for(path)` and `invalidate(path)`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

from linter.project.index import ModuleNode, ProjectGraph, ProjectIndex, Reader, begin_run, build_graph, find_root, load as _load, text_of
from linter.project.view import ProjectView, empty


class Project:
    """The project modules of one run (or of a long-lived session: see the module docstring)."""

    def __init__(self, files: list, data: dict, config_root: Optional[Path] = None, cache=None, lazy: bool = False) -> None:
        """`data`: the bytes the caller read, by index in `files`; `lazy`: the caller read none,
        the files are read as the modules they import are (not at all when the cache's stat
        index knows them: then `ModuleNode.data` reads them on demand)."""
        begin_run()  # the file system as it is now: folders listed again, imports resolved again
        self.cache = cache
        self.config_root = config_root
        self.summaries: dict[str, dict] = {}
        self.indexes: dict[Path, ProjectIndex] = {}
        self.checked: dict[str, list] = {}  # module key -> indices of `files` naming it
        self.asked: dict[str, list] = {}  # module key -> its functions whose parameters a rule asked about
        self.calls: dict[str, dict] = {}  # module key -> its calls of other modules' asked functions
        self._keras_importers: Optional[set] = None  # keys of the modules a keras-related module imports
        starts = []
        for i, path in enumerate(files):
            key = os.path.abspath(path)
            self.checked.setdefault(key, []).append(i)
            if len(self.checked[key]) == 1:
                starts.append(key if lazy else (key, data.get(i), text_of(path, data.get(i))))
        self.graph = self._build(starts)

    def _build(self, starts: list) -> ProjectGraph:
        roots: dict[str, ProjectIndex] = {}  # folder -> the index of its project

        def index_for(path: str) -> ProjectIndex:
            folder = os.path.dirname(path)
            found = roots.get(folder)
            if found is None:
                root = find_root(Path(path), self.config_root)
                found = roots[folder] = self.indexes.get(root) or ProjectIndex.for_root(root)
                self.indexes[root] = found
            return found

        stat_index = getattr(self.cache, "stat_index", None)
        reader = Reader(stat_index() if stat_index is not None else None, self.config_root)
        graph = build_graph(starts, index_for, reader)
        reader.save()
        return graph

    # ------------------------------------------------------------------ long-lived API
    @classmethod
    def for_path(cls, path, config_root: Optional[Path] = None, cache=None) -> "Project":
        """The project of one file (its imports, transitively), e.g. for an editor's buffer."""
        data, _ = _load(Path(path))
        return cls([str(path)], {0: data} if data is not None else {}, config_root, cache)

    def invalidate(self, path=None) -> None:
        """A file changed, appeared or went away: rebuild the graph from the files checked
        (summaries are keyed by content, so unchanged modules keep theirs)."""
        begin_run()
        self.summaries.clear()  # kept by content in the cache, if any
        starts = []
        for key in self.checked:
            data, text = _load(Path(key))
            starts.append((key, data, text))
        self.graph = self._build(starts)
        self._keras_importers = None

    def summary_of(self, path) -> dict:
        """The summary of a module of the graph (computed, in dependency order, on demand)."""
        key = os.path.abspath(path)
        node = self.graph.nodes.get(key)
        if node is None:
            return empty()
        self.ensure([key])
        return self.summaries.get(key, empty())

    def view_for(self, path) -> ProjectView:
        key = os.path.abspath(path)
        node = self.graph.nodes.get(key)
        if node is None:
            return ProjectView()
        self.ensure(self.graph.visible_deps(node))
        return self.view(node)

    # ------------------------------------------------------------------ a run
    def waves(self) -> list:
        """The modules by level: each wave only imports modules of earlier waves (or of its own
        import cycle, which it does not see)."""
        levels: dict[int, list] = {}
        for node in self.graph.nodes.values():
            levels.setdefault(node.level, []).append(node)
        return [sorted(levels[k], key=lambda n: n.key) for k in sorted(levels)]

    def indices(self, node: ModuleNode) -> list:
        return self.checked.get(node.key, [])

    def cached_summary(self, node: ModuleNode) -> bool:
        """Is the summary of `node` known (loaded from the cache now if it is there)?"""
        if node.key in self.summaries:
            return True
        if not node.related_keras:
            self.summaries[node.key] = empty(keras=False)
            return True
        if self.cache is not None:
            found = self.cache.load_summary(node.skey)
            if found is not None:
                self.summaries[node.key] = found
                return True
        return False

    def view(self, node: ModuleNode, want_summary: bool = False, wanted: Optional[dict] = None, digest: Optional[str] = None) -> ProjectView:
        """What the check of `node` sees (the summaries of its imports outside its own cycle;
        `wanted`: see `wanted_by`, `digest`: `deps_key`)."""
        visible = set(self.graph.visible_deps(node))
        return ProjectView(
            module=node.dotted,
            is_package=node.is_package,
            resolved={k: v for k, v in node.resolved.items() if v is not None},  # a cycle's members: unknown
            summaries={k: self.summaries[k] for k in visible if k in self.summaries},
            related_keras=node.related_keras,
            digest=self.deps_key(node, wanted or {}) if digest is None else digest,
            summary_key=node.skey,
            want_summary=want_summary,
            wanted=wanted or {},
            used_by_keras=self.used_by_keras(node),
        )

    def used_by_keras(self, node: ModuleNode) -> bool:
        """Does a module related to keras/tensorflow import `node` (so its functions may be handed
        models: `def train(model): model.fit(...)` in a helper module that never names keras)?"""
        if self._keras_importers is None:
            self._keras_importers = {d for n in self.graph.nodes.values() if n.related_keras for d in n.deps}
        return node.key in self._keras_importers

    # ------------------------------------------------------------------ calls across modules
    # (linter.project.links: a module's parameters known from the calls other modules make)
    def record_links(self, node: ModuleNode, outcomes: list) -> None:
        """Keep what the check of `node` said of its asked functions and its calls."""
        outcome = next((o for o in outcomes if o is not None), None)  # a file named twice: one check
        if outcome is None:
            return
        result = outcome.result
        links = result.links
        if links is None and any(f.name in ("internal-error", "too-large") for f in result.findings):
            from linter.project.links import escape_all

            links = {"asked": [], "calls": escape_all(self.wanted_by(node))}  # its calls are unknown
        if links is not None:
            self.asked[node.key] = list(links.get("asked") or ())
            self.calls[node.key] = links.get("calls") or {}

    def wanted_by(self, node: ModuleNode) -> dict:
        """{module key: [function names]}: the asked functions of the checked modules `node`
        imports (outside its own cycle), whose uses its check records."""
        out = {}
        for dep in self.graph.visible_deps(node):
            names = self.asked.get(dep)
            if names and self.checked.get(dep):
                out[dep] = sorted(names)
        return out

    def deps_key(self, node: ModuleNode, wanted: dict) -> str:
        """What the cached result of `node` depends on besides its bytes: its summary key (its
        imports' summaries) and, when its calls are asked for, which."""
        key = node.skey
        if not node.related_keras and self.used_by_keras(node):
            key += "+k"  # checked as a keras module's helper (linter.engine's pre-check)
        if not wanted:
            return key
        from linter.project.links import digest

        return f"{key}+w{digest(wanted)}"

    def with_callers(self) -> list:
        """(node, cache digest, incoming calls, wanted) for each checked module whose asked
        functions other checked modules (outside its cycle) call or use: its second check's
        `second_view`."""
        from linter.project.links import digest, incoming

        out = []
        for key in sorted(self.asked):
            node = self.graph.nodes.get(key)
            if node is None or not self.asked[key]:
                continue
            found = incoming(self.calls, key, frozenset(self.graph.components[node.component]))
            if not found:
                continue
            wanted = self.wanted_by(node)
            out.append((node, f"{self.deps_key(node, wanted)}+i{digest(found)}", found, wanted))
        return out

    def second_view(self, node: ModuleNode, digest: str, found: dict, wanted: dict) -> ProjectView:
        """The view of a module checked again knowing its callers (see `with_callers`)."""
        self.ensure(self.graph.visible_deps(node))
        view = self.view(node, False, wanted, digest)
        view.incoming = found
        return view


    def ensure(self, keys: Iterable[str]) -> None:
        """Make the summaries of these modules known: from this run, the cache, or (only for
        what is missing) summarised in dependency order. A warm run reads the summaries of the
        modules the checked files import directly, and nothing further."""
        stack = list(keys)
        missing: dict[str, ModuleNode] = {}
        while stack:
            key = stack.pop()
            node = self.graph.nodes.get(key)
            if node is None or key in missing or self.cached_summary(node):
                continue
            missing[key] = node
            stack.extend(self.graph.visible_deps(node))
        for node in sorted(missing.values(), key=lambda n: (n.level, n.key)):
            self.summarize_only(node)

    def record(self, node: ModuleNode, summary: Optional[dict]) -> None:
        if summary is not None:
            self.summaries[node.key] = summary

    def summarize_only(self, node: ModuleNode) -> dict:
        """The summary of a module imported but not checked: from the cache, else its one parse."""
        if self.cached_summary(node):
            return self.summaries[node.key]
        summary = None
        if node.text is not None:
            from linter.engine import summarize_source
            from linter.source import SourceFile

            summary = summarize_source(SourceFile(str(node.path), node.text), self.view(node))
        summary = summary or empty(keras=node.related_keras, broken=True)
        self.summaries[node.key] = summary
        if self.cache is not None and not summary.get("broken"):
            self.cache.store_summary(node.skey, summary)
        return summary


def plan(files: Iterable[str], data: dict, settings, cache=None, lazy: bool = False) -> Project:
    """The project of a run (`settings.root` is the project root when a config file was found)."""
    config_root = Path(settings.root) if getattr(settings, "source", None) is not None else None
    return Project(list(files), data, config_root, cache, lazy)
