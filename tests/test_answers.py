"""Customer answer classification: negation beats affirmation, hedges are unsure, silence is missing."""

from __future__ import annotations

import pytest

from inspection.answers import AnswerClass, classify_answer, is_filler_only


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("是的，我同意。", "是的"),
        ("对", "对"),
        ("清楚", "清楚"),
        ("明白了", "明白"),
        ("好的，没问题", "没问题"),
        ("可以", "可以"),
        ("知道了", "知道"),
        ("了解", "了解"),
        ("同意", "同意"),
        ("嗯，好的", "好的"),
        ("没错", "没错"),
        ("OK", "ok"),
        ("是的，是我本人", "是的"),
        ("清除", "清楚"),  # ASR homophone of 清楚, matched on pinyin
        ("我同一", "同意"),  # ASR homophone of 同意
    ],
)
def test_affirmative(text: str, phrase: str) -> None:
    assert classify_answer(text) == AnswerClass("affirmative", phrase)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("不同意", "不同意"),
        ("我不清楚", "不清楚"),  # contains 清楚: negation must win
        ("不明白", "不明白"),
        ("没听懂", "没听懂"),
        ("不知道", "不知道"),
        ("不是", "不是"),
        ("不愿意", "不愿意"),
        ("不要", "不要"),
        ("不清除", "不清楚"),  # homophone, still negative
        ("不好意思，我没听清", "没听清"),
        ("我不同意，也不太明白", "不同意"),  # a refusal beside a hedge is a refusal
        ("听不懂", "听不懂"),
        ("不不不", "不不"),
        ("没有", "没有"),
    ],
)
def test_negative(text: str, phrase: str) -> None:
    assert classify_answer(text) == AnswerClass("negative", phrase)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("嗯…", None),
        ("嗯嗯", None),
        ("我再想想", "再想想"),
        ("不太清楚", "不太"),
        ("不是很清楚", "不是很"),
        ("可能吧", "可能"),
        ("应该是吧", "应该"),  # read as 是, a clear yes, on 51a6006
        ("应该是我本人吧", "应该"),
        ("应该吧", "应该吧"),
        ("是不是保本的？", "是不是"),
        ("这个收益怎么算", "怎么"),
        ("今天天气不错", None),  # said something, but not an answer
    ],
)
def test_unsure(text: str, phrase: str | None) -> None:
    assert classify_answer(text) == AnswerClass("unsure", phrase)


@pytest.mark.parametrize("text", ["", "。。", "  ", "，"])
def test_missing(text: str) -> None:
    assert classify_answer(text) == AnswerClass("missing", None)


def test_expected_answer_hint() -> None:
    # "您还有没有疑问？" — "没有" is the good answer there.
    assert classify_answer("没有", expected="没有") == AnswerClass("affirmative", "没有")
    assert classify_answer("没有了", expected="没有").kind == "affirmative"
    assert classify_answer("不同意", expected="同意") == AnswerClass("negative", "不同意")
    assert classify_answer("同意", expected="同意") == AnswerClass("affirmative", "同意")


def test_filler_only() -> None:
    assert is_filler_only("嗯…啊")
    assert not is_filler_only("嗯，好")
    assert not is_filler_only("")


@pytest.mark.parametrize("heard", ["不需很明白", "清楚不", "不嗯清楚了", "我没很懂", "没事，同意"])
def test_a_stray_negation_is_never_a_clear_yes(heard: str) -> None:
    # A 不/没 left after the idioms, hedges and negations are taken out: misheard words around
    # it ("不是很明白" decoded as "不需很明白") or a question back (清楚不): not consent.
    assert classify_answer(heard).kind != "affirmative"
