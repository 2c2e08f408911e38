"""Self-service: which stretch of the customer's recording is heard as the answer."""

from __future__ import annotations

import asyncio
import base64
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.selfservice import (
    BUSY_KEY,
    CHECKS_PER_NODE,
    LISTEN_MARGIN_S,
    MODELS_KEY,
    RECORDER_LAG_S,
    answer_window,
    decode_image,
    one_at_a_time,
)
from server.session_dir import SessionDir
from server.session_format import utc_now
from server.sessions import SessionError
from tests.conftest import RunningServer
from tests.join_links import self_service_join
from tests.test_api_auth import assert_error


async def test_answer_window_is_the_listening_time_after_the_node(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-self", mode="self_service")
    t0 = utc_now() - timedelta(seconds=60)
    path = await sdir.open_segment("customer")
    await sdir.start_segment(path, t0)
    assert answer_window(sdir, "consent", t0 + timedelta(seconds=30), 5.0) is None  # not played
    await sdir.add_event(
        "playback_end", "system", "consent", {"complete": True}, t0 + timedelta(seconds=20)
    )
    # Asked right after the playback: from its end.
    w = answer_window(sdir, "consent", t0 + timedelta(seconds=23), 5.0)
    assert w is not None and w.path == path
    assert w.start_s == pytest.approx(20.0, abs=0.01) and w.end_s == pytest.approx(
        23 - RECORDER_LAG_S, abs=0.01
    )
    # Asked long after (a document was captured first): only the listening time.
    w = answer_window(sdir, "consent", t0 + timedelta(seconds=50), 5.0)
    assert w is not None
    assert w.start_s == pytest.approx(50 - RECORDER_LAG_S - 5.0 - LISTEN_MARGIN_S, abs=0.01)


def test_bad_images_are_the_users_fault() -> None:
    # "data:" without a comma was an IndexError: a 500 from POST .../document.
    for bad in ("data:image/jpeg;base64,@@@", "aGVsbG8=", "data:nocomma", "data:"):
        with pytest.raises(SessionError) as info:
            decode_image(bad)
        assert info.value.status == 400


def _png(width: int, height: int, mode: str = "1") -> str:
    """A PNG of one colour: a few hundred bytes per megapixel once deflated."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_an_image_declaring_a_huge_picture_is_refused_before_decoding() -> None:
    # 8000 x 8000: about 10 KB sent, 192 MB once decoded into BGR.
    huge = _png(8000, 8000)
    assert len(huge) < 20_000
    with pytest.raises(SessionError) as info:
        decode_image(huge)
    assert (info.value.status, info.value.code) == (413, "image_too_large")
    gif = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    with pytest.raises(SessionError) as info:
        decode_image(base64.b64encode(gif.getvalue()).decode())
    assert (info.value.status, info.value.code) == (400, "invalid_image")
    assert decode_image(_png(640, 480, "RGB")).shape == (480, 640, 3)


def _progressive_jpeg(side: int, extra_scans: int) -> str:
    """A grey progressive JPEG, its shortest scan repeated ``extra_scans`` more times: each
    scan is a few dozen bytes that make the decoder walk every block of the picture again."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (side, side), 128).save(buf, format="JPEG", progressive=True)
    data = buf.getvalue()
    starts = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xda"]
    ends = [*starts[1:], len(data) - 2]
    scan = min((data[a:b] for a, b in zip(starts, ends, strict=True)), key=len)
    data = data[:-2] + scan * extra_scans + data[-2:]
    return "data:image/jpeg;base64," + base64.b64encode(data).decode()


def test_a_jpeg_of_thousands_of_scans_is_refused_before_decoding() -> None:
    """A progressive JPEG's scans each cost a pass over the whole picture: 3300 empty ones
    (175 KB) took libjpeg 3.5 s for a 4096 x 4096 still that decodes in 0.3 s, on a thread
    the other checks share. A camera's JPEG has one scan, a progressive one about ten."""
    bomb = _progressive_jpeg(512, 2000)
    assert len(bomb) < 240_000
    with pytest.raises(SessionError) as info:
        decode_image(bomb)
    assert (info.value.status, info.value.code) == (400, "invalid_image")
    assert decode_image(_progressive_jpeg(512, 0)).shape == (512, 512, 3)


async def test_document_upload_needs_consent_is_bounded_and_one_at_a_time(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    sid, base = await self_service_join(sales)
    customer = await client_factory()
    url = f"{base}/document"
    # Before consent nothing is read, played, heard or ended on the customer's behalf.
    for path, body in (
        (url, {"node": "id_card", "image": _png(64, 64, "RGB")}),
        (f"{base}/node", {"node": "intro"}),
        (f"{base}/answer", {"node": "id_card", "attempt": 1}),
        (f"{base}/finish", None),
    ):
        status, refused = await customer.post(path, json=body)
        assert status == 409, (path, refused)
        assert_error(refused, "consent_required")
    status, _ = await customer.post(f"{base}/consent", json={"consent": True})
    assert status == 200
    status, body = await customer.post(url, json={"node": "id_card", "image": _png(8000, 8000)})
    assert status == 413, body
    assert_error(body, "image_too_large")
    # Refused before any model was loaded or anything was recorded.
    assert MODELS_KEY not in server.ctx.extras
    events = SessionDir(server.ctx.settings.sessions_dir / sid).metadata["events"]
    assert not [e for e in events if e["type"] == "document_capture"]
    # While one check runs for the session, another is refused at once.
    with one_at_a_time(server.ctx, sid):
        async with customer.http.post(
            f"{customer.base}{url}", json={"node": "id_card", "image": _png(64, 64, "RGB")}
        ) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "1"
            assert_error(await r.json(), "busy")
    assert sid not in server.ctx.extras[BUSY_KEY]  # type: ignore[operator]


async def test_checks_of_one_node_are_bounded(server: RunningServer, client_factory: Any) -> None:
    """Each answer runs Whisper (each document OCR) for seconds of CPU: a script holding the
    link could ask for one node's answer up to the session's 2000-event budget. At most
    CHECKS_PER_NODE per node and kind; refused before any model runs, nothing written."""
    sid, base = await self_service_join(await client_factory("sales1"))
    customer = await client_factory()
    assert (await customer.post(f"{base}/consent", json={"consent": True}))[0] == 200
    answer = {"node": "confirm_understood", "attempt": 1}
    for _ in range(CHECKS_PER_NODE):
        status, body = await customer.post(f"{base}/answer", json=answer)
        assert status == 200, body
    status, body = await customer.post(f"{base}/answer", json=answer)
    assert status == 429, body
    assert_error(body, "too_many_checks")
    events = SessionDir(server.ctx.settings.sessions_dir / sid).metadata["events"]
    assert sum(e["type"] == "answer" for e in events) == CHECKS_PER_NODE
    # Another node's answer is its own count.
    status, body = await customer.post(f"{base}/answer", json={"node": "consent", "attempt": 1})
    assert status == 200, body


async def test_finish_needs_a_recording_of_the_customer(
    server: RunningServer, client_factory: Any
) -> None:
    """完成并提交 ends the session for review: with nothing of the customer recorded (the
    link's holder consented and submitted without ever starting the call) there is nothing
    to review, and the session, ended, could never be recorded again by this link. Refused,
    the session left as it was, until the customer's own media has started."""
    from server.store.models import AuditEntry, RecordingSession
    from tests.review_fixtures import write_recording

    sid, base = await self_service_join(await client_factory("sales1"))
    customer = await client_factory()
    assert (await customer.post(f"{base}/consent", json={"consent": True}))[0] == 200
    sdir = SessionDir(server.ctx.settings.sessions_dir / sid)

    async def refused() -> None:
        status, body = await customer.post(f"{base}/finish")
        assert status == 409, body
        assert_error(body, "nothing_recorded")
        assert sdir.status != "ended"
        assert not [e for e in sdir.metadata["events"] if e["type"] == "end"]
        async with server.ctx.db.read() as s:
            row = await s.get(RecordingSession, sid)
            assert row is not None and row.ended_at is None
            assert row.inspection_status == "pending"  # nothing queued
            ends = await s.execute(
                select(AuditEntry).where(
                    AuditEntry.session_id == sid, AuditEntry.action == "session.end"
                )
            )
            assert ends.first() is None

    await refused()
    # A segment allocated for the customer whose media never began does not count.
    path = await sdir.open_segment("customer")
    await refused()
    write_recording(path, "customer", 1.0)
    await sdir.start_segment(path, utc_now())
    # Two submissions at once (a double tap, a retry): one ends it, the other meets the end.
    answers = await asyncio.gather(*(customer.post(f"{base}/finish") for _ in range(2)))
    assert sorted(status for status, _ in answers) == [200, 409], answers
    ended = next(body for status, body in answers if status == 200)
    assert ended["status"] == "ended"
    assert_error(next(body for status, body in answers if status == 409), "session_ended")
    async with server.ctx.db.read() as s:
        ends = await s.execute(
            select(AuditEntry).where(
                AuditEntry.session_id == sid, AuditEntry.action == "session.end"
            )
        )
        assert len(ends.all()) == 1
    assert [e["type"] for e in sdir.metadata["events"]].count("end") == 1
