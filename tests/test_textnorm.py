"""Text normalisation and char+pinyin similarity for matching ASR output to scripts."""

from __future__ import annotations

import pytest

from inspection.textnorm import (
    keep_mask,
    normalize,
    partial_match,
    pinyin,
    prepare,
    similarity,
    strip_punct,
    to_simplified,
)


def test_to_simplified() -> None:
    assert to_simplified("保險猶豫期為十五天，一萬兩千") == "保险犹豫期为十五天，一万两千"
    assert to_simplified("保险") == "保险"


def test_strip_punct_and_normalize() -> None:
    assert strip_punct("好的，没问题！ 是的。") == "好的没问题是的"
    assert strip_punct("《投保提示书》、“免责条款”…") == "投保提示书免责条款"
    assert normalize("保險，犹豫期 為15天！ＡＢＣ１２％") == "保险犹豫期为15天abc12%"
    assert normalize("  ") == ""


def test_pinyin_one_item_per_character() -> None:
    assert pinyin("保单期为15天") == ["bao", "dan", "qi", "wei", "1", "5", "tian"]
    assert pinyin("宝丹期位") == ["bao", "dan", "qi", "wei"]
    assert pinyin("abc") == ["a", "b", "c"]
    text = "嗯，好的OK 2026年"
    assert len(pinyin(text)) == len(text)


def test_fuzzy_pinyin_folds_accent_confusions() -> None:
    assert pinyin("知识", fuzzy=True) == ["zi", "si"]
    assert pinyin("流量", fuzzy=True) == ["niu", "nian"]
    assert pinyin("生命", fuzzy=True) == ["sen", "min"]
    assert pinyin("知识") == ["zhi", "shi"]


def test_similarity_tolerates_homophone_asr_errors() -> None:
    # 期为→期位, 保单→宝丹: characters differ, pinyin is identical.
    assert similarity("犹豫期为十五天", "犹豫期位十五天") == pytest.approx(0.7 + 0.3 * 6 / 7)
    assert similarity("保单", "宝丹") == pytest.approx(0.7)
    assert similarity("保单", "保单") == 1.0
    assert similarity("保单", "利益") == 0.0
    assert similarity("", "") == 1.0 and similarity("保单", "") == 0.0
    assert similarity("您是否清楚？", "您是否清楚") == 1.0


def test_similarity_weight() -> None:
    assert similarity("保单", "宝丹", pinyin_weight=1.0) == 1.0
    assert similarity("保单", "宝丹", pinyin_weight=0.0) == 0.0


def test_partial_match_finds_window_with_errors() -> None:
    hay = normalize("好的，那么接下来：您的犹豫期位十五天，在此期间可以退保。")
    needle = normalize("您的犹豫期为十五天")
    m = partial_match(needle, hay)
    assert hay[m.start : m.end] == "您的犹豫期位十五天"
    assert m.pinyin_score == 1.0
    assert m.char_score == pytest.approx(8 / 9)
    assert m.score == pytest.approx(0.7 + 0.3 * 8 / 9)


def test_partial_match_unrelated_text_scores_low() -> None:
    hay = normalize("今天天气很好，我们去公园散步吧，顺便买点水果回家")
    m = partial_match(normalize("您的犹豫期为十五天"), hay)
    assert m.score < 0.35


def test_partial_match_short_hay_scores_whole_strings() -> None:
    m = partial_match("犹豫期为十五天", "犹豫期")
    assert (m.start, m.end) == (0, 3)
    assert m.score == pytest.approx(0.6)  # ratio of 3 common chars in 7+3
    assert partial_match("", "abc").score == 0.0


def test_partial_match_reuses_precomputed_pinyin() -> None:
    hay = normalize("请您认真阅读免责条款")
    hp = pinyin(hay)
    assert partial_match("免责条款", hay, hay_pinyin=hp) == partial_match("免责条款", hay)


def test_normalize_keeps_decimal_points_only_between_digits() -> None:
    assert normalize("保费1.2万元。") == "保费1.2万元"
    assert normalize("好的.我知道.") == "好的我知道"
    assert normalize("12,000元") == "12000元"


def test_prepare_preserves_length() -> None:
    for text in ["保險，ＡＢＣ１２％", "一萬兩千點五", "㎡ and ﬁ"]:
        assert len(prepare(text)) == len(text)
    assert prepare("保險，ＡＢＣ") == "保险,abc"
    assert keep_mask("1.2万。") == [True, True, True, True, False]
