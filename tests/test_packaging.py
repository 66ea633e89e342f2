"""`pip install '.[runtime,test]'` installs one TensorFlow: the TensorFlow distribution of the
runtime extra is the one tf-keras (test extra) requires, so pip does not add a second one."""
from __future__ import annotations

import importlib.metadata as md
import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
TF_DISTS = re.compile(r"^(tensorflow(?:-cpu|-gpu|-intel|-macos)?)\b", re.IGNORECASE)


def _extras() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _tf_names(requirements) -> set[str]:
    names = set()
    for req in requirements:
        m = TF_DISTS.match(req.strip())
        if m:
            names.add(m.group(1).lower())
    return names


def test_runtime_and_test_extras_name_one_tensorflow():
    extras = _extras()
    assert len(_tf_names(extras["runtime"])) == 1
    assert _tf_names(extras["runtime"]) | _tf_names(extras["test"]) == _tf_names(extras["runtime"])


def test_tf_keras_requirement_is_the_runtime_tensorflow():
    try:
        requires = md.requires("tf-keras") or []
    except md.PackageNotFoundError:
        pytest.skip("tf-keras is not installed")
    needed = _tf_names(r for r in requires if "extra ==" not in r)
    assert needed, requires
    assert needed == _tf_names(_extras()["runtime"]), f"tf-keras requires {needed}: the runtime extra must name the same"
