"""A hedge whose 不 the decoder lost (issue 7, babble): "不太清楚" came out as 苏太清楚了, read as
清楚, a yes. What follows the negation of a hedge (太, 是很, 是特别, 是太, 怎么) right before an
agree word is never a clear yes: an unsure guess for review. Generated over the class: every
such hedge, every agree word, the 不 dropped or heard as a syllable that does not sound like it.
"""

from __future__ import annotations

import pytest

from inspection.answers import classify_answer

HEDGES = ("不太", "不是很", "不是特别", "不是太", "不怎么", "没太")
AGREE = ("清楚", "明白", "懂", "了解", "理解", "同意", "听懂", "听明白", "知道")
# 不 lost, or heard as another syllable (苏 in babble); 布/步 would still match 不 by pinyin.
LOST = ("", "苏", "我", "嗯", "呃", "就")


@pytest.mark.parametrize("hedge", HEDGES)
@pytest.mark.parametrize("agree", AGREE)
@pytest.mark.parametrize("lost", LOST)
def test_a_hedge_that_lost_its_negation_is_never_a_clear_yes(
    hedge: str, agree: str, lost: str
) -> None:
    heard = lost + hedge[1:] + agree + "了"
    c = classify_answer(heard)
    assert c.kind != "affirmative", heard
    assert c.kind == "unsure"


@pytest.mark.parametrize("hedge", [h for h in HEDGES if h != "不怎么"])  # 怎么: a question word
@pytest.mark.parametrize("agree", AGREE)
def test_the_guess_is_review_evidence_not_a_sure_hedge(hedge: str, agree: str) -> None:
    # The hedge was not heard, only what is left of it: a reviewer listens (score < 1).
    assert classify_answer(hedge[1:] + agree).score < 1.0
    assert classify_answer(hedge + agree).score == 1.0  # heard whole: a sure hedge, as before


@pytest.mark.parametrize(
    "yes", ["完全同意", "我完全清楚", "都清楚了", "太好了", "好的，很清楚", "是的，我同意", "清楚"]
)
def test_plain_and_emphatic_yeses_stay_yes(yes: str) -> None:
    assert classify_answer(yes).kind == "affirmative"
