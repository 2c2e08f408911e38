"""Pictures far wider than tall (or taller than wide) given to OCR: a self-service document is
any PNG or JPEG the join link sends, up to 4096 pixels a side. RapidOCR scales the shorter
side up and the longer by the same factor, so a strip was either a ``ResizeImgError`` (a 500
from ``POST /api/join/{token}/document``) or a detector input of gigabytes (2 x 2000: over
6.8 GB); now it is padded to at most ``MAX_ASPECT`` to 1 first and read like any picture."""

from __future__ import annotations

import base64
import io
from datetime import date

import numpy as np
import pytest

from inspection.id_card import parse_id_card
from inspection.idnumber import make_id
from inspection.ocr import MAX_ASPECT, OcrEngine, fit_aspect
from server.selfservice import Models, decode_image, read_document
from tests.render import render_id_card

NUMBER = make_id(date(1990, 3, 7), "110105", 123)


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(threads=2)


def _png(width: int, height: int) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 200, 200)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("shape", [(1, 4096), (4096, 1), (24, 4096), (2, 2000), (2000, 3)])
def test_a_strip_reads_as_no_text(engine: OcrEngine, shape: tuple[int, int]) -> None:
    # (1, 4096) first: on the old code a ResizeImgError at once; (2, 2000) took 52 s there.
    assert engine.read(np.full((*shape, 3), 200, dtype=np.uint8)) == []


def test_padding_keeps_the_picture_and_its_coordinates() -> None:
    strip = np.zeros((2, 2000, 3), dtype=np.uint8)
    padded = fit_aspect(strip)
    assert padded.shape == (500, 2000, 3)
    assert not padded[:2].any() and (padded[2:] == 255).all()
    tall = fit_aspect(np.zeros((4096, 1, 3), dtype=np.uint8))
    assert tall.shape == (4096, 1024, 3)
    normal = np.zeros((480, 640, 3), dtype=np.uint8)
    assert fit_aspect(normal) is normal
    assert max(padded.shape[:2]) <= MAX_ASPECT * min(padded.shape[:2])


def test_a_card_in_a_wide_strip_is_still_read(engine: OcrEngine) -> None:
    card = render_id_card("张三", NUMBER)
    h, w = card.shape[:2]
    wide = np.full((h, w * 6, 3), 255, dtype=np.uint8)
    wide[:, :w] = card
    reading = parse_id_card(engine.read(wide))
    assert (reading.name, reading.id_number) == ("张三", NUMBER)


def test_a_self_service_strip_is_an_unreadable_document() -> None:
    """What ``POST /api/join/{token}/document`` does with the image, on its models."""
    models = Models("", 2)
    for width, height in ((4096, 1), (1, 4096)):
        img = decode_image(_png(width, height))
        result = read_document(models, "id_card", img, None)
        assert result["ok"] is False and result["id_number"] is None
