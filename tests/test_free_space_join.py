"""``min_free_mb`` at join time: the disk can fill between a session's creation and its
call. An offer that would start the session's first recording is refused (``507
storage_full``, nothing allocated), as a new session would be; a recording that has
started is never cut off, so once anything is recorded a join goes on and the salesperson's
``/state`` says ``storage_low``. The free space is made "low" by raising the threshold on
the running server above the real free space of the test's directory (as
tests/test_free_space.py does): no full disk is needed, and the check reads the real
``statvfs``."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from server.free_space import MB, free_bytes
from server.rtc.client import ClientPeer
from tests.conftest import RunningServer
from tests.test_api_auth import assert_error
from tests.test_api_recording import join, make_peer, open_session, start_call


def _fill(server: RunningServer) -> None:
    """The sessions directory's filesystem now has less than ``min_free_mb`` free."""
    s = server.ctx.settings
    above = free_bytes(s.sessions_dir) // MB + 1_000_000  # a million MiB more than there is
    server.ctx.settings = replace(s, min_free_mb=above)


async def test_a_first_offer_is_refused_when_the_disk_is_low(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    sid, token = await open_session(sales)
    assert (await customer.post(f"/api/join/{token}/consent", json={"consent": True}))[0] == 200
    _fill(server)
    for client, path, role in [
        (sales, f"/api/sessions/{sid}/offer", "salesperson"),
        (customer, f"/api/join/{token}/offer", "customer"),
    ]:
        peer = make_peer(role)
        try:
            status, body = await client.post(
                path, json={"type": "offer", "sdp": await peer.offer()}
            )
        finally:
            await peer.close()
        assert status == 507, body
        assert_error(body, "storage_full")
    # Nothing was started: no segment allocated, no room held, the session not live.
    meta = json.loads((server.ctx.settings.sessions_dir / sid / "metadata.json").read_text())
    assert meta["segments"] == []
    assert server.ctx.rooms.get(sid) is None
    status, state = await sales.get(f"/api/sessions/{sid}/state")
    assert state["status"] == "created"


async def test_a_started_recording_goes_on_and_says_the_disk_is_low(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    peers: list[ClientPeer] = []
    sid = ""
    try:
        sid, token = await start_call(sales, customer, peers)
        status, state = await sales.get(f"/api/sessions/{sid}/state")
        assert state["storage_low"] is False
        _fill(server)
        # The customer drops and comes back: the call that is being recorded goes on.
        assert (await customer.post(f"/api/join/{token}/leave"))[0] == 200
        await peers.pop().close()
        peers.append(await join(customer, f"/api/join/{token}/offer", "customer"))
        status, state = await sales.get(f"/api/sessions/{sid}/state")
        assert status == 200
        assert state["connected"] == {"salesperson": True, "customer": True}
        assert state["storage_low"] is True
    finally:
        if sid:
            await sales.post(f"/api/sessions/{sid}/end")
        for p in peers:
            await p.close()
