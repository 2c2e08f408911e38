"""A join link opens its call only while its salesperson may record remotely: once the
account is disabled (``kesu user disable``) or the R20 qualification withdrawn (``kesu user
qualify NAME no``), the customer's requests are refused (403, nothing written) but leaving,
and a self-service customer already recording alone is taken out of the call. Before, a
self-service customer went on recording under that salesperson's name, and an ordinary link
of a disabled salesperson still gave out the customer's data and a room."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update

from server.store.models import RecordingSession, User
from tests.conftest import Client, RunningServer, wait_for
from tests.join_links import self_service_link
from tests.test_api_auth import assert_error
from tests.test_api_recording import join, make_peer, open_session

OFFER_STUB = {"type": "offer", "sdp": "v=0\r\n"}


async def _set(server: RunningServer, username: str, **values: Any) -> None:
    async with server.ctx.db.session() as s:
        await s.execute(update(User).where(User.username == username).values(**values))


async def _refused(customer: Client, base: str, code: str) -> None:
    """Every request of the link but leaving is 403 ``code``."""
    for method, path, body in (
        ("GET", "", None),
        ("GET", "/state", None),
        ("GET", "/ice", None),
        ("POST", "/consent", {"consent": True}),
        ("POST", "/offer", OFFER_STUB),
        ("POST", "/node", {"node": "consent"}),
        ("POST", "/answer", {"node": "consent", "attempt": 1}),
        ("POST", "/finish", None),
        ("GET", "/summary", None),
    ):
        status, answer = await customer.request(method, f"{base}{path}", json=body)
        assert status == 403, (method, path, status, answer)
        assert_error(answer, code)
    status, answer = await customer.post(f"{base}/leave")
    assert status == 200, answer


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"qualified_remote": False}, "salesperson_not_qualified"),
        ({"disabled": True}, "salesperson_disabled"),
    ],
)
async def test_links_of_a_salesperson_who_may_no_longer_record(
    server: RunningServer, client_factory: Any, change: dict[str, bool], code: str
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    self_sid, self_token = await self_service_link(sales)
    sid, token = await open_session(sales)
    await _set(server, "sales1", **change)
    for base in (f"/api/join/{self_token}", f"/api/join/{token}"):
        await _refused(customer, base, code)
    async with server.ctx.db.read() as s:
        rows = {r.id: r for r in (await s.scalars(select(RecordingSession))).all()}
    for one in (self_sid, sid):
        assert rows[one].consent_at is None and rows[one].status == "created", rows[one]
        assert server.ctx.rooms.get(one) is None
    # Given back, the same links work again.
    await _set(server, "sales1", qualified_remote=True, disabled=False)
    status, body = await customer.get(f"/api/join/{self_token}")
    assert status == 200 and body["mode"] == "self_service", body


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"qualified_remote": False}, "salesperson_not_qualified"),
        ({"disabled": True}, "salesperson_disabled"),
    ],
)
async def test_a_self_service_customer_recording_alone_is_taken_out(
    server: RunningServer, client_factory: Any, change: dict[str, bool], reason: str
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    sid, token = await self_service_link(sales)
    base = f"/api/join/{token}"
    status, body = await customer.post(f"{base}/consent", json={"consent": True})
    assert status == 200, body
    peer = await join(customer, f"{base}/offer", "customer")
    try:
        room = server.ctx.rooms.get(sid)
        assert room is not None
        await wait_for(lambda: room.connected()["customer"])
        await _set(server, "sales1", **change)
        path = server.ctx.settings.sessions_dir / sid / "metadata.json"

        def leaves() -> list[tuple[str, str]]:
            events = json.loads(path.read_text())["events"]
            return [
                (e["participant"], e["detail"]["reason"]) for e in events if e["type"] == "leave"
            ]

        # The housekeeping sweep runs every few seconds; this only bounds a failing test.
        await wait_for(lambda: bool(leaves()), 30.0)
        assert leaves() == [("customer", reason)]
        assert not room.connected()["customer"]
        again = make_peer("customer")
        try:
            status, body = await customer.post(
                f"{base}/offer", json={"type": "offer", "sdp": await again.offer()}
            )
        finally:
            await again.close()
        assert status == 403
        assert_error(body, reason)
    finally:
        await peer.close()


async def test_an_unqualified_salesperson_gets_no_turn_credentials_or_new_links(
    server: RunningServer, client_factory: Any
) -> None:
    """Refused at the source (``403 not_qualified``, as the offer): before, TURN credentials
    and fresh join links were handed out, the links only refused when the customer used them.
    Revoking links and leaving stay open."""
    sales = await client_factory("sales1")
    sid, _token = await open_session(sales)
    base = f"/api/sessions/{sid}"
    await _set(server, "sales1", qualified_remote=False)
    for method, path in (("GET", "/ice"), ("POST", "/link")):
        status, answer = await sales.request(method, f"{base}{path}")
        assert status == 403, (path, answer)
        assert_error(answer, "not_qualified")
    for path in ("/link/revoke", "/leave"):
        status, answer = await sales.post(f"{base}{path}")
        assert status == 200, (path, answer)
    await _set(server, "sales1", qualified_remote=True)
    status, answer = await sales.get(f"{base}/ice")
    assert status == 200 and "ice_servers" in answer, answer
    status, answer = await sales.post(f"{base}/link")
    assert status == 200 and "/join/" in answer["url"], answer
