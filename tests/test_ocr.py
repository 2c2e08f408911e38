import socket
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspection.id_card import IdCardReading, combine_readings, parse_id_card
from inspection.idnumber import make_id
from inspection.ocr import OcrEngine, OcrError, TextBox
from inspection.quality import best_frames
from inspection.signature_page import parse_signature_page
from inspection.text_compare import (
    clean_text,
    name_matches,
    sentence_coverage,
    sentence_partial_similarity,
    sentence_similarity,
    signature_matches,
    signature_score,
)
from tests.render import RISK_SENTENCE, place_in_frame, render_handwritten_page, render_id_card

NUMBER = make_id(date(1990, 3, 7), "110105", 123)  # 110105199003071239
OTHER_SENTENCE = "投保人承诺所填写的健康告知内容真实有效，如有隐瞒愿意承担相应的法律责任"


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(threads=2)


def _box(text: str, x: float, y: float, w: float = 100, h: float = 30) -> TextBox:
    return TextBox([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], text, 0.99)


# --- real OCR on rendered images -----------------------------------------------------------


def test_reads_clean_id_card(engine: OcrEngine) -> None:
    reading = parse_id_card(engine.read(render_id_card("张三", NUMBER)))
    assert reading.name == "张三"
    assert reading.id_number == NUMBER
    assert reading.id_valid
    assert "公民身份号码" in reading.text


def test_reads_id_card_held_up_in_noisy_video_frame(engine: OcrEngine) -> None:
    card = render_id_card("欧阳娜娜", make_id(date(1985, 11, 30), "440305", 8))
    frame = place_in_frame(
        card, doc_width=400, angle=-5, noise_sigma=6, blur_sigma=1.0, jpeg_quality=50
    )
    assert frame.shape == (480, 640, 3)
    reading = parse_id_card(engine.read(frame))
    assert reading.name == "欧阳娜娜"
    assert reading.id_number == make_id(date(1985, 11, 30), "440305", 8)
    assert reading.id_valid


def test_wrong_check_digit_is_read_but_invalid(engine: OcrEngine) -> None:
    wrong = NUMBER[:17] + ("0" if NUMBER[17] != "0" else "1")
    reading = parse_id_card(engine.read(render_id_card("李四", wrong)))
    assert reading.name == "李四"
    assert reading.id_number == wrong
    assert not reading.id_valid


def test_handwritten_risk_sentence_in_frame(engine: OcrEngine) -> None:
    page = render_handwritten_page(RISK_SENTENCE, signature="张三", seed=3)
    frame = place_in_frame(page, doc_width=520, angle=3, seed=5)
    boxes = engine.read(frame)
    text = "".join(b.text for b in boxes)
    assert sentence_partial_similarity(text, RISK_SENTENCE) >= 0.9
    assert sentence_coverage([text], RISK_SENTENCE) >= 0.9
    assert sentence_partial_similarity(text, OTHER_SENTENCE) < 0.5
    assert signature_matches(text, "张三")
    assert not signature_matches(text, "李四")
    # Without the signature line, the whole text is the sentence itself.
    page = parse_signature_page(boxes)
    assert page.signed_name == "张三"
    assert sentence_similarity(page.page_text, RISK_SENTENCE) >= 0.9
    assert sentence_similarity(page.page_text, OTHER_SENTENCE) < 0.4


def test_engine_loads_from_wheel_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    blank = np.full((120, 200, 3), 255, np.uint8)
    assert OcrEngine(threads=1).read(blank) == []


def test_sessions_use_the_given_threads_without_spinning(engine: OcrEngine) -> None:
    sessions = [
        engine._ocr.text_det.infer,
        engine._ocr.text_cls.infer,
        engine._ocr.text_rec.session,
    ]
    for wrapper in sessions:
        opts = wrapper.session.get_session_options()
        assert opts.intra_op_num_threads == 2 and opts.inter_op_num_threads == 1
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_missing_model_dir_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(OcrError, match="rapidocr-onnxruntime"):
        OcrEngine(model_dir=tmp_path)


def test_read_rejects_non_bgr(engine: OcrEngine) -> None:
    with pytest.raises(ValueError):
        engine.read(np.zeros((10, 10), np.uint8))


# --- ID card parsing on given boxes --------------------------------------------------------


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


# --- sentences and signatures --------------------------------------------------------------


def test_similarity_ignores_punctuation_and_traditional() -> None:
    traditional = (
        "本人已閱讀保險條款、產品說明書和投保提示書,了解本產品的特點和保單利益的不確定性。"
    )
    assert clean_text(traditional) == clean_text(RISK_SENTENCE)
    assert sentence_similarity(traditional, RISK_SENTENCE) == 1.0
    assert sentence_similarity("", RISK_SENTENCE) == 0.0
    assert sentence_similarity(RISK_SENTENCE, OTHER_SENTENCE) < 0.4


def test_similarity_drops_with_errors() -> None:
    one_wrong = RISK_SENTENCE.replace("特点", "持点")
    assert 0.95 < sentence_similarity(one_wrong, RISK_SENTENCE) < 1.0
    half = RISK_SENTENCE[: len(RISK_SENTENCE) // 2]
    assert sentence_similarity(half, RISK_SENTENCE) < 0.75
    assert sentence_partial_similarity(half, RISK_SENTENCE) == 1.0


def test_coverage_combines_frames_and_ignores_scattered_characters() -> None:
    first, second = RISK_SENTENCE[:20], RISK_SENTENCE[20:]
    share = len(clean_text(first)) / len(clean_text(RISK_SENTENCE))
    assert sentence_coverage([first], RISK_SENTENCE) == pytest.approx(share)
    assert sentence_coverage([first, second], RISK_SENTENCE) == 1.0
    assert sentence_coverage(["的了和本"], RISK_SENTENCE) == 0.0
    assert sentence_coverage([], RISK_SENTENCE) == 0.0


def test_signature_page_label_forms() -> None:
    merged = parse_signature_page(
        [_box("本人已阅读保险条款", 0, 0), _box("投保人签名：李四", 0, 60)]
    )
    assert merged.signed_name == "李四" and merged.page_text == "本人已阅读保险条款"
    split = parse_signature_page(
        [_box("本人已阅读", 0, 0), _box("签名：", 0, 60, 60), _box("李四", 80, 62, 60)]
    )
    assert split.signed_name == "李四" and split.page_text == "本人已阅读"
    assert parse_signature_page([_box("签名", 0, 60, 60)]).signed_name == ""
    dated = parse_signature_page(
        [_box("本人已阅读", 0, 0), _box("签字：李四", 0, 60), _box("2026年1月2日", 0, 120)]
    )
    assert dated.signed_name == "李四" and dated.page_text == "本人已阅读"
    unlabelled = parse_signature_page([_box("本人已阅读", 0, 0), _box("李四", 80, 62, 60)])
    assert unlabelled.signed_name is None and unlabelled.page_text == "本人已阅读李四"


def test_name_matches_edits() -> None:
    assert name_matches("签名：欧阳娜哪", "欧阳娜娜")  # substitution
    assert name_matches("签名：欧阳娜", "欧阳娜娜")  # deletion
    assert name_matches("签名：欧阳娜娜娜", "欧阳娜娜")  # insertion
    assert not name_matches("签名：欧哪", "欧阳娜娜")
    assert not name_matches("签名：张", "张")  # one character is no name


def test_signature_matching() -> None:
    assert signature_matches("签名：张三", "张三")
    assert not signature_matches("签名：张王", "张三")
    assert signature_matches("签名 欧阳娜哪", "欧阳娜娜")  # one misread stroke in 4 characters
    assert not signature_matches("签名 欧阳哪哪", "欧阳娜娜")
    assert signature_score("签名：張三", "张三") == 1.0
    assert signature_score("签名：", "张三") < 0.5


# --- frame choice --------------------------------------------------------------------------


def test_best_frames_prefers_sharp_frames() -> None:
    sharp = render_id_card("张三", NUMBER)
    frames = [(float(i), cv2.GaussianBlur(sharp, (0, 0), 4.0 - i)) for i in range(3)]
    frames.insert(1, (9.0, sharp))
    best = best_frames(iter(frames), 2)
    assert [t for t, _, _ in best] == [9.0, 2.0]
    assert best[0][2] > best[1][2]
    assert best_frames(iter(frames), 0) == []
