"""Configuration for the language server: `[tool.epochlint]` discovery plus client settings.

Each document gets the settings the CLI would use for it: the nearest `epochlint.toml` or
`pyproject.toml` with a `[tool.epochlint]` table above the file (`linter.config.find_config`),
else the defaults rooted at the workspace folder that holds it. The client's settings
(`initializationOptions` and `workspace/didChangeConfiguration`, flat or under an `epochlint` or
`settings` key; or, from a client that answers `workspace/configuration`, the `epochlint` section
per workspace folder) then override: `select` replaces the config's selection (as `--select` does),
`ignore` adds to its ignores (as `--ignore`), `strict` replaces its `strict`.

Discovery and parsing are cached (a directory's config file, a config file's parsed settings by
mtime and size); `invalidate()` drops the cache when a config file changes. A config file that
does not load (`ConfigError`) is reported once per version through `on_error` and the document
is checked with the defaults, as ruff's server does.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable, Optional

from linter.config import ConfigError, Settings, find_config, load_config, split_codes, validate_codes

CONFIG_NAMES = ("pyproject.toml", "epochlint.toml")


@dataclasses.dataclass(frozen=True)
class ClientSettings:
    """What the editor's settings override; None leaves the config's value."""

    select: Optional[tuple[str, ...]] = None
    ignore: tuple[str, ...] = ()
    strict: Optional[bool] = None

    @classmethod
    def from_json(cls, raw: object) -> tuple["ClientSettings", list[str]]:
        """Settings from a client payload, and the problems found in it (each ignored)."""
        problems: list[str] = []
        if isinstance(raw, dict):
            for key in ("epochlint", "settings"):
                if isinstance(raw.get(key), dict):
                    raw = raw[key]
                    break
        if not isinstance(raw, dict):
            return cls(), problems

        def codes(key: str) -> Optional[tuple[str, ...]]:
            value = raw.get(key)
            if value is None:
                return None
            if isinstance(value, str):
                value = split_codes(value)
            if not isinstance(value, list):
                problems.append(f"settings.{key}: expected a list of codes")
                return None
            try:
                return validate_codes(value, f"settings.{key}")
            except ConfigError as exc:
                problems.append(str(exc))
                return None

        strict = raw.get("strict")
        if strict is not None and not isinstance(strict, bool):
            problems.append("settings.strict: expected true or false")
            strict = None
        return cls(codes("select"), codes("ignore") or (), strict), problems

    def apply(self, settings: Settings) -> Settings:
        out = dataclasses.replace(settings)
        if self.select is not None:
            out.select, out.extend_select = self.select, ()
        if self.ignore:
            out.ignore = out.ignore + self.ignore
        if self.strict is not None:
            out.strict = self.strict
        return out


class Configs:
    """Settings per document path, cached; `client` overrides what the files say."""

    def __init__(self, on_error: Callable[[str], None] = lambda message: None) -> None:
        self.client = ClientSettings()
        self.per_folder: dict[Path, ClientSettings] = {}  # from workspace/configuration
        self.folders: list[Path] = []  # workspace folders, for the defaults' root
        self.on_error = on_error
        self._found: dict[Path, Optional[Path]] = {}  # directory -> its config file (or None)
        self._loaded: dict[Path, tuple[tuple, Optional[Settings]]] = {}  # config -> (stamp, settings)
        self._reported: set[tuple] = set()

    def invalidate(self) -> None:
        self._found.clear()
        self._loaded.clear()

    def folder_of(self, path: Path) -> Optional[Path]:
        best = None
        for folder in self.folders:
            if path == folder or folder in path.parents:
                if best is None or len(folder.parts) > len(best.parts):
                    best = folder
        return best

    def settings_for(self, path: Optional[str]) -> Settings:
        """The effective settings for a document at `path` (None: an unsaved, untitled buffer)."""
        start = Path(os.path.abspath(path)).parent if path else (self.folders[0] if self.folders else Path.cwd())
        config = self._config_for(start)
        base = self._load(config) if config is not None else None
        if base is None:
            root = self.folder_of(Path(os.path.abspath(path))) if path else None
            base = Settings(root=root or (self.folders[0] if self.folders else start))
        folder = self.folder_of(Path(os.path.abspath(path))) if path else None
        return self.per_folder.get(folder, self.client).apply(base) if folder is not None else self.client.apply(base)

    def _config_for(self, start: Path) -> Optional[Path]:
        if start not in self._found:
            try:
                self._found[start] = find_config(start)
            except OSError:
                self._found[start] = None
        return self._found[start]

    def _load(self, config: Path) -> Optional[Settings]:
        try:
            st = os.stat(config)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (None, None)
        cached = self._loaded.get(config)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            settings: Optional[Settings] = load_config(config)
        except ConfigError as exc:
            settings = None
            if (config, stamp) not in self._reported:
                self._reported.add((config, stamp))
                self.on_error(f"epochlint: config error: {exc} (checking with the default settings)")
        self._loaded[config] = (stamp, settings)
        return settings
