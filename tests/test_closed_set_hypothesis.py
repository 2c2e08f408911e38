"""A yes heard on trusted words is weighed, as decoded, against its own negated forms
(``closed_set.hypothesis_forms``), not only against the short answers of the closed set.

Before, the frozen test split's clean sessions had clearly heard yeses sent to review: 我都明白
(p 0.66) lost to 不明白 (which fits its last three syllables) by 0.56 nats per token, 是我自己的
(p 0.59) to 不是, 男人是我自己 to a refusal: the set has no 我都明白 or 是我自己, so the model's best
fitting answer was a short refusal sharing the yes's ending."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.answer_closed_set import model_hears_no
from inspection.answers import classify_answer
from inspection.closed_set import (
    CANDIDATES,
    ClosedSetScore,
    ClosedSetScorer,
    hypothesis_forms,
    summarise,
)
from inspection.media import Track, load_audio
from inspection.script_types import ScriptSettings
from tests.corpus_media import clip_file

ST = ScriptSettings()


def _hears_no(score: ClosedSetScore) -> bool:
    return model_hears_no(score, ST.closed_set_doubt_margin, ST.closed_set_negation_gap)


@pytest.mark.parametrize(
    ("heard", "forms"),
    [
        ("我都明白", {"我都不明白", "我不明白", "我都不太明白", "我不太明白"}),
        ("是我自己的", {"不是我自己的", "不太是我自己的"}),
        ("嗯嗯,对,是我自己", {"嗯嗯,对,不是我自己", "嗯嗯,对,不太是我自己"}),
        ("嗯,都清楚", {"嗯,都不清楚", "嗯,不清楚", "嗯,都不太清楚", "嗯,不太清楚"}),
    ],
)
def test_the_forms_of_a_heard_yes_put_a_negation_before_or_in_place_of_the_word_before_it(
    heard: str, forms: set[str]
) -> None:
    c = classify_answer(heard)
    assert c.kind == "affirmative"
    got = hypothesis_forms(heard, c.phrase)
    assert next(iter(got)) == heard and got[heard] == "affirmative"
    assert set(got) - {heard} == forms
    assert {got[f] for f in forms} <= {"negative", "unsure"}
    assert all(classify_answer(f).kind != "affirmative" for f in forms)


def test_an_answer_of_the_set_keeps_the_set_s_own_negated_forms() -> None:
    assert "明白了" in CANDIDATES
    assert hypothesis_forms("明白了", "明白") == {}
    assert hypothesis_forms("好的", "明白") == {}  # the word is not in the text


def test_a_heard_yes_that_outscores_the_set_is_no_doubt() -> None:
    # test00's region, as scored: 不明白 ahead of 明白了 by 0.56 per token; the decoded 我都明白
    # fits far better than both and than its own negations.
    table = (
        ("不明白", -11.3, -3.771),
        ("明白了", -13.0, -4.333),
        ("不太明白", -17.8, -4.449),
        ("我都明白", -2.4, -0.6),
        ("我不明白", -6.9, -1.725),
        ("我都不明白", -9.1, -1.82),
    )
    old = summarise(tuple(r for r in table[:3]), per_token=True, speech_s=2.2)
    assert _hears_no(old)  # what sent the clear yes to review
    forms = hypothesis_forms("我都明白", "明白")
    new = summarise(table, True, 2.2, {p: forms[p] for p, _t, _m in table if p in forms})
    assert (new.kind, new.phrase) == ("affirmative", "我都明白")
    assert new.negation_gap == pytest.approx(-2.4 + 6.9)
    assert not _hears_no(new)


def test_a_heard_yes_whose_own_negation_is_likelier_is_still_doubted() -> None:
    table = (("明白了", -6.0, -2.0), ("我都明白", -6.0, -1.5), ("我不明白", -2.0, -0.5))
    forms = hypothesis_forms("我都明白", "明白")
    s = summarise(table, True, 2.0, {p: forms[p] for p, _t, _m in table if p in forms})
    assert s.kind == "negative" and _hears_no(s)


@pytest.fixture(scope="module")
def scorer() -> ClosedSetScorer:
    from inspection.speech import SpeechRecognizer
    from models.registry import ModelRegistry

    rec = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    return ClosedSetScorer(rec._model)


def _clip(said: str) -> np.ndarray:
    pad = np.zeros(6400, np.float32)
    return np.concatenate([pad, load_audio([Track("customer", clip_file(said))]), pad])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("我都明白", "我都明白"),
        ("那个，我都明白", "那个,我都明白"),
        ("嗯嗯，对，是我自己", "嗯嗯,对,是我自己"),
        ("对，是我自己", "对,是我自己"),
    ],
)
def test_yeses_outside_the_set_are_not_doubted_when_scored_as_heard(
    scorer: ClosedSetScorer, said: str, heard: str
) -> None:
    c = classify_answer(heard)
    s = scorer.score(_clip(said), hypothesis_forms(heard, c.phrase))
    assert s is not None and s.kind == "affirmative" and not _hears_no(s), s.as_evidence()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("said", "heard"),
    [("我不清楚", "我都清楚"), ("嗯，不太清楚", "嗯,都清楚")],
)
def test_a_negation_the_words_lost_is_still_heard(
    scorer: ClosedSetScorer, said: str, heard: str
) -> None:
    # The decoder's yes is scored on audio that says the refusal or hedge: the forms put the
    # lost 不 back, and the model prefers them.
    c = classify_answer(heard)
    assert c.kind == "affirmative"
    s = scorer.score(_clip(said), hypothesis_forms(heard, c.phrase))
    assert s is not None and _hears_no(s), s.as_evidence()
