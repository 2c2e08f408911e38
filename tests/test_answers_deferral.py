"""Deferring the decision is not consent: 我再考虑一下, 我要跟家里商量商量, 让我想一下, 回头再说.

Before, only 考虑一下 / 考虑考虑 / 再考虑 / 想想 / 再说 were hedges: 我考虑下, 让我想一下,
我跟家里商量商量 read as "nothing said" (unsure with no phrase), which the closed set may turn
into a yes (it has no deferral to score), and 好的，让我想一下 read as 好的, a yes. A deferral
stem (考虑, 商量, 想一下 ...) now is a hedge, on characters or toneless pinyin, in Simplified or
Traditional characters (Whisper without a prompt often writes Traditional), however the answer
starts; a stem followed by 好 / 清楚 / 过 / 了 (考虑好了, 商量过了) says the thinking is over,
and such answers keep their yes. Generated over the class, with and without ``expected_answer``.
"""

from __future__ import annotations

import itertools

import pytest
import zhconv

from inspection.answers import classify_answer
from inspection.closed_set import ClosedSetScore
from inspection.speech import Utterance, Word
from tests.confirm_answer import answer
from tests.corpus_v2.wording import DEV

DEFERRALS = (
    "我再考虑一下", "我考虑考虑", "让我考虑考虑", "等我考虑", "我考虑下", "我会考虑的",
    "我要跟家里商量商量", "我跟家里人商量一下", "我回去商量商量", "让我想一下", "我再想一下",
    "我想一想", "我回去想想", "我再看看", "回头再说", "以后再说", "改天吧", "改天再说",
)  # fmt: skip
#: What an answer may start with; a yes in front does not make a deferral consent.
OPENERS = ("", "嗯，", "那个，", "好的，", "行，", "可以，")
EXPECTED = (None, "同意", "清楚", "没有")
#: Deferrals as Whisper may mishear them (same toneless pinyin).
MISHEARD = ("我再靠率一下", "我要跟家里上量上量", "让我想一夏", "我考率下")
SETTLED = (
    "好的，我考虑好了", "想好了，同意", "考虑好了，同意", "我考虑清楚了，同意", "商量好了，我同意",
    "跟家里商量过了，同意", "我考虑过了，可以", "想了想，同意", "我都想好了，没问题", "家里人都同意",
    "好的，我想清楚了",
)  # fmt: skip


def _scripts(text: str) -> list[str]:
    """``text`` in Simplified and in Traditional characters."""
    return sorted({text, zhconv.convert(text, "zh-tw")})


@pytest.mark.parametrize("expected", EXPECTED)
@pytest.mark.parametrize("deferral", DEFERRALS + MISHEARD)
def test_a_deferral_is_a_hedge_however_it_starts(deferral: str, expected: str | None) -> None:
    for opener, text in itertools.product(OPENERS, _scripts(deferral)):
        cls = classify_answer(opener + text, expected)
        # A hedge with the phrase that decided it: the words decide, not the closed set.
        assert cls.kind == "unsure" and cls.phrase is not None, (opener + text, cls)
        assert cls.score == 1.0


@pytest.mark.parametrize("expected", EXPECTED[:3])
@pytest.mark.parametrize("settled", SETTLED)
def test_thinking_that_is_over_keeps_its_yes(settled: str, expected: str | None) -> None:
    for text in _scripts(settled):
        cls = classify_answer(text, expected)
        assert cls.kind == "affirmative", (text, cls)


def test_the_dev_grammar_s_yeses_stay_yeses() -> None:
    for kind in ("consent", "understood", "identity"):
        for text in DEV.grammar.expand(kind):
            for t in _scripts(text):
                assert classify_answer(t).kind == "affirmative", t


def _heard(text: str, score: ClosedSetScore) -> Utterance:
    words = [Word(10.0 + 0.25 * i, 10.2 + 0.25 * i, ch, 0.9) for i, ch in enumerate(text)]
    return Utterance("customer", 10.0, words[-1].end_s, text, words, closed_set=score)


@pytest.mark.parametrize("deferral", DEFERRALS[::3] + MISHEARD[:2])
def test_a_closed_set_yes_does_not_overrule_a_deferral_that_was_heard(deferral: str) -> None:
    # The closed set has no deferral among its answers: a sure yes there is no evidence
    # against the words (before, "nothing said" was handed to it and passed).
    yes = ClosedSetScore("同意", "affirmative", -1.0, 6.0, "不同意", 1.2)
    a = answer([_heard(deferral, yes)])
    assert a.kind == "unsure" and a.phrase is not None
