"""Media slots are not leaked: refused offers and abandoned calls give their room back."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from server.store.models import AuditEntry, Job
from tests.conftest import Client, RunningServer, add_test_users, make_settings, start_server
from tests.test_api_auth import assert_error
from tests.test_api_recording import join, make_peer, open_session, wait_for


async def refused_offer() -> str:
    """A well-formed offer the room refuses (no Opus): it gets past every check made before
    a room is taken."""
    peer = make_peer("salesperson")
    try:
        offer = await peer.offer()
    finally:
        await peer.close()
    assert "opus/48000" in offer
    return offer.replace("opus/48000", "speex/48000")


async def test_refused_offers_do_not_use_up_capacity(tmp_path: Path) -> None:
    srv = await start_server(make_settings(tmp_path, max_sessions=2))
    await add_test_users(srv.ctx)
    sales = Client(srv.url)
    try:
        await sales.login("sales1")
        offer = await refused_offer()
        for _ in range(4):  # twice the capacity, each on a fresh session
            sid, _ = await open_session(sales)
            status, body = await sales.post(
                f"/api/sessions/{sid}/offer", json={"type": "offer", "sdp": offer}
            )
            assert status == 400, body  # the offer's fault, never 503 capacity
            assert_error(body, "codec_unsupported")
        assert len(srv.ctx.rooms) == 0
    finally:
        await sales.close()
        await srv.runner.cleanup()


async def test_abandoned_call_releases_its_room_and_is_ended(tmp_path: Path) -> None:
    srv = await start_server(make_settings(tmp_path, max_sessions=1))
    await add_test_users(srv.ctx)
    sales = Client(srv.url)
    peers = []
    try:
        await sales.login("sales1")
        sid, _ = await open_session(sales)
        peer = await join(sales, f"/api/sessions/{sid}/offer", "salesperson")
        peers.append(peer)
        await wait_for(lambda: bool(srv.ctx.rooms.get(sid)))
        room = srv.ctx.rooms.get(sid)
        assert room is not None
        await wait_for(
            lambda: room.stats().get("salesperson", {}).get("recorded", {}).get("video", 0) > 5
        )
        # The one slot is taken: a second session gets 503.
        other, _ = await open_session(sales)
        offer = await refused_offer()
        status, body = await sales.post(
            f"/api/sessions/{other}/offer", json={"type": "offer", "sdp": offer}
        )
        assert status == 503
        assert_error(body, "capacity")
        # The salesperson walks away (their page drops) and never comes back.
        srv.ctx.settings = replace(srv.ctx.settings, rejoin_window_s=1.0)
        assert (await sales.post(f"/api/sessions/{sid}/leave"))[0] == 200
        await peer.close()
        await wait_for(lambda: srv.ctx.rooms.get(sid) is None, 20)
        status, body = await sales.post(
            f"/api/sessions/{other}/offer", json={"type": "offer", "sdp": offer}
        )
        assert status == 400, body  # a slot is free again: the offer itself is judged
        assert_error(body, "codec_unsupported")
    finally:
        for p in peers:
            await p.close()
        await sales.close()

    try:
        jobs, audits = await _jobs_and_audits(srv, sid)
        for _ in range(100):  # the sweep ends the session right after releasing the room
            if len(jobs) >= 2:  # queued one after the other: wait for both
                break
            await asyncio.sleep(0.1)
            jobs, audits = await _jobs_and_audits(srv, sid)
        assert sorted(j.kind for j in jobs) == ["inspect", "review_video"]
        (end_audit,) = [a for a in audits if a.action == "session.end"]
        assert end_audit.actor == "system" and end_audit.detail["reason"] == "abandoned"
    finally:
        await srv.runner.cleanup()
    meta = json.loads((srv.ctx.settings.sessions_dir / sid / "metadata.json").read_text("utf-8"))
    assert meta["status"] == "ended"
    (seg,) = meta["segments"]
    assert seg["status"] == "finished" and seg["sha256"] and seg["bytes"] > 0
    types = [e["type"] for e in meta["events"]]
    assert types[-2:] == ["room_released", "end"], types
    assert meta["events"][-1]["detail"] == {"reason": "abandoned"}


async def _jobs_and_audits(srv: RunningServer, sid: str) -> tuple[list[Job], list[AuditEntry]]:
    async with srv.ctx.db.session() as db:
        jobs = (await db.execute(select(Job))).scalars()
        audits = (await db.execute(select(AuditEntry))).scalars()
        return (
            [j for j in jobs if j.payload.get("session_id") == sid],
            [a for a in audits if a.session_id == sid],
        )


async def test_joins_per_participant_are_bounded(tmp_path: Path) -> None:
    srv = await start_server(make_settings(tmp_path, max_joins_per_participant=2))
    await add_test_users(srv.ctx)
    sales = Client(srv.url)
    try:
        await sales.login("sales1")
        sid, _token = await open_session(sales)
        offer = f"/api/sessions/{sid}/offer"
        for _ in range(2):  # a join and a rejoin
            peer = await join(sales, offer, "salesperson")
            assert (await sales.post(f"/api/sessions/{sid}/leave"))[0] == 200
            await peer.close()
        sdir = srv.ctx.settings.sessions_dir / sid
        segments = sorted(p.name for p in sdir.glob("salesperson-*"))
        extra = make_peer("salesperson")
        try:
            status, body = await sales.post(
                offer, json={"type": "offer", "sdp": await extra.offer()}
            )
        finally:
            await extra.close()
        assert status == 429, body
        assert_error(body, "too_many_joins")
        assert sorted(p.name for p in sdir.glob("salesperson-*")) == segments
        assert srv.ctx.rooms.get(sid) is None or not srv.ctx.rooms.get(sid).connected().get(
            "salesperson"
        )
    finally:
        await sales.close()
        await srv.runner.cleanup()


def _server_tasks() -> int:
    """Running tasks, less aiohttp's one per open keep-alive connection (clients here open
    theirs as they go)."""
    return sum(
        1
        for t in asyncio.all_tasks()
        if "RequestHandler" not in getattr(t.get_coro(), "__qualname__", "")
    )


async def test_bad_signalling_leaves_no_task_or_room_behind(tmp_path: Path) -> None:
    """Malformed, oversized, refused and out-of-order signalling: every answer a 4xx, and
    the server's tasks, rooms and threads are what they were before."""
    import threading

    srv = await start_server(make_settings(tmp_path, max_sdp_bytes=4096))
    await add_test_users(srv.ctx)
    sales, customer = Client(srv.url), Client(srv.url)
    try:
        await sales.login("sales1")
        sid, token = await open_session(sales)
        good = await refused_offer()
        await asyncio.sleep(0)
        tasks, threads = _server_tasks(), threading.active_count()
        answers = []
        for body in (
            {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 2000},  # oversized
            {"type": "offer", "sdp": "not sdp at all"},
            {"type": "answer", "sdp": good},
            {"type": "offer", "sdp": good},  # refused codec
            {"sdp": 7},
        ):
            answers.append((await sales.post(f"/api/sessions/{sid}/offer", json=body))[0])
        # The customer before consent, leaving before joining, then after the end.
        answers.append(
            (await customer.post(f"/api/join/{token}/offer", json={"type": "offer", "sdp": good}))[
                0
            ]
        )
        answers.append((await customer.post(f"/api/join/{token}/leave"))[0])
        answers.append((await sales.post(f"/api/sessions/{sid}/leave"))[0])
        answers.append((await sales.post(f"/api/sessions/{sid}/end", json={}))[0])
        answers.append(
            (await sales.post(f"/api/sessions/{sid}/offer", json={"type": "offer", "sdp": good}))[0]
        )
        assert all(400 <= a < 500 for a in answers[:6]), answers
        assert answers[6:9] == [200, 200, 200] and answers[9] == 409, answers
        assert len(srv.ctx.rooms) == 0
        await asyncio.sleep(0.2)  # (aiohttp's own per-request tasks finish)
        assert _server_tasks() <= tasks
        assert threading.active_count() <= threads
    finally:
        await sales.close()
        await customer.close()
        await srv.runner.cleanup()
