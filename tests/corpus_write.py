"""Writing a laid-out plan (``tests.corpus_plan``) as a session directory in the server's
format (docs/session-format.md): media segments, ``metadata.json`` and ``labels.json``."""

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from tests.corpus_media import (
    FRAME_SIZE,
    AudioTrack,
    Overlay,
    VideoTrack,
    document_sprite,
    load_face,
    portrait_sprite,
    room_background,
    segment_record,
    session_metadata,
    write_mkv,
)
from tests.corpus_plan import MINI_TEMPLATE, Expected, Plan, SessionSpec
from tests.render import render_handwritten_page, render_id_card

PERSON_WIDTH = 240
PERSON_XY = (200, -10)
EXTRA_WIDTH = 170
CARD_WIDTH = 360
PAGE_WIDTH = 400
ADDRESSES = {  # by the province digits of the ID number
    "11": "北京市朝阳区建国路88号",
    "31": "上海市徐汇区漕溪北路28号",
    "44": "广州市天河区天河路208号",
}
BASE_TIME = datetime(2026, 11, 20, 1, 0, 0, tzinfo=UTC)


def node_spans(plan: Plan, duration: float) -> dict[str, tuple[float, float]]:
    """node id -> (first beat start, last beat end) of the beats belonging to it."""
    spans: dict[str, tuple[float, float]] = {}
    for b in plan.beats:
        if b.node is None:
            continue
        a, e = spans.get(b.node, (b.start_s, b.end_s))
        spans[b.node] = (min(a, b.start_s), max(e, b.end_s))
    return spans


def id_photo(portrait: np.ndarray) -> np.ndarray:
    """An ID-card-like photo from a portrait: tighter crop, paler, flatter colours.

    So that the card photo is not pixel-identical to the live face (as in real life).
    """
    h, w = portrait.shape[:2]
    crop = portrait[int(h * 0.05) : int(h * 0.85), int(w * 0.12) : int(w * 0.88)]
    grey = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    mixed = cv2.addWeighted(crop, 0.6, grey, 0.4, 12)
    return cv2.convertScaleAbs(mixed, alpha=1.1, beta=-5)


def _card_image(plan: Plan) -> np.ndarray | None:
    if plan.card is None:
        return None
    photo = id_photo(load_face(plan.card["face"]))
    number = plan.card["id_number"]
    sex = "男" if int(number[16]) % 2 else "女"
    address = ADDRESSES.get(number[:2], ADDRESSES["11"])
    return render_id_card(plan.card["name"], number, sex=sex, address=address, photo=photo)


def _page_image(plan: Plan) -> np.ndarray | None:
    if plan.page is None:
        return None
    sentence = plan.page["sentence"] or ""
    seed = int(plan.rng.integers(1 << 30))
    if not sentence:  # a page with only the signature line
        return render_handwritten_page("", signature=plan.page["signature"], seed=seed)
    return render_handwritten_page(sentence, signature=plan.page["signature"], seed=seed)


def _video_tracks(plan: Plan, duration: float, fps: float) -> dict[str, VideoTrack]:
    spans = node_spans(plan, duration)
    rng = plan.rng
    tracks = {}
    for i, (who, face) in enumerate(
        (("salesperson", plan.salesperson_face), ("customer", plan.customer_face))
    ):
        tracks[who] = VideoTrack(
            duration_s=duration,
            background=room_background(rng),
            person=portrait_sprite(load_face(face), PERSON_WIDTH),
            person_xy=(PERSON_XY[0] + int(rng.integers(-20, 21)), PERSON_XY[1]),
            fps=fps,
            phase=1.7 * i,
        )
    docs = {"id_card": _card_image(plan), "signature": _page_image(plan)}
    fw, fh = FRAME_SIZE
    for node in plan.nodes:
        doc = docs.get(node.document or "")
        if doc is None or node.id not in spans:
            continue
        width = CARD_WIDTH if node.document == "id_card" else PAGE_WIDTH
        sprite = document_sprite(doc, width, float(rng.uniform(-4, 4)))
        x = (fw - sprite.bgr.shape[1]) // 2 + int(rng.integers(-15, 16))
        y = fh - sprite.bgr.shape[0] - 6
        a, e = spans[node.id]
        tracks["customer"].overlays.append(Overlay(a + 1.0, e - 0.3, sprite, x, y))
    for who, node_id, face in plan.extra_person:
        a, e = spans[node_id]
        sprite = portrait_sprite(load_face(face), EXTRA_WIDTH)
        tracks[who].overlays.append(Overlay(a, e, sprite, fw - EXTRA_WIDTH - 10, 40, jitter=4))
    for who, node_id in plan.absent:
        a, e = spans[node_id]
        tracks[who].absent.append((a - 0.3, e))
    for who, first, last, gain in plan.dark:
        tracks[who].dark.append((max(0.0, spans[first][0] - 1.5), spans[last][0], gain))
    return tracks


def _audio_tracks(plan: Plan, duration: float) -> dict[str, AudioTrack]:
    tracks = {who: AudioTrack(duration) for who in ("salesperson", "customer")}
    for b in plan.beats:
        if b.text is not None and b.speaker is not None:
            tracks[b.speaker].placements.append((b.start_s, b.text))
    for who, fx in plan.audio_fx.items():
        for k, v in fx.items():
            setattr(tracks[who], k, v)
    return tracks


def _gap_span(plan: Plan) -> tuple[str, float, float] | None:
    if plan.gap is None:
        return None
    who, node, seconds = plan.gap
    wait = plan.beats[plan.last_index(node)]
    start = round(wait.start_s + 0.5, 3)
    return who, start, round(start + seconds, 3)


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def write_media(plan: Plan, out_dir: Path, duration: float, fps: float) -> list[dict[str, Any]]:
    """Write each participant's segment files; returns the metadata ``segments``."""
    from tests.corpus_media import AUDIO_RATE

    videos = _video_tracks(plan, duration, fps)
    audios = _audio_tracks(plan, duration)
    gap = _gap_span(plan)
    segments = []
    for who in ("salesperson", "customer"):
        audio = audios[who].render(plan.rng)
        pieces = [(0.0, duration)]
        if gap is not None and gap[0] == who:
            pieces = [(0.0, gap[1]), (gap[2], duration)]
        for index, (a, e) in enumerate(pieces):
            # Whole frames only, so a segment's video and audio end together.
            e = a + int((e - a) * fps) / fps
            path = out_dir / f"{who}-{index:03d}.mkv"
            frames = videos[who].frames(a, e)
            chunk = audio[int(round(a * AUDIO_RATE)) : int(round(e * AUDIO_RATE))]
            write_mkv(path, frames, chunk, fps, video_codec=plan.video_codec)
            status = "interrupted" if index + 1 < len(pieces) else "finished"
            segments.append(segment_record(path, who, index, a, e, status))
    return segments


def _events(plan: Plan, duration: float) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"t_s": 0.0, "type": "join", "participant": who, "node": None, "detail": {}}
        for who in ("salesperson", "customer")
    ]
    if plan.node_events:
        for b in plan.beats:
            if b.kind == "node":
                t = round(max(0.0, b.start_s - 0.3), 3)
                events.append(
                    {
                        "t_s": t,
                        "type": "node",
                        "participant": "salesperson",
                        "node": b.node,
                        "detail": {},
                    }
                )
    gap = _gap_span(plan)
    if gap is not None:
        who, a, e = gap
        events += [
            {"t_s": a, "type": "interrupted", "participant": who, "node": None, "detail": {}},
            {"t_s": e, "type": "join", "participant": who, "node": None, "detail": {}},
            {
                "t_s": a,
                "type": "gap",
                "participant": who,
                "node": None,
                "detail": {"start_s": a, "end_s": e},
            },
        ]
    events.append(
        {"t_s": round(duration, 3), "type": "end", "participant": None, "node": None, "detail": {}}
    )
    return sorted(events, key=lambda ev: ev["t_s"])


def plan_metadata(
    plan: Plan, spec: Any, duration: float, segments: list[dict[str, Any]]
) -> dict[str, Any]:
    """metadata.json of a planned session whose ``segments`` are written (``spec``: any spec
    with a ``session_id`` and a ``seed``, which also sets the session's start time)."""
    gap = _gap_span(plan)
    return session_metadata(
        spec.session_id,
        BASE_TIME + timedelta(minutes=spec.seed % 10000),
        duration,
        plan.template.id,
        plan.policy.to_dict(),
        segments,
        _events(plan, duration),
        [] if gap is None else [{"participant": gap[0], "start_s": gap[1], "end_s": gap[2]}],
    )


def labels_json(
    plan: Plan, spec: SessionSpec, expected: Expected, description: str, duration: float
) -> dict[str, Any]:
    spans = node_spans(plan, duration)
    return {
        "schema": "kesu.labels/1",
        "session_id": spec.session_id,
        "kind": spec.kind,
        "description": description,
        "expected_codes": sorted({e["code"] for e in expected}),
        "expected_findings": expected,
        "template_id": plan.template.id,
        "template_path": str(MINI_TEMPLATE.name) if plan.template.id == "mini" else None,
        "policy": plan.policy.to_dict(),
        "duration_s": round(duration, 3),
        "node_events": plan.node_events,
        "video_codec": plan.video_codec,
        "faces": {
            "salesperson": plan.salesperson_face,
            "customer": plan.customer_face,
            "id_card": None if plan.card is None else plan.card["face"],
        },
        "id_card": plan.card,
        "page": plan.page,
        "nodes": {k: [round(a, 3), round(e, 3)] for k, (a, e) in spans.items()},
        "timeline": [
            {
                "kind": b.kind,
                "speaker": b.speaker,
                "node": b.node,
                "text": b.text,
                "start_s": round(b.start_s, 3),
                "end_s": round(b.end_s, 3),
            }
            for b in plan.beats
        ],
    }
