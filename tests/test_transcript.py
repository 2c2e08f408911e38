"""Character streams built from utterances: normalisation, numbers, per-character times, pauses."""

from __future__ import annotations

import pytest

from inspection.speech import Utterance, Word
from inspection.transcript import build_stream, normalize_script


def _utts() -> list[Utterance]:
    return [
        Utterance(
            "salesperson",
            1.0,
            4.0,
            "保费为每年一万两千元，交费期间十年。",
            [
                Word(1.0, 2.0, "保费为每年", 0.9),
                Word(2.0, 3.0, "一万两千元，", 0.9),
                Word(3.0, 4.0, "交费期间十年。", 0.9),
            ],
        ),
        Utterance("customer", 4.5, 5.0, "好的"),
        Utterance("salesperson", 5.0, 6.0, "犹豫期15天"),
    ]


def test_stream_text_is_normalised_with_arabic_numbers() -> None:
    s = build_stream(_utts(), "salesperson")
    assert s.text == "保费为每年12000元交费期间10年犹豫期15天"
    assert s.participant == "salesperson"
    assert len(s.starts) == len(s.ends) == len(s.breaks) == len(s.pinyin) == len(s.text)
    assert s.utterance == (0,) * 18 + (1,) * 6


def test_stream_times_follow_words() -> None:
    s = build_stream(_utts(), "salesperson")
    assert s.starts[:5] == pytest.approx([1.0, 1.2, 1.4, 1.6, 1.8])
    # "12000元" spreads over the word "一万两千元，" (2.0-3.0; the comma takes no time).
    assert s.span_times(5, 11) == pytest.approx((2.0, 3.0))
    # An utterance without words spreads its text over its own span.
    assert s.span_times(18, 24) == pytest.approx((5.0, 6.0))
    assert s.index_at(5.0) == 18
    assert s.index_at(99.0) == len(s)


def test_stream_breaks_at_punctuation_and_utterances() -> None:
    s = build_stream(_utts(), "salesperson")
    breaks = [i for i, b in enumerate(s.breaks) if b]
    assert breaks == [10, 17, 23]  # after 元 (，), after 年 (。/new utterance), at the end
    assert s.has_break(11, 12) is True
    assert s.has_break(12, 14) is False


def test_stream_of_everyone_and_empty() -> None:
    assert build_stream(_utts()).text == "保费为每年12000元交费期间10年好的犹豫期15天"
    empty = build_stream([], "customer")
    assert empty.text == "" and len(empty) == 0 and empty.span_times(0, 1) == (0.0, 0.0)


def test_traditional_output_is_simplified() -> None:
    s = build_stream([Utterance("customer", 0.0, 1.0, "保險猶豫期為十五天")])
    assert s.text == "保险犹豫期为15天"


def test_normalize_script_matches_stream_form() -> None:
    assert (
        normalize_script("您的保费为每年12000元，犹豫期为15天。")
        == "您的保费为每年12000元犹豫期为15天"
    )
    assert normalize_script("保费一万两千元") == normalize_script("保费1.2万元") == "保费12000元"
