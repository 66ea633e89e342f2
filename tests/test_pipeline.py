"""The per-file pipeline (linter.runner) and the shape of the `linter` package.

One path for every way a file is checked: each file is read once (the cache lookup's bytes are
the bytes checked), parsed by the guarded parser (also when `--fix` checks that a fixed text
still parses), and checked once per distinct text. No import cycle inside `linter/` (a static
look at every import statement, including function-level and TYPE_CHECKING ones)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from linter import engine, parallel, runner
from linter.config import Settings
from linter.runner import FixMode

ROOT = Path(__file__).resolve().parent.parent

BAD = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.epochs = 10\nmodel.fit(x, y, nb_epoch=3)\n"
CLEAN = "import keras\n\nmodel = keras.Sequential([keras.layers.Dense(1)])\nmodel.fit(x, y, epochs=10)\n"


@pytest.fixture
def settings(tmp_path):
    return Settings(root=tmp_path)


def tree(root: Path, n: int, text: str = BAD) -> list[str]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = root / f"f{i:02d}.py"
        p.write_text(text + f"# {i}\n", encoding="utf-8")
        paths.append(str(p))
    return paths


def counting(monkeypatch, module, name, calls: list | None = None) -> list:
    calls = [] if calls is None else calls
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def counting_reads(monkeypatch) -> list:
    """The files read: by the check (runner.read_file) and by the project index, which reads
    what its stat index does not vouch for (linter.source.read_bytes, as read_file does)."""
    from linter import source

    calls = counting(monkeypatch, runner, "read_file")
    return counting(monkeypatch, source, "read_bytes", calls)


@pytest.mark.parametrize("jobs", [1, 2])
def test_each_file_is_read_once_cold_and_warm(tmp_path, settings, monkeypatch, jobs):
    files = tree(tmp_path / "src", 10)
    reads = counting_reads(monkeypatch)  # forked workers inherit the wrappers
    cold = parallel.check_files(files, settings, jobs=jobs)
    if jobs == 1:  # (a worker's reads happen in its own process)
        assert sorted(reads) == files
    reads.clear()
    warm = parallel.check_files(files, settings, jobs=jobs)
    assert sorted(reads) == files  # the index reads each once (files written this second: not trusted from its stat cache); nothing is checked again
    assert [[f.to_json() for f in o.result.findings] for o in warm] == [[f.to_json() for f in o.result.findings] for o in cold]


def test_the_pool_checks_the_bytes_read_for_the_cache_key(tmp_path, settings, monkeypatch):
    files = tree(tmp_path / "src", 10)
    reads = counting_reads(monkeypatch)
    monkeypatch.setattr(parallel, "MIN_FILES_FOR_POOL", 2)
    pooled = parallel.check_files(files, settings, jobs=2)
    assert sorted(reads) == files  # the workers read nothing: the parent sent the bytes
    assert all({"EPL101", "EPL103"} <= {f.code for f in o.result.findings} for o in pooled)


def test_fix_mode_checks_an_unfixable_file_once_and_a_fixed_one_per_round(tmp_path, settings, monkeypatch):
    clean, bad = tree(tmp_path / "a", 1, CLEAN)[0], tree(tmp_path / "b", 1, BAD)[0]
    checks = counting(monkeypatch, engine, "check_source")
    outcome = runner.check_file(clean, settings, FixMode(fix=True))
    assert outcome.fixed == 0 and len(checks) == 1  # the fix round's check is the report's
    checks.clear()
    outcome = runner.check_file(bad, settings, FixMode(fix=True))
    # round 1 finds the fix, round 2 finds nothing left: its check is the final report
    assert outcome.fixed == 1 and len(checks) == 2
    assert "nb_epoch" not in Path(bad).read_text()
    assert [f.code for f in outcome.result.findings] == ["EPL101"]


def test_stdin_and_a_file_give_the_same_outcome(tmp_path, settings, monkeypatch):
    import io

    path = tree(tmp_path / "src", 1)[0]
    data = Path(path).read_bytes()
    monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": io.BytesIO(data)})())
    piped = runner.check_stdin(path, settings, FixMode())
    direct = runner.check_file(path, settings, FixMode())
    assert [f.to_json() for f in piped.result.findings] == [f.to_json() for f in direct.result.findings]
    assert piped.lines == direct.lines


def test_an_exception_on_stdin_is_an_internal_error_not_a_crash(settings, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", type("In", (), {"buffer": io.BytesIO(BAD.encode())})())
    monkeypatch.setattr(runner, "check_source", lambda *a, **k: {}["boom"])
    outcome = runner.check_stdin("-", settings, FixMode())
    assert [f.name for f in outcome.result.findings] == ["internal-error"]


def test_fix_checks_a_fixed_text_with_the_guarded_parser():
    """A fixed text nested deeper than libcst's native parser survives (SIGSEGV) is refused,
    not parsed: `--fix` used to call a bare `libcst.parse_module` here."""
    script = textwrap.dedent(
        """
        from linter import fixes
        from linter.source import SourceFile
        deep = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\\n"
        print(fixes._acceptable(SourceFile("a.py", ""), deep), fixes._acceptable(SourceFile("a.py", ""), "x = (1)\\n"))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "True"]


# --------------------------------------------------------------------------- import cycles
def module_names(package: Path) -> dict[str, Path]:
    mods = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, from every import statement (module level,
    inside functions, under `if TYPE_CHECKING:`). `linter.rules` also imports every rule module
    (its registry discovers them with importlib)."""
    mods = module_names(package)

    def known(name: str):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        is_package = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(filter(None, (known(a.name) for a in node.names)))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_package else mod.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    full = f"{source}.{alias.name}"
                    dep = full if full in mods else known(source)
                    if dep:
                        deps.add(dep)
        deps.discard(mod)
        graph[mod] = deps
    rules = f"{package.name}.rules"
    if rules in graph:
        graph[rules] |= {m for m in mods if m.startswith(rules + ".epl")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module."""
    from linter.project.index import strongly_connected

    return [component for component in strongly_connected(graph) if len(component) > 1]


def test_no_import_cycle_inside_linter():
    found = cycles(import_graph(ROOT / "linter"))
    assert found == [], "import cycles inside linter/: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_cycle_check_sees_lazy_typing_and_registry_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "rules").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n")  # function-level
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n")
    (pkg / "c.py").write_text("from pkg.rules import X\n")
    (pkg / "rules" / "__init__.py").write_text("import importlib\n")  # discovers its rule modules
    (pkg / "rules" / "epl1.py").write_text("from .. import c\n")
    assert sorted(cycles(import_graph(pkg))) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.rules", "pkg.rules.epl1"]]
    (pkg / "b.py").write_text("")
    (pkg / "rules" / "epl1.py").write_text("")
    assert cycles(import_graph(pkg)) == []
