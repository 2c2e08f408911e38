"""Rules: every finding code from synthetic stage outputs, positive and negative."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from inspection import rules
from inspection.idnumber import make_id
from inspection.report import FINDING_CODES, TranscriptLine
from inspection.rules import (
    AudioLevels,
    FaceMatch,
    FrameFaces,
    FrameStats,
    Gap,
    IdCardEvidence,
    NodeCoverage,
    NumberCheck,
    PhraseHit,
    SignatureEvidence,
    Thresholds,
)
from tests.rules_fixtures import ID, NAME, SENTENCE, TH, coverage, mini_nodes


@pytest.fixture(scope="module")
def nodes() -> dict[str, rules.RenderedNode]:
    return {n.id: n for n in mini_nodes()}


def codes(findings: list[rules.Finding]) -> list[str]:
    return sorted(f.code for f in findings)


# --- thresholds ----------------------------------------------------------------------------


def test_every_threshold_has_a_default_and_help() -> None:
    for f in dataclasses.fields(Thresholds):
        assert f.default is not dataclasses.MISSING, f.name
        assert len(f.metadata.get("help", "")) > 20, f.name
    assert set(Thresholds.help()) == {f.name for f in dataclasses.fields(Thresholds)}
    assert Thresholds().node_similarity == 0.6 and Thresholds().face_match_cosine == 0.363


def test_thresholds_from_dict() -> None:
    th = Thresholds.from_dict({"max_gap_s": 5, "ocr_frames": 4})
    assert th.max_gap_s == 5.0 and isinstance(th.max_gap_s, float) and th.ocr_frames == 4
    with pytest.raises(ValueError, match="unknown threshold.*nope"):
        Thresholds.from_dict({"nope": 1})


def test_every_threshold_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "inspection.md").read_text(encoding="utf-8")
    missing = [name for name in Thresholds.help() if f"`{name}`" not in doc]
    assert missing == []


# --- script --------------------------------------------------------------------------------


def test_clean_script_has_no_findings(nodes) -> None:  # type: ignore[no-untyped-def]
    assert rules.script_findings(coverage(nodes.values()), TH) == []


def test_consent_missing_when_not_spoken(nodes) -> None:  # type: ignore[no-untyped-def]
    cov = coverage(nodes.values())
    cov[0] = NodeCoverage(nodes["consent"], 0.3, 1.0, 3.0, "您好")
    found = rules.script_findings(cov, TH)
    assert codes(found) == ["consent.missing"]
    assert found[0].node == "consent" and found[0].evidence["scores"]["similarity"] == 0.3
    assert found[0].evidence["threshold"]["min_similarity"] == 0.6


def test_consent_refused_is_missing_consent_and_negative_answer(nodes) -> None:  # type: ignore[no-untyped-def]
    cov = coverage(nodes.values())
    cov[0] = dataclasses.replace(cov[0], answer="negative", answer_text="不同意")
    found = rules.script_findings(cov, TH)
    assert codes(found) == ["answer.not_affirmative", "consent.missing"]
    assert all(f.participant == "customer" for f in found)
    assert "不同意" in found[0].message + found[1].message


def test_reminder_missing_uses_the_stricter_threshold(nodes) -> None:  # type: ignore[no-untyped-def]
    cov = coverage(nodes.values())
    cov[1] = dataclasses.replace(cov[1], score=0.7)  # above node_similarity, below reminder's 0.75
    found = rules.script_findings(cov, TH)
    assert codes(found) == ["reminder.missing"]
    assert found[0].evidence["threshold"]["min_similarity"] == 0.75
    cov[1] = dataclasses.replace(cov[1], score=0.8)
    assert rules.script_findings(cov, TH) == []


def test_node_missing_and_optional_nodes(nodes) -> None:  # type: ignore[no-untyped-def]
    cov = coverage(nodes.values())
    cov[2] = NodeCoverage(nodes["premium"], 0.2)
    found = rules.script_findings(cov, TH)
    assert codes(found) == ["script.node_missing"]
    assert found[0].node == "premium" and found[0].participant == "salesperson"
    optional = dataclasses.replace(nodes["premium"], required=False)
    cov[2] = NodeCoverage(optional, 0.2)
    assert rules.script_findings(cov, TH) == []


def test_per_node_min_similarity_overrides(nodes) -> None:  # type: ignore[no-untyped-def]
    cov = coverage(nodes.values())
    strict = dataclasses.replace(nodes["premium"], min_similarity=0.98)
    cov[2] = dataclasses.replace(cov[2], node=strict)
    assert codes(rules.script_findings(cov, TH)) == ["script.node_missing"]


def test_out_of_order_reminder(nodes) -> None:  # type: ignore[no-untyped-def]
    cov = coverage(nodes.values())
    cov[1] = dataclasses.replace(cov[1], start_s=20.0, end_s=24.0)  # after premium (12 s)
    found = rules.script_findings(cov, TH)
    assert codes(found) == ["script.out_of_order"]
    assert found[0].node == "reminder" and found[0].evidence["earlier_node"] == "premium"


def test_answers(nodes) -> None:  # type: ignore[no-untyped-def]
    for answer, text in (("negative", "我不清楚"), ("unsure", "嗯"), ("missing", "")):
        cov = coverage(nodes.values())
        cov[3] = dataclasses.replace(cov[3], answer=answer, answer_text=text)
        found = rules.script_findings(cov, TH)
        assert codes(found) == ["answer.not_affirmative"], answer
        assert found[0].node == "id_card" and found[0].severity == "fail"
    # An uncovered question is reported as missing, not as an unanswered question.
    cov = coverage(nodes.values())
    cov[3] = NodeCoverage(nodes["id_card"], 0.1, answer="missing")
    assert codes(rules.script_findings(cov, TH)) == ["script.node_missing"]


def test_forbidden_phrases() -> None:
    hit = PhraseHit("保本保息", "salesperson", 20.0, 23.0, "这个产品保本保息，稳赚不赔。")
    found = rules.forbidden_findings([hit], TH)
    assert codes(found) == ["speech.forbidden_phrase"] and found[0].severity == "fail"
    assert found[0].evidence["transcript"][0]["start_s"] == 20.0
    fuzzy = dataclasses.replace(hit, score=0.93)
    assert rules.forbidden_findings([fuzzy], TH)[0].severity == "review"
    assert rules.forbidden_findings([dataclasses.replace(hit, score=0.5)], TH) == []
    assert rules.forbidden_findings([], TH) == []


def test_number_mismatch() -> None:
    ok = NumberCheck("premium", "premium", 12000, 12000, 10.0, 14.0, "保费为12000元")
    unheard = NumberCheck("premium", "cooling_off_days", 15, None)
    wrong = NumberCheck("premium", "premium", 12000, 15000, 10.0, 14.0, "保费为15000元")
    found = rules.number_findings([ok, unheard, wrong])
    assert codes(found) == ["speech.number_mismatch"]
    assert "15000" in found[0].message and "12000" in found[0].message
    assert found[0].evidence["expected"] == 12000 and found[0].evidence["spoken"] == 15000
    # The script stage's own verdict wins; a years period for a whole-life policy mismatches.
    decided = NumberCheck(None, "premium", 12000, 12000.4, matches=True)
    whole_life = NumberCheck(None, "insurance_years", None, 20.0, 5.0, 6.0, "保险期间20年")
    found = rules.number_findings([decided, whole_life])
    assert codes(found) == ["speech.number_mismatch"] and "终身" in found[0].message


# --- faces ---------------------------------------------------------------------------------


def frames(
    present: list[tuple[float, float]], until: float, period: float = 0.5, n: int = 1
) -> list[FrameFaces]:
    out = []
    t = 0.0
    while t < until:
        here = any(a <= t < b for a, b in present)
        out.append(FrameFaces(t, (150.0,) * n if here else (), (0.9,) * n if here else ()))
        t += period
    return out


def test_face_absent_longer_than_allowed() -> None:
    f = frames([(0, 10), (18, 30)], 30)
    found = rules.face_absence_findings("customer", f, 0.5, (0.0, 30.0), [], TH)
    assert codes(found) == ["face.absent"]
    assert found[0].start_s == 10.0 and found[0].end_s == 18.0
    assert 10.0 <= found[0].evidence["frame_t_s"] < 18.0


def test_face_absence_short_excluded_or_small_faces() -> None:
    short = frames([(0, 10), (14, 30)], 30)  # 4 s < 5 s
    assert rules.face_absence_findings("customer", short, 0.5, (0.0, 30.0), [], TH) == []
    long = frames([(0, 10), (18, 30)], 30)
    # The same absence inside a recorded gap or a document window is not reported.
    assert rules.face_absence_findings("customer", long, 0.5, (0.0, 30.0), [(9.0, 19.0)], TH) == []
    tiny = [FrameFaces(t, (20.0,), (0.9,)) for t in (x * 0.5 for x in range(60))]
    assert codes(rules.face_absence_findings("salesperson", tiny, 0.5, (0.0, 30.0), [], TH)) == [
        "face.absent"
    ]


def test_no_video_at_all_is_absence() -> None:
    found = rules.face_absence_findings("salesperson", [], 0.5, (0.0, 30.0), [], TH)
    assert codes(found) == ["face.absent"] and found[0].end_s == 30.0


def test_extra_person() -> None:
    f = frames([(0, 30)], 30) + []
    two = [FrameFaces(fr.t_s, (150.0, 120.0), (0.9, 0.85)) if 10 <= fr.t_s < 14 else fr for fr in f]
    found = rules.extra_person_findings("customer", two, 0.5, [], TH)
    assert codes(found) == ["face.extra_person"]
    assert found[0].start_s == 10.0 and found[0].evidence["max_faces"] == 2
    # Inside the ID-card window the card's photo is the second face.
    assert rules.extra_person_findings("customer", two, 0.5, [(9.0, 15.0)], TH) == []
    blip = [FrameFaces(fr.t_s, (150.0, 120.0), (0.9, 0.85)) if fr.t_s == 10 else fr for fr in f]
    assert rules.extra_person_findings("customer", blip, 0.5, [], TH) == []
    small = [
        FrameFaces(fr.t_s, (150.0, 30.0), (0.9, 0.85)) if 10 <= fr.t_s < 14 else fr for fr in f
    ]
    assert rules.extra_person_findings("customer", small, 0.5, [], TH) == []


def test_identity_mismatch() -> None:
    bad = FaceMatch("customer", "id_card", 0.12, 25.0)
    good = FaceMatch("customer", "reference_photo", 0.7, 5.0)
    found = rules.identity_findings([bad, good], TH)
    assert codes(found) == ["face.identity_mismatch"]
    assert found[0].evidence["scores"]["cosine"] == 0.12
    assert found[0].evidence["threshold"]["face_match_cosine"] == 0.363


# --- documents -----------------------------------------------------------------------------


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


# --- media ---------------------------------------------------------------------------------


def test_audio_quality() -> None:
    ok = AudioLevels("salesperson", -22.0, 0.0, 60.0)
    assert rules.audio_findings(ok, TH) == []
    for levels, word in (
        (AudioLevels("customer", None, 0.0, 60.0), "无声"),
        (AudioLevels("customer", -45.0, 0.0, 60.0), "音量过低"),
        (AudioLevels("salesperson", -12.0, 0.05, 60.0), "削波"),
        (AudioLevels("customer", -30.0, 0.0, 60.0, snr_db=3.0), "噪声"),
    ):
        found = rules.audio_findings(levels, TH)
        assert codes(found) == ["media.quality"] and found[0].severity == "review"
        assert word in found[0].message
    # A voice 10 dB above babble or hum is a noisy room, not a defect of the recording.
    assert rules.audio_findings(AudioLevels("customer", -30.0, 0.0, 60.0, snr_db=10.0), TH) == []


def test_video_quality() -> None:
    good = [FrameStats(t * 0.5, 120.0, 300.0) for t in range(20)]
    assert rules.video_findings("customer", good, TH) == []
    dark = [FrameStats(t * 0.5, 15.0 if t < 10 else 120.0, 300.0) for t in range(20)]
    found = rules.video_findings("customer", dark, TH)
    assert codes(found) == ["media.quality"] and found[0].evidence["kind"] == "dark"
    blurred = [FrameStats(t * 0.5, 120.0, 5.0) for t in range(20)]
    assert rules.video_findings("customer", blurred, TH)[0].evidence["kind"] == "blurred"


def test_asr_confidence() -> None:
    clear = [TranscriptLine("customer", 1.0, 3.0, "好的", 0.9)]
    assert rules.asr_findings("customer", clear, TH) == []
    mumble = [
        TranscriptLine("customer", 1.0, 13.0, "嗯啊", 0.2),
        TranscriptLine("customer", 14.0, 15.0, "好", 0.9),
    ]
    found = rules.asr_findings("customer", mumble, TH)
    assert codes(found) == ["media.quality"] and found[0].evidence["kind"] == "speech"
    assert rules.asr_findings("salesperson", mumble, TH) == []
    # Two short answers are too little speech to judge the recognition by.
    short = [
        TranscriptLine("customer", 8.4, 9.7, "不同一个明白", 0.38),
        TranscriptLine("customer", 29.0, 29.8, "没问题", 0.98),
    ]
    assert rules.asr_findings("customer", short, TH) == []


def test_asr_confidence_is_blamed_on_the_recording_only_when_it_is_noisy() -> None:
    """Whisper base writes babble as low-confidence words and is unsure of short answers;
    with the voice well above the room's noise that is the recogniser, not the media."""
    babble_heard_as_words = [
        TranscriptLine("customer", 0.0, 21.0, "但是新那兴多子", 0.05),
        TranscriptLine("customer", 51.0, 81.0, "没有问题，因为完全是某一件事", 0.11),
    ]
    assert rules.asr_findings("customer", babble_heard_as_words, TH, snr_db=10.0) == []
    assert rules.asr_findings("customer", babble_heard_as_words, TH, snr_db=20.0) == []
    noisy = rules.asr_findings("customer", babble_heard_as_words, TH, snr_db=7.0)
    assert codes(noisy) == ["media.quality"] and noisy[0].evidence["scores"]["snr_db"] == 7.0
    # Not measured (no audio levels): as before.
    assert codes(rules.asr_findings("customer", babble_heard_as_words, TH)) == ["media.quality"]


def test_gaps() -> None:
    found = rules.gap_findings([Gap("customer", 20.0, 28.0), Gap("salesperson", 5.0, 6.0)], TH)
    assert codes(found) == ["media.gap"]
    assert found[0].participant == "customer" and found[0].evidence["gap_s"] == 8.0


def test_every_code_is_covered_by_these_tests() -> None:
    text = Path(__file__).read_text(encoding="utf-8")
    assert [c for c in FINDING_CODES if f'"{c}"' not in text] == []


def test_sort_findings_fail_first() -> None:
    a = rules.gap_findings([Gap("customer", 1.0, 9.0)], TH)[0]
    b = rules.number_findings([NumberCheck("premium", "premium", 1, 2, 30.0)])[0]
    assert rules.sort_findings([a, b]) == [b, a]


def test_excerpt_around() -> None:
    lines = [
        TranscriptLine("salesperson", 0.0, 4.0, "您好"),
        TranscriptLine("customer", 10.0, 11.0, "好的"),
        TranscriptLine("salesperson", 30.0, 34.0, "请出示身份证"),
    ]
    near = rules.excerpt_around(lines, 12.0, 13.0)
    assert [x["text"] for x in near] == ["好的"] and near[0]["start_s"] == 10.0
    assert len(rules.excerpt_around(lines, 0.0, 40.0)) == 3


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
