"""Which files to check: directories walked for *.py and *.ipynb, honouring .gitignore files
(every level, as git does), `exclude` from the config and a default list of tool folders.
A file named on the command line is always checked, unless `--force-exclude`.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

if TYPE_CHECKING:
    import pathspec

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", "__pycache__", "node_modules", "site-packages", ".ipynb_checkpoints",
    ".epochlint_cache", "build", "dist", ".eggs",
)
SUFFIXES = (".py", ".ipynb")
MAX_GITIGNORE_BYTES = 4 << 20


@dataclass
class Candidate:
    path: str  # as reported
    error: Optional[str] = None  # set when the path cannot be checked (missing, loop, ...)


def _link_error(path: str) -> Optional[str]:
    """None when `path` is a regular file as far as the file system goes; else why not (a FIFO
    or a device, even behind a symbolic link, is never opened: it could block or never end)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        return "broken symbolic link" if os.path.islink(path) else f"cannot read file: {exc.strerror or exc}"
    return special_file_error(st.st_mode)


def special_file_error(mode: int) -> Optional[str]:
    """Why a file of this mode is not read (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    kind = (
        "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
        else "a character device" if stat.S_ISCHR(mode)
        else "a block device" if stat.S_ISBLK(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "a special file"
    )
    return f"not a regular file but {kind}: not read"


def _gitignore_spec(lines) -> "pathspec.PathSpec":
    # imported on first use: it costs ~40 ms of start-up (it pulls in asyncio), and a
    # pre-commit hook that names its files never needs it
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


_PATTERN_TOKEN = re.compile(r"\[[^\]]*\]|[*/]+|\?|[^*/?\[\]]+|.")


def _may_match(lines: list[str], rel: str) -> bool:
    """Could a pattern of these .gitignore lines ignore `rel`? False only when none can.

    A necessary condition, loosened to stay sound: case aside, a pattern's literal runs must
    appear in the path in order, `?` and a bracket expression take at least one character each,
    and `*`, `**` and `/` take any number (a negation never ignores; an escape means "may").
    It spares importing pathspec (~40 ms with typing_extensions and asyncio on Python < 3.13)
    for the pre-commit hooks' `--force-exclude` on files no pattern names; tests/test_startup.py
    checks it against pathspec."""
    path = rel.lower()
    for line in lines:
        pattern = line.strip().lower()
        if not pattern or pattern.startswith(("#", "!")):
            continue
        if "\\" in pattern:
            return True
        pos = gap = 0
        for token in _PATTERN_TOKEN.findall(pattern):
            if token[0] in "*/":
                continue
            if token == "?" or (token[0] == "[" and len(token) > 1):
                gap += 1
                continue
            if token in "[]":  # an unclosed bracket: pathspec decides
                return True
            found = path.find(token, pos + gap)
            if found < 0:
                break
            pos, gap = found + len(token), 0
        else:
            if pos + gap <= len(path):
                return True
    return False


class _Ignores:
    """.gitignore specs by directory, loaded lazily from the repository root downward (folders
    are absolute path strings; each folder's repository root is found once per run)."""

    def __init__(self) -> None:
        self._lines: dict[str, Optional[list[str]]] = {}
        self._specs: dict[str, Optional[pathspec.PathSpec]] = {}
        self._roots: dict[str, str] = {}  # folder -> its git root ("": none above it)

    def _git_root(self, folder: str) -> str:
        """The nearest folder at or above `folder` holding `.git` ("" when none), with one
        `.git` test per folder of the run, not one per folder above each file."""
        found = self._roots.get(folder)
        if found is not None:
            return found
        chain = []
        d = folder
        while True:
            hit = self._roots.get(d)
            if hit is not None:
                found = hit
                break
            chain.append(d)
            if os.path.exists(os.path.join(d, ".git")):
                found = d
                break
            up = os.path.dirname(d)
            if up == d:
                found = ""
                break
            d = up
        for c in chain:
            self._roots[c] = found
        return found

    def _lines_of(self, d: str) -> Optional[list[str]]:
        if d not in self._lines:
            lines = None
            gi = os.path.join(d, ".gitignore")
            if os.path.isfile(gi):
                try:
                    with open(gi, "rb") as fh:  # isfile(): a regular file, so the open cannot block
                        raw = fh.read(MAX_GITIGNORE_BYTES + 1)
                    if len(raw) <= MAX_GITIGNORE_BYTES:  # larger is not a .gitignore anyone wrote: ignored
                        lines = raw.decode("utf-8", "replace").splitlines()
                except OSError:
                    lines = None
            self._lines[d] = lines
        return self._lines[d]

    def _spec(self, d: str) -> Optional[pathspec.PathSpec]:
        if d not in self._specs:
            spec = None
            lines = self._lines_of(d)
            if lines is not None:
                try:
                    spec = _gitignore_spec(lines)
                except (ValueError, re.error):  # a pattern git would not accept either (`[?-.]`)
                    spec = None
            self._specs[d] = spec
        return self._specs[d]

    def ignored(self, path, is_dir: bool) -> bool:
        """Does a .gitignore of `path`'s repository (from its root down to `path`'s folder)
        ignore it? (`path` absolute: a str or a Path.)"""
        text = os.fspath(path)
        parent = os.path.dirname(text)
        root = self._git_root(parent) or parent
        prefix = root if root.endswith(os.sep) else root + os.sep
        if not text.startswith(prefix):
            return False
        rel_parts = [p for p in text[len(prefix):].split(os.sep) if p]
        d = root
        for i in range(len(rel_parts)):
            lines = self._lines_of(d)
            if lines is not None:
                rel = "/".join(rel_parts[i:]) + ("/" if is_dir else "")
                if _may_match(lines, rel):
                    spec = self._spec(d)
                    if spec is not None and spec.match_file(rel):
                        return True
            d = os.path.join(d, rel_parts[i])
        return False


class FileFinder:
    def __init__(self, exclude: tuple[str, ...] = (), root: Optional[Path] = None, force_exclude: bool = False) -> None:
        self.root = (root or Path.cwd()).resolve()
        self.exclude = _gitignore_spec(list(exclude)) if exclude else None
        self.force_exclude = force_exclude
        self.gitignore = _Ignores()
        self.skipped_named: list[tuple[str, str]] = []  # (path named on the command line, why nothing was checked)
        self.warnings: list[str] = []  # directories that could not be read (the caller prints them)
        self._cwd: Optional[str] = None  # the working folder, asked once

    def _excluded(self, path: Path, is_dir: bool) -> bool:
        return (is_dir and path.name in DEFAULT_EXCLUDE) or bool(self._why_excluded(path, is_dir))

    def find(self, paths: list[str]) -> Iterator[Candidate]:
        seen: set[str] = set()
        for raw in paths:
            p = Path(raw)
            if p.is_dir():
                n = 0
                for cand in self._walk(p, seen):
                    n += 1
                    yield cand
                if n == 0:
                    self.skipped_named.append((raw, self._why_empty(p)))
            elif p.exists() or p.is_symlink():
                if self.force_exclude and self._excluded(p, False):
                    self.skipped_named.append((raw, f"{self._why_excluded(p, False)} (--force-exclude)"))
                    continue
                key = os.path.abspath(raw)
                if key not in seen:
                    seen.add(key)
                    yield Candidate(raw, _link_error(raw))
            else:
                yield Candidate(raw, "no such file or directory")

    def _why_excluded(self, path: Path, is_dir: bool) -> str:
        if self.exclude is not None:
            try:
                rel = path.resolve().relative_to(self.root).as_posix()
            except ValueError:
                rel = path.as_posix()
            if self.exclude.match_file(rel + ("/" if is_dir else "")):
                return "excluded by `exclude` in the configuration"
        if self._cwd is None:
            self._cwd = os.getcwd()
        if self.gitignore.ignored(os.path.join(self._cwd, path), is_dir):  # (Path.absolute(), without a getcwd per file)
            return "ignored by .gitignore"
        return ""

    def _why_empty(self, top: Path) -> str:
        """Why a directory named on the command line gave no file to check."""
        why = self._why_excluded(top.absolute(), True)
        if why:
            return why
        return "no *.py or *.ipynb file in it that is not ignored by .gitignore or `exclude`"

    def _walk(self, top: Path, seen: set[str]) -> Iterator[Candidate]:
        visited_dirs: set[tuple[int, int]] = set()
        stack = [top]
        found: list[str] = []
        while stack:
            d = stack.pop()
            try:
                st = d.stat()
            except OSError as exc:
                self.warnings.append(f"cannot read directory {d}: {exc.strerror or exc}")
                continue
            if (st.st_dev, st.st_ino) in visited_dirs:  # symlink loop
                continue
            visited_dirs.add((st.st_dev, st.st_ino))
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError as exc:
                self.warnings.append(f"cannot read directory {d}: {exc.strerror or exc} (skipped)")
                continue
            for e in entries:
                child = Path(e.path)
                try:
                    is_dir = e.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    if not self._excluded(child, True):
                        stack.append(child)
                elif e.name.endswith(SUFFIXES):
                    if self._excluded(child, False):
                        continue
                    # walking "." gives "./x.py": report "x.py", as ruff does (and as "src" gives "src/x.py")
                    found.append(e.path[2:] if e.path.startswith("./") else e.path)
        for path in sorted(found):
            key = os.path.abspath(path)
            if key in seen:
                continue
            seen.add(key)
            yield Candidate(path, _link_error(path))
