"""The document stage: OCR the sharpest frames of the ID-card and signature windows and turn
what was read into the evidence records of ``inspection.rules``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inspection.ocr import (
    OcrEngine,
    TextBox,
    clean_text,
    combine_readings,
    parse_id_card,
    sentence_similarity,
)
from inspection.rules import IdCardEvidence, SignatureEvidence, Span

SIGNATURE_LABEL = "签名"


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


def _same_line(a: TextBox, b: TextBox) -> bool:
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.4 * min(a.bottom - a.top, b.bottom - b.top)


def split_signature(boxes: Sequence[TextBox]) -> tuple[str | None, str]:
    """(signed name after the 签名 label or None without a label, the rest of the page).

    The name is the label box's text after the label plus boxes to its right on the same
    line; the page text is every other box, top to bottom.
    """
    label = next((b for b in boxes if SIGNATURE_LABEL in "".join(b.text.split())), None)
    if label is None:
        return None, "".join(b.text for b in boxes)
    compact = "".join(label.text.split())
    after = compact[compact.find(SIGNATURE_LABEL) + len(SIGNATURE_LABEL) :].lstrip(":：")
    right = sorted(
        (b for b in boxes if b is not label and _same_line(label, b) and b.left >= label.left),
        key=lambda b: b.left,
    )
    signed = after + "".join(b.text for b in right)
    on_line = {id(label), *(id(b) for b in right)}
    page = "".join(b.text for b in boxes if id(b) not in on_line and b.bottom <= label.bottom)
    return signed, page


def read_signature(
    ocr: OcrEngine,
    frames: Sequence[tuple[float, np.ndarray]],
    node_id: str,
    window: Span,
    risk_sentence: str | None,
) -> SignatureEvidence:
    """The frame that best shows the signed page: highest similarity of its handwritten text
    to the risk sentence (or the most text when the template has none)."""
    best: tuple[float, SignatureEvidence] | None = None
    for t, bgr in frames:
        boxes = ocr.read(bgr)
        signed, page = split_signature(boxes)
        score = sentence_similarity(page, risk_sentence) if risk_sentence else 0.0
        score += 0.001 * len(clean_text(page)) + (0.5 if signed else 0.0)
        ev = SignatureEvidence(
            node_id=node_id,
            window=window,
            frames_read=len(frames),
            signed_name=signed,
            page_text=page,
            all_text="".join(b.text for b in boxes),
            t_s=t,
        )
        if best is None or score > best[0]:
            best = (score, ev)
    if best is None:
        return SignatureEvidence(node_id=node_id, window=window, frames_read=0)
    return best[1]
