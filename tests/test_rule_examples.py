"""Every rule's VALID and INVALID examples, collected automatically (fixit-style), plus
checks that each rule carries its documentation and metadata."""
from __future__ import annotations

import pytest

from linter.engine import CheckOptions, check_source
from linter.fixes import apply_edits
from linter.rules import ALL_RULES
from linter.source import SourceFile

CASES_VALID = [pytest.param(rule, ex, id=f"{rule.code}-valid-{i}") for rule in ALL_RULES for i, ex in enumerate(rule.examples()[0])]
CASES_INVALID = [pytest.param(rule, ex, id=f"{rule.code}-invalid-{i}") for rule in ALL_RULES for i, ex in enumerate(rule.examples()[1])]


def _check(rule, example):
    enabled = frozenset({rule.code})
    return check_source(SourceFile(example.filename, example.source()), CheckOptions(enabled, example.strict)).findings


@pytest.mark.parametrize("rule,example", CASES_VALID)
def test_valid_example_is_silent(rule, example):
    findings = _check(rule, example)
    assert [f for f in findings if f.code == rule.code] == [], example.source()
    assert [f for f in findings if f.code == "EPL000"] == []


@pytest.mark.parametrize("rule,example", CASES_INVALID)
def test_invalid_example_fires(rule, example):
    assert None not in (example.line, example.column, example.message_contains), (
        f"{rule.code}: an INVALID example pins line, column and a message fragment:\n{example.source()}"
    )
    findings = [f for f in _check(rule, example) if f.code == rule.code]
    assert findings, f"{rule.code} did not fire on:\n{example.source()}"
    assert sorted((f.line, f.column) for f in findings) == example.positions(), (findings, example.source())
    for f in findings:
        assert example.message_contains in f.message, (f.message, example.source())
    fixed = example.fixed_source()
    if fixed is not None:
        new_text, n = apply_edits(example.source(), findings, unsafe=example.unsafe)
        assert n >= 1, "expected a fix"
        assert new_text == fixed


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_metadata_and_docs(rule):
    assert rule.code.startswith("EPL") and len(rule.code) == 6
    assert rule.name and rule.name == rule.name.lower() and " " not in rule.name
    assert rule.summary and rule.claim and rule.witness
    sections = rule.doc_sections()
    for title in ("What it does", "Why is this bad", "Example", "Fix"):
        assert sections.get(title), f"{rule.code} docstring lacks '## {title}'"
    valid, invalid = rule.examples()
    assert valid and invalid, f"{rule.code} needs VALID and INVALID examples"
    if rule.fixable in ("safe", "unsafe", "sometimes"):
        assert any(i.fixed is not None for i in invalid), f"{rule.code} is fixable but no example shows the fix"


def test_messages_are_one_glance_long():
    """Every rule's INVALID examples give messages <= 200 characters (hard bound), and the
    median is <= 120: what is wrong and what happens; the evidence lives in `explain`."""
    import re
    import statistics

    from linter.messages import MAX_MESSAGE, TYPICAL_MESSAGE

    lengths = []
    for rule in ALL_RULES:
        for example in rule.examples()[1]:
            for f in _check(rule, example):
                if f.code == rule.code:
                    assert len(f.message) <= MAX_MESSAGE, (len(f.message), f.message)
                    assert "\n" not in f.message
                    # no quoted code cut by bounded(): the wording itself must fit (a long
                    # expression in the user's code is what the cut is for)
                    assert re.search(r"[^(]\.\.\.`", f.message) is None, f.message
                    lengths.append(len(f.message))
    assert statistics.median(lengths) <= TYPICAL_MESSAGE, statistics.median(lengths)


def test_bounded_shortens_quoted_code_not_prose():
    from linter.messages import MAX_MESSAGE, bounded

    long_expr = "self.params[" + "'x' + " * 60 + "'epochs']"
    msg = bounded(f"`initial_epoch={long_expr}` is not below `epochs=5`: fit() trains nothing.")
    assert len(msg) <= MAX_MESSAGE
    assert msg.endswith("is not below `epochs=5`: fit() trains nothing.")
    assert bounded("`a\n   b` is fine") == "`a b` is fine"


def test_epl101_message_does_not_ask_for_epochs_fit_already_passes():
    source = (
        "import keras\nEPOCHS = 10\nmodel = keras.Sequential()\nmodel.epochs = EPOCHS\n"
        "model.fit(x, y, epochs=EPOCHS)\n"
    )
    findings = check_source(SourceFile("t.py", source), CheckOptions(frozenset({"EPL101"}), False)).findings
    assert len(findings) == 1
    assert "Pass `fit(" not in findings[0].message and "only fit()'s `epochs=`" in findings[0].message


def test_epl106_names_the_method_in_full_however_many_keywords_block_the_fix():
    """A Keras 1 call with five old keywords (a real training script's) once gave
    "`model.fit...` was removed": the list of keywords crowded out the method name."""
    source = (
        "import keras\nmodel = keras.Sequential()\n"
        "model.fit_generator(gen(), samples_per_epoch=51200, nb_epoch=2, nb_worker=32, pickle_safe=True,\n"
        "                    validation_data=gen(), nb_val_samples=1280)\n"
    )
    from linter.config import Settings
    from linter.engine import check_source
    from linter.runner import options_for
    from linter.source import SourceFile

    found = [f for f in check_source(SourceFile("t.py", source), options_for(Settings(), "t.py")).findings if f.code == "EPL106"]
    assert len(found) == 1
    message = found[0].message
    assert message.startswith("`model.fit_generator()` was removed in Keras 3") and "Call `model.fit(...)`" in message
    assert "and 3 more first (EPL103)" in message and "..." not in message.replace("(...)", "")
