"""`[tool.epochlint]` configuration (CLI.md "Configuration"): discovery in pyproject.toml and
epochlint.toml, validation (exit 2 naming the file and the key), per-file-ignores, exclude,
strict, `--config`, and command-line flags winning over the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from linter.config import ConfigError, Settings, load_config, resolve_settings
from tests.test_cli import BAD, epochlint


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def codes_of(proc) -> list[str]:
    assert proc.returncode in (0, 1), proc.stderr_text
    return [f["code"] for f in json.loads(proc.stdout_text)["findings"]]


def run_json(cwd: Path, *args: str):
    return epochlint("check", "--format", "json", "--jobs", "1", "--no-cache", *args, cwd=cwd)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(tmp_path / "train.py", BAD)  # EPL101 (line 4), EPL103 (5), EPL106 (6)
    write(tmp_path / "legacy" / "old.py", BAD)
    write(tmp_path / "tests" / "test_train.py", BAD)
    return tmp_path


# --------------------------------------------------------------------------- applied end to end
def test_pyproject_select_ignore_per_file_ignores_and_exclude(repo):
    write(
        repo / "pyproject.toml",
        """
[project]
name = "demo"

[tool.epochlint]
select = ["EPL1"]
ignore = ["EPL106"]
exclude = ["legacy/"]
per-file-ignores = {"tests/*" = ["EPL101"]}
""",
    )
    data = json.loads(run_json(repo, ".").stdout_text)
    got = sorted((f["path"], f["code"]) for f in data["findings"])
    assert got == [
        ("tests/test_train.py", "EPL103"),
        ("train.py", "EPL101"),
        ("train.py", "EPL103"),
    ]
    # a file named on the command line is checked even when excluded, unless --force-exclude
    assert codes_of(run_json(repo, "legacy/old.py")) == ["EPL101", "EPL103"]
    assert codes_of(run_json(repo, "--force-exclude", "legacy/old.py")) == []


def test_epochlint_toml_is_found_and_preferred(repo):
    write(repo / "pyproject.toml", '[tool.epochlint]\nselect = ["EPL106"]\n')
    write(repo / "epochlint.toml", 'select = ["EPL101"]\n')
    assert codes_of(run_json(repo, "train.py")) == ["EPL101"]


def test_nearest_config_wins_and_pyproject_without_table_is_passed_over(repo):
    write(repo / "pyproject.toml", '[tool.epochlint]\nselect = ["EPL103"]\n')
    write(repo / "pkg" / "pyproject.toml", '[project]\nname = "inner"\n')  # no [tool.epochlint]: keep looking up
    write(repo / "pkg" / "train.py", BAD)
    write(repo / "other" / "epochlint.toml", 'select = ["EPL106"]\n')
    write(repo / "other" / "train.py", BAD)
    assert codes_of(run_json(repo, "pkg/train.py")) == ["EPL103"]
    assert codes_of(run_json(repo, "other/train.py")) == ["EPL106"]


def test_command_line_flags_win_over_the_file(repo):
    write(repo / "pyproject.toml", '[tool.epochlint]\nselect = ["EPL101"]\n')
    assert codes_of(run_json(repo, "--select", "EPL106", "train.py")) == ["EPL106"]
    assert codes_of(run_json(repo, "--extend-select", "EPL103", "train.py")) == ["EPL101", "EPL103"]


def test_config_option_replaces_discovery(repo):
    write(repo / "pyproject.toml", '[tool.epochlint]\nselect = ["EPL101"]\n')
    write(repo / "configs" / "ci.toml", '[tool.epochlint]\nselect = ["EPL103"]\n')
    assert codes_of(run_json(repo, "--config", "configs/ci.toml", "train.py")) == ["EPL103"]


def test_strict_in_config(repo):
    write(repo / "lib.py", "import keras\n\ndef tune(model):\n    model.epochs = 3\n")
    assert codes_of(run_json(repo, "lib.py")) == []
    write(repo / "pyproject.toml", "[tool.epochlint]\nstrict = true\n")
    assert codes_of(run_json(repo, "lib.py")) == ["EPL101"]


# --------------------------------------------------------------------------- errors: exit 2, file and key named
@pytest.mark.parametrize(
    "name,text,must_name",
    [
        ("pyproject.toml", '[tool.epochlint]\nselcet = ["EPL1"]\n', "tool.epochlint.selcet"),
        ("pyproject.toml", '[tool.epochlint]\nignore = ["EPL777"]\n', "tool.epochlint.ignore"),
        ("pyproject.toml", '[tool.epochlint]\nper-file-ignores = {"a/*" = ["EPL42X"]}\n', "tool.epochlint.per-file-ignores"),
        ("pyproject.toml", '[tool.epochlint]\nselect = "EPL1"\n', "tool.epochlint.select"),
        ("pyproject.toml", "[tool.epochlint]\nstrict = 'yes'\n", "tool.epochlint.strict"),
        ("pyproject.toml", "[tool.epochlint\nselect = [\n", "malformed TOML"),
        ("epochlint.toml", "select = [\"EPL1\"\n", "malformed TOML"),
        ("epochlint.toml", 'select = ["EPL1"]\nbogus = 1\n', "bogus"),
    ],
    ids=["unknown-key", "unknown-code", "unknown-code-in-per-file-ignores", "wrong-type", "strict-not-bool", "malformed-pyproject-with-our-table", "malformed-epochlint-toml", "epochlint-toml-unknown-key"],
)
def test_invalid_config_is_exit_2_naming_file_and_key(repo, name, text, must_name):
    config = write(repo / name, text)
    proc = run_json(repo, "train.py")
    assert proc.returncode == 2
    assert proc.stdout_text == ""
    assert str(config.resolve()) in proc.stderr_text or str(config) in proc.stderr_text or name in proc.stderr_text
    assert must_name in proc.stderr_text


def test_config_error_message_names_file_and_key_in_process(tmp_path):
    config = write(tmp_path / "pyproject.toml", '[tool.epochlint]\nignore = ["EPL101", "EPLX"]\n')
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert str(config) in str(err.value) and "tool.epochlint.ignore" in str(err.value) and "'EPLX'" in str(err.value)


def test_broken_unrelated_pyproject_is_not_reported(tmp_path):
    """Discovery skips a pyproject.toml it cannot read when looking for our table; an explicit
    --config on it is an error."""
    write(tmp_path / "pyproject.toml", "this is [not toml\n")
    settings = resolve_settings(None, [str(tmp_path)])
    assert settings.source is None
    with pytest.raises(ConfigError, match="malformed TOML"):
        resolve_settings(str(tmp_path / "pyproject.toml"), [str(tmp_path)])


# --------------------------------------------------------------------------- settings semantics
def test_per_file_ignores_patterns(tmp_path):
    config = write(
        tmp_path / "pyproject.toml",
        '[tool.epochlint]\nper-file-ignores = {"tests/*" = ["EPL1"], "scripts/legacy_*.py" = ["epochs-attribute"]}\n',
    )
    s = load_config(config)
    assert not any(c.startswith("EPL1") for c in s.enabled_codes(str(tmp_path / "tests" / "test_a.py")))
    legacy = s.enabled_codes(str(tmp_path / "scripts" / "legacy_train.py"))
    assert "EPL101" not in legacy and "EPL103" in legacy
    assert "EPL101" in s.enabled_codes(str(tmp_path / "scripts" / "train.py"))


def test_rule_names_and_prefixes_are_accepted(tmp_path):
    config = write(tmp_path / "epochlint.toml", 'select = ["EPL1", "unused-noqa"]\nignore = ["removed-generator-methods"]\n')
    enabled = load_config(config).enabled_codes()
    assert "EPL101" in enabled and "EPL900" in enabled
    assert "EPL106" not in enabled and not any(c.startswith("EPL2") for c in enabled)


def test_enabled_codes_follow_the_settings_when_remembered(tmp_path):
    """enabled_codes is remembered per selection and path (a run asks once per file): a selection
    changed afterwards (the command line's --select/--ignore) or another path is a new answer."""
    s = Settings(root=tmp_path, per_file_ignores={"tests/*": ("EPL1",)})
    inside, outside = str(tmp_path / "tests" / "t.py"), str(tmp_path / "train.py")
    assert "EPL101" in s.enabled_codes(outside) and "EPL101" not in s.enabled_codes(inside)
    s.ignore = ("EPL101",)
    assert "EPL101" not in s.enabled_codes(outside)
    s.select, s.ignore = ("EPL2",), ()
    assert not any(c.startswith("EPL1") for c in s.enabled_codes(outside))
    s.per_file_ignores = {}
    s.select = ("EPL",)
    assert "EPL101" in s.enabled_codes(inside)
