"""One salesperson's sessions hold at most ``max_live_sessions_per_user`` of a media node's
``max_sessions`` call rooms at once (429 ``too_many_live_sessions``), so one login (or a
script holding it) cannot take every room and leave the other salespeople with 503s.

Before, nothing but the node's total bounded it: an offer opens a room that stays for the
rejoin window (5 minutes) even if no media ever flows, so one login re-offering in a few
sessions every few minutes held all rooms. A room already open (a rejoin) is never refused,
and ending a call frees its place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings
from tests.conftest import Client, RunningServer, make_settings, new_session_body
from tests.join_links import self_service_join
from tests.test_api_auth import assert_error
from tests.test_sdp_hostile import _good_offer


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path, max_sessions=4, max_live_sessions_per_user=1, max_live_self_service_per_user=2
    )


async def _session(client: Client) -> str:
    status, body = await client.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    return str(body["session"]["id"])


async def _offer(client: Client, sid: str, sdp: str) -> tuple[int, Any]:
    return await client.post(f"/api/sessions/{sid}/offer", {"type": "offer", "sdp": sdp})


async def test_one_salesperson_cannot_take_every_room(
    server: RunningServer, client_factory: Any
) -> None:
    sdp = await _good_offer()
    sales1, sales2 = await client_factory("sales1"), await client_factory("sales2")
    first, second = await _session(sales1), await _session(sales1)
    status, body = await _offer(sales1, first, sdp)
    assert status == 200, body

    status, body = await _offer(sales1, second, sdp)
    assert status == 429, body
    assert_error(body, "too_many_live_sessions")
    assert server.ctx.rooms.get(second) is None  # nothing left holding a room
    assert len(server.ctx.rooms) == 1

    # Another salesperson still gets a room.
    other = await _session(sales2)
    status, body = await _offer(sales2, other, sdp)
    assert status == 200, body

    # The open room takes its own salesperson again (a rejoin after a drop).
    assert (await sales1.post(f"/api/sessions/{first}/leave"))[0] == 200
    status, body = await _offer(sales1, first, sdp)
    assert status == 200, body

    # Once that call has ended, the next session gets its room.
    status, body = await sales1.post(f"/api/sessions/{first}/end", {})
    assert status == 200, body
    status, body = await _offer(sales1, second, sdp)
    assert status == 200, body


async def test_self_service_customers_are_not_held_to_the_salespersons_limit(
    server: RunningServer, client_factory: Any
) -> None:
    """A salesperson who sent several self-service links has customers doing them at once;
    none of them may get 429 because of the salesperson's other sessions."""
    sdp = await _good_offer()
    sales = await client_factory("sales1")
    call = await _session(sales)
    status, body = await _offer(sales, call, sdp)
    assert status == 200, body  # the salesperson's one room (limit 1)
    for _ in range(2):
        _sid, base = await self_service_join(sales)
        customer = await client_factory()
        status, body = await customer.post(f"{base}/consent", json={"consent": True})
        assert status == 200, body
        status, body = await customer.post(f"{base}/offer", {"type": "offer", "sdp": sdp})
        assert status == 200, body
    assert len(server.ctx.rooms) == 3


async def test_self_service_rooms_have_a_bound_of_their_own(
    server: RunningServer, client_factory: Any
) -> None:
    """One login creating self-service sessions and offering through each link must not
    take every room either (it took all of them while self-service rooms were unbounded)."""
    sdp = await _good_offer()
    sales = await client_factory("sales1")
    offers = []
    for _ in range(3):  # the fixture's bound is 2
        sid, base = await self_service_join(sales)
        customer = await client_factory()
        status, body = await customer.post(f"{base}/consent", json={"consent": True})
        assert status == 200, body
        offers.append((sid, await customer.post(f"{base}/offer", {"type": "offer", "sdp": sdp})))
    assert [status for _sid, (status, _body) in offers[:2]] == [200, 200], offers
    status, body = offers[2][1]
    assert status == 429, body
    assert_error(body, "too_many_live_sessions")
    assert server.ctx.rooms.get(offers[2][0]) is None
    # The salesperson's own call still gets its room, and so does another salesperson's.
    call = await _session(sales)
    assert (await _offer(sales, call, sdp))[0] == 200
    other = await client_factory("sales2")
    assert (await _offer(other, await _session(other), sdp))[0] == 200
