"""Rules on faces: absence, small or short-lived faces, extra people, identity mismatch
(synthetic frame results; tests/test_rules.py has the rest)."""

from __future__ import annotations

from inspection import rules
from inspection.rules import (
    FaceMatch,
    FrameFaces,
)
from tests.rules_fixtures import TH, codes


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


def test_face_absent_fails_only_on_strong_evidence() -> None:
    # 12 s without a face on 1 fps frames: clearly longer than the 5 s allowed.
    clear = frames([(0, 10), (22, 40)], 40, period=1.0)
    (found,) = rules.face_absence_findings("customer", clear, 1.0, (0.0, 40.0), [], TH)
    assert found.severity == "fail" and "review_because" not in found.evidence
    # 6 s on 1 fps frames: each end is known to a second, so it may be within the limit.
    near = frames([(0, 10), (16, 40)], 40, period=1.0)
    (found,) = rules.face_absence_findings("customer", near, 1.0, (0.0, 40.0), [], TH)
    assert found.severity == "review"
    assert found.evidence["review_because"] == "near_threshold"
    # The same 12 s, but speech did not place the ID card's window: maybe the card held up.
    (found,) = rules.face_absence_findings(
        "customer", clear, 1.0, (0.0, 40.0), [], TH, None, ["id_card"]
    )
    assert found.severity == "review"
    assert found.evidence["review_because"] == "document_window_unknown"
    assert found.evidence["unplaced_documents"] == ["id_card"]
    # No picture at all is no document held up: still a failure.
    (found,) = rules.face_absence_findings(
        "customer", [], 1.0, (0.0, 40.0), [], TH, None, ["id_card"]
    )
    assert found.severity == "fail"
