"""Requests that read a session as live, then waited while it ended, must not write after
its end.

An offer on its way in while the session ends must not bring the call back: the offer
read the session as live, then waited (placing the room, a database round trip) while the
session was ended; it must not open a room for the ended session, record into its
directory after its files were hashed, or set it live again. The interleaving is forced
with a rendezvous at that wait (nodes.place), the real server and a real aiortc peer."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from server import nodes, selfservice
from server.session_dir import SessionDir
from server.session_format import utc_now
from server.sessions import get_session
from tests.conftest import RunningServer, new_session_body
from tests.review_fixtures import write_recording
from tests.test_api_auth import assert_error
from tests.test_api_recording import make_peer, open_session


@pytest.mark.parametrize("others_first", [False, True])
async def test_an_offer_racing_the_end_is_refused(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch, others_first: bool
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    sid, token = await open_session(sales)
    peers = []
    if others_first:  # the customer is in the call already: the session is live
        assert (await customer.post(f"/api/join/{token}/consent", json={"consent": True}))[0] == 200
        peers.append(make_peer("customer"))
        status, body = await customer.post(
            f"/api/join/{token}/offer", json={"type": "offer", "sdp": await peers[-1].offer()}
        )
        assert status == 200, body
        await peers[-1].accept(body["sdp"])
    held, release = asyncio.Event(), asyncio.Event()
    place = nodes.place

    async def place_after_the_end(ctx: Any, session_id: str) -> None:
        held.set()
        await release.wait()
        await place(ctx, session_id)

    monkeypatch.setattr(nodes, "place", place_after_the_end)
    peers.append(make_peer("salesperson"))
    offer = asyncio.create_task(
        sales.post(
            f"/api/sessions/{sid}/offer", json={"type": "offer", "sdp": await peers[-1].offer()}
        )
    )
    try:
        await asyncio.wait_for(held.wait(), 30)
        monkeypatch.setattr(nodes, "place", place)
        status, body = await sales.post(f"/api/sessions/{sid}/end", json={})
        assert status == 200, body
        release.set()
        status, body = await asyncio.wait_for(offer, 60)
        assert status == 409, body
        assert_error(body, "session_ended")
        row = await get_session(server.ctx, sid)
        assert row.status == "ended"
        assert server.ctx.rooms.get(sid) is None
        meta = json.loads((server.ctx.settings.sessions_dir / sid / "metadata.json").read_text())
        types = [e["type"] for e in meta["events"]]
        assert "join" not in types[types.index("end") :], types  # nothing recorded after it
    finally:
        release.set()
        for p in peers:
            await p.close()


async def test_an_answer_heard_across_the_end_is_not_written_after_it(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A self-service answer is heard for seconds (Whisper on a thread) after the session
    was checked; the customer's own /finish meanwhile ended it and hashed metadata.json.
    The answer's event was then written after the ``end`` event: refused now."""
    sales = await client_factory("sales1")
    customer = await client_factory()
    status, body = await sales.post("/api/sessions", json=new_session_body(mode="self_service"))
    assert status == 201, body
    sid = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    base = f"/api/join/{link['token']}"
    assert (await customer.post(f"{base}/consent", json={"consent": True}))[0] == 200
    # The customer's media has started (a submission with none is refused).
    sdir = SessionDir(server.ctx.settings.sessions_dir / sid)
    path = await sdir.open_segment("customer")
    write_recording(path, "customer", 1.0)
    await sdir.start_segment(path, utc_now())
    hearing, release = threading.Event(), threading.Event()

    def slow_classify(text: str, expected: str | None) -> str:
        hearing.set()
        release.wait(60)
        return "affirmative"

    monkeypatch.setattr(selfservice, "_classify", slow_classify)
    answer = asyncio.create_task(
        customer.post(f"{base}/answer", json={"node": "confirm_understood", "attempt": 1})
    )
    try:
        assert await asyncio.to_thread(hearing.wait, 30)
        status, body = await customer.post(f"{base}/finish")
        assert status == 200, body
        release.set()
        status, body = await asyncio.wait_for(answer, 60)
        assert status == 409, body
        assert_error(body, "session_ended")
        meta = json.loads((server.ctx.settings.sessions_dir / sid / "metadata.json").read_text())
        types = [e["type"] for e in meta["events"]]
        assert types[-1] == "end", types
        status, body = await sales.post(f"/api/sessions/{sid}/node", json={"node": "closing"})
        assert status == 409, body
    finally:
        release.set()
