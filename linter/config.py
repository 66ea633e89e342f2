"""`[tool.epochlint]` configuration: discovery, validation and code selection.

Settings come from the nearest `epochlint.toml` or `pyproject.toml` with a `[tool.epochlint]`
table (or `--config FILE`); command-line flags win. Any unknown key or code, or a malformed
file, raises `ConfigError`, which the CLI turns into exit 2 naming the file and the key.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from linter.rules import ALL_CODES

KNOWN_KEYS = {"select", "ignore", "extend-select", "exclude", "extend-exclude", "per-file-ignores", "strict", "rule-options", "max-seconds", "max-memory"}
DEFAULT_SELECT = ("EPL",)


class ConfigError(Exception):
    pass


@dataclass
class Settings:
    select: tuple[str, ...] = DEFAULT_SELECT
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    strict: bool = False
    rule_options: dict = field(default_factory=dict)
    max_seconds: Optional[float] = None  # per-file limits (linter/limits.py); None: the default
    max_memory_mib: Optional[int] = None
    root: Path = field(default_factory=Path.cwd)  # paths in the config are relative to this
    source: Optional[Path] = None  # the config file, if any

    def enabled_codes(self, path: Optional[str] = None) -> frozenset:
        """Codes reported for `path`: select + extend-select, minus ignore and per-file-ignores
        (remembered per selection and relative path: a run asks once per file)."""
        rel = self.relative(path) if path is not None and self.per_file_ignores else None
        key = (self.select, self.extend_select, self.ignore, tuple(self.per_file_ignores.items()) if rel is not None else (), rel)
        memo = self.__dict__.setdefault("_enabled_memo", {})
        try:
            found = memo.get(key)
        except TypeError:  # a selection given as lists (not through the config reader): not remembered
            return self._enabled_codes(rel)
        if found is None:
            found = memo[key] = self._enabled_codes(rel)
        return found

    def _enabled_codes(self, rel: Optional[str]) -> frozenset:
        selected = {c for c in ALL_CODES if _matches(c, self.select + self.extend_select)}
        ignored = set(self.ignore)
        if rel is not None:
            for pattern, codes in self.per_file_ignores.items():
                if _glob(rel, pattern):
                    ignored.update(codes)
        return frozenset(c for c in selected if not _matches(c, tuple(ignored)))

    def relative(self, path: str) -> str:
        try:
            return Path(os.path.abspath(path)).relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return Path(path).as_posix()

    def key(self) -> str:
        """A stable description of the effective configuration (for the cache key)."""
        return repr((self.select, self.ignore, self.extend_select, sorted(self.per_file_ignores.items()), self.strict, sorted(self.rule_options.items())))


def _matches(code: str, prefixes: Iterable[str]) -> bool:
    return any(code.startswith(p) for p in prefixes)


def _glob(rel: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    return (
        fnmatch.fnmatch(rel, pattern)
        or fnmatch.fnmatch(rel, pattern + "/*")
        or fnmatch.fnmatch(Path(rel).name, pattern)
        or rel.startswith(pattern + "/")
    )


def validate_codes(codes: Iterable[str], where: str) -> tuple[str, ...]:
    """Codes or prefixes (`EPL`, `EPL2`, `EPL201`) or rule names; returns codes/prefixes."""
    from linter.rules import code_for

    out = []
    for raw in codes:
        if not isinstance(raw, str):
            raise ConfigError(f"{where}: expected a code string, got {raw!r}")
        token = raw.strip()
        if not token:
            continue
        code = code_for(token)
        if code is None:
            up = token.upper()
            if not any(c.startswith(up) for c in ALL_CODES) or not up.startswith("EPL"):
                raise ConfigError(f"{where}: unknown rule code or prefix {raw!r}")
            code = up
        out.append(code)
    return tuple(out)


def split_codes(value: str) -> list[str]:
    return [t for t in (p.strip() for p in value.split(",")) if t]


def find_config(start: Path) -> Optional[Path]:
    """The nearest epochlint.toml, or pyproject.toml with a [tool.epochlint] table, upward."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for d in (here, *here.parents):
        cand = d / "epochlint.toml"
        if cand.is_file():
            return cand
        cand = d / "pyproject.toml"
        if cand.is_file():
            try:
                with open(cand, "rb") as fh:
                    raw = fh.read(MAX_CONFIG_BYTES + 1)
            except OSError:
                continue
            try:
                data = _parse_toml(raw, cand)
            except _Unloadable:
                return cand  # TOML that Python cannot load (it may hide our table): load_config says so, exit 2
            except ConfigError:
                # someone else's broken pyproject is not ours to report, unless it has our table:
                # then load_config reports it (exit 2) instead of silently running without it
                if b"epochlint" in raw:
                    return cand
                continue
            if "epochlint" in data.get("tool", {}):
                return cand
    return None


MAX_CONFIG_BYTES = 1 << 20  # a config file larger than this is refused


class _Unloadable(ConfigError):
    """TOML that Python's parser cannot load (huge integers, deep nesting)."""


def _parse_toml(raw: bytes, path: Path) -> dict:
    """Parse a config file's bytes; every failure is a ConfigError naming the file."""
    if len(raw) > MAX_CONFIG_BYTES:
        raise _Unloadable(f"{path}: config file larger than {MAX_CONFIG_BYTES // (1 << 20)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (TOML files must be): byte {exc.start}") from None
    try:  # imported here: a run with no config file to read never loads a TOML parser
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        # e.g. an integer of over 4,300 digits, or arrays nested thousands deep
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0][:200] or type(exc).__name__
        raise _Unloadable(f"{path}: cannot load this TOML file: {reason}") from None


def _check_patterns(patterns: Iterable[str], where: str) -> None:
    """Exclude patterns must be valid gitignore patterns (`\\` alone is not)."""
    from linter.discovery import _gitignore_spec

    for pattern in patterns:
        try:
            _gitignore_spec([pattern])
        except ValueError as exc:
            raise ConfigError(f"{where}: invalid pattern {pattern!r}: {exc}") from None


def load_config(path: Path) -> Settings:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    data = _parse_toml(raw, path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("epochlint", {})
        prefix = "tool.epochlint"
    else:
        table = data.get("tool", {}).get("epochlint", data)
        prefix = "tool.epochlint" if "tool" in data else ""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{prefix}] must be a table")
    where = lambda key: f"{path}: {prefix + '.' if prefix else ''}{key}"  # noqa: E731
    for key in table:
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{where(key)}: unknown key (known: {', '.join(sorted(KNOWN_KEYS))})")
    s = Settings(root=path.parent.resolve(), source=path)

    def str_list(key: str) -> list:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where(key)}: expected a list of strings")
        return value

    if "select" in table:
        s.select = validate_codes(str_list("select"), where("select"))
    s.ignore = validate_codes(str_list("ignore"), where("ignore"))
    s.extend_select = validate_codes(str_list("extend-select"), where("extend-select"))
    s.exclude = tuple(str_list("exclude")) + tuple(str_list("extend-exclude"))
    if s.exclude:
        _check_patterns(str_list("exclude"), where("exclude"))
        _check_patterns(str_list("extend-exclude"), where("extend-exclude"))
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise ConfigError(f"{where('per-file-ignores')}: expected a table of pattern = [codes]")
    for pattern, codes in pfi.items():
        if not isinstance(codes, list):
            raise ConfigError(f"{where('per-file-ignores')}.{pattern!r}: expected a list of codes")
        s.per_file_ignores[pattern] = validate_codes(codes, f"{where('per-file-ignores')}.{pattern!r}")
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError(f"{where('strict')}: expected true or false")
    s.strict = strict
    opts = table.get("rule-options", {})
    if not isinstance(opts, dict):
        raise ConfigError(f"{where('rule-options')}: expected a table")
    for code in opts:
        validate_codes([code], f"{where('rule-options')}")
    s.rule_options = opts
    seconds, memory = table.get("max-seconds"), table.get("max-memory")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 1e9):
        raise ConfigError(f"{where('max-seconds')}: expected a positive number of seconds")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or not 0 < memory < 1 << 30):
        raise ConfigError(f"{where('max-memory')}: expected a positive whole number of MiB")
    s.max_seconds, s.max_memory_mib = seconds, memory
    return s


def resolve_settings(config: Optional[str], paths: list[str]) -> Settings:
    if config:
        p = Path(config)
        if not p.is_file():
            raise ConfigError(f"{config}: config file not found")
        return load_config(p)
    start = Path(paths[0]) if paths and paths[0] != "-" else Path.cwd()
    if not start.exists():
        start = Path.cwd()
    found = find_config(start)
    return load_config(found) if found else Settings()
