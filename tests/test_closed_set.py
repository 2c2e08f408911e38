"""Closed-set answer scoring (inspection.closed_set) and how the script stage uses it: a lost or
garbled answer becomes a clear yes only on a wide margin in a short stretch; a hedge or a
negation that was heard is never overruled; anything else is a guess for review."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from inspection.closed_set import ClosedSetScore, ClosedSetScorer
from inspection.media import Track, load_audio
from inspection.script import NodeAlignment, NodeSpec, find_answers
from inspection.speech import Utterance, Word

NODE = NodeSpec("confirm", "确认", "以上内容您清楚吗？", requires_answer=True)
ALIGNED = [NodeAlignment("confirm", "确认", "salesperson", True, 1.0, 1.0, 9.0, "")]


def _utt(
    text: str, p: float, score: ClosedSetScore | None, uncertain: str | None = None
) -> Utterance:
    words = [Word(10.0 + 0.3 * i, 10.3 + 0.3 * i, ch, p) for i, ch in enumerate(text)]
    end = words[-1].end_s if words else 11.0
    return Utterance("customer", 10.0, end, text, words, uncertain=uncertain, closed_set=score)


def _score(phrase: str, kind: str, margin: float, speech_s: float = 1.6) -> ClosedSetScore:
    return ClosedSetScore(phrase, kind, -3.0, margin, "不清楚", speech_s)  # type: ignore[arg-type]


def _answer(utts: list[Utterance]):  # type: ignore[no-untyped-def]
    return find_answers([NODE], ALIGNED, utts)["confirm"]


def test_garbled_answer_with_a_wide_margin_is_a_clear_yes() -> None:
    a = _answer([_utt("精畜能", 0.3, _score("清楚了", "affirmative", 6.0))])
    assert (a.kind, a.phrase, a.score, a.uncertain, a.confidence) == (
        "affirmative", "清楚了", 1.0, None, None,
    )  # fmt: skip


def test_an_answer_the_decoder_dropped_is_found() -> None:
    lost = Utterance("customer", 10.0, 11.4, "", uncertain="unrecognised",
                     closed_set=_score("是的", "affirmative", 5.0))  # fmt: skip
    a = _answer([lost])
    assert (a.kind, a.score, a.uncertain) == ("affirmative", 1.0, None)
    assert a.start_s == 10.0


@pytest.mark.parametrize(
    ("score", "why"),
    [
        (_score("清楚", "affirmative", 1.0), "small margin"),
        (_score("清楚", "affirmative", 8.0, speech_s=4.5), "too long to be only that answer"),
        (_score("不太清楚", "unsure", 6.0), "the model hears a hedge"),
        (_score("不同意", "negative", 6.0), "the model hears a refusal"),
    ],
)
def test_otherwise_the_closed_set_is_a_guess_for_review(score: ClosedSetScore, why: str) -> None:
    a = _answer([_utt("精畜能", 0.3, score)])
    assert a.score < 1.0 or a.kind != "affirmative", why
    assert not (a.kind == "affirmative" and a.score >= 1.0), why


@pytest.mark.parametrize(
    "heard", ["不太清楚", "我不同意", "清楚是清楚，不过我再想想", "什么意思？"]
)
def test_a_heard_hedge_or_negation_is_never_overruled(heard: str) -> None:
    a = _answer([_utt(heard, 0.9, _score("清楚", "affirmative", 9.0))])
    assert a.kind != "affirmative"


@pytest.mark.slow
def test_scorer_ranks_the_said_answer_first() -> None:
    from inspection.speech import SpeechRecognizer
    from models.registry import ModelRegistry

    tts = Path(__file__).parent / "data" / "tts"
    files = {c["text"]: tts / c["file"] for c in json.loads((tts / "clips.json").read_text())}
    rec = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    scorer = ClosedSetScorer(rec._model)
    pad = np.zeros(6400, np.float32)
    kinds = {}
    for text in ("清楚了", "不同意"):
        x = load_audio([Track("customer", files[text])])
        s = scorer.score(np.concatenate([pad, x, pad]))
        assert s is not None
        kinds[text] = s.kind
    assert kinds == {"清楚了": "affirmative", "不同意": "negative"}


def test_a_yes_heard_on_unsure_words_is_rechecked() -> None:
    # "嗯，对，是我本人" heard as "很对,是我被人" (mean word probability 0.45): a yes, but weak.
    weak = _answer([_utt("很对是我被人", 0.45, None)])
    assert weak.kind == "affirmative" and weak.confidence is not None and weak.confidence < 0.5
    sure = _answer([_utt("很对是我被人", 0.45, _score("对是我本人", "affirmative", 5.0))])
    assert (sure.kind, sure.score, sure.confidence) == ("affirmative", 1.0, None)
