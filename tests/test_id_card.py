"""ID cards: the holder's name and ID number among given OCR lines, several frames combined."""

from __future__ import annotations

from datetime import date

import pytest

from inspection.id_card import IdCardReading, combine_readings, parse_id_card
from inspection.idnumber import make_id
from inspection.ocr import TextBox

NUMBER = make_id(date(1990, 3, 7), "110105", 123)  # 110105199003071239


def _box(text: str, x: float, y: float, w: float = 100, h: float = 30) -> TextBox:
    return TextBox([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], text, 0.99)


def test_name_in_separate_box_to_the_right() -> None:
    boxes = [
        _box("姓名", 10, 10, 60),
        _box("性别", 10, 60, 60),
        _box("王小明", 90, 12),
        _box("男", 90, 62),
    ]
    assert parse_id_card(boxes).name == "王小明"


def test_name_merged_with_label_and_next_field() -> None:
    assert parse_id_card([_box("姓名：张三性别男", 0, 0)]).name == "张三"
    assert parse_id_card([_box("姓名 买买提·艾力", 0, 0)]).name == "买买提·艾力"


def _card_lines(first_line: list[tuple[str, float]]) -> list[TextBox]:
    # Boxes as OCR returns them from a card whose 姓名 label was missed or misread.
    first = [_box(text, x, 20, 60 if len(text) < 3 else 100) for text, x in first_line]
    return [
        *first,
        _box("男", 90, 70, 30),
        _box("汉", 190, 70, 30),
        _box("1990年3月7日", 90, 120, 200),
    ]


@pytest.mark.parametrize(
    ("first_line", "name"),
    [
        ([("王小明", 90)], "王小明"),  # label not detected at all
        ([("推名", 10), ("王小明", 90)], "王小明"),  # label misread
        ([("姓王小明", 10)], "王小明"),  # 名 of the label lost, the rest merged
        ([("#名：王小明", 10)], "王小明"),
    ],
)
def test_name_by_layout_when_label_is_misread(
    first_line: list[tuple[str, float]], name: str
) -> None:
    assert parse_id_card(_card_lines(first_line)).name == name


def test_layout_ignores_text_far_above_the_card() -> None:
    boxes = [_box("欢迎光临", 10, -200), *_card_lines([("王小明", 90)])]
    assert parse_id_card(boxes).name == "王小明"
    assert parse_id_card(_card_lines([])).name is None


def test_shows_name_tolerates_one_slip() -> None:
    reading = parse_id_card([_box("#名赵颖", 0, 0), _box("210102199506231868", 0, 200, 300)])
    assert reading.shows_name("赵丽颖")  # one character lost
    assert not reading.shows_name("王丽颖")
    assert not parse_id_card([_box("姓名张王", 0, 0)]).shows_name(
        "张三"
    )  # 2-character names: exact


def test_combine_readings_votes_and_prefers_valid_numbers() -> None:
    wrong = NUMBER[:16] + "89"
    readings = [
        IdCardReading("张三", wrong, False, "a"),
        IdCardReading("张二", NUMBER, True, "b"),
        IdCardReading("张三", NUMBER, True, "c"),
        IdCardReading(None, None, False, "d"),
    ]
    combined = combine_readings(readings)
    assert combined == IdCardReading("张三", NUMBER, True, "a\nb\nc\nd")
    only_wrong = combine_readings(readings[:1] + readings[3:])
    assert only_wrong.id_number == wrong and not only_wrong.id_valid
    assert combine_readings([]) == IdCardReading(None, None, False, "")


def test_name_missing() -> None:
    reading = parse_id_card([_box("住址北京市", 0, 0)])
    assert reading.name is None and reading.id_number is None and not reading.id_valid


@pytest.mark.parametrize(
    "text",
    [
        "11O1O5199OO3O7l239",  # O for 0, l for 1
        "1101 0519 9003 0712 39",
        "公民身份号码110105199003071239",
        "I10105199003071239",
        "７110105199003071239",  # a stray digit before: the check character picks the window
    ],
)
def test_id_number_tolerates_ocr_confusions(text: str) -> None:
    reading = parse_id_card([_box(text, 0, 0)])
    assert reading.id_number == NUMBER
    assert reading.id_valid


def test_id_number_with_x_variants_and_split_boxes() -> None:
    for text in ("11010519491231002x", "11010519491231002×"):
        assert parse_id_card([_box(text, 0, 0)]).id_number == "11010519491231002X"
    split = [_box("1101051990", 0, 0), _box("03071239", 110, 0)]
    assert parse_id_card(split).id_number == NUMBER


def test_misread_digit_is_reported_invalid() -> None:
    reading = parse_id_card([_box("110105199003071289", 0, 0)])
    assert reading.id_number == "110105199003071289"
    assert not reading.id_valid
