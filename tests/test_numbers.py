"""Chinese and Arabic numerals in speech: exact values, units, positions and rendering."""

from __future__ import annotations

import pytest

from inspection.numbers import (
    Quantity,
    canonicalize,
    find_amounts,
    find_days,
    find_quantities,
    find_years,
    format_value,
    parse_numeral,
    spoken,
    to_chinese,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一万二千", 12000),
        ("一万两千", 12000),
        ("一万二", 12000),
        ("两万五", 25000),
        ("三千五", 3500),
        ("一百五", 150),
        ("一百零五", 105),
        ("一千零一十", 1010),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("两", 2),
        ("十万", 100000),
        ("一百二十万", 1200000),
        ("一亿两千万", 120000000),
        ("壹万", 10000),
        ("贰仟伍佰", 2500),
        ("一萬兩千", 12000),
        ("二零二六", 2026),
        ("十二点五", 12.5),
        ("零点五", 0.5),
        ("一点二万", 12000),
        ("1.2万", 12000),
        ("1万2千", 12000),
        ("1万2", 12000),
        ("3千", 3000),
        ("12,000", 12000),
        ("12000", 12000),
        ("3.5", 3.5),
    ],
)
def test_parse_numeral_values(text: str, value: float) -> None:
    assert parse_numeral(text) == value


@pytest.mark.parametrize("text", ["万一", "万", "三五千", "点", "十一二", "", "保费"])
def test_parse_numeral_rejects_non_numbers(text: str) -> None:
    assert parse_numeral(text) is None


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


@pytest.mark.parametrize(
    ("value", "liang", "text"),
    [
        (0, True, "零"),
        (2, True, "二"),
        (10, True, "十"),
        (15, True, "十五"),
        (20, True, "二十"),
        (105, True, "一百零五"),
        (110, True, "一百一十"),
        (200, True, "两百"),
        (1010, True, "一千零一十"),
        (2000, True, "两千"),
        (2000, False, "二千"),
        (12000, True, "一万两千"),
        (12000, False, "一万二千"),
        (20000, True, "两万"),
        (100000, True, "十万"),
        (120000, True, "十二万"),
        (100005, True, "十万零五"),
        (10001000, True, "一千万一千"),
        (100010000, True, "一亿零一万"),
        (1.5, True, "一点五"),
        (0.5, True, "零点五"),
        (-3, True, "负三"),
    ],
)
def test_to_chinese(value: float, liang: bool, text: str) -> None:
    assert to_chinese(value, liang=liang) == text


@pytest.mark.parametrize(
    "value",
    [
        1,
        7,
        10,
        11,
        15,
        20,
        99,
        100,
        105,
        110,
        999,
        1001,
        1010,
        12000,
        20500,
        100000,
        123456,
        1000001,
        120000000,
        3.5,
        12.25,
    ],
)
def test_to_chinese_round_trips(value: float) -> None:
    assert parse_numeral(to_chinese(value)) == value
    assert parse_numeral(to_chinese(value, liang=False)) == value


def test_spoken_quantities() -> None:
    assert spoken(12000, "元") == "一万两千元"
    assert spoken(15, "天") == "十五天"
    assert spoken(2, "年") == "两年"
    assert spoken(20, "年") == "二十年"
    assert spoken(3, "月") == "三个月"
    assert spoken(3, "%") == "百分之三"
    assert find_quantities(spoken(12000, "元"))[0].value == 12000


def test_format_value() -> None:
    assert format_value(12000.0) == "12000"
    assert format_value(1.5) == "1.5"
    assert format_value(0.1 + 0.2) == "0.30000000000000004"
