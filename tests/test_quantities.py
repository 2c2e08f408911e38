"""Numbers in a transcript: units, positions, ordinals and the Arabic rewrite for matching."""

from __future__ import annotations

import pytest

from inspection.quantities import (
    Quantity,
    canonicalize,
    find_amounts,
    find_days,
    find_quantities,
    find_years,
)


def _q(text: str) -> list[tuple[float, str, str]]:
    return [(q.value, q.unit, q.text) for q in find_quantities(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("一万二千元", [(12000, "元", "一万二千元")]),
        ("一万两千", [(12000, "", "一万两千")]),
        ("1.2万元", [(12000, "元", "1.2万元")]),
        ("十五天", [(15, "天", "十五天")]),
        ("二十年", [(20, "年", "二十年")]),
        ("百分之三", [(3, "%", "百分之三")]),
        ("百分之三点五", [(3.5, "%", "百分之三点五")]),
        ("3.5%的收益", [(3.5, "%", "3.5%")]),
        ("两万块", [(20000, "元", "两万块")]),
        ("两万块钱", [(20000, "元", "两万块钱")]),
        ("壹万圆整", [(10000, "元", "壹万圆")]),
        ("分十期", [(10, "期", "十期")]),
        ("三个月后", [(3, "月", "三个月")]),
        ("六十周岁", [(60, "岁", "六十周岁")]),
        ("15 天", [(15, "天", "15 天")]),
        ("万一出险", []),
        ("保险", []),
    ],
)
def test_find_quantities_units(text: str, expected: list[tuple[float, str, str]]) -> None:
    assert _q(text) == expected


def test_find_quantities_positions_in_a_sentence() -> None:
    text = "您的保费为每年一万二千元，交费期十年，犹豫期十五天"
    qs = find_quantities(text)
    assert qs == [
        Quantity(12000, "元", 7, 12, "一万二千元"),
        Quantity(10, "年", 16, 18, "十年"),
        Quantity(15, "天", 22, 25, "十五天"),
    ]
    assert [text[q.start : q.end] for q in qs] == ["一万二千元", "十年", "十五天"]


def test_ordinals_and_calendar_years_are_not_durations() -> None:
    text = "第一年交两万块，2026年11月22日起保障二十年"
    assert [(q.value, q.ordinal) for q in find_quantities(text) if q.unit == "年"] == [
        (1, True),
        (2026, False),
        (20, False),
    ]
    assert [q.value for q in find_years(text)] == [20]
    assert [q.value for q in find_amounts(text)] == [20000]


def test_find_helpers_filter_by_unit() -> None:
    text = "保费是1.2万元，犹豫期15日，保险期间二十年，交费期间十年，每月两千块"
    assert [q.value for q in find_amounts(text)] == [12000, 2000]
    assert [q.value for q in find_days(text)] == [15]
    assert [q.value for q in find_years(text)] == [20, 10]


def test_words_containing_numerals_are_not_amounts() -> None:
    text = "一定要仔细阅读，万一出险，千万不要着急，十分重要"
    assert find_amounts(text) == [] and find_days(text) == [] and find_years(text) == []


def test_canonicalize_maps_spoken_and_written_numbers_together() -> None:
    spoken_text, index = canonicalize("保费是一万两千元，犹豫期十五天")
    assert spoken_text == "保费是12000元，犹豫期15天"
    assert canonicalize("保费是1.2万元，犹豫期15天")[0] == spoken_text
    assert len(index) == len(spoken_text)
    assert index[:3] == [0, 1, 2]  # untouched prefix maps one to one
    assert index[3] == 3 and index[8] == 7  # "12000元" spreads over "一万两千元" (3..7)
    assert index == sorted(index)


def test_canonicalize_leaves_words_alone() -> None:
    text = "一定要仔细阅读，十分重要，千万不要"
    assert canonicalize(text) == (text, list(range(len(text))))
    assert canonicalize("保费一万二")[0] == "保费12000"
