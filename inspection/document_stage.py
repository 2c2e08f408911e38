"""The documents stage of a run: OCR of the ID card and the signed form in their windows,
the card photo and reference photos against the live faces, and cards held up outside
their window. Runs after the script (windows) and the video scans."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import cv2

from inspection.documents import read_id_card, read_signature, shows_id_card
from inspection.inputs import PARTICIPANTS
from inspection.rules import FaceMatch, IdCardEvidence, SignatureEvidence, Thresholds
from inspection.run_state import RunState
from inspection.vision import (
    VideoScan,
    card_face_scores,
    card_photo_refs,
    document_frames,
    drop_photo_faces,
    extra_face_runs,
    live_faces,
    photo_embedding,
)

if TYPE_CHECKING:
    from inspection.faces import FaceAnalyzer
    from inspection.ocr import OcrEngine


def read_documents(run: RunState, ocr: OcrEngine, faces: FaceAnalyzer, th: Thresholds) -> None:
    customer = run.scans.get("customer")
    nodes = {n.document: n for n in run.nodes if n.document}
    for kind, span in run.windows.items():
        card = kind == "id_card"
        kept = document_frames(customer, span, th.ocr_frames, card) if customer else []
        node_id = nodes[kind].id  # type: ignore[index]
        if kind == "id_card":
            run.id_card = (
                read_id_card(ocr, kept, node_id, span, run.inp.policy.customer_name)
                if kept
                else IdCardEvidence(node_id, span, 0)
            )
        elif kind == "signature":
            run.signature = (
                read_signature(ocr, kept, node_id, span, run.inp.template.risk_sentence)
                if kept
                else SignatureEvidence(node_id, span, 0)
            )
    run.matches = face_matches(run, ocr, faces, th)


def _card_shown(run: RunState, who: str, scan: VideoScan, ocr: OcrEngine, th: Thresholds) -> None:
    """Spans where a second face is left that is an ID card's photo after all: its frame
    shows an ID number or the card's label. The photo may be too small or blurred to
    match the live face, and without a window (speech missed the ID-card node) nothing
    else says a card is shown. One OCR read per run; runs are rare."""
    id_span = [run.windows["id_card"]] if who == "customer" and "id_card" in run.windows else []
    for span, t in extra_face_runs(scan, th, id_span):
        bgr = scan.frame(t)
        if bgr is not None and shows_id_card(ocr, bgr):
            run.card_shown.setdefault(who, []).append(span)


def face_matches(
    run: RunState, ocr: OcrEngine, faces: FaceAnalyzer, th: Thresholds
) -> list[FaceMatch]:
    out: list[FaceMatch] = []
    for who in PARTICIPANTS:
        scan = run.scans.get(who)
        excluded = list(run.windows.values()) if who == "customer" else []
        found = live_faces(scan, faces, th, excluded) if scan else None
        if scan is None or found is None:
            continue
        live = (found[0], found[1][0])
        refs = [live[0]]
        if who == "customer" and "id_card" in run.windows:
            scores = card_face_scores(scan, faces, live[0], run.windows["id_card"], th)
            if scores:
                t, _, c = scores[0]
                out.append(FaceMatch("customer", "id_card", c, t, tuple(scores), found[1]))
                if run.id_card is not None:
                    run.id_card = replace(run.id_card, card_seen=True)
            refs += card_photo_refs(scan, faces, run.windows["id_card"], th)
        # The card held up outside its window is still a photo, not a second person.
        scan.faces = drop_photo_faces(scan, faces, refs, th)
        _card_shown(run, who, scan, ocr, th)
        photo_path = run.inp.reference_photos.get(who)
        if photo_path is not None:
            photo = cv2.imread(str(photo_path))
            emb = photo_embedding(photo, faces) if photo is not None else None
            if emb is not None:
                from inspection.faces import cosine

                out.append(FaceMatch(who, "reference_photo", cosine(emb, live[0]), live[1]))
    return out
