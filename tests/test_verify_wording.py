"""`epochlint verify` wording without TensorFlow: progress on stderr while TensorFlow loads,
evidence lines never cut mid-sentence, a seed-audit heading a newcomer can place."""
from __future__ import annotations

import pytest

from runtime_check.report import audit_lines
from runtime_check.witnesses.base import clip

KERAS_MESSAGE = (
    "`validation_split` is only supported for Tensors or NumPy arrays.Found incompatible type in the input: "
    "[<class 'tensorflow.python.data.ops.batch_op._BatchDataset'>]"
)


def test_clip_ends_at_a_sentence_and_repairs_keras_glued_sentences():
    assert clip(KERAS_MESSAGE, 100) == "`validation_split` is only supported for Tensors or NumPy arrays."
    assert "arrays.Found" not in clip(KERAS_MESSAGE, 200)


def test_clip_without_a_sentence_end_cuts_at_a_word_and_says_so():
    text = "When providing an infinite dataset, you must specify the number of steps to run (if you did not intend it)"
    out = clip(text, 60)
    assert len(out) <= 60 and out.endswith(" ...")
    assert text.startswith(out[:-4])
    assert out[:-4].split()[-1] in text.split()  # a whole word
    assert clip("short", 60) == "short"


def test_seed_audit_heading_says_what_it_is():
    lines = audit_lines([{"example": 1, "verdict": "CONFIRMED", "claim": "c", "measured": "m"}])
    assert "the article epochlint started from" in lines[1]


def test_verify_says_what_it_does_while_tensorflow_loads(monkeypatch, capsys):
    pytest.importorskip("numpy")
    from runtime_check import cli, env

    def missing():
        raise env.TensorFlowMissing("TensorFlow is not installed")

    monkeypatch.setattr(env, "load", missing)
    assert cli.main(["--rule", "EPL101"]) == 2
    err = capsys.readouterr().err
    assert err.index("importing TensorFlow and Keras") < err.index("TensorFlow is not installed")
