"""The project index: root, module names, import resolution, and the import graph in order.

- The project root is the configuration's folder when there is a config file, else the nearest
  folder above a file holding `pyproject.toml`, `setup.cfg`, `setup.py` or `.git`, else the
  file's folder.
- A file's module name follows its `__init__.py` chain (`pkg/sub/m.py` is `pkg.sub.m`); the
  folder above the chain is the sys.path entry it is imported from (its *base*).
- An absolute import is resolved as Python would with the script's folder first on sys.path:
  the file's folder, then its base, the project root and `root/src` (a src layout). A module found
  in the file's own folder wins (Python puts the script's folder first); one found only further
  up is not taken when a module of that name is installed (precision first: `import models` may
  then be the installed `models` when the script runs), nor is anything named like the libraries
  the rules are about (`keras`, `tensorflow`). A relative import is resolved from the base.
- `ModuleNode`s and `order` give the import graph's strongly connected components, modules
  before the modules that import them: a module's summary can use its imports' summaries, and
  the members of one import cycle do not see each other's (unknown to each other, in every run
  the same way).
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from linter.limits import KERAS_HINT
from linter.project.imports import Import, scan

MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))
NEVER_PROJECT = frozenset({"keras", "tensorflow", "tf_keras", "tf", "numpy", "torch", "jax"})
MAX_MODULES = 5000  # modules followed from the files of one run (a larger closure stops growing)


def load(path) -> tuple:
    """(bytes, text) of a module that is imported (None, None when it cannot be read)."""
    from linter.source import UnreadableSource, decode_python, read_bytes

    try:
        data = read_bytes(str(path))
    except (UnreadableSource, OSError):
        return None, None
    try:
        return data, decode_python(data, str(path)).text
    except UnreadableSource:
        return data, None


def find_root(path: Path, config_root: Optional[Path] = None) -> Path:
    """The project root of `path` (see the module docstring)."""
    path = Path(os.path.abspath(path))
    if config_root is not None:
        config_root = Path(os.path.abspath(config_root))
        if config_root == path or config_root in path.parents:
            return config_root
    folder = str(path.parent)
    found = _roots.get(folder)
    if found is None:
        d = folder
        while True:
            if any(m in _names(d) for m in MARKERS):
                found = Path(d)
                break
            up = os.path.dirname(d)
            if up == d:
                found = path.parent
                break
            d = up
        _roots[folder] = found
    return found


def module_name(path) -> tuple[str, str, bool]:
    """(dotted module name, base folder, is a package's __init__.py) of a source file."""
    d, name = os.path.split(str(path))
    is_package = name == "__init__.py"
    parts = [] if is_package else [name.rsplit(".", 1)[0]]
    if is_package:
        d, name = os.path.split(d)
        parts.append(name)
    seen = 0
    # a folder whose name is no identifier (`my-project/`, `owner+repo/`) is not a package, even
    # with an __init__.py: it is where imports start from (its own folder is on sys.path)
    while "__init__.py" in _names(d) and os.path.basename(d).isidentifier() and os.path.dirname(d) != d and seen < 64:
        d, name = os.path.split(d)
        parts.append(name)
        seen += 1
    return ".".join(reversed(parts)), d, is_package


_installed: dict[tuple, bool] = {}


def installed(top: str, root: Path) -> bool:
    """Is a top-level module `top` importable from outside the project (stdlib, site-packages)?"""
    key = (top, root)
    if key not in _installed:
        if top in NEVER_PROJECT or top in sys.builtin_module_names:
            _installed[key] = True
        else:
            cwd = os.getcwd()
            paths = []
            for p in sys.path:
                ap = os.path.abspath(p or cwd)
                if ap == cwd or ap == str(root) or ap.startswith(str(root) + os.sep) or not os.path.isdir(ap):
                    continue
                paths.append(ap)
            try:
                _installed[key] = importlib.machinery.PathFinder.find_spec(top, paths) is not None
            except (ImportError, ValueError, OSError):
                _installed[key] = True
    return _installed[key]


_listings: dict = {}  # folder -> the names in it (one listing per folder and run: stats are slow)
_roots: dict = {}  # folder -> its project root (find_root without a config)


def _names(d: str) -> frozenset:
    found = _listings.get(d)
    if found is None:
        try:
            found = frozenset(os.listdir(d))
        except OSError:
            found = frozenset()
        _listings[d] = found
    return found


def forget_listings() -> None:
    """Files were created or removed: list the folders again."""
    _listings.clear()
    _roots.clear()


def begin_run() -> None:
    """A new run: the file system may have changed since the last one (folders are listed
    again, imports resolved again; what a file's bytes say of its imports is kept)."""
    forget_listings()
    for index in ProjectIndex._by_root.values():
        index._resolve_cache.clear()
        index._scans.clear()


def _file_of(d: str, parts: list) -> Optional[str]:
    folder = d
    for part in parts[:-1]:
        if part not in _names(folder):
            return None
        folder = os.path.join(folder, part)
    last = parts[-1]
    names = _names(folder)
    if last + ".py" in names and os.path.isfile(os.path.join(folder, last + ".py")):
        return os.path.join(folder, last + ".py")
    if last in names and "__init__.py" in _names(os.path.join(folder, last)):
        return os.path.join(folder, last, "__init__.py")
    return None


def _top_is_regular(d: str, top: str) -> bool:
    names = _names(d)
    return top + ".py" in names or (top in names and "__init__.py" in _names(os.path.join(d, top)))


@dataclass
class ModuleNode:
    """One project module of a run: a file checked, or a module one of them imports."""

    path: str  # absolute
    key: str  # its module key (the absolute path, as text)
    data: Optional[bytes]  # its bytes (None: unreadable)
    text: Optional[str]  # decoded (None: cannot be decoded)
    dotted: str
    base: str
    is_package: bool
    imports: list = field(default_factory=list)  # linter.project.imports.Import
    resolved: dict = field(default_factory=dict)  # absolute dotted -> key or None
    keras: bool = False  # its own text mentions keras/tensorflow
    related_keras: bool = False  # it or a module it imports (transitively) does
    deps: list = field(default_factory=list)  # keys of the project modules it imports
    component: int = -1  # its strongly connected component (index into ProjectGraph.components)
    level: int = 0  # 0: imports no module outside its component; else 1 + its imports' highest
    skey: str = ""  # summary key: its content, name, resolution and its imports' keys (a Merkle key)
    needed: bool = False  # another module outside its component imports it (its summary is read)


class ProjectIndex:
    """Import resolution for the files under one project root (results cached per instance;
    `invalidate(path)` forgets what a changed or deleted file told it)."""

    _by_root: dict = {}

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.search_tail = [str(self.root), str(self.root / "src")]
        self._resolve_cache: dict = {}
        self._scans: dict = {}  # (path, bytes) -> what _node found in them

    @classmethod
    def for_path(cls, path, config_root: Optional[Path] = None) -> "ProjectIndex":
        """The index of the project `path` belongs to (one per root, reused)."""
        root = find_root(Path(path), config_root)
        found = cls._by_root.get(root)
        if found is None:
            found = cls._by_root[root] = cls(root)
        return found

    @classmethod
    def for_root(cls, root: Path) -> "ProjectIndex":
        found = cls._by_root.get(root)
        if found is None:
            found = cls._by_root[root] = cls(root)
        return found

    def invalidate(self, path=None) -> None:
        """Forget resolutions and what files said (a file was created, changed, renamed or deleted)."""
        self._resolve_cache.clear()
        self._scans.clear()
        forget_listings()

    # ------------------------------------------------------------------ resolution
    def resolve(self, here: str, base: str, dotted: str, relative: bool = False) -> Optional[str]:
        """The project file an import of `dotted` in a file of folder `here` (its package's base
        folder `base`) loads, or None (not a project module, ambiguous with an installed one, or
        missing)."""
        key = (here, base, dotted, relative)
        if key in self._resolve_cache:
            return self._resolve_cache[key]
        parts = dotted.split(".")
        found = None
        if relative:
            found = _file_of(base, parts)
        elif parts[0] not in NEVER_PROJECT:
            dirs = []
            for d in (here, base, *self.search_tail):
                if d not in dirs and os.path.basename(d) in _names(os.path.dirname(d)):
                    dirs.append(d)
            for d in dirs:
                if _top_is_regular(d, parts[0]):
                    hit = _file_of(d, parts)
                    if hit is not None and d != here and installed(parts[0], self.root):
                        hit = None
                    found = hit
                    break
            else:  # namespace packages (a folder without __init__.py), as Python's last resort
                for d in dirs:
                    if parts[0] in _names(d) and len(parts) > 1:
                        hit = _file_of(d, parts)
                        if hit is not None:
                            found = None if d != here and installed(parts[0], self.root) else hit
                            break
        self._resolve_cache[key] = found
        return found

    def resolve_imports(self, path: Path, base: Path, dotted: str, is_package: bool, imports: Iterable[Import]) -> dict:
        """{absolute dotted module -> project file or None} for a file's imports (for `from m
        import a`, also `m.a` when it is a submodule)."""
        from linter.project.view import ProjectView

        rel = ProjectView(module=dotted, is_package=is_package)
        out: dict = {}
        here, base = os.path.dirname(str(path)), str(base)
        path = here
        for imp in imports:
            if imp.level:
                absolute = rel.absolute(imp.level, imp.module or None)
                if absolute is None:
                    continue
                out[absolute] = self.resolve(path, base, absolute, relative=True)
                if imp.names:
                    for n in imp.names:
                        if n != "*":
                            sub = self.resolve(path, base, f"{absolute}.{n}", relative=True)
                            if sub is not None:
                                out[f"{absolute}.{n}"] = sub
                continue
            top = imp.module.partition(".")[0]
            if top in NEVER_PROJECT or (top in _STDLIB and top + ".py" not in _names(here) and top not in _names(here)):
                out[imp.module] = None  # a library (a stdlib name is a project module only next to the script)
                continue
            out[imp.module] = self.resolve(path, base, imp.module)
            if out[imp.module] is None and "." not in imp.module and not self._exists_anywhere(here, base, top):
                continue  # no such top-level module in the project: none of its submodules either
            if imp.names:
                for n in imp.names:
                    if n != "*":
                        sub = self.resolve(path, base, f"{imp.module}.{n}")
                        if sub is not None:
                            out[f"{imp.module}.{n}"] = sub
        return out

    def _exists_anywhere(self, here: str, base: str, top: str) -> bool:
        return any(top in _names(d) or top + ".py" in _names(d) for d in (here, base, *self.search_tail))

    # ------------------------------------------------------------------ graph
    def graph(self, starts: Iterable[tuple], load: Callable[[Path], tuple]) -> "ProjectGraph":
        """The import graph of `starts` in this project (see `build_graph`)."""
        return build_graph(starts, lambda path: self, load)

    def reaches_keras(self, path, data: Optional[bytes], text: Optional[str], load: Callable[[Path], tuple]) -> bool:
        """Does the file or a project module it imports (transitively) mention keras or
        tensorflow? Stops at the first that does (the pre-commit pre-scan's question)."""
        start = self._node(path, data, text)
        seen = {start.key}
        queue = [start]
        while queue:
            node = queue.pop()
            if node.keras:
                return True
            for target in node.resolved.values():
                if target is None or target in seen:
                    continue
                if len(seen) >= MAX_MODULES:
                    return True  # too many to say no: let the check decide
                seen.add(target)
                dep_data, dep_text = load(target)
                queue.append(self._node(target, dep_data, dep_text))
        return False

    def _node(self, path, data: Optional[bytes], text: Optional[str]) -> ModuleNode:
        path = os.path.abspath(path)
        key = (path, data)
        found = self._scans.get(key)
        if found is None:
            dotted, base, is_package = module_name(path)
            imports = scan(text) if text else []
            keras = bool(text) and KERAS_HINT.search(text) is not None
            resolved = self.resolve_imports(path, base, dotted, is_package, imports)
            found = self._scans[key] = (dotted, base, is_package, imports, keras, resolved)
        dotted, base, is_package, imports, keras, resolved = found
        node = ModuleNode(path, path, data, text, dotted, base, is_package, imports)
        node.keras = keras
        node.resolved = dict(resolved)
        return node


def build_graph(starts: Iterable[tuple], index_for: Callable[[str], "ProjectIndex"], load: Callable[[Path], tuple]) -> "ProjectGraph":
    """The modules of a run: `starts` ((absolute path, bytes or None, text or None) of the files
    checked) and every project module they import, transitively, each resolved by the index of
    its own project (`index_for(path)`); `load(path)` gives (bytes, text) of the others. Each
    module is read and scanned once, whatever the number of files importing it."""
    nodes: dict[str, ModuleNode] = {}
    queue = []
    for path, data, text in starts:
        key = os.path.abspath(path)
        if key not in nodes:
            node = nodes[key] = index_for(key)._node(key, data, text)
            queue.append(node)
    while queue:
        node = queue.pop()
        for target in node.resolved.values():
            if target is None or target == node.key:
                continue
            if target not in nodes:
                if len(nodes) >= MAX_MODULES:
                    continue
                data, text = load(target)
                nodes[target] = index_for(target)._node(target, data, text)
                queue.append(nodes[target])
            if target not in node.deps:
                node.deps.append(target)
    return ProjectGraph(nodes)


class ProjectGraph:
    """The import graph of a run's modules: components in dependency order, levels, keys."""

    def __init__(self, nodes: dict) -> None:
        self.nodes = nodes
        self.components = strongly_connected({name: node.deps for name, node in nodes.items()})  # dependencies first
        for ci, comp in enumerate(self.components):
            for key in comp:
                nodes[key].component = ci
        for comp in self.components:
            members = [nodes[k] for k in comp]
            outside = {d for n in members for d in n.deps if nodes[d].component != n.component}
            level = 1 + max((nodes[d].level for d in outside), default=-1)
            related = any(n.keras for n in members) or any(nodes[d].related_keras for d in outside)
            for n in members:
                n.level = level
                n.related_keras = related
                for d in n.deps:
                    if nodes[d].component != n.component:
                        nodes[d].needed = True
            for n in sorted(members, key=lambda m: m.key):
                n.skey = _summary_key(n, nodes)

    def visible_deps(self, node: ModuleNode) -> list:
        """The modules whose summaries `node` sees (its imports outside its own cycle)."""
        return [d for d in node.deps if self.nodes[d].component != node.component]


def _summary_key(node: ModuleNode, nodes: dict) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(b"summary 1\0")
    h.update(hashlib.blake2b(node.data or b"", digest_size=20).digest() if node.data is not None else b"unreadable")
    h.update(f"\0{node.dotted}\0{node.is_package}\0".encode("utf-8", "surrogatepass"))
    for dotted in sorted(node.resolved):
        target = node.resolved[dotted]
        if target is None:
            mark = "none"
        elif target == node.key or nodes[target].component == node.component:
            mark = "cycle"
        else:
            mark = nodes[target].skey
        h.update(f"{dotted}={mark}\0".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def strongly_connected(graph) -> list:
    """Tarjan's strongly connected components (iterative) of `graph` (node -> the nodes it depends
    on; a node missing from the keys has no edges), each sorted, dependencies first. Also the
    import-cycle test's (tests/test_pipeline.py)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on_stack: set = set()
    found: list = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work = [(start, iter(sorted(graph[start])))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        comp.append(member)
                        if member == node:
                            break
                    found.append(sorted(comp))
    return found  # Tarjan emits a component after every component it reaches: dependencies first
