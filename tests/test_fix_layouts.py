"""Every fixable rule on every tricky layout (issue 16, "Done when"): LF, CRLF, lone CR, mixed
endings, form feeds, a BOM, tab indentation, comments inside calls, a notebook. For each: the
fixed code parses, a second pass changes nothing, every comment is kept (EPL900 only drops
its own noqa code), the bytes outside the edits are unchanged, and applying all rules' fixes at
once gives what applying them rule by rule gives. Offsets are the file's own (linter.edits)."""
from __future__ import annotations

import ast
import io
import json
import re
import tokenize

import libcst as cst
import pytest

from linter import engine, fixes, notebook
from linter.edits import line_starts
from linter.engine import CheckOptions
from linter.rules import ALL_CODES, ALL_RULES
from linter.source import SourceFile, decode_python

# One program that triggers every fixable rule (EPL201/EPL205 unsafe, the others safe), with
# comments inside the calls the fixes edit.
BASE = '''import tensorflow as tf
from tensorflow import keras

model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dropout(0.5), keras.layers.Dense(1)])
loss_fn = keras.losses.MeanSquaredError(reduction=None)
opt = keras.optimizers.Adam()
sgd = keras.optimizers.SGD(lr=0.1,  # Keras 2 name
                           momentum=0.9)
reduce_lr = keras.callbacks.ReduceLROnPlateau(epsilon=1e-4)  # Keras 2 name
model.compile(optimizer=sgd, loss="mse", metrics=["accuracy"])
train_loss = keras.metrics.Mean()
ds = tf.data.Dataset.range(8).batch(2)


def step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(  # the model
            x,  # input
        ))
        other = model(x  # no trailing comma
        )
    grads = tape.gradient(loss + other, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    train_loss.reset_states()  # per step
    return loss


@tf.function
def traced(x):
    print("tracing", x)  # once
    return x


history = model.fit(
    ds,  # the data
    # batch size (ignored)
    batch_size=4,  # its own comment
    epochs=3,  # three
)
model.fit_generator(gen(), steps_per_epoch=2, nb_epoch=2)  # old API
model.predict_generator(gen(), steps=2)  # old API
model.evaluate(ds,  # held out
               batch_size=8)
model.predict(ds, steps=8 /  # a float
              2)
x = 1  # noqa: EPL101 keep this note
print(history.history["acc"])  # Keras 2.2 key
'''

FIXABLE = sorted({r.code for r in ALL_RULES if r.fixable} | {"EPL900"})
OPTIONS = CheckOptions(frozenset(ALL_CODES))


def _endings(text: str, cycle: tuple[str, ...]) -> str:
    lines = text.split("\n")
    return "".join(line + cycle[i % len(cycle)] for i, line in enumerate(lines[:-1])) + lines[-1]


def _form_feeds(text: str) -> str:
    return re.sub(r"(?m)^(model\.|def |@|x = |    batch_size)", "\x0c\\1", text)


def _tabs(text: str) -> str:
    return re.sub(r"(?m)^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4), text)


LAYOUTS = {
    "lf": lambda t: t,
    "crlf": lambda t: t.replace("\n", "\r\n"),
    "cr": lambda t: t.replace("\n", "\r"),
    "mixed": lambda t: _endings(t, ("\n", "\r\n", "\r", "\r\n")),
    "form-feed": _form_feeds,
    "tabs": _tabs,
    "form-feed-crlf": lambda t: _form_feeds(t).replace("\n", "\r\n"),
}


def _source(layout: str) -> tuple[SourceFile, bytes]:
    if layout == "bom":
        data = b"\xef\xbb\xbf" + BASE.replace("\n", "\r\n").encode("utf-8")
        return decode_python(data, "bom.py"), data
    if layout == "notebook":
        cells = [c + "\n" for c in BASE.split("\n\n\n")]
        nb = {
            "cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": c.splitlines(True)} for c in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
        }
        data = json.dumps(nb, indent=1).encode()
        return notebook.notebook_source(data, "nb.ipynb"), data
    text = LAYOUTS[layout](BASE)
    return SourceFile(f"{layout}.py", text), text.encode("utf-8")


ALL_LAYOUTS = [*LAYOUTS, "bom", "notebook"]


def _check(only=None):
    def check(source: SourceFile):
        found = engine.check_source(source, OPTIONS).findings
        return [f for f in found if only is None or f.code in only]

    return check


def _fix(source: SourceFile, only=None):
    return fixes.fix_source(source, _check(only), unsafe=True)


def _again(source: SourceFile, text: str) -> SourceFile:
    return SourceFile(source.path, text, source.encoding, source.bom, source.cells, source.notebook)


def _comments(text: str) -> list[str]:
    toks = tokenize.generate_tokens(io.StringIO(text, newline=None).readline)
    return [re.sub(r"noqa:\s*EPL\d+\s*", "", t.string) for t in toks if t.type == tokenize.COMMENT]


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_every_fixable_rule_fires_and_is_fixed(layout):
    source, _ = _source(layout)
    before = {f.code for f in engine.check_source(source, OPTIONS).findings if f.fix is not None}
    assert set(FIXABLE) <= before, f"{layout}: no fix from {set(FIXABLE) - before}"
    outcome = _fix(source)
    after = {f.code for f in engine.check_source(_again(source, outcome.new_text), OPTIONS).findings}
    assert not after & set(FIXABLE), after
    assert outcome.applied == 15 and outcome.rejected == 0  # the count is true: 15 fixes, each once


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_fixed_code_parses_is_idempotent_and_keeps_comments(layout):
    source, _ = _source(layout)
    fixed = _fix(source).new_text
    cst.parse_module(fixed)
    ast.parse(fixed)
    again = _fix(_again(source, fixed))
    assert again.applied == 0 and again.new_text == fixed
    assert _comments(fixed) == _comments(source.text)
    if layout in ("lf", "crlf", "cr"):  # no line break of another kind appears
        other = {"lf": "\r", "crlf": None, "cr": "\n"}[layout]
        if other:
            assert other not in fixed
        if layout == "crlf":
            assert fixed.count("\n") == fixed.count("\r\n") == fixed.count("\r")


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_bytes_outside_the_edits_are_unchanged(layout):
    """One round: the written bytes are the original bytes with each edit's span replaced."""
    source, data = _source(layout)
    findings = [f for f in engine.check_source(source, OPTIONS).findings if f.fix is not None]
    new_text, n = fixes.apply_edits(source.text, findings, unsafe=True)
    assert n >= 8
    starts = line_starts(source.text)
    chosen = []
    for f in findings:
        spans = [(starts[e.line - 1] + e.column - 1, starts[e.end_line - 1] + e.end_column - 1, e.content) for e in f.fix.edits]
        if not any(a < t and s < b or a == b == s == t for a, b, _ in spans for s, t, _ in chosen):
            chosen.extend(spans)
    expected, last = [], 0
    for a, b, content in sorted(chosen):
        assert "#" not in source.text[a:b] or source.text[a:b].strip().startswith("# noqa"), source.text[a:b]
        expected += [source.text[last:a], content]
        last = b
    expected.append(source.text[last:])
    assert new_text == "".join(expected)
    if source.notebook is None:
        written = fixes.render(source, new_text)
        assert written == (b"\xef\xbb\xbf" if source.bom else b"") + "".join(expected).encode(source.encoding)
        assert written[:3] == data[:3]
    else:
        reread = notebook.notebook_source(fixes.render(source, new_text), source.path)
        assert reread.text == new_text


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_all_rules_at_once_equal_one_rule_at_a_time(layout):
    """Rule by rule (each to its fixed point), in both orders, repeated until nothing changes
    (EPL106's fix waits for EPL103's): the same text as all rules in one run."""
    source, _ = _source(layout)
    together = _fix(source).new_text
    for order in (FIXABLE, FIXABLE[::-1]):
        text, previous = source.text, None
        while text != previous:
            previous = text
            for code in order:
                text = _fix(_again(source, text), only={code}).new_text
        assert text == together, order


def test_expected_result_on_lf():
    fixed = _fix(_source("lf")[0]).new_text
    assert "loss = loss_fn(y, model(  # the model\n            x,  # input\n            training=True,\n        ))" in fixed
    assert "other = model(x,  # no trailing comma\n            training=True\n        )" in fixed
    assert "tape.gradient(tf.reduce_mean(loss + other), model" in fixed
    assert "    # batch size (ignored)\n    # its own comment\n    epochs=3,  # three\n)" in fixed
    assert "model.fit(gen(), steps_per_epoch=2, epochs=2)  # old API" in fixed
    assert "model.evaluate(ds  # held out\n               )" in fixed
    assert "keras.optimizers.SGD(learning_rate=0.1,  # Keras 2 name\n" in fixed
    assert "keras.callbacks.ReduceLROnPlateau(min_delta=1e-4)  # Keras 2 name" in fixed
    assert fixed.endswith("x = 1  # keep this note\nprint(history.history[\"accuracy\"])  # Keras 2.2 key\n")


# ------------------------------------------------------------------ TextMap
from hypothesis import given, settings, strategies as st  # noqa: E402

from linter.edits import TextMap, Unaligned  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab\n\r\x0c #", max_size=300), st.data())
def test_text_map_carries_every_offset_of_a_rendering_with_characters_left_out(text, data):
    keep = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    kept = [k for k, flag in enumerate(keep) if flag]
    code = "".join(text[k] for k in kept)
    tmap = TextMap(text, code)
    mapped = [tmap.from_code(at) for at in range(len(code))]
    assert all(text[m] == c for m, c in zip(mapped, code))  # each character lands on itself
    assert all(x < y for x, y in zip(mapped, mapped[1:]))  # in order
    assert all(m <= k for m, k in zip(mapped, kept))  # never past where it really is (greedy)


def test_text_map_refuses_a_rendering_with_extra_text():
    with pytest.raises(Unaligned):
        TextMap("abc", "abXc")


def test_text_map_on_many_form_feeds_is_fast():
    import time

    text = "import keras\n" + "\x0cx = 1\n" * 100_000
    code = text.replace("\x0c", "")
    started = time.perf_counter()
    tmap = TextMap(text, code)
    assert tmap.from_code(len(code) - 2) == len(text) - 2
    assert time.perf_counter() - started < 5


# ------------------------------------------------------------------ the builders on many layouts
import itertools  # noqa: E402

from linter import edits  # noqa: E402
from linter.positions import node_positions  # noqa: E402


def _resolve(text: str, make) -> str:
    """Parse `text`, build a fix with `make(call)` for its one call, apply it to the text."""
    module = cst.parse_module(text)
    call = next(n for n in _walk(module) if isinstance(n, cst.Call))
    fix = make(call)
    if fix is None:
        return text
    positions = node_positions(module, fix.anchors)
    tmap = edits.TextMap(text, module.code)
    spans = fix.build(text, lambda node: tmap.span(positions[node]))
    for a, b, content in sorted(spans, reverse=True):
        text = text[:a] + content + text[b:]
    return text


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _layouts():
    """Calls with 0-3 arguments, keyword or not, trailing comma or not, one per line or not,
    with comments after `(` and after arguments, under LF, CRLF and CR line endings."""
    args_sets = [[], ["x"], ["x", "batch_size=4"], ["batch_size=4", "x=x"], ["x", "batch_size=4", "epochs=2"], ["x", "**kw"]]
    for args, trailing, per_line, comment_open, comment_arg, nl, lead in itertools.product(
        args_sets, (False, True), (False, True), (False, True), (False, True), ("\n", "\r\n", "\r"), ("    ", "\t", "\x0c    ")
    ):
        if trailing and not args:
            continue
        if (comment_open or comment_arg or lead != "    ") and not per_line:
            continue
        head = "model.fit(" + ("  # open" if comment_open else "")
        if per_line:
            lines = [f"{lead}{a}," + (f"  # c{k}" if comment_arg else "") for k, a in enumerate(args)]
            if lines and not trailing:
                lines[-1] = lines[-1].replace(",", "", 1) if not comment_arg else lines[-1].replace(f",  # c{len(args) - 1}", f"  # c{len(args) - 1}")
            body = nl.join([head, *lines, ")"]) if (lines or comment_open) else head + ")"
        else:
            body = head + ", ".join(args) + ("," if trailing else "") + ")"
        yield "import keras" + nl + "if True:" + nl + "    " + body.replace(nl, nl + "    ") + nl + "y = 1" + nl


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


LAYOUT_CASES = sorted(t for t in set(_layouts()) if _parses(t))


def _comment_texts(text: str) -> list[str]:
    return _comments(text)


@pytest.mark.parametrize("text", LAYOUT_CASES)
def test_builders_keep_code_valid_and_comments_in_place(text):
    nl = "\r\n" if "\r\n" in text else ("\r" if "\r" in text else "\n")
    breaks = {"\n": lambda t: "\r" not in t,
              "\r\n": lambda t: t.count("\n") == t.count("\r\n") == t.count("\r"),
              "\r": lambda t: "\n" not in t}[nl]

    def by_keyword(call, name):
        return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)

    makers = {
        "add": lambda call: edits.add_keyword(call, "training", "True"),
        "remove": lambda call: edits.remove_argument(call, by_keyword(call, "batch_size")) if by_keyword(call, "batch_size") else None,
        "rename-kw": lambda call: edits.rename_keyword(by_keyword(call, "batch_size"), "steps") if by_keyword(call, "batch_size") else None,
        "rename-attr": lambda call: edits.rename_attribute(call.func, "fit_v2"),
        "wrap": lambda call: edits.wrap(call, "tf.reduce_mean"),
    }
    for name, make in makers.items():
        fixed = _resolve(text, make)
        ast.parse(fixed)  # still Python
        assert _comment_texts(fixed) == _comment_texts(text), (name, text, fixed)
        assert breaks(fixed), (name, repr(fixed))
        assert fixed.endswith("y = 1" + nl)
        if name == "add":
            assert "training=True" in fixed
            call = ast.parse(fixed).body[1].body[0].value
            assert [k.arg for k in call.keywords][-1] == "training"
        if name == "remove" and "batch_size" in text:
            assert "batch_size" not in fixed
            before = ast.parse(text).body[1].body[0].value
            before.keywords = [k for k in before.keywords if k.arg != "batch_size"]
            assert ast.dump(ast.parse(fixed).body[1].body[0].value) == ast.dump(before)  # only that argument went
        if name == "add":  # the call is the old one plus training=True
            before = ast.parse(text).body[1].body[0].value
            after = ast.parse(fixed).body[1].body[0].value
            before.keywords.append(after.keywords[-1])
            assert ast.dump(after) == ast.dump(before)


def test_apply_edits_is_not_quadratic_in_the_number_of_fixes():
    """20,000 fixes in one file (each line `m.reset_states()`): the collision check and the
    rebuild of the text are n log n and linear, not 20,000² (was 50 s of CPU)."""
    import time

    from linter.finding import Edit, Finding, Fix

    text = "m.reset_states()\n" * 20_000
    findings = [
        Finding("EPL207", "removed-reset-states", "m", "x.py", k, 3, k, 15, fix=Fix("safe", (Edit(k, 3, k, 15, "reset_state"),)))
        for k in range(1, 20_001)
    ]
    findings.append(Finding("EPL207", "x", "m", "x.py", 5, 3, 5, 4, fix=Fix("safe", (Edit(5, 3, 5, 4, "Z"),))))  # collides
    started = time.perf_counter()
    new, n = fixes.apply_edits(text, findings, unsafe=False)
    assert time.perf_counter() - started < 5
    assert n == 20_000 and new == "m.reset_state()\n" * 20_000
