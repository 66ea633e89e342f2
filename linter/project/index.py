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
from linter.project.resolutions import SECTION, Resolutions, folder_signature
from linter.project.stat_cache import Scan, StatIndex, content_digest, now_ns

MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))
NEVER_PROJECT = frozenset({"keras", "tensorflow", "tf_keras", "tf", "numpy", "torch", "jax"})
MAX_MODULES = 5000  # modules followed from the files of one run (a larger closure stops growing)


def load(path, decode: bool = True) -> tuple:
    """(bytes, text) of a module that is imported (None, None when it cannot be read; the text
    is None when it does not decode, or is not asked for). Read as linter.runner.read_file
    reads the files it checks (linter.source.read_bytes)."""
    from linter import source
    from linter.source import UnreadableSource, decode_python

    try:
        data = source.read_bytes(str(path))
    except (UnreadableSource, OSError):
        return None, None
    if not decode:
        return data, None
    try:
        return data, decode_python(data, str(path)).text
    except UnreadableSource:
        return data, None


def text_of(path: str, data: Optional[bytes]) -> Optional[str]:
    """The text the index scans: a notebook's code cells, else the decoded source (None when
    the bytes do not decode: the file's own check reports it)."""
    if data is None:
        return None
    try:
        if path.endswith(".ipynb"):
            from linter.notebook import notebook_source

            return notebook_source(data, path).text
        from linter.source import decode_python

        return decode_python(data, path).text
    except Exception:  # an undecodable file is EPL000 in its own check; here it imports nothing
        return None


def scan_source(data: Optional[bytes], text: Optional[str]) -> Scan:
    """What the index keeps of a file's bytes (and their text)."""
    if data is None:
        return Scan(None, (), False, False)
    keras = bool(text) and KERAS_HINT.search(text) is not None
    return Scan(content_digest(data), tuple(scan(text)) if text else (), keras, text is not None)


class Reader:
    """Reads the modules of a run for the index: `reader(path)` is (Scan, bytes, text), and
    (Scan, None, None) when `stat_index` (linter.project.stat_cache) vouches for the file: then
    it is not read at all (its ModuleNode reads it if its text is needed). With a stat index,
    the resolutions of the last runs (linter.project.resolutions) are kept in it too: `known`
    gives a module's, `learn` records one. `save()` writes the stat index back."""

    def __init__(self, stat_index: Optional[StatIndex] = None, config_root=None) -> None:
        self.stat_index = stat_index
        self.resolutions = Resolutions(stat_index.section(SECTION), config_root) if stat_index is not None else None

    def __call__(self, path, with_imports: bool = True) -> tuple:
        path = str(path)
        index = self.stat_index
        st = None
        if index is not None:
            seen = now_ns()  # before the stat and the read (see stat_cache: racy entries)
            try:
                st = os.stat(path)
            except OSError:
                index.forget(path)
            if st is not None:
                found = index.lookup(path, st, with_imports)
                if found is not None:
                    return found, None, None
        data, _ = load(path, decode=False)
        text = text_of(path, data)
        found = scan_source(data, text)
        if index is not None and st is not None and data is not None:
            index.record(path, st, seen, found)
        return found, data, text

    def may_know(self, path: str) -> bool:
        """Is there a recorded resolution of `path` (then its imports are not needed yet)?"""
        return self.resolutions is not None and path in self.resolutions.nodes

    def known(self, path: str, digest: Optional[str]) -> Optional[tuple]:
        return self.resolutions.known(path, digest) if self.resolutions is not None else None

    def learn(self, node: "ModuleNode") -> None:
        if self.resolutions is not None:
            self.resolutions.learn(node.key, node.digest, node.dotted, node.base, node.is_package, node.resolved)

    def save(self) -> None:
        """Write the stat index back, without the files this run saw gone from a folder it
        listed, with the resolutions of this run."""
        if self.stat_index is None:
            return
        for path in self.stat_index.paths():
            folder, name = os.path.split(path)
            listed = _listings.get(folder)
            if listed is not None and name not in listed:
                self.stat_index.forget(path)
        if self.resolutions is not None:
            section = self.resolutions.section(dict(_listed))
            if section is not None:
                self.stat_index.set_section(SECTION, section)
        self.stat_index.save()


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


_listed: dict = {}  # folder -> its signature taken before it was listed (linter.project.resolutions)


def _names(d: str) -> frozenset:
    found = _listings.get(d)
    if found is None:
        _listed[d] = folder_signature(d)
        try:
            found = frozenset(os.listdir(d))
        except OSError:
            found = frozenset()
        _listings[d] = found
    return found


def forget_listings() -> None:
    """Files were created or removed: list the folders again."""
    _listings.clear()
    _listed.clear()
    _roots.clear()


def begin_run() -> None:
    """A new run: the file system may have changed since the last one (folders are listed
    again, imports resolved again; what a file's bytes say of its imports is kept)."""
    forget_listings()
    for index in ProjectIndex._by_root.values():
        index._resolve_cache.clear()


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
    """One project module of a run: a file checked, or a module one of them imports. Its bytes
    and text are read when first asked for when the stat index gave what the index needs."""

    path: str  # absolute
    key: str  # its module key (the absolute path, as text)
    digest: Optional[str]  # linter.cache.content_digest of its bytes (None: unreadable)
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
    source: Optional[tuple] = field(default=None, repr=False)  # (bytes, text), once read

    @property
    def data(self) -> Optional[bytes]:
        """Its bytes (None: unreadable, or no longer the content `digest` names)."""
        return self._read()[0]

    @property
    def text(self) -> Optional[str]:
        """Its text (None: as `data`, or it does not decode)."""
        return self._read()[1]

    def _read(self) -> tuple:
        if self.source is None:
            data = None
            if self.digest is not None:
                data, _ = load(self.path, decode=False)
                if data is not None and content_digest(data) != self.digest:
                    data = None  # changed since the index saw it: unknown in this run, never stored
            self.source = (data, text_of(self.path, data))
        return self.source


class ProjectIndex:
    """Import resolution for the files under one project root (results cached per instance;
    `invalidate(path)` forgets what a changed or deleted file told it)."""

    _by_root: dict = {}

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root))
        self.search_tail = [str(self.root), str(self.root / "src")]
        self._resolve_cache: dict = {}

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
    def graph(self, starts: Iterable, read: Optional[Callable[[str], tuple]] = None) -> "ProjectGraph":
        """The import graph of `starts` in this project (see `build_graph`)."""
        return build_graph(starts, lambda path: self, read or Reader())

    def reaches_keras(self, path, data: Optional[bytes], text: Optional[str], load: Callable[[Path], tuple]) -> bool:
        """Does the file or a project module it imports (transitively) mention keras or
        tensorflow? Stops at the first that does (the pre-commit pre-scan's question)."""
        start = self._node(path, scan_source(data, text), (data, text))
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
                queue.append(self._node(target, scan_source(dep_data, dep_text), (dep_data, dep_text)))
        return False

    def _node(self, path, found: Scan, source: Optional[tuple] = None) -> ModuleNode:
        """The node of `path`, whose bytes gave `found` (`source`: those bytes and their text,
        if they were read)."""
        path = os.path.abspath(path)
        dotted, base, is_package = module_name(path)
        node = ModuleNode(path, path, found.digest, dotted, base, is_package, list(found.imports))
        node.keras = found.keras
        node.resolved = self.resolve_imports(path, base, dotted, is_package, found.imports)
        if source is not None or found.digest is None:
            node.source = source if source is not None else (None, None)
        return node


def build_graph(starts: Iterable, index_for: Callable[[str], "ProjectIndex"], read: Callable[..., tuple]) -> "ProjectGraph":
    """The modules of a run: `starts` (the files checked: (absolute path, bytes or None, text or
    None) when the caller read them, else the path alone) and every project module they import,
    transitively, each resolved by the index of its own project (`index_for(path)`); `read(path)`
    gives (Scan, bytes, text) of the others (a `Reader`, whose `known` resolutions of the last
    runs are taken when they hold). Each module is read and scanned at most once, whatever the
    number of files importing it, and not at all when the stat index knows it."""
    nodes: dict[str, ModuleNode] = {}
    queue = []
    known = getattr(read, "known", None)
    learn = getattr(read, "learn", None)
    may_know = getattr(read, "may_know", lambda path: False)

    def add(key: str, given: Optional[tuple]) -> ModuleNode:
        if given is not None:
            data, text = given
            found, source = scan_source(data, text), given
        else:
            found, data, text = read(key, with_imports=not may_know(key))
            source = (data, text) if data is not None else None
            hit = known(key, found.digest) if known is not None else None
            if hit is not None:
                dotted, base, is_package = hit[:3]
                node = ModuleNode(key, key, found.digest, dotted, base, is_package, [], dict(hit[3]), found.keras)
                if source is not None:
                    node.source = source
                return node
            if found.imports is None:
                found, data, text = read(key)
                source = (data, text) if data is not None else None
        node = index_for(key)._node(key, found, source)
        if learn is not None and given is None:
            learn(node)
        return node

    for start in starts:
        if isinstance(start, tuple):
            key = os.path.abspath(start[0])
            given = (start[1], start[2])
        else:
            key, given = os.path.abspath(start), None
        if key not in nodes:
            nodes[key] = add(key, given)
            queue.append(nodes[key])
    while queue:
        node = queue.pop()
        for target in node.resolved.values():
            if target is None or target == node.key:
                continue
            if target not in nodes:
                if len(nodes) >= MAX_MODULES:
                    continue
                nodes[target] = add(target, None)
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
    h.update(bytes.fromhex(node.digest) if node.digest is not None else b"unreadable")
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
