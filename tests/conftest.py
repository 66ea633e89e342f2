"""Shared fixtures: run the engine on a snippet with chosen rules."""
from __future__ import annotations

import textwrap

import pytest

from linter.engine import CheckOptions, check_source
from linter.rules import ALL_CODES
from linter.source import SourceFile


def lint(code: str, select=None, strict: bool = False, path: str = "example.py"):
    """Findings for a snippet (dedented), with `select` codes/prefixes enabled (default all)."""
    text = textwrap.dedent(code).lstrip("\n")
    prefixes = tuple(select) if select else ("EPL",)
    enabled = frozenset(c for c in ALL_CODES if c.startswith(prefixes))
    return check_source(SourceFile(path, text), CheckOptions(enabled, strict)).findings


@pytest.fixture
def run_lint():
    return lint
