"""Signature page read by OCR: the signed name after the 签名 label and the text above it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from inspection.ocr import TextBox

__all__ = ["SignaturePage", "parse_signature_page"]

_SIGN_LABEL = re.compile(r"(投保人|被保险人|客户)?(签名|签字|签署|签章)[:：]?")


@dataclass(frozen=True)
class SignaturePage:
    """A page with a hand-copied sentence and a signature line, split apart.

    ``signed_name`` is the text after the 签名 label (same box and boxes to its right),
    ``None`` when no label was read; ``page_text`` the lines above the signature line.
    """

    signed_name: str | None
    page_text: str
    text: str


def parse_signature_page(boxes: Sequence[TextBox]) -> SignaturePage:
    """Split the OCR lines of a signature page into the signed name and the other text.

    The signed name is the label box's text after 签名 (签字, 投保人签名 ...) plus the boxes
    to its right on the same line; the page text is every box above the signature line
    (below it there is usually a date, not the hand-copied sentence).
    """
    text = "\n".join(b.text for b in boxes)
    for label in boxes:
        match = _SIGN_LABEL.search(_compact(label.text))
        if match is None:
            continue
        right = sorted(
            (b for b in boxes if b is not label and _same_line(label, b) and b.left >= label.left),
            key=lambda b: b.left,
        )
        signed = _compact(label.text)[match.end() :] + "".join(_compact(b.text) for b in right)
        on_line = [label, *right]
        page = "".join(
            b.text for b in boxes if all(b is not x for x in on_line) and b.bottom <= label.bottom
        )
        return SignaturePage(signed, page, text)
    return SignaturePage(None, "".join(b.text for b in boxes), text)


def _same_line(a: TextBox, b: TextBox) -> bool:
    overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
    return overlap >= 0.4 * min(a.bottom - a.top, b.bottom - b.top)


def _compact(text: str) -> str:
    return "".join(text.split())
