"""The document stage: OCR the sharpest frames of the ID-card and signature windows and turn
what was read into the evidence records of ``inspection.rules``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inspection.id_card import combine_readings, parse_id_card
from inspection.ocr import OcrEngine
from inspection.page_text import locate_sentence, reading_order, split_form
from inspection.rules import IdCardEvidence, SignatureEvidence, Span
from inspection.text_compare import clean_text


def shows_id_card(ocr: OcrEngine, bgr: np.ndarray) -> bool:
    """The frame shows an ID card: an 18-character ID number or the card's 公民身份号码
    label is read in it. A second face in such a frame is the card's photo."""
    reading = parse_id_card(ocr.read(bgr))
    return reading.id_number is not None or "身份号码" in "".join(reading.text.split())


def read_id_card(
    ocr: OcrEngine,
    frames: Sequence[tuple[float, np.ndarray]],
    node_id: str,
    window: Span,
    customer_name: str,
) -> IdCardEvidence:
    """Read every frame and combine (majority name and number; a valid number wins)."""
    readings = [(t, parse_id_card(ocr.read(bgr))) for t, bgr in frames]
    if not readings:
        return IdCardEvidence(node_id=node_id, window=window, frames_read=0)
    combined = combine_readings(r for _, r in readings)
    # The evidence frame: the one whose own reading is most complete.
    t_best = max(
        readings,
        key=lambda tr: (
            4 * tr[1].id_valid + 2 * (tr[1].id_number is not None) + (tr[1].name is not None)
        ),
    )[0]
    return IdCardEvidence(
        node_id=node_id,
        window=window,
        frames_read=len(readings),
        name=combined.name,
        id_number=combined.id_number,
        id_valid=combined.id_valid,
        t_s=t_best,
        text=combined.text,
        name_shown=combined.shows_name(customer_name),
    )


def read_signature(
    ocr: OcrEngine,
    frames: Sequence[tuple[float, np.ndarray]],
    node_id: str,
    window: Span,
    risk_sentence: str | None,
) -> SignatureEvidence:
    """The frame that best shows the signed page: highest similarity of the best-matching
    stretch of its text to the risk sentence (or the most text when the template has none).

    Printed labels (signature and date fields, instructions, ruling) are left out of the
    page text; see ``inspection.page_text``.
    """
    best: tuple[float, SignatureEvidence] | None = None
    for t, bgr in frames:
        boxes = ocr.read(bgr)
        lines = reading_order(boxes)
        signed, keep = split_form(lines)
        texts = tuple(lines[i].text for i in keep)
        page = "".join(texts)
        score = locate_sentence(texts, risk_sentence).similarity if risk_sentence else 0.0
        score += 0.001 * len(clean_text(page)) + (0.5 if signed else 0.0)
        ev = SignatureEvidence(
            node_id=node_id,
            window=window,
            frames_read=len(frames),
            signed_name=signed,
            page_text=page,
            all_text="".join(line.text for line in lines),
            t_s=t,
            lines=texts,
            line_bounds=tuple(lines[i].bounds for i in keep),
        )
        if best is None or score > best[0]:
            best = (score, ev)
    if best is None:
        return SignatureEvidence(node_id=node_id, window=window, frames_read=0)
    return best[1]
