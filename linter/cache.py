"""The result cache: `.epochlint_cache/` next to the config root (or the working directory).

A cached result is valid for exactly one input: the file's content (hash of its bytes), the
epochlint version, the rule set (a fingerprint of the linter's own source files and the libcst
and Python versions), the effective configuration (`Settings.key()`) and the codes enabled for
that path. It only ever stands for a plain check: `--fix` and `--diff` never read or write it.

Layout: one JSON file per (file path, configuration) in a folder per rule-set fingerprint,
`.epochlint_cache/<fingerprint>/<sha256 of path and configuration>.json`, holding the content
hash it was computed for, the full key and the outcome. Editing a file overwrites its entry,
so the cache grows with the number of files, not with the number of edits; a folder of an
older rule set is deleted when a new one is started (if it is more than an hour old).

Why files and not sqlite: every entry is written to a temporary file in the same folder and
renamed over the old one (`os.replace`, atomic on POSIX and Windows), so two runs sharing the
cache (two terminals, an editor and a pre-commit hook) never see half an entry and never wait
for a lock; the worst case is both computing the same entry, and the last rename wins with the
same content. A torn or corrupt entry (a crash, a full disk, a hand edit) is just a miss and is
rewritten; it can never take the rest of the cache with it, as a damaged database file would.
Worker processes write their own entries, in parallel, with no coordination. Entries are JSON,
never pickle: a cache folder that came with someone else's repository can at worst fake
findings, never run code.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
import time
from pathlib import Path
from typing import Optional

from linter import __version__
from linter.finding import FileResult, Finding
from linter.project.stat_cache import content_digest
from linter.source import read_capped

CACHE_DIR_NAME = ".epochlint_cache"
FORMAT = 1  # bump when the entry layout changes
STALE_SECONDS = 3600  # an older rule set's folder is removed once it is this old
_GITIGNORE = "# created by epochlint: the cache is local to this machine\n*\n"
_CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by epochlint.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)

_fingerprint: Optional[str] = None


def rules_fingerprint() -> str:
    """A hash of every source file of the `linter` package (rules, engine, semantic model,
    suppression ...) plus the libcst and Python versions: any change to what decides a
    finding gives a new fingerprint."""
    global _fingerprint
    if _fingerprint is None:
        h = hashlib.blake2b(digest_size=16)
        h.update(f"epochlint {__version__} cache {FORMAT}\0".encode())
        h.update(f"libcst {_libcst_version()} python {sys.version_info[:2]}\0".encode())
        package = Path(__file__).resolve().parent
        for src in sorted(package.rglob("*.py")):
            rel = src.relative_to(package).as_posix()
            try:
                h.update(rel.encode() + b"\0" + src.read_bytes() + b"\0")
            except OSError:
                h.update(rel.encode() + b"\0?\0")
        _fingerprint = h.hexdigest()
    return _fingerprint


def _libcst_version() -> str:
    """libcst's `_version.py` (version and commit), read without importing libcst: a run
    answered from the cache never imports it. (libcst has no `__version__` attribute.)"""
    from importlib.util import find_spec

    try:
        spec = find_spec("libcst")
        folder = Path(next(iter(spec.submodule_search_locations or ())))
        return (folder / "_version.py").read_text(encoding="utf-8", errors="replace")
    except (AttributeError, StopIteration, OSError, ImportError, ValueError):
        return "?"


class Cache:
    """Lookups and stores for one run (one configuration). Picklable: workers get a copy."""

    def __init__(self, root: Path, config_key: str) -> None:
        self.root = Path(root) / CACHE_DIR_NAME
        self.fingerprint = rules_fingerprint()
        self.folder = self.root / self.fingerprint
        self.config_key = config_key
        self._codes_keys: dict[frozenset, str] = {}
        self._ready = False
        self._trusted: Optional[bool] = None  # the cache folders are real folders (not links)

    @classmethod
    def for_settings(cls, settings) -> "Cache":
        """The cache of a run: next to the config file's folder (`Settings.root`, which is the
        working directory when there is no config)."""
        return cls(settings.root, settings.key())

    # ------------------------------------------------------------------ keys
    def _entry(self, path: str, enabled: frozenset, slot: str = "check") -> tuple[Path, str]:
        codes = self._codes_keys.get(enabled)
        if codes is None:
            codes = self._codes_keys[enabled] = ",".join(sorted(enabled))
        key = "\0".join((__version__, self.fingerprint, self.config_key, codes, slot, os.path.abspath(path), path))
        name = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return self.folder / f"{name}.json", name

    # ------------------------------------------------------------------ read
    def load(self, path: str, data: Optional[bytes], enabled: frozenset, deps: str = "", slot: str = "check", digest: Optional[str] = None) -> Optional[tuple[FileResult, Optional[dict]]]:
        """The cached (result, context lines) for `path` with this content (`data`, or its
        `digest` when the bytes were not read: linter.project.stat_cache) and project context
        (`deps`: linter.project.view.ProjectView.digest, which covers the summaries of every
        project module it imports), or None (miss, stale, unreadable or corrupt entry). The one
        place an entry is read. `slot`: "check", or "callers" for the second check of a module
        knowing the calls other modules make of it (linter.project.links), kept next to the first."""
        if digest is None:
            if data is None:
                return None
            digest = content_digest(data)
        entry, key = self._entry(path, enabled, slot)
        stored = self._read_json(entry)
        try:
            if not _valid_entry(stored, key, path) or stored["digest"] != digest or stored.get("deps", "") != deps:
                return None
            return _result_from_json(stored["result"]), _lines_from_json(stored["lines"])
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, MemoryError):
            return None

    def _read_json(self, entry: Path):
        """The decoded JSON of a cache entry, or None (no trusted cache folder, missing, unreadable,
        over the size cap or not JSON)."""
        raw = self._read_raw(entry)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError, MemoryError):
            return None

    def _read_raw(self, entry: Path) -> Optional[bytes]:
        """The bytes of a file of the cache folder (None: no trusted folder, missing, too large).
        The one place the cache's files are read."""
        if self._trusted is None:
            self._trusted = _plain_folders(self.root, self.folder)
        if not self._trusted:
            return None
        try:
            return _read_entry(entry)
        except OSError:
            return None

    # ------------------------------------------------------------------ the project index's stat cache
    def stat_index(self):
        """What the project index learnt of each file's bytes, by stat signature
        (linter.project.stat_cache): one file of this cache folder, read once per run."""
        from linter.project.stat_cache import NAME, StatIndex

        return StatIndex(self.folder / NAME, read=self._read_raw, write=self._write_bytes)

    # ------------------------------------------------------------------ write
    def store(self, path: str, data: bytes, enabled: frozenset, outcome, deps: str = "", slot: str = "check") -> bool:
        """Record an outcome computed from `data`; never raises (a cache that cannot be
        written is no cache). Internal errors are not recorded: they may not happen again."""
        result = outcome.result
        if outcome.fixed or outcome.diff or any(f.name in ("internal-error", "too-large") for f in result.findings):
            return False
        entry, key = self._entry(path, enabled, slot)
        record = {
            "key": key,
            "digest": content_digest(data),
            "deps": deps,
            "result": _result_to_json(result),
            "lines": _lines_to_json(outcome.lines),
        }
        return self._write(entry, record)

    def _write(self, entry: Path, record: dict) -> bool:
        try:
            payload = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        except (ValueError, TypeError):
            return False
        return self._write_bytes(entry, payload)

    def _write_bytes(self, entry: Path, payload: bytes) -> bool:
        """Write a file of the cache folder atomically (temporary file, then os.replace); never raises."""
        try:
            self._prepare()
            import tempfile

            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                os.replace(tmp, entry)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except (OSError, ValueError, TypeError):
            return False
        return True

    # ------------------------------------------------------------------ module summaries
    def _summary_entry(self, key: str) -> Optional[Path]:
        return self.folder / f"summary-{key}.json" if _SUMMARY_KEY.fullmatch(key or "") else None

    def load_summary(self, key: str) -> Optional[dict]:
        """A project module's summary (linter.project.summary) stored under its summary key (its
        content, name, resolution and its imports' keys), or None."""
        entry = self._summary_entry(key)
        if entry is None:
            return None
        stored = self._read_json(entry)
        if not isinstance(stored, dict) or stored.get("key") != key or not _valid_summary(stored.get("summary")):
            return None
        return stored["summary"]

    def store_summary(self, key: str, summary: dict) -> bool:
        entry = self._summary_entry(key)
        if entry is None:
            return False
        return self._write(entry, {"key": key, "summary": summary})

    def _prepare(self) -> None:
        """Create the folder (with its .gitignore and CACHEDIR.TAG) on the first store."""
        if self._ready:
            return
        if not _plain_folders(self.root, self.folder):
            raise OSError("the cache folder is a symbolic link or not a folder: not used")
        fresh = not self.folder.is_dir()
        self.folder.mkdir(parents=True, exist_ok=True)
        if not _plain_folders(self.root, self.folder):
            raise OSError("the cache folder is a symbolic link or not a folder: not used")
        for name, text in ((".gitignore", _GITIGNORE), ("CACHEDIR.TAG", _CACHEDIR_TAG)):
            try:  # created, never followed: a link planted under that name is left alone
                fd = os.open(self.root / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError:
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        if fresh:
            self._prune()
        self._ready = True

    def _prune(self) -> None:
        """Remove other rule sets' folders that have not been written to for an hour."""
        import shutil

        now = time.time()
        try:
            siblings = list(os.scandir(self.root))
        except OSError:
            return
        for e in siblings:
            try:
                if (
                    _FINGERPRINT.fullmatch(e.name)  # only our own rule-set folders, never anything else
                    and e.is_dir(follow_symlinks=False)
                    and e.name != self.fingerprint
                    and now - e.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
                ):
                    shutil.rmtree(e.path, ignore_errors=True)
            except OSError:
                pass


# ---------------------------------------------------------------------- entry validation
_FINGERPRINT = re.compile(r"[0-9a-f]{32}")
_SUMMARY_KEY = re.compile(r"[0-9a-f]{32}")


def _valid_summary(summary: object) -> bool:
    """The shape linter.project.summary writes (facts are dicts; the view reads them defensively)."""
    if not isinstance(summary, dict) or not isinstance(summary.get("names"), dict):
        return False
    if not all(isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("kind"), str) for k, v in summary["names"].items()):
        return False
    for v in summary["names"].values():
        if v["kind"] == "module" and not isinstance(v.get("module"), str):
            return False
        if v["kind"] == "import" and not isinstance(v.get("qname"), str):
            return False
    exported = summary.get("all")
    return exported is None or (isinstance(exported, list) and all(isinstance(n, str) for n in exported))


def _plain_folders(*folders: Path) -> bool:
    """Each folder is missing or a real folder, not a symbolic link: a cache folder that came
    with a repository as a link (to $HOME, say) is never read, written or pruned."""
    for folder in folders:
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            return False
    return True


MAX_ENTRY_BYTES = 64 << 20  # an entry larger than this is not ours: a miss


def _read_entry(entry: Path) -> Optional[bytes]:
    """An entry's bytes when it is a regular file (not a symlink, a FIFO or a device) of at most
    MAX_ENTRY_BYTES; else None. Opened without following links and without blocking."""
    try:
        st = os.lstat(entry)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
        return None
    fd = os.open(entry, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ENTRY_BYTES:
            return None
        return read_capped(fd, MAX_ENTRY_BYTES)
    finally:
        os.close(fd)


def _is_int(v: object, low: int = 0) -> bool:
    return type(v) is int and v >= low


def _valid_fix(fix: object) -> bool:
    if fix is None:
        return True
    if not isinstance(fix, dict) or fix.get("applicability") not in ("safe", "unsafe"):
        return False
    if not isinstance(fix.get("description", ""), str) or not isinstance(fix.get("edits"), list):
        return False
    for e in fix["edits"]:
        if not isinstance(e, dict) or set(e) != {"line", "column", "end_line", "end_column", "content"}:
            return False
        if not all(_is_int(e[k], 1) for k in ("line", "column", "end_line", "end_column")) or not isinstance(e["content"], str):
            return False
    return True


def _valid_finding(f: object, path: str) -> bool:
    if not isinstance(f, dict):
        return False
    if not all(isinstance(f.get(k), str) for k in ("code", "name", "message", "severity")) or f.get("path") != path:
        return False
    if not all(_is_int(f.get(k), 0) for k in ("line", "column", "end_line", "end_column")):
        return False
    return (f.get("cell") is None or _is_int(f["cell"], 1)) and _valid_fix(f.get("fix"))


def _valid_entry(stored: object, key: str, path: str) -> bool:
    """Is this what `store` writes, for this key and path? Anything else is a miss."""
    if not isinstance(stored, dict) or stored.get("key") != key or not isinstance(stored.get("digest"), str):
        return False
    result = stored.get("result")
    if not isinstance(result, dict) or result.get("path") != path or type(result.get("skipped")) is not bool:
        return False
    findings = result.get("findings")
    if not isinstance(findings, list) or not all(_valid_finding(f, path) for f in findings):
        return False
    lines = stored.get("lines", 0)
    if lines is None:
        return True
    if not isinstance(lines, list):
        return False
    for item in lines:
        if not (isinstance(item, list) and len(item) == 2 and (item[0] is None or _is_int(item[0], 1))):
            return False
        if not isinstance(item[1], list) or not all(isinstance(t, str) for t in item[1]):
            return False
    return True


# ---------------------------------------------------------------------- JSON forms
def _finding_to_json(f: Finding) -> dict:
    data = f.to_json()
    if f.fix is not None:
        data["fix"]["description"] = f.fix.description
    return data


def _result_to_json(result: FileResult) -> dict:
    data = {"path": result.path, "skipped": result.skipped, "reason": result.reason, "findings": [_finding_to_json(f) for f in result.findings]}
    if result.links is not None:
        data["links"] = result.links
    return data


def _result_from_json(data: dict) -> FileResult:
    reason = data.get("reason", "")
    result = FileResult(data["path"], [Finding.from_json(f) for f in data["findings"]], skipped=bool(data["skipped"]), reason=reason if isinstance(reason, str) else "")
    links = data.get("links")
    if links is not None:
        if not _valid_links(links):
            raise ValueError("corrupt links")  # a miss: the file is checked again
        result.links = links
    return result


def _valid_links(links: object) -> bool:
    """The shape linter.engine writes for a file's calls across modules (linter.project.links)."""
    if not isinstance(links, dict) or not isinstance(links.get("asked"), list) or not all(isinstance(n, str) for n in links["asked"]):
        return False
    calls = links.get("calls")
    if not isinstance(calls, dict):
        return False
    for per in calls.values():
        if not isinstance(per, dict):
            return False
        for records in per.values():
            if records == "escape":
                continue
            if not isinstance(records, list) or not all(isinstance(r, dict) and isinstance(r.get("a"), list) and isinstance(r.get("k"), dict) for r in records):
                return False
    return True


def _lines_to_json(lines: Optional[dict]) -> Optional[list]:
    return None if lines is None else [[cell, list(text)] for cell, text in lines.items()]


def _lines_from_json(data: Optional[list]) -> Optional[dict]:
    return None if data is None else {cell: list(text) for cell, text in data}
