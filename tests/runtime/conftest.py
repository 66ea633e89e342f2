"""Fixtures for the runtime_check tests: TensorFlow is imported once per session, the full
`verify` (patterns, every witness, --plot) runs once and the tests assert on its JSON."""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory):
    """An isolated $XDG_CACHE_HOME for the whole session: verify writes its evidence there, never
    into the user's real cache."""
    path = tmp_path_factory.mktemp("xdg-cache")
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(path)
    yield path
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


def _run_main(argv: list[str]) -> tuple[int, str]:
    from runtime_check.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@pytest.fixture(scope="session")
def run_main():
    """`runtime_check.cli.main(argv)` in this process: (exit code, stdout)."""
    return _run_main


@pytest.fixture(scope="session")
def env():
    pytest.importorskip("tensorflow", reason="the runtime extra is not installed")
    from runtime_check.env import load

    return load()


@pytest.fixture(scope="session")
def plot_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("plots")


@pytest.fixture(scope="session")
def verify_run(env, cache_dir, plot_dir):
    """`epochlint verify --format json --plot DIR` once: (exit code, parsed JSON)."""
    code, out = _run_main(["--format", "json", "--plot", str(plot_dir)])
    return code, json.loads(out)


@pytest.fixture(scope="session")
def doc(verify_run):
    return verify_run[1]


@pytest.fixture(scope="session")
def witnesses(doc):
    return {w["code"]: w for w in doc["witnesses"]}


@pytest.fixture(scope="session")
def patterns(doc):
    return {p["name"]: p for p in doc["patterns"]}
