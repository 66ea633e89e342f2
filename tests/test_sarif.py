"""`check --format sarif` end to end: the log validates against the official SARIF 2.1.0 schema
(tests/data/sarif-schema-2.1.0.json, see tests/data/README.md), lists every rule with its help,
and its results and fixes agree with the JSON report and with what `--fix` writes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

BAD = """\
import keras

x = 1  # noqa: EPL101
model = keras.Sequential([keras.layers.Dense(1)])
model.epochs = 10
model.fit(x, x)
"""


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "epochlint", *args], cwd=cwd, env=env, capture_output=True, text=True)


# jsonschema checks "uri"/"uri-reference" only with optional packages; GitHub's upload checks
# them (a relative helpUri is rejected), so check them here the way its validator does.
FORMATS = jsonschema.FormatChecker()
FORMATS.checks("uri")(lambda v: not isinstance(v, str) or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$", v) is not None)
FORMATS.checks("uri-reference")(lambda v: not isinstance(v, str) or re.match(r"^[^\s%]*(%[0-9A-Fa-f]{2}[^\s%]*)*$", v) is not None)


def validate(log: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA, format_checker=FORMATS).validate(log)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src dir").mkdir()
    (tmp_path / "src dir" / "train.py").write_text(BAD, encoding="utf-8")
    (tmp_path / "broken.py").write_text("import keras\ndef f(:\n    pass\n", encoding="utf-8")
    (tmp_path / "clean.py").write_text("import keras\nmodel = keras.Sequential()\nmodel.fit(x, y, epochs=10)\n", encoding="utf-8")
    return tmp_path


def sarif_of(project: Path, *extra: str) -> tuple[dict, subprocess.CompletedProcess]:
    proc = run_cli("check", "--format", "sarif", "--no-cache", *extra, ".", cwd=project)
    assert proc.returncode == 1, proc.stderr
    return json.loads(proc.stdout), proc


def test_sarif_validates_against_the_official_schema(project):
    log, _ = sarif_of(project)
    validate(log)
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_the_validator_rejects_what_the_schema_forbids(project):
    """The schema check is not vacuous: a broken log fails it."""
    log, _ = sarif_of(project)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = json.loads(json.dumps(log))
    del broken["version"]
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = "docs/rules/EPL000.md"  # relative
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    broken = json.loads(json.dumps(log))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "src dir/a.py"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_driver_lists_every_rule_with_help(project):
    log, _ = sarif_of(project)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "epochlint"
    from linter import __version__

    assert driver["version"] == __version__
    from linter.docs import repository_url

    repo = repository_url()
    assert driver.get("informationUri") == repo  # only when [project.urls] names it
    listed = json.loads(run_cli("rules", "--format", "json", cwd=project).stdout)
    from linter.docs import generate

    pages = generate()
    assert [r["id"] for r in driver["rules"]] == [r["code"] for r in listed]
    for rule, row in zip(driver["rules"], listed):
        assert rule["name"] == row["name"]
        assert rule["shortDescription"]["text"] == row["summary"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["markdown"].startswith(f"# {rule['id']} {rule['name']}")
        assert rule["properties"]["doc"] == f"docs/rules/{rule['id']}.md" == row["doc"]
        # helpUri: the page's absolute URL when the repository is known; never a relative path
        assert rule.get("helpUri") == (f"{repo}/blob/main/docs/rules/{rule['id']}.md" if repo else None)
        assert f"{rule['id']}.md" in pages  # the page the generator writes (staleness: test_docs.py)
        assert rule["help"]["markdown"] == pages[f"{rule['id']}.md"]


def test_results_match_the_json_report(project):
    log, _ = sarif_of(project)
    data = json.loads(run_cli("check", "--format", "json", "--no-cache", ".", cwd=project).stdout)
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    assert run["columnKind"] == "unicodeCodePoints"
    got = []
    for res in run["results"]:
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not loc["artifactLocation"]["uri"].startswith(("/", "file:", "./"))
        assert run["tool"]["driver"]["rules"][res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] == "error"
        r = loc["region"]
        got.append((loc["artifactLocation"]["uri"], r["startLine"], r["startColumn"], r["endLine"], r["endColumn"], res["ruleId"], res["message"]["text"]))
    want = [
        (f["path"].replace(" ", "%20").removeprefix("./"), f["line"], f["column"], f["end_line"], f["end_column"], f["code"], f["message"])
        for f in data["findings"]
    ]
    assert sorted(got) == sorted(want)
    codes = {g[5] for g in got}
    assert {"EPL000", "EPL101", "EPL900"} <= codes
    # the space in "src dir" is percent-encoded; the region is 1-based
    assert any(g[0] == "src%20dir/train.py" and g[1:3] == (5, 1) and g[5] == "EPL101" for g in got)


def test_fixes_in_sarif_reproduce_what_fix_writes(project):
    log, _ = sarif_of(project)
    target = project / "src dir" / "train.py"
    text = target.read_text(encoding="utf-8")
    results = [r for r in log["runs"][0]["results"] if "fixes" in r]
    assert [r["ruleId"] for r in results] == ["EPL900"]
    assert not any("fixes" in r for r in log["runs"][0]["results"] if r["ruleId"] == "EPL101")  # no fix exists
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits = []
    for res in results:
        (change,) = res["fixes"][0]["artifactChanges"]
        assert change["artifactLocation"]["uri"] == "src%20dir/train.py"
        for rep in change["replacements"]:
            d = rep["deletedRegion"]
            a = starts[d["startLine"] - 1] + d["startColumn"] - 1
            b = starts[d["endLine"] - 1] + d["endColumn"] - 1
            edits.append((a, b, rep["insertedContent"]["text"]))
    for a, b, content in sorted(edits, reverse=True):
        text = text[:a] + content + text[b:]
    proc = run_cli("check", "--fix", "--no-cache", "src dir/train.py", cwd=project)
    assert proc.returncode == 1  # EPL101 remains
    assert target.read_text(encoding="utf-8") == text
    assert "# noqa" not in text


def test_output_file_and_no_findings(project, tmp_path):
    out = project / "report.sarif"
    proc = run_cli("check", "--format", "sarif", "--output", str(out), "--no-cache", "clean.py", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    log = json.loads(out.read_text(encoding="utf-8"))
    validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"]


def test_file_outside_the_current_directory_gets_an_absolute_uri(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("elsewhere") / "far.py"
    other.write_text(BAD, encoding="utf-8")
    proc = run_cli("check", "--format", "sarif", "--no-cache", str(other), cwd=project)
    log = json.loads(proc.stdout)
    validate(log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {other.resolve().as_uri()}


def test_unsafe_fixes_appear_only_with_the_flag(tmp_path):
    from linter.rules import RULES_BY_CODE

    if getattr(RULES_BY_CODE.get("EPL201"), "fixable", None) != "unsafe":
        pytest.skip("EPL201's unsafe fix not written yet")
    (tmp_path / "loop.py").write_text(
        "import tensorflow as tf\n\nwith tf.GradientTape() as tape:\n"
        "    loss = tf.keras.losses.MSE(y, model(x))\ngrads = tape.gradient(loss, model.trainable_variables)\n"
    )

    def epl201(*extra):
        log = json.loads(run_cli("check", "--format", "sarif", "--no-cache", *extra, "loop.py", cwd=tmp_path).stdout)
        validate(log)
        (res,) = [r for r in log["runs"][0]["results"] if r["ruleId"] == "EPL201"]
        return res

    assert "fixes" not in epl201()
    fixed = epl201("--unsafe-fixes")
    reps = fixed["fixes"][0]["artifactChanges"][0]["replacements"]  # the wrap: `tf.reduce_mean(` ... `)`
    assert [r["insertedContent"]["text"] for r in reps] == ["tf.reduce_mean(", ")"]


def test_help_uris_come_from_the_project_urls(project, tmp_path_factory):
    """With `[project.urls] Repository` in the installed metadata, helpUri and informationUri
    are the GitHub URLs of the pages (a fake dist-info ahead of the checkout on the path)."""
    site = tmp_path_factory.mktemp("site")
    info = site / "epochlint-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: epochlint\nVersion: 0.1.0\n"
        "Project-URL: Repository, https://github.com/example-org/epochlint\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{ROOT}", NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-m", "epochlint", "check", "--format", "sarif", "--no-cache", "."], cwd=project, env=env, capture_output=True, text=True)
    log = json.loads(proc.stdout)
    validate(log)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://github.com/example-org/epochlint"
    for rule in driver["rules"]:
        assert rule["helpUri"] == f"https://github.com/example-org/epochlint/blob/main/docs/rules/{rule['id']}.md"
