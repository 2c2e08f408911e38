"""A re-recording is a new remote recording: a salesperson no longer qualified for remote
recording (R20) cannot start one, as they cannot create a session; nothing is created and
the request stays open. Nor can they join the call of a session made before the
qualification was withdrawn. On the old code the start made the session (201) and the
offer was answered (200)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from server.store.models import RecordingSession, RerecordRequest, User
from tests.conftest import RunningServer, new_session_body
from tests.review_fixtures import build_session
from tests.test_api_auth import assert_error
from tests.test_api_recording import make_peer
from tests.test_api_sales_findings import _reject


async def test_an_unqualified_salesperson_cannot_start_a_rerecording(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx, salesperson="sales1")
    await _reject(client_factory, built.id, built.finding_ids)
    async with server.ctx.db.session() as s:
        await s.execute(
            update(User).where(User.username == "sales1").values(qualified_remote=False)
        )
        before = await s.scalar(select(func.count(RecordingSession.id)))
    sales1 = await client_factory("sales1")
    status, body = await sales1.post("/api/sessions", json=new_session_body())
    assert status == 403 and body["error"]["code"] == "not_qualified"  # as before
    status, body = await sales1.get("/api/rerecord-requests")
    assert status == 200, body
    (req,) = body["requests"]
    for who in (sales1, await client_factory("admin")):
        status, body = await who.post(f"/api/rerecord-requests/{req['id']}/start")
        assert status == 403, body
        assert_error(body, "not_qualified")
    # Nor join the call of a session made while still qualified (old code: 200).
    async with server.ctx.db.session() as s:
        await s.execute(update(User).where(User.username == "sales1").values(qualified_remote=True))
    status, body = await sales1.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    async with server.ctx.db.session() as s:
        await s.execute(
            update(User).where(User.username == "sales1").values(qualified_remote=False)
        )
    peer = make_peer("salesperson")
    try:
        status, body = await sales1.post(
            f"/api/sessions/{sid}/offer", {"type": "offer", "sdp": await peer.offer()}
        )
    finally:
        await peer.close()
    assert status == 403, body
    assert_error(body, "not_qualified")
    assert server.ctx.rooms.get(sid) is None
    async with server.ctx.db.read() as s:
        assert await s.scalar(select(func.count(RecordingSession.id))) == (before or 0) + 1
        row = await s.get(RerecordRequest, req["id"])
        assert row is not None and row.status == "open" and row.new_session_id is None


async def test_an_admin_cannot_start_a_rerecording_for_a_disabled_salesperson(
    server: RunningServer, client_factory: Any
) -> None:
    """Before, the admin's start made a session (201) for an account that can no longer log
    in, whose customer's link now refuses every request (403 salesperson_disabled)."""
    built = await build_session(server.ctx, salesperson="sales1")
    await _reject(client_factory, built.id, built.finding_ids)
    sales1 = await client_factory("sales1")
    status, body = await sales1.get("/api/rerecord-requests")
    assert status == 200, body
    (req,) = body["requests"]
    async with server.ctx.db.session() as s:
        await s.execute(update(User).where(User.username == "sales1").values(disabled=True))
        before = await s.scalar(select(func.count(RecordingSession.id)))
    admin = await client_factory("admin")
    status, body = await admin.post(f"/api/rerecord-requests/{req['id']}/start")
    assert status == 403, body
    assert_error(body, "salesperson_disabled")
    async with server.ctx.db.read() as s:
        assert await s.scalar(select(func.count(RecordingSession.id))) == before
        row = await s.get(RerecordRequest, req["id"])
        assert row is not None and row.status == "open" and row.new_session_id is None
