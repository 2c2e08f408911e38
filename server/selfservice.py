"""Self-service sessions (自助双录): the customer goes through the script alone.

The page plays or shows each node; after a question it asks the server to hear the answer.
The answer is the customer's own recording since the node finished (the live Matroska
segment is readable while it is written), recognised and classified with the inspection's
own speech model and answer rules (``inspection.speech``, ``inspection.answers``) on a
thread. Shown documents are read from a still the page takes of its own camera with the
inspection's OCR (``inspection.ocr``, ``inspection.id_card``, ``inspection.page_text``).
Models are built once per server process, on first use. Every result is stored as an event; the offline inspection of
the recording stays the judge.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inspection.idnumber import mask_id
from inspection.policy import Policy
from inspection.templates import load_template
from server import session_call, sessions
from server.context import AppContext
from server.session_dir import SessionDir
from server.session_events import SessionEnded
from server.session_format import parse_iso, utc_now
from server.store.models import RecordingSession

if TYPE_CHECKING:
    from inspection.pipeline import Inspector

MODE = "self_service"
MODELS_KEY = "selfservice_models"
SAMPLE_RATE = 16000
RECORDER_LAG_S = 0.3  # the newest audio may still be on its way into the file
LISTEN_MARGIN_S = 1.0  # an answer may start just before the page began to listen
MIN_SIGNATURE_SIMILARITY = 0.6
#: Largest still accepted, per side: a phone camera's 4K frame fits. The header is read
#: first: a PNG of a few hundred KB can declare a picture of gigabytes once decoded.
MAX_IMAGE_SIDE = 4096
#: Scans a JPEG still may have. Each scan of a progressive JPEG is a pass over every block
#: of the picture, and one can be a few dozen bytes: 3300 of them in 175 KB took libjpeg
#: 3.5 s for a 4096 x 4096 still that decodes in 0.3 s. A camera's or a canvas's JPEG has
#: one scan, an encoder's progressive one about ten.
MAX_JPEG_SCANS = 100
BUSY_KEY = "selfservice_busy"
#: Answer or document checks per node and session. Each runs Whisper or OCR for seconds of
#: CPU; the page asks at most ``self_service_answer_attempts`` times per answer and lets the
#: customer retry a document freely, so this leaves room for page reloads and many retries
#: while a script holding the link cannot run thousands (the session's event budget).
CHECKS_PER_NODE = 20


class Models:
    """The inspection's speech and OCR models, built on first use (on a thread)."""

    def __init__(self, models_dir: str, threads: int) -> None:
        self._models_dir = models_dir
        self._threads = threads
        self._lock = threading.Lock()
        self._inspector: Inspector | None = None

    def inspector(self) -> Inspector:
        with self._lock:
            if self._inspector is None:
                from inspection.pipeline import Inspector
                from inspection.rules import Thresholds
                from models.registry import ModelRegistry, default_cache_dir

                override = Path(self._models_dir) if self._models_dir else None
                registry = ModelRegistry(default_cache_dir(), override)
                self._inspector = Inspector(registry, Thresholds(), threads=self._threads)
            return self._inspector


def models_of(ctx: AppContext) -> Models:
    found = ctx.extras.get(MODELS_KEY)
    if not isinstance(found, Models):
        found = Models(ctx.settings.models_dir, ctx.settings.worker_threads)
        ctx.extras[MODELS_KEY] = found
    return found


def require_self_service(ctx: AppContext, row: RecordingSession) -> None:
    if sessions.session_mode(ctx, row.id) != MODE:
        raise sessions.SessionError(409, "not_self_service", "this is not a self-service session")
    if row.status not in session_call.LIVE_STATES:
        raise sessions.SessionError(409, "session_ended", "this session has ended")
    if row.consent_at is None:
        # As for a call's media (sessions.join_media): nothing is played, heard, read from an
        # ID card or ended on the customer's behalf before they agreed to the recording.
        raise sessions.SessionError(
            409, "consent_required", "the customer must consent to recording first"
        )


def require_customer_recording(ctx: AppContext, row: RecordingSession) -> None:
    """The customer's submission ends the session for review: with none of their media
    recorded (consent given, the call never started) there is nothing to review, and the
    ended session could not be recorded again through this link. Refused, nothing changed."""
    segments = sessions.session_dir(ctx, row.id).segments()
    if not any(s.participant == "customer" and s.started_at is not None for s in segments):
        raise sessions.SessionError(
            409,
            "nothing_recorded",
            "nothing of the customer has been recorded yet: start the recording before submitting",
        )


# ---------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True)
class AnswerWindow:
    path: Path  # the customer's segment being recorded
    start_s: float  # seconds into that file
    end_s: float


def answer_window(
    sdir: SessionDir, node_id: str, now: datetime, listened_s: float
) -> AnswerWindow | None:
    """The customer's recording of the last ``listened_s`` seconds (the page's listening
    time, plus a margin), but not before ``node_id`` ended (its last playback, else its last
    ``node`` event), in the customer's current segment."""
    meta = sdir.metadata
    since: datetime | None = None
    for e in meta.get("events") or []:
        if e.get("node") == node_id and e.get("type") in ("playback_end", "node"):
            since = parse_iso(e.get("at"))
    segs = [
        s
        for s in meta.get("segments") or []
        if s.get("participant") == "customer" and s.get("started_at")
    ]
    if since is None or not segs:
        return None
    seg = segs[-1]
    started = parse_iso(seg["started_at"])
    assert started is not None
    end = (now - started).total_seconds() - RECORDER_LAG_S
    start = max(0.0, (since - started).total_seconds(), end - listened_s - LISTEN_MARGIN_S)
    if end <= start:
        return None
    return AnswerWindow(sdir.path / str(seg["file"]), start, end)


def _classify(text: str, expected: str | None) -> str:
    from inspection.answers import classify_answer  # pinyin tables: loaded on first use

    return classify_answer(text, expected).kind if text else "missing"


def hear_answer(models: Models, window: AnswerWindow) -> str:
    """What the customer said in the window (blocking: decode + Whisper)."""
    from inspection.media import Track, load_audio

    audio = load_audio([Track("customer", window.path, 0.0)], SAMPLE_RATE)
    part = audio[int(window.start_s * SAMPLE_RATE) : int(window.end_s * SAMPLE_RATE)]
    if part.size < SAMPLE_RATE // 4:
        return ""
    utterances = models.inspector().speech.transcribe(part, "customer", window.start_s)
    return "".join(u.text for u in utterances).strip()


async def answer(
    ctx: AppContext, row: RecordingSession, node_id: str, attempt: int
) -> dict[str, Any]:
    """Hear and classify the answer to ``node_id``; ``retry`` asks the page to ask again,
    ``review`` says the answer stays unclear after the last attempt (marked for a reviewer)."""
    require_self_service(ctx, row)
    node = sessions.node_of(row, node_id)
    if not node.requires_answer:
        raise sessions.SessionError(400, "no_answer_needed", f"node {node_id!r} asks nothing")
    sdir = sessions.session_dir(ctx, row.id)
    window = answer_window(sdir, node.id, utc_now(), ctx.settings.self_service_listen_s)
    text = ""
    session_call.check_event_budget(ctx, sdir)
    check_node_budget(sdir, node.id, "answer")
    with one_at_a_time(ctx, row.id):
        if window is not None:
            text = await asyncio.to_thread(hear_answer, models_of(ctx), window)
        kind = await asyncio.to_thread(_classify, text, node.expected_answer)
    if kind in ("missing", "unrecognised"):
        kind = "missing"
    attempts = ctx.settings.self_service_answer_attempts
    clear = kind in ("affirmative", "negative")
    review = not clear and attempt >= attempts
    detail = {"kind": kind, "text": text, "attempt": attempt, "final": clear or review}
    await session_call.add_client_event(
        ctx, sdir, "answer", participant="customer", node=node.id, detail=detail
    )
    if review:
        try:
            await sdir.add_event(
                "answer_review",
                participant="customer",
                node=node.id,
                detail={"attempts": attempt},
                live_only=True,
            )
        except SessionEnded:
            raise session_call.ended_error() from None
    return {**detail, "retry": not clear and not review, "review": review}


# ---------------------------------------------------------------------------------------------
# Documents


def decode_image(data_url: str) -> np.ndarray:
    """A ``data:image/jpeg;base64,...`` (or bare base64) still as a BGR image."""
    import cv2

    # partition, not split()[1]: a "data:" URL without its comma is the sender's fault (400).
    raw = data_url.partition(",")[2] if data_url.startswith("data:") else data_url
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise sessions.SessionError(400, "invalid_image", "image is not base64") from None
    _check_size(data)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise sessions.SessionError(400, "invalid_image", "image is not a JPEG or PNG")
    return img


def _check_size(data: bytes) -> None:
    """Refuse a JPEG or PNG whose header declares more than ``MAX_IMAGE_SIDE`` a side, and
    a JPEG of more than ``MAX_JPEG_SCANS`` scans, before anything is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            kind, (width, height) = img.format, img.size
    except Image.DecompressionBombError:
        kind, width, height = "PNG", MAX_IMAGE_SIDE + 1, MAX_IMAGE_SIDE + 1
    except (UnidentifiedImageError, OSError, ValueError):
        raise sessions.SessionError(400, "invalid_image", "image is not a JPEG or PNG") from None
    if kind not in ("JPEG", "PNG"):
        raise sessions.SessionError(400, "invalid_image", "image is not a JPEG or PNG")
    # Every scan starts with the bytes FF DA (entropy-coded data never holds them: a data
    # byte FF is followed by 00), so their count bounds the scans libjpeg will read.
    if kind == "JPEG" and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise sessions.SessionError(
            400,
            "invalid_image",
            f"a JPEG still may have at most {MAX_JPEG_SCANS} scans",
            {"max_scans": MAX_JPEG_SCANS},
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise sessions.SessionError(
            413,
            "image_too_large",
            f"the image may be at most {MAX_IMAGE_SIDE} pixels a side",
            {"max_side": MAX_IMAGE_SIDE},
        )


def check_node_budget(sdir: SessionDir, node_id: str, event_type: str) -> None:
    """429 ``too_many_checks`` once ``node_id`` has had :data:`CHECKS_PER_NODE` checks of
    this kind (before any model runs)."""
    done = sum(
        1
        for e in sdir.metadata.get("events") or []
        if e.get("type") == event_type and e.get("node") == node_id
    )
    if done >= CHECKS_PER_NODE:
        raise sessions.SessionError(
            429,
            "too_many_checks",
            f"node {node_id!r} has been checked {done} times, the most allowed",
            {"limit": CHECKS_PER_NODE},
        )


@contextmanager
def one_at_a_time(ctx: AppContext, session_id: str) -> Iterator[None]:
    """One answer or document check per session at a time (each runs Whisper or OCR on this
    machine's few cores): a page, or a script holding the join link, that sends more while
    one runs gets 429 instead of queueing CPU work without bound."""
    busy = ctx.extras.setdefault(BUSY_KEY, set())
    assert isinstance(busy, set)
    if session_id in busy:
        raise sessions.SessionError(
            429,
            "busy",
            "the previous answer or document is still being checked",
            {"retry_after_s": 1},
        )
    busy.add(session_id)
    try:
        yield
    finally:
        busy.discard(session_id)


def read_document(
    models: Models, kind: str, img: np.ndarray, risk_sentence: str | None
) -> dict[str, Any]:
    """Read an ID card or a signed page from one still (blocking: OCR)."""
    from inspection.id_card import parse_id_card
    from inspection.page_text import locate_sentence

    boxes = models.inspector().ocr.read(img)
    if kind == "id_card":
        card = parse_id_card(boxes)
        ok = bool(card.id_valid and card.name)
        number = mask_id(card.id_number) if card.id_number else None
        return {"ok": ok, "name": card.name, "id_number": number, "id_valid": card.id_valid}
    lines = [b.text for b in boxes]
    similarity = locate_sentence(lines, risk_sentence).similarity if risk_sentence else 0.0
    ok = similarity >= MIN_SIGNATURE_SIMILARITY if risk_sentence else bool(lines)
    return {"ok": ok, "similarity": round(similarity, 3)}


async def document(
    ctx: AppContext, row: RecordingSession, node_id: str, image: str
) -> dict[str, Any]:
    require_self_service(ctx, row)
    node = sessions.node_of(row, node_id)
    if node.document is None:
        raise sessions.SessionError(400, "no_document", f"node {node_id!r} shows no document")
    risk = load_template(row.template_id).risk_sentence
    sdir = sessions.session_dir(ctx, row.id)
    session_call.check_event_budget(ctx, sdir)
    check_node_budget(sdir, node.id, "document_capture")
    with one_at_a_time(ctx, row.id):
        img = await asyncio.to_thread(decode_image, image)
        result = await asyncio.to_thread(read_document, models_of(ctx), node.document, img, risk)
    await session_event(ctx, row, "document_capture", node.id, {"kind": node.document, **result})
    return {"kind": node.document, **result}


async def session_event(
    ctx: AppContext, row: RecordingSession, type: str, node: str, detail: dict[str, Any]
) -> None:
    await session_call.add_client_event(
        ctx,
        sessions.session_dir(ctx, row.id),
        type,
        participant="customer",
        node=node,
        detail=detail,
    )


def summary(ctx: AppContext, row: RecordingSession) -> list[dict[str, Any]]:
    """Per node what the session's events show: played, shown, answered, captured."""
    events = sessions.session_dir(ctx, row.id).metadata.get("events") or []
    out = []
    for node in sessions.rendered_nodes(row.template_id, Policy.from_dict(row.policy)):
        mine = [e for e in events if e.get("node") == node.id]
        played = any(
            e["type"] == "playback_end" and (e.get("detail") or {}).get("complete") for e in mine
        )
        shown = any(e["type"] == "node" for e in mine)
        answers = [e["detail"] for e in mine if e["type"] == "answer"]
        captures = [e["detail"] for e in mine if e["type"] == "document_capture"]
        item: dict[str, Any] = {
            "id": node.id,
            "title": node.title,
            "presented": "played" if played else "shown" if shown else "missing",
        }
        if node.requires_answer:
            last = answers[-1] if answers else None
            review = any(e["type"] == "answer_review" for e in mine)
            item["answer"] = "review" if review else last["kind"] if last else "missing"
        if node.document:
            item["document"] = "captured" if any(c.get("ok") for c in captures) else "missing"
        out.append(item)
    return out
