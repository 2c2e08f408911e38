"""Rules on documents: the ID card and the signed risk page, read well, badly or from one
frame (synthetic OCR results; tests/test_rules.py has the rest)."""

from __future__ import annotations

from datetime import date

import pytest

from inspection import rules
from inspection.idnumber import make_id
from inspection.rules import (
    IdCardEvidence,
    SignatureEvidence,
)
from tests.rules_fixtures import ID, NAME, SENTENCE, TH, codes


def card(**kw: object) -> IdCardEvidence:
    base: dict[str, object] = {
        "node_id": "id_card",
        "window": (20.0, 30.0),
        "frames_read": 3,
        "name": NAME,
        "id_number": ID,
        "id_valid": True,
        "t_s": 25.0,
        "text": f"姓名{NAME}\n公民身份号码{ID}",
        "name_shown": True,
    }
    base.update(kw)
    return IdCardEvidence(**base)  # type: ignore[arg-type]


def test_id_card_ok_and_absent_node() -> None:
    assert rules.id_card_findings(card(), NAME, ID, TH) == []
    assert rules.id_card_findings(None, NAME, ID, TH) == []


def test_id_card_missing() -> None:
    found = rules.id_card_findings(
        card(name=None, id_number=None, id_valid=False, text="", name_shown=False), NAME, ID, TH
    )
    assert codes(found) == ["document.id_card_missing"] and found[0].severity == "fail"
    assert found[0].evidence["frame_t_s"] == 25.0
    # Name readable but number not: unsure, a reviewer checks.
    found = rules.id_card_findings(card(id_number=None, id_valid=False), NAME, ID, TH)
    assert codes(found) == ["document.id_card_missing"] and found[0].severity == "review"


def test_id_card_mismatch() -> None:
    other = make_id(date(1975, 3, 8), "440106", 531)
    found = rules.id_card_findings(card(id_number=other), NAME, ID, TH)
    assert codes(found) == ["document.id_card_mismatch"]
    assert other not in str(found[0].evidence) and ID not in found[0].message  # masked
    assert codes(rules.id_card_findings(card(name="王建国", name_shown=False), NAME, ID, TH)) == [
        "document.id_card_mismatch"
    ]
    bad = ID[:-1] + ("0" if ID[-1] != "0" else "1")
    found = rules.id_card_findings(card(id_number=bad, id_valid=False), NAME, ID, TH)
    assert codes(found) == ["document.id_card_mismatch"] and "校验" in found[0].message


def page(**kw: object) -> SignatureEvidence:
    base: dict[str, object] = {
        "node_id": "signature",
        "window": (40.0, 50.0),
        "frames_read": 3,
        "signed_name": NAME,
        "page_text": SENTENCE,
        "all_text": SENTENCE + "签名：" + NAME,
        "t_s": 44.0,
    }
    base.update(kw)
    return SignatureEvidence(**base)  # type: ignore[arg-type]


def test_signature_and_risk_sentence_ok() -> None:
    assert rules.signature_findings(page(), NAME, SENTENCE, TH) == []
    # One misread character in a handwritten 3-character name still passes.
    assert rules.signature_findings(page(signed_name="李明化"), NAME, SENTENCE, TH) == []
    assert rules.signature_findings(None, NAME, SENTENCE, TH) == []


def test_signature_missing_and_mismatch() -> None:
    found = rules.signature_findings(page(signed_name=None, all_text=SENTENCE), NAME, SENTENCE, TH)
    assert codes(found) == ["document.signature_missing"]
    found = rules.signature_findings(page(signed_name="王建国"), NAME, SENTENCE, TH)
    assert codes(found) == ["document.signature_mismatch"] and "王建国" in found[0].message


def test_risk_sentence_missing_and_mismatch() -> None:
    found = rules.signature_findings(page(page_text=""), NAME, SENTENCE, TH)
    assert codes(found) == ["document.risk_sentence_missing"]
    found = rules.signature_findings(
        page(page_text="本人已阅读保险条款、产品说明书"), NAME, SENTENCE, TH
    )
    assert codes(found) == ["document.risk_sentence_mismatch"]
    assert found[0].evidence["scores"]["similarity"] < 0.85
    nothing = page(signed_name=None, page_text="", all_text="", frames_read=0, t_s=None)
    assert codes(rules.signature_findings(nothing, NAME, SENTENCE, TH)) == [
        "document.risk_sentence_missing",
        "document.signature_missing",
    ]


@pytest.mark.parametrize("frames_read", [1, 3])
@pytest.mark.parametrize("seen", ["photo", "text", "nothing"])
def test_id_card_unreadable_but_seen_is_review(frames_read: int, seen: str) -> None:
    """A card that was in the picture (its photo, or some text) but could not be read (angle,
    glare, blur) is for a reviewer; so is any document failure read from a single frame."""
    ev = card(
        name=None,
        id_number=None,
        id_valid=False,
        name_shown=False,
        frames_read=frames_read,
        text="中华人民共和国 居民" if seen == "text" else "",
        card_seen=seen == "photo",
    )
    found = rules.id_card_findings(ev, NAME, ID, TH)
    weak = seen != "nothing" or frames_read < 2
    assert codes(found) == ["document.id_card_missing"]
    assert found[0].severity == ("review" if weak else "fail")


@pytest.mark.parametrize("frames_read", [1, 2])
def test_document_failures_from_one_frame_are_review(frames_read: int) -> None:
    other = make_id(date(1975, 3, 8), "440106", 531)
    sev = "review" if frames_read < 2 else "fail"
    found = rules.id_card_findings(card(id_number=other, frames_read=frames_read), NAME, ID, TH)
    assert [f.severity for f in found] == [sev]
    found = rules.signature_findings(
        page(frames_read=frames_read, signed_name="王建国", page_text="完全不同的一句话"),
        NAME,
        SENTENCE,
        TH,
    )
    assert found and all(f.code.startswith("document.") for f in found)
    assert {f.severity for f in found} == {sev}
