"""Signature pages: the signed name after the 签名 label and the page text above it."""

from __future__ import annotations

from inspection.ocr import TextBox
from inspection.signature_page import parse_signature_page


def _box(text: str, x: float, y: float, w: float = 100, h: float = 30) -> TextBox:
    return TextBox([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], text, 0.99)


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
