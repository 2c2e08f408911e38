"""Render v2 plans into session directories (server format + labels.json), and the catalogue.

The dev split may be regenerated with any ``seed``; the test split is frozen: its seeds are
fixed (``seed`` is ignored) and disjoint from every dev seed, so its sessions are the same
on every machine and nobody can tune on them by accident of regeneration.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.corpus_media import (
    AUDIO_RATE,
    FRAME_SIZE,
    Overlay,
    VideoTrack,
    load_face,
    portrait_sprite,
    room_background,
    room_tone,
    segment_record,
    write_mkv,
)
from tests.corpus_plan import Plan
from tests.corpus_v2.acoustics import in_room, over_network, voiced_clip, voiced_seconds
from tests.corpus_v2.documents import card_sprite, page_sprite, render_form
from tests.corpus_v2.plan import KINDS, SPLITS, TEMPLATES_DIR, Variation, base_plan
from tests.corpus_write import (
    PERSON_WIDTH,
    PERSON_XY,
    id_photo,
    labels_json,
    node_spans,
    plan_metadata,
    write_json,
)
from tests.render import render_id_card

#: the sessions of each split: (kind, policy key)
CATALOGUE: dict[str, list[tuple[str, str]]] = {
    "dev": [
        ("clean", "a"),
        ("clean", "b"),
        ("clean", "a"),
        ("clean", "b"),
        ("hedged_answer", "a"),
        ("consent_refused", "b"),
        ("wrong_premium", "a"),
        ("wrong_days", "b"),
        ("node_missing", "a"),
        ("reminder_missing", "b"),
        ("forbidden", "a"),
        ("id_card_wrong_name", "b"),
        ("identity_mismatch", "a"),
        ("signature_mismatch", "b"),
        ("risk_sentence_altered", "a"),
        ("page_missing", "b"),
        ("combined_clean", "a"),
        ("combined_rider_premium", "b"),
    ],
    "test": [
        ("clean", "c"),
        ("clean", "d"),
        ("clean", "d"),
        ("clean", "c"),
        ("hedged_answer", "d"),
        ("consent_refused", "c"),
        ("wrong_premium", "d"),
        ("wrong_days", "c"),
        ("node_missing", "d"),
        ("reminder_missing", "c"),
        ("forbidden", "d"),
        ("id_card_wrong_name", "c"),
        ("identity_mismatch", "d"),
        ("signature_mismatch", "c"),
        ("risk_sentence_altered", "d"),
        ("page_missing", "c"),
        ("combined_clean", "d"),
        ("combined_rider_premium", "c"),
    ],
}
TEST_SEED_BASE = 7_000_000  # frozen; dev seeds are seed * 1000 + i < 7_000_000


@dataclass(frozen=True)
class SpecV2:
    session_id: str
    split: str
    kind: str
    policy_key: str
    seed: int


def specs(split: str, seed: int = 0) -> list[SpecV2]:
    if split not in SPLITS:
        raise ValueError(split)
    if split == "dev" and not 0 <= seed < 7000:
        raise ValueError("dev seed must be in 0..6999 (higher seeds belong to the test split)")
    base = TEST_SEED_BASE if split == "test" else seed * 1000
    return [
        SpecV2(f"{split}{i:02d}-{kind.replace('_', '-')}-{key}", split, kind, key, base + i)
        for i, (kind, key) in enumerate(CATALOGUE[split])
    ]


def plan_for(spec: SpecV2) -> tuple[Plan, Variation, list[dict[str, Any]]]:
    change, _, questions = KINDS[spec.kind]
    plan, var = base_plan(spec.split, spec.policy_key, spec.seed, questions=questions)
    return plan, var, change(plan, var)


def layout(plan: Plan, var: Variation, lead_in_s: float = 1.5, tail_s: float = 2.0) -> float:
    t = lead_in_s
    for b in plan.beats:
        b.start_s = t + b.pause_s
        length = b.wait_s if b.text is None else voiced_seconds(b.text, var.voices[b.speaker or ""])
        b.end_s = b.start_s + length
        t = b.end_s
    return t + tail_s


def _audio(plan: Plan, var: Variation, who: str, duration: float) -> np.ndarray:
    n = int(round(duration * AUDIO_RATE))
    speech = np.zeros(n, np.float32)
    for b in plan.beats:
        if b.speaker == who and b.text is not None:
            clip = voiced_clip(b.text, var.voices[who])
            i = int(round(b.start_s * AUDIO_RATE))
            j = min(n, i + len(clip))
            speech[i:j] += clip[: j - i]
    babble = var.wording.lines()
    wet = in_room(speech, var.rooms[who], plan.rng, babble) + room_tone(duration, plan.rng)
    track: np.ndarray = np.clip(over_network(wet, var.networks[who], plan.rng), -1.0, 1.0)
    return track


def _video(plan: Plan, var: Variation, duration: float, fps: float) -> dict[str, VideoTrack]:
    rng = plan.rng
    spans = node_spans(plan, duration)
    tracks = {}
    for i, (who, face) in enumerate(
        (("salesperson", plan.salesperson_face), ("customer", plan.customer_face))
    ):
        tracks[who] = VideoTrack(
            duration_s=duration,
            background=room_background(rng),
            person=portrait_sprite(load_face(face), PERSON_WIDTH + int(rng.integers(-20, 21))),
            person_xy=(PERSON_XY[0] + int(rng.integers(-30, 31)), PERSON_XY[1]),
            fps=fps,
            phase=1.7 * i,
        )
    fw, fh = FRAME_SIZE
    for node in plan.nodes:
        if node.id not in spans or node.document is None:
            continue
        if node.document == "id_card" and plan.card is not None:
            c = plan.card
            card = render_id_card(
                c["name"],
                c["id_number"],
                sex="男" if int(c["id_number"][16]) % 2 else "女",
                address=_ADDRESSES.get(c["id_number"][:2], _ADDRESSES["11"]),
                photo=id_photo(load_face(c["face"])),
            )
            sprite = card_sprite(card, var.pose, rng)
        elif node.document == "signature" and plan.page is not None:
            p = plan.page
            page = render_form(
                var.form,
                p["sentence"],
                p["signature"],
                "2026.11.20",
                f"P{plan.rng.integers(10**9, 10**10)}",
                seed=int(rng.integers(1 << 30)),
            )
            sprite = page_sprite(page, int(rng.integers(400, 441)), float(rng.uniform(-5, 5)))
        else:
            continue
        x = (fw - sprite.bgr.shape[1]) // 2 + int(rng.integers(-20, 21))
        y = max(0, fh - sprite.bgr.shape[0] - 6)
        a, e = spans[node.id]
        tracks["customer"].overlays.append(Overlay(a + 1.0, e - 0.3, sprite, x, y))
    return tracks


_ADDRESSES = {
    "11": "北京市海淀区中关村大街27号",
    "31": "上海市黄浦区南京东路100号",
    "44": "广州市越秀区中山五路70号",
}


def build_session(out_root: Path, spec: SpecV2, fps: float = 5.0) -> Path:
    """Plan, lay out and write one v2 session into ``out_root/spec.session_id``."""
    plan, var, expected = plan_for(spec)
    duration = layout(plan, var)
    out = out_root / spec.session_id
    out.mkdir(parents=True, exist_ok=True)
    videos = _video(plan, var, duration, fps)
    segments = []
    for who in ("salesperson", "customer"):
        audio = _audio(plan, var, who, duration)
        end = int(duration * fps) / fps
        path = out / f"{who}-000.mkv"
        write_mkv(
            path,
            videos[who].frames(0.0, end),
            audio[: int(round(end * AUDIO_RATE))],
            fps,
            video_codec=plan.video_codec,
            audio_bitrate=var.networks[who].bitrate,
        )
        segments.append(segment_record(path, who, 0, 0.0, end))
    write_json(out / "metadata.json", plan_metadata(plan, spec, duration, segments))
    for product in plan.policy.riders:  # a rider's own template, found beside metadata.json
        if product.template_id:
            shutil.copyfile(TEMPLATES_DIR / product.template_id, out / product.template_id)
    _, description, _ = KINDS[spec.kind]
    labels = labels_json(plan, spec, expected, description, duration)  # type: ignore[arg-type]
    labels["template_path"] = var.wording.template_file
    labels["split"] = spec.split
    labels["variation"] = var.to_dict()
    write_json(out / "labels.json", labels)
    return out


def spec_lines(spec: SpecV2) -> list[str]:
    plan, _, _ = plan_for(spec)
    return [b.text for b in plan.beats if b.text is not None]
