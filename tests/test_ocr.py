import socket
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from inspection.id_card import parse_id_card
from inspection.idnumber import make_id
from inspection.ocr import OcrEngine, OcrError
from inspection.signature_page import parse_signature_page
from inspection.text_compare import (
    sentence_coverage,
    sentence_partial_similarity,
    sentence_similarity,
    signature_matches,
)
from tests.render import (
    OTHER_SENTENCE,
    RISK_SENTENCE,
    place_in_frame,
    render_handwritten_page,
    render_id_card,
)

NUMBER = make_id(date(1990, 3, 7), "110105", 123)  # 110105199003071239


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(threads=2)


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
