"""Chinese and Arabic numerals: exact values and rendering as spoken Chinese."""

from __future__ import annotations

import pytest

from inspection.numerals import format_value, parse_numeral, spoken, to_chinese
from inspection.quantities import find_quantities


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
