"""Labelled synthetic sessions for the inspection: plan what is said and shown, then write it.

A session is planned as a list of *beats* (a salesperson node, a customer answer, a forbidden
sentence, a silent wait), laid out on a timeline with pauses, then rendered to the server's
session directory format (docs/session-format.md) plus ``labels.json``:

    {"kind", "description", "expected_codes": [...],
     "expected_findings": [{"code", "participant", "node"}], "template_id", "policy", ...}

``make_session(tmp_path, kind)`` builds one small session for pipeline tests; the catalogue
``corpus_specs()`` used by scripts/make_corpus.py covers every finding code at least twice.
Needs only committed fixtures (tests/data/tts, tests/data/faces) + PyAV, numpy, OpenCV, PIL.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inspection.idnumber import make_id
from inspection.policy import Policy
from inspection.templates import RenderedNode, Template, load_template, render
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
from tests.corpus_policies import base_policies
from tests.render import RISK_SENTENCE, render_handwritten_page, render_id_card

MINI_TEMPLATE = Path(__file__).parent / "data" / "templates" / "mini.yaml"
TEMPLATE_IDS = ("mini", "traditional_life", "participating_universal", "investment_linked")

# ------------------------------------------------------------------------------------------
# Policies and lines


# (template id, policy key) -> product type and name for that template's sessions.
_PRODUCTS: dict[tuple[str, str], tuple[str, str]] = {
    ("participating_universal", "a"): ("participating", "安康鑫享分红两全保险"),
    ("participating_universal", "b"): ("universal", "恒信智盈万能型终身寿险"),
    ("investment_linked", "a"): ("investment_linked", "安康优选投资连结保险"),
    ("investment_linked", "b"): ("investment_linked", "恒信优选投资连结保险"),
}


def policy_for(template_id: str, key: str) -> Policy:
    """Policy ``key`` ("a" or "b") adapted to the product types of ``template_id``."""
    policy = base_policies()[key]
    if (template_id, key) in _PRODUCTS:
        ptype, pname = _PRODUCTS[(template_id, key)]
        policy = dataclasses.replace(policy, product_type=ptype, product_name=pname)
    return policy


def get_template(template_id: str) -> Template:
    return load_template(MINI_TEMPLATE if template_id == "mini" else template_id)


CONSENT_ANSWERS = ("是的，我同意", "好的，我同意")
AFFIRMATIVE_ANSWERS = ("好的，我清楚了", "明白，没问题", "是的，我清楚")
ID_ANSWERS = ("是的，是我本人", "明白，没问题")
NEGATIVE_ANSWERS = ("我不清楚", "没听懂", "不同意")
FORBIDDEN_LINES = ("这个产品保本保息，稳赚不赔。", "现在不买的话，下个月就停售了。")
# Shortened reminders, per template (the mini template's reminder is itself short).
SHORT_REMINDERS = {
    "mini": "录音录像很关键，请您回答问题。",
    "builtin": "此次录音录像过程非常关键，请您如实回答。",
}
OTHER_NAME = "王建国"
OTHER_ID = make_id(date(1975, 3, 8), "440106", 531)
RISK_MISMATCHES = (
    "本人已阅读保险条款，确认本产品收益稳定，没有任何风险",
    "本人已阅读保险条款、产品说明书",
)


def _answer_pool(node: RenderedNode) -> tuple[str, ...]:
    if node.role == "consent":
        return CONSENT_ANSWERS
    if node.document == "id_card":
        return ID_ANSWERS
    return AFFIRMATIVE_ANSWERS


def wrong_number_text(template_id: str, key: str, node_id: str, **changes: Any) -> str:
    """The text of ``node_id`` rendered with policy fields changed (a wrong premium, days...)."""
    policy = dataclasses.replace(policy_for(template_id, key), **changes)
    return next(n.text for n in render(get_template(template_id), policy) if n.id == node_id)


# ------------------------------------------------------------------------------------------
# Plans


@dataclass
class Beat:
    """One thing that happens on the timeline: a clip spoken, or a silent wait."""

    kind: str  # "node" | "answer" | "extra" | "wait"
    speaker: str | None  # "salesperson" | "customer" | None for a wait
    text: str | None
    node: str | None
    pause_s: float = 0.7  # silence before the beat
    wait_s: float = 0.0  # length of a wait beat
    start_s: float = 0.0  # set by layout()
    end_s: float = 0.0


@dataclass
class Plan:
    """Everything that will be rendered for one session, before layout."""

    template: Template
    policy: Policy
    nodes: list[RenderedNode]
    beats: list[Beat]
    rng: np.random.Generator
    salesperson_face: str
    customer_face: str
    card: dict[str, Any] | None  # {"name", "id_number", "face"}; None: never shown
    page: dict[str, Any] | None  # {"sentence", "signature"}; None: never shown
    spare_faces: list[str]
    extra_person: list[tuple[str, str, str]] = field(default_factory=list)  # (who, node, face)
    absent: list[tuple[str, str]] = field(default_factory=list)  # (who, node)
    dark: list[tuple[str, str, str, float]] = field(default_factory=list)  # who, from, to, gain
    audio_fx: dict[str, dict[str, Any]] = field(default_factory=dict)
    gap: tuple[str, str, float] | None = None  # (who, node, seconds)
    node_events: bool = True
    video_codec: str = "libvpx"

    def node_beat(self, node_id: str) -> Beat:
        return next(b for b in self.beats if b.kind == "node" and b.node == node_id)

    def node_index(self, node_id: str) -> int:
        return next(i for i, b in enumerate(self.beats) if b.kind == "node" and b.node == node_id)

    def last_index(self, node_id: str) -> int:
        """Index of the last beat belonging to ``node_id`` (its speech, answer, waits)."""
        return max(i for i, b in enumerate(self.beats) if b.node == node_id)

    def insert_wait(self, node_id: str, seconds: float, *, before_node: bool = False) -> None:
        i = self.node_index(node_id) if before_node else self.last_index(node_id) + 1
        self.beats.insert(i, Beat("wait", None, None, node_id, pause_s=0.0, wait_s=seconds))

    def node_ids(self, *, speaker: str = "salesperson") -> list[str]:
        return [n.id for n in self.nodes if n.speaker == speaker]


DOCUMENT_HOLD_S = {"id_card": 5.0, "signature": 7.0}


def base_plan(template_id: str, key: str, seed: int) -> Plan:
    """A clean session: every node spoken in order, affirmative answers, documents shown."""
    rng = np.random.default_rng(seed)
    template = get_template(template_id)
    policy = policy_for(template_id, key)
    nodes = render(template, policy)
    beats: list[Beat] = []
    for node in nodes:
        beats.append(Beat("node", node.speaker, node.text, node.id, float(rng.uniform(0.6, 1.1))))
        if node.requires_answer:
            answer = str(rng.choice(_answer_pool(node)))
            beats.append(Beat("answer", "customer", answer, node.id, float(rng.uniform(0.5, 0.9))))
        if node.document:
            hold = DOCUMENT_HOLD_S[node.document]
            beats.append(Beat("wait", None, None, node.id, pause_s=0.0, wait_s=hold))
    customers = ["astronaut-portrait.jpg", "t1-a.jpg", "t1-d.jpg", "t1-f.jpg"]
    salespeople = ["t1-c.jpg", "t1-e.jpg", "camera.jpg", "t1-b.jpg"]
    customer = customers[int(rng.integers(len(customers)))]
    salesperson = salespeople[int(rng.integers(len(salespeople)))]
    spare = [f for f in customers + salespeople if f not in (customer, salesperson)]
    return Plan(
        template=template,
        policy=policy,
        nodes=nodes,
        beats=beats,
        rng=rng,
        salesperson_face=salesperson,
        customer_face=customer,
        card=id_card_of(policy, customer),
        page=signed_page_of(template, policy),
        spare_faces=spare,
        node_events=bool(rng.integers(2)),
    )


def layout(plan: Plan, lead_in_s: float = 1.5, tail_s: float = 2.0) -> float:
    """Assign start/end times to every beat; returns the session duration in seconds."""
    from tests.corpus_media import clip_duration

    t = lead_in_s
    for beat in plan.beats:
        beat.start_s = t + beat.pause_s
        length = beat.wait_s if beat.text is None else clip_duration(beat.text)
        beat.end_s = beat.start_s + length
        t = beat.end_s
    return t + tail_s


def lines(plan: Plan) -> list[str]:
    """Every text this plan speaks (for TTS synthesis)."""
    return [b.text for b in plan.beats if b.text is not None]


# ------------------------------------------------------------------------------------------
# Kinds: each changes a clean plan and returns the findings a correct inspection reports.

Expected = list[dict[str, Any]]


def finding(code: str, node: str | None = None, participant: str | None = None) -> dict[str, Any]:
    """One finding a plan must produce (``code`` at ``node`` of ``participant``)."""
    return {"code": code, "node": node, "participant": participant}


def id_card_of(policy: Policy, face: str) -> dict[str, Any]:
    """The customer's own ID card, as a plan shows it."""
    return {"name": policy.customer_name, "id_number": policy.customer_id_number, "face": face}


def signed_page_of(template: Template, policy: Policy) -> dict[str, Any]:
    """The page the customer copies the template's risk sentence onto and signs."""
    return {"sentence": template.risk_sentence or RISK_SENTENCE, "signature": policy.customer_name}


def _builtin(plan: Plan) -> bool:
    return plan.template.id != "mini"


def _drop_node(plan: Plan, node_id: str) -> None:
    plan.beats = [b for b in plan.beats if b.node != node_id]


def _set_answer(plan: Plan, node_id: str, text: str | None) -> None:
    """Replace the customer's answer to ``node_id``; None = the customer says nothing."""
    i = next(i for i, b in enumerate(plan.beats) if b.kind == "answer" and b.node == node_id)
    if text is None:
        plan.beats[i] = Beat("wait", None, None, node_id, pause_s=0.0, wait_s=4.0)
    else:
        plan.beats[i].text = text


def k_clean(plan: Plan) -> Expected:
    return []


def k_consent_missing(plan: Plan) -> Expected:
    _drop_node(plan, "consent")
    return [finding("consent.missing", "consent")]


def k_consent_refused(plan: Plan) -> Expected:
    _set_answer(plan, "consent", "不同意")
    return [
        finding("consent.missing", "consent"),
        finding("answer.not_affirmative", "consent", "customer"),
    ]


def k_reminder_missing(plan: Plan) -> Expected:
    _drop_node(plan, "reminder")
    return [finding("reminder.missing", "reminder")]


def k_reminder_short(plan: Plan) -> Expected:
    plan.node_beat("reminder").text = SHORT_REMINDERS["builtin" if _builtin(plan) else "mini"]
    return [finding("reminder.missing", "reminder", "salesperson")]


def k_node_missing(plan: Plan) -> Expected:
    node = "exclusions" if _builtin(plan) else "premium"
    _drop_node(plan, node)
    return [finding("script.node_missing", node, "salesperson")]


def k_out_of_order(plan: Plan) -> Expected:
    after = "introduction" if _builtin(plan) else "premium"
    moved = [b for b in plan.beats if b.node == "reminder"]
    _drop_node(plan, "reminder")
    i = plan.last_index(after) + 1
    plan.beats[i:i] = moved
    return [finding("script.out_of_order", "reminder", "salesperson")]


def k_negative_answer(plan: Plan) -> Expected:
    node = "confirm_understood" if _builtin(plan) else "id_card"
    text = "没听懂" if _builtin(plan) else "我不清楚"
    _set_answer(plan, node, text)
    return [finding("answer.not_affirmative", node, "customer")]


def k_no_answer(plan: Plan) -> Expected:
    _set_answer(plan, "id_card", None)
    return [finding("answer.not_affirmative", "id_card", "customer")]


def _forbidden(index: int) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        i = plan.last_index("premium") + 1
        text = FORBIDDEN_LINES[index]
        plan.beats.insert(i, Beat("extra", "salesperson", text, "premium", pause_s=0.8))
        return [finding("speech.forbidden_phrase", "premium", "salesperson")]

    return kind


def _key(plan: Plan) -> str:
    return "a" if plan.policy.customer_name == base_policies()["a"].customer_name else "b"


def k_wrong_premium(plan: Plan) -> Expected:
    premium = (plan.policy.premium or 0) + 3000
    text = wrong_number_text(plan.template.id, _key(plan), "premium", premium=premium)
    plan.node_beat("premium").text = text
    return [finding("speech.number_mismatch", "premium", "salesperson")]


def k_wrong_days(plan: Plan) -> Expected:
    node = "cooling_off" if _builtin(plan) else "premium"
    days = 10 if plan.policy.cooling_off_days != 10 else 20
    text = wrong_number_text(plan.template.id, _key(plan), node, cooling_off_days=days)
    plan.node_beat(node).text = text
    return [finding("speech.number_mismatch", node, "salesperson")]


def k_customer_absent(plan: Plan) -> Expected:
    plan.insert_wait("premium", 10.0)
    plan.absent.append(("customer", "premium"))
    return [finding("face.absent", None, "customer")]


def _extra_person(who: str, node: str) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        plan.insert_wait(node, 5.0)
        plan.extra_person.append((who, node, plan.spare_faces[0]))
        return [finding("face.extra_person", None, who)]

    return kind


def k_identity_mismatch(plan: Plan) -> Expected:
    assert plan.card is not None
    plan.card["face"] = plan.spare_faces[1]
    return [finding("face.identity_mismatch", "id_card", "customer")]


def k_id_card_missing(plan: Plan) -> Expected:
    plan.card = None
    return [finding("document.id_card_missing", "id_card", "customer")]


def _card_field(**change: str) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        assert plan.card is not None
        plan.card.update(change)
        return [finding("document.id_card_mismatch", "id_card", "customer")]

    return kind


def k_bad_check_digit(plan: Plan) -> Expected:
    assert plan.card is not None
    number = plan.policy.customer_id_number
    wrong = "0" if number[-1] != "0" else "1"
    plan.card["id_number"] = number[:-1] + wrong  # same person, check character invalid
    return [finding("document.id_card_mismatch", "id_card", "customer")]


def _page_field(expect: list[str], **change: str | None) -> Callable[[Plan], Expected]:
    def kind(plan: Plan) -> Expected:
        assert plan.page is not None
        plan.page.update(change)
        return [finding(code, "signature", "customer") for code in expect]

    return kind


def k_page_missing(plan: Plan) -> Expected:
    plan.page = None
    return [
        finding("document.signature_missing", "signature", "customer"),
        finding("document.risk_sentence_missing", "signature", "customer"),
    ]


def k_quality_clipped(plan: Plan) -> Expected:
    # Gain 8 drives the loud part of each syllable into full-scale clipping (~3% of samples).
    plan.audio_fx["salesperson"] = {"gain": 8.0, "clip_at": 1.0}
    return [finding("media.quality", None, "salesperson")]


def k_quality_dark(plan: Plan) -> Expected:
    # The customer's room is dark until the documents are shown (a light is switched on).
    plan.dark.append(("customer", plan.nodes[0].id, "id_card", DARK_GAIN))
    return [finding("media.quality", None, "customer")]


def k_quality_muted(plan: Plan) -> Expected:
    plan.audio_fx["customer"] = {"muted": True}
    answered = [n.id for n in plan.nodes if n.requires_answer]
    return [
        finding("media.quality", None, "customer"),
        finding("consent.missing", "consent"),
        *[finding("answer.not_affirmative", n, "customer") for n in answered],
    ]


def k_media_gap(plan: Plan) -> Expected:
    plan.insert_wait("premium", GAP_S + 1.0)
    plan.gap = ("customer", "premium", GAP_S)
    return [finding("media.gap", None, "customer")]


DARK_GAIN = 0.12
GAP_S = 8.0

#: kind -> (change to a clean plan, description)
KINDS: dict[str, tuple[Callable[[Plan], Expected], str]] = {
    "clean": (k_clean, "clean session: every node, affirmative answers, documents correct"),
    "consent_missing": (k_consent_missing, "the consent question and answer are skipped"),
    "consent_refused": (k_consent_refused, "the customer answers 不同意 to the consent question"),
    "reminder_missing": (k_reminder_missing, "the fixed reminder is not read"),
    "reminder_short": (k_reminder_short, "a much shortened reminder is read"),
    "node_missing": (k_node_missing, "a required node is skipped"),
    "out_of_order": (k_out_of_order, "the reminder is read after a non-critical node"),
    "negative_answer": (k_negative_answer, "the customer answers 我不清楚 / 没听懂"),
    "no_answer": (k_no_answer, "the customer says nothing after the ID-card question"),
    "forbidden_guarantee": (_forbidden(0), "the salesperson says 保本保息，稳赚不赔"),
    "forbidden_inducement": (_forbidden(1), "the salesperson says the product 停售 next month"),
    "wrong_premium": (k_wrong_premium, "the spoken premium is 3000 yuan more than the policy's"),
    "wrong_days": (k_wrong_days, "the spoken cooling-off period differs from the policy's"),
    "customer_absent": (k_customer_absent, "the customer leaves the picture for ~14 s"),
    "extra_person_customer": (
        _extra_person("customer", "premium"),
        "a second person appears beside the customer",
    ),
    "extra_person_salesperson": (
        _extra_person("salesperson", "reminder"),
        "a second person appears beside the salesperson",
    ),
    "identity_mismatch": (k_identity_mismatch, "the ID card shows another person's photo"),
    "id_card_missing": (k_id_card_missing, "the ID card is never shown"),
    "id_card_wrong_number": (
        _card_field(id_number=OTHER_ID),
        "the ID card carries another (valid) ID number",
    ),
    "id_card_wrong_name": (_card_field(name=OTHER_NAME), "the ID card carries another name"),
    "id_card_bad_check_digit": (k_bad_check_digit, "the ID number's check character is wrong"),
    "signature_missing": (
        _page_field(["document.signature_missing"], signature=None),
        "the page shows the risk sentence but no signature",
    ),
    "signature_mismatch": (
        _page_field(["document.signature_mismatch"], signature=OTHER_NAME),
        "the page is signed with another name",
    ),
    "risk_sentence_missing": (
        _page_field(["document.risk_sentence_missing"], sentence=None),
        "the page shows a signature but no hand-copied risk sentence",
    ),
    "risk_sentence_altered": (
        _page_field(["document.risk_sentence_mismatch"], sentence=RISK_MISMATCHES[0]),
        "the hand-copied sentence is a different sentence",
    ),
    "risk_sentence_truncated": (
        _page_field(["document.risk_sentence_mismatch"], sentence=RISK_MISMATCHES[1]),
        "only the first part of the risk sentence is copied",
    ),
    "page_missing": (k_page_missing, "the signed page is never shown"),
    "quality_clipped": (k_quality_clipped, "the salesperson's microphone is overdriven (clipping)"),
    "quality_dark": (k_quality_dark, "the customer's video is very dark until the ID card node"),
    "quality_muted": (k_quality_muted, "the customer's microphone is muted the whole session"),
    "media_gap": (k_media_gap, f"the customer's connection drops for {GAP_S:.0f} s"),
}


# ------------------------------------------------------------------------------------------
# Rendering a laid-out plan into a session directory

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


@dataclass(frozen=True)
class SessionSpec:
    """One session of the corpus: which template, policy and kind, and its seed."""

    session_id: str
    kind: str
    template_id: str = "mini"
    policy_key: str = "a"
    seed: int = 0
    video_codec: str | None = None  # None: chosen by the seed (mostly VP8)


def _node_spans(plan: Plan, duration: float) -> dict[str, tuple[float, float]]:
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
    spans = _node_spans(plan, duration)
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


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def _write_media(plan: Plan, out_dir: Path, duration: float, fps: float) -> list[dict[str, Any]]:
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


def build_session(out_root: Path, spec: SessionSpec, fps: float = 5.0) -> Path:
    """Plan, lay out and write one session into ``out_root/spec.session_id``; returns the dir."""
    plan = base_plan(spec.template_id, spec.policy_key, spec.seed)
    change, description = KINDS[spec.kind]
    expected = change(plan)
    if spec.video_codec:
        plan.video_codec = spec.video_codec
    else:  # H264 (fast to encode); some short sessions VP8 (what browsers send by default)
        vp8 = spec.template_id == "mini" and plan.rng.random() < 0.2
        plan.video_codec = "libvpx" if vp8 else "libx264"
    duration = layout(plan)
    out = out_root / spec.session_id
    out.mkdir(parents=True, exist_ok=True)
    segments = _write_media(plan, out, duration, fps)
    _write_json(out / "metadata.json", plan_metadata(plan, spec, duration, segments))
    _write_json(out / "labels.json", _labels(plan, spec, expected, description, duration))
    return out


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


def _labels(
    plan: Plan, spec: SessionSpec, expected: Expected, description: str, duration: float
) -> dict[str, Any]:
    spans = _node_spans(plan, duration)
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


# ------------------------------------------------------------------------------------------
# The corpus and the test helper


def corpus_specs(seed: int = 0, templates: tuple[str, ...] = TEMPLATE_IDS) -> list[SessionSpec]:
    """The labelled corpus: clean sessions and every finding code at least twice."""
    rows: list[tuple[str, str, str]] = [
        ("clean", "mini", "a"),
        ("clean", "mini", "b"),
        ("clean", "traditional_life", "a"),
        ("clean", "participating_universal", "a"),
        ("clean", "participating_universal", "b"),
        ("clean", "investment_linked", "a"),
        ("consent_missing", "mini", "a"),
        ("consent_missing", "traditional_life", "b"),
        ("consent_refused", "mini", "b"),
        ("reminder_missing", "mini", "b"),
        ("reminder_short", "mini", "a"),
        ("reminder_short", "traditional_life", "a"),
        ("node_missing", "mini", "a"),
        ("node_missing", "mini", "b"),
        ("node_missing", "investment_linked", "b"),
        ("out_of_order", "mini", "a"),
        ("out_of_order", "mini", "b"),
        ("negative_answer", "mini", "a"),
        ("negative_answer", "participating_universal", "a"),
        ("no_answer", "mini", "b"),
        ("forbidden_guarantee", "mini", "a"),
        ("forbidden_inducement", "mini", "b"),
        ("wrong_premium", "mini", "a"),
        ("wrong_days", "mini", "b"),
        ("wrong_days", "traditional_life", "a"),
        ("customer_absent", "mini", "a"),
        ("customer_absent", "mini", "b"),
        ("extra_person_customer", "mini", "a"),
        ("extra_person_salesperson", "mini", "b"),
        ("identity_mismatch", "mini", "a"),
        ("identity_mismatch", "mini", "b"),
        ("id_card_missing", "mini", "a"),
        ("id_card_missing", "mini", "b"),
        ("id_card_wrong_number", "mini", "a"),
        ("id_card_wrong_name", "mini", "b"),
        ("id_card_bad_check_digit", "mini", "a"),
        ("signature_missing", "mini", "a"),
        ("signature_mismatch", "mini", "a"),
        ("signature_mismatch", "mini", "b"),
        ("risk_sentence_missing", "mini", "b"),
        ("risk_sentence_altered", "mini", "a"),
        ("risk_sentence_truncated", "mini", "b"),
        ("page_missing", "mini", "b"),
        ("quality_clipped", "mini", "a"),
        ("quality_dark", "mini", "b"),
        ("quality_muted", "mini", "a"),
        ("media_gap", "mini", "a"),
        ("media_gap", "traditional_life", "b"),
    ]
    specs = []
    for i, (kind, template_id, key) in enumerate(rows):
        if template_id not in templates:
            continue
        sid = f"c{i:02d}-{kind.replace('_', '-')}-{template_id.split('_')[0]}-{key}"
        specs.append(SessionSpec(sid, kind, template_id, key, seed * 1000 + i))
    return specs


def spec_expected(spec: SessionSpec) -> Expected:
    """The findings a session of ``spec`` expects (planned only, nothing rendered)."""
    plan = base_plan(spec.template_id, spec.policy_key, spec.seed)
    return KINDS[spec.kind][0](plan)


def spec_lines(spec: SessionSpec) -> list[str]:
    """Every text a session speaks (without laying it out: no clips needed)."""
    plan = base_plan(spec.template_id, spec.policy_key, spec.seed)
    KINDS[spec.kind][0](plan)
    return lines(plan)


def all_lines() -> list[str]:
    """Every text any kind of session can speak, for either policy (for TTS synthesis).

    Answers are drawn from small pools, so every pool entry is included whatever the seed.
    """
    out: list[str] = []
    for template_id in TEMPLATE_IDS:
        for key in ("a", "b"):
            for kind in KINDS:
                try:
                    out += spec_lines(SessionSpec("x", kind, template_id, key))
                except StopIteration:
                    pass  # the kind needs a node this template lacks
    out += list(NEGATIVE_ANSWERS) + list(AFFIRMATIVE_ANSWERS) + list(CONSENT_ANSWERS)
    out += list(ID_ANSWERS)
    return list(dict.fromkeys(out))


def make_session(
    tmp_path: Path,
    kind: str = "clean",
    template_id: str = "mini",
    policy_key: str = "a",
    seed: int = 0,
    fps: float = 5.0,
    video_codec: str = "libx264",
) -> Path:
    """Build one small labelled session under ``tmp_path`` for a pipeline test; returns its dir.

    H264 by default because it encodes a few times faster than VP8 (``video_codec="libvpx"``).
    """
    sid = f"t-{kind.replace('_', '-')}-{template_id.split('_')[0]}-{policy_key}-{seed}"
    spec = SessionSpec(sid, kind, template_id, policy_key, seed, video_codec)
    return build_session(tmp_path, spec, fps)
