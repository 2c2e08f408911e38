"""Video scan: faces, kept frames, document frame choice, live and card-photo embeddings
(real YuNet/SFace on frames composed from the face fixtures)."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.faces import FaceAnalyzer
from inspection.rules import Thresholds
from inspection.vision import (
    card_face_match,
    card_photo_refs,
    document_frames,
    drop_photo_faces,
    live_embedding,
    presence_runs,
    scan_video,
)
from models.registry import ModelRegistry
from tests.corpus_media import document_sprite, load_face, paste, portrait_sprite, room_background
from tests.render import render_id_card

TH = Thresholds()


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    reg = ModelRegistry.from_env()
    return FaceAnalyzer(reg.path("yunet"), reg.path("sface"), threads=2)


def frames(card_face: str = "t1-d.jpg") -> list[tuple[float, np.ndarray]]:
    """0-2 s: the customer; 3 s: nobody; 4-5 s: the customer holding an ID card."""
    rng = np.random.default_rng(0)
    room = room_background(rng)
    person = portrait_sprite(load_face("t1-a.jpg"), 240)
    card = render_id_card("陈静", "11010519491231002X", photo=load_face(card_face))
    out = []
    for t in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0):
        f = room.copy()
        if t != 3.0:
            paste(f, person, 200, -10)
        if t >= 4.0:
            paste(f, document_sprite(card, 360, 3.0), 20 + int(t), 250)
        out.append((t, f))
    return out


def test_scan_and_choices(analyzer: FaceAnalyzer) -> None:
    scan = scan_video("customer", frames(), analyzer, TH)
    counts = [len(f.sizes) for f in scan.faces]
    assert counts[:4] == [1, 1, 1, 0] and all(c >= 2 for c in counts[4:])
    assert sorted(scan.frames) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and 3.0 not in scan.detections
    assert scan.thumbs[0.0][:2] == b"\xff\xd8"
    assert presence_runs(scan)[0] == {"start_s": 0.0, "end_s": 3.0, "faces": 1}

    window = (3.5, 6.0)
    docs = document_frames(scan, window, 1)
    assert len(docs) == 1 and docs[0][0] in (4.0, 5.0) and docs[0][1].shape == (480, 640, 3)

    live = live_embedding(scan, analyzer, TH, [window])
    assert live is not None and live[1] in (0.0, 1.0, 2.0)
    card = card_face_match(scan, analyzer, live[0], window, TH)
    assert card is not None and card[1] in (4.0, 5.0)
    assert card[0] < TH.face_match_cosine  # another person's photo on the card


def test_no_frames_kept(analyzer: FaceAnalyzer) -> None:
    scan = scan_video("salesperson", frames()[:2], analyzer, TH, keep_frames=False)
    assert scan.frames == {} and len(scan.faces) == 2
    assert live_embedding(scan, analyzer, TH) is None
    assert document_frames(scan, (0.0, 9.0), 3) == []


def test_own_photo_on_the_card_matches(analyzer: FaceAnalyzer) -> None:
    scan = scan_video("customer", frames("t1-a.jpg"), analyzer, TH)
    live = live_embedding(scan, analyzer, TH, [(3.5, 6.0)])
    assert live is not None
    card = card_face_match(scan, analyzer, live[0], (3.5, 6.0), TH)
    assert card is not None and card[0] >= TH.face_match_cosine


def _card_and_person_frames(card_face: str) -> list[tuple[float, np.ndarray]]:
    """0-5 s: the customer holding up an ID card (window 0-2 s, shown on until 5 s);
    6-9 s: the customer and a real second person (t1-c) beside them."""
    rng = np.random.default_rng(1)
    room = room_background(rng)
    person = portrait_sprite(load_face("t1-a.jpg"), 240)
    other = portrait_sprite(load_face("t1-c.jpg"), 150)
    card = render_id_card("陈静", "11010519491231002X", photo=load_face(card_face))
    out = []
    for i in range(10):
        f = room.copy()
        paste(f, person, 200, -10)
        if i < 6:
            paste(f, document_sprite(card, 480, (-1) ** i * (2.0 + i)), 5 + 3 * i, 160)
        else:
            paste(f, other, 20, 40)
        out.append((float(i), f))
    return out


@pytest.mark.parametrize("card_face", ["t1-a.jpg", "t1-d.jpg"])
def test_card_photo_is_not_a_second_person(analyzer: FaceAnalyzer, card_face: str) -> None:
    scan = scan_video("customer", _card_and_person_frames(card_face), analyzer, TH)
    counted = lambda ff: sum(  # noqa: E731
        s >= TH.face_min_size_px and c >= TH.face_min_score
        for s, c in zip(ff.sizes, ff.scores, strict=True)
    )
    before = [counted(ff) for ff in scan.faces]
    assert all(n >= 2 for n in before)  # the card photo and the real person are both faces
    window = (0.0, 2.0)
    live = live_embedding(scan, analyzer, TH, [(0.0, 5.5)])
    assert live is not None
    refs = [live[0], *card_photo_refs(scan, analyzer, window, TH)]
    after = [counted(ff) for ff in drop_photo_faces(scan, analyzer, refs, TH)]
    assert after[:6] == [1] * 6  # the card, inside its window and after it
    assert all(n >= 2 for n in after[6:])  # the real second person stays


def test_document_frames_pick_the_card_or_the_page(analyzer: FaceAnalyzer) -> None:
    """A window that also covers a (sharper, text-rich) signature form: the ID-card read
    uses the frames where the card is in view, the page read the others."""
    from tests.render import render_signature_form

    page = render_signature_form("本人已阅读保险条款，了解本产品的特点", signature="陈静")
    shots = frames("t1-a.jpg")
    for _t, f in shots[:3]:  # 0-2 s: the form held up (the card is shown at 4-5 s)
        paste(f, document_sprite(page, 420, 2.0), 10, 60)
    scan = scan_video("customer", shots, analyzer, TH)
    window = (0.0, 6.0)
    # without a preference the sharper form frames win
    assert {t for t, _ in document_frames(scan, window, 2)} <= {0.0, 1.0, 2.0}
    assert {t for t, _ in document_frames(scan, window, 2, card=True)} == {4.0, 5.0}
    assert {t for t, _ in document_frames(scan, window, 2, card=False)} <= {0.0, 1.0, 2.0, 3.0}


def test_cascade_finds_what_full_resolution_finds(analyzer: FaceAnalyzer) -> None:
    """The 320 px pass decides plain frames (one large face); a card photo or a second
    person sends the frame to the full pass, so the counted faces are the full ones."""
    from inspection.faces import cosine
    from inspection.vision import _shrink

    shots = frames() + _card_and_person_frames("t1-d.jpg")
    before = dict(analyzer.stats)
    for _t, bgr in shots:
        small = _shrink(bgr, TH.face_detect_width)
        fast = analyzer.detect_cascade(bgr, small, TH.face_min_size_px)
        full = analyzer.detect(bgr)
        counted = [f for f in full if f.score >= TH.face_min_score and f.size >= 16]
        assert len([f for f in fast if f.score >= TH.face_min_score]) == len(counted)
        if len(fast) == 1 and fast[0].coarse:  # located again before embedding
            assert abs(fast[0].size - full[0].size) < 0.2 * full[0].size
            assert cosine(analyzer.embed(bgr, fast[0]), analyzer.embed(bgr, full[0])) > 0.9
    assert analyzer.stats["fast"] - before["fast"] >= 3  # the plain frames
    assert analyzer.stats["full"] - before["full"] >= 10  # cards, second person, nobody


def test_card_held_up_outside_any_window_is_told_from_a_second_person(
    analyzer: FaceAnalyzer,
) -> None:
    """Speech missed the ID-card node (no window) and the card's photo is too small to match
    the live face: the frame shows the card's number, so the second face is its photo;
    beside a real second person no card is read."""
    from inspection.documents import shows_id_card
    from inspection.ocr import OcrEngine
    from inspection.vision import extra_face_runs

    scan = scan_video("customer", _card_and_person_frames("t1-d.jpg"), analyzer, TH, False)
    runs = extra_face_runs(scan, TH)
    assert [(round(a), round(b)) for (a, b), _ in runs] == [(0, 6), (6, 10)]
    ocr = OcrEngine(threads=2)
    (_, t_card), (_, t_person) = runs
    card_frame, person_frame = scan.frame(t_card), scan.frame(t_person)
    assert card_frame is not None and person_frame is not None  # kept: two faces
    assert shows_id_card(ocr, card_frame)
    assert not shows_id_card(ocr, person_frame)
