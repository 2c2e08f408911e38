"""A join link can be revoked before it expires (``POST /api/sessions/{id}/link/revoke``),
by the salesperson who owns the session or an admin: audited, the customer taken out of
the call and their live-check streams ended at once, every request with the old link a
410 ``token_revoked``, and a new link works. Failed on the old code: no such route (405)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from server import nodes, session_call
from server.api import live as live_api
from server.rtc.client import ClientPeer
from server.session_call import MAX_LINK_REVOCATIONS
from server.sessions import get_session
from server.store.models import AuditEntry
from tests.browser import FAKE_MEDIA, chromium
from tests.conftest import Client, RunningServer
from tests.join_links import customer_in_call
from tests.test_api_auth import assert_error
from tests.test_api_recording import join, make_peer, open_session, start_call, wait_for
from tests.test_live_streams import _first_event, _live_call
from tests.test_review_pages import browser, login, no_page_errors

__all__ = ["browser"]  # fixture


async def _actions(srv: RunningServer, sid: str) -> list[tuple[str, str]]:
    async with srv.ctx.db.read() as s:
        rows = await s.execute(
            select(AuditEntry.actor, AuditEntry.action)
            .where(AuditEntry.session_id == sid)
            .order_by(AuditEntry.seq)
        )
        return [(a, b) for a, b in rows.all()]


async def test_revoked_link_is_410_the_customer_is_out_and_a_new_link_works(
    server: RunningServer, client_factory: Any
) -> None:
    sales: Client = await client_factory("sales1")
    customer: Client = await client_factory()
    peers: list[ClientPeer] = []
    try:
        sid, token = await start_call(sales, customer, peers)
        room = server.ctx.rooms.get(sid)
        assert room is not None and room.connected()["customer"]

        status, body = await sales.post(f"/api/sessions/{sid}/link/revoke")
        assert status == 200, body
        assert body["revoked"] is True
        assert not room.connected()["customer"]
        assert room.connected()["salesperson"]  # the salesperson stays in the call
        assert ("user:sales1", "join_link.revoke") in await _actions(server, sid)

        for method, path in (
            ("GET", ""),
            ("GET", "/state"),
            ("POST", "/leave"),
            ("GET", "/ice"),
        ):
            status, body = await customer.request(method, f"/api/join/{token}{path}")
            assert status == 410, (path, body)
            assert_error(body, "token_revoked")
        peers.append(make_peer("customer"))
        offer = await peers[-1].offer()
        status, body = await customer.post(
            f"/api/join/{token}/offer", {"type": "offer", "sdp": offer}
        )
        assert status == 410, body
        assert_error(body, "token_revoked")
        assert not room.connected()["customer"]

        status, link = await sales.post(f"/api/sessions/{sid}/link")
        assert status == 200, link
        assert link["token"] != token
        status, body = await customer.get(f"/api/join/{link['token']}")
        assert status == 200, body
        peers.append(await join(customer, f"/api/join/{link['token']}/offer", "customer"))
        await wait_for(lambda: room.connected()["customer"])
    finally:
        for p in peers:
            await p.close()


async def test_an_offer_racing_the_revocation_is_refused(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link is revoked after the customer's offer was checked and before its room is
    joined (forced at nodes.place): the offer is 410 and the customer is not left in the
    call (on the old code: 200, the customer in the call on a revoked link)."""
    sales: Client = await client_factory("sales1")
    customer: Client = await client_factory()
    sid, token = await open_session(sales)
    assert (await customer.post(f"/api/join/{token}/consent", json={"consent": True}))[0] == 200
    place = nodes.place

    async def revoke_then_place(ctx: Any, session_id: str) -> None:
        row = await get_session(ctx, session_id)
        await session_call.revoke_join_link(ctx, row, "user:sales1")
        await place(ctx, session_id)

    monkeypatch.setattr(nodes, "place", revoke_then_place)
    peer = make_peer("customer")
    try:
        status, body = await customer.post(
            f"/api/join/{token}/offer", {"type": "offer", "sdp": await peer.offer()}
        )
        assert status == 410, body
        assert_error(body, "token_revoked")
        room = server.ctx.rooms.get(sid)
        assert room is None or not room.connected()["customer"]
    finally:
        await peer.close()


async def test_who_may_revoke(server: RunningServer, client_factory: Any) -> None:
    """The owner and an admin; another salesperson gets 404 (as if the session did not
    exist), a reviewer 403, nobody logged in 401, a request without the CSRF token 403."""
    sales: Client = await client_factory("sales1")
    sid, token = await open_session(sales)
    path = f"/api/sessions/{sid}/link/revoke"
    other: Client = await client_factory("sales2")
    status, body = await other.post(path)
    assert status == 404, body
    reviewer: Client = await client_factory("rev1")
    status, body = await reviewer.post(path)
    assert status == 403, body
    anonymous: Client = await client_factory()
    status, body = await anonymous.post(path)
    assert status == 401, body
    status, body = await sales.post(path, csrf=False)
    assert status == 403, body
    status, body = await sales.get(f"/api/join/{token}")  # still the same link
    assert status == 200, body
    assert "join_link.revoke" not in {a for _, a in await _actions(server, sid)}

    admin: Client = await client_factory("admin")
    status, body = await admin.post(path)
    assert status == 200, body
    assert ("user:admin", "join_link.revoke") in await _actions(server, sid)
    status, body = await anonymous.get(f"/api/join/{token}")
    assert status == 410, body
    assert_error(body, "token_revoked")
    status, body = await sales.post("/api/sessions/s-0123456789abcdef/link/revoke")
    assert status == 404, body


async def test_revocations_per_session_are_bounded(
    server: RunningServer, client_factory: Any
) -> None:
    """Each revocation is a write and an audit entry: a loop of them stops at
    MAX_LINK_REVOCATIONS with 429 too_many_revocations and writes nothing more (on the old
    revocation code a 21st was 200 and a 21st entry)."""
    sales: Client = await client_factory("sales1")
    sid, _token = await open_session(sales)
    path = f"/api/sessions/{sid}/link/revoke"
    for _ in range(MAX_LINK_REVOCATIONS):
        status, body = await sales.post(path)
        assert status == 200, body
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    assert status == 200, link
    status, body = await sales.post(path)
    assert status == 429, body
    assert_error(body, "too_many_revocations")
    actions = [a for _, a in await _actions(server, sid)]
    assert actions.count("join_link.revoke") == MAX_LINK_REVOCATIONS
    status, body = await sales.get(f"/api/join/{link['token']}")  # the last link still works
    assert status == 200, body


async def test_the_customers_live_stream_ends_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No recheck would end it (RECHECK_S an hour): the revocation cuts it."""
    monkeypatch.setattr(live_api, "RECHECK_S", 3600.0)
    async with _live_call(tmp_path) as call:
        stream = await _first_event(call.http, f"{call.srv.url}/api/join/{call.token}/live")
        sales_stream = await _first_event(
            call.sales.http, f"{call.srv.url}/api/sessions/{call.sid}/live"
        )
        status, body = await call.sales.post(f"/api/sessions/{call.sid}/link/revoke")
        assert status == 200, body
        assert body["streams_cut"] == 1
        await asyncio.wait_for(stream.content.read(), 30)  # returns at the stream's end
        assert stream.content.at_eof()
        stream.release()
        assert not sales_stream.content.at_eof()
        sales_stream.release()
        async with call.http.get(f"{call.srv.url}/api/join/{call.token}/live") as r:
            assert r.status == 410
            assert_error(await r.json(), "token_revoked")


@pytest.mark.e2e
async def test_call_page_button_revokes_the_link(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """The call page's 作废客户链接, confirmed, revokes the link (on the old page: no button)."""
    sales: Client = await client_factory("sales1")
    sid, token = await open_session(sales)
    page = await login(browser, server.url, "sales1")
    await page.goto(f"{server.url}/sales/session/{sid}")
    await page.click("#revoke-link")
    await page.click("#ask-yes")  # asked in the page (ask.js)
    await expect(page.locator("#copy-status")).to_contain_text("客户链接已作废")
    no_page_errors(page)
    status, body = await sales.get(f"/api/join/{token}")
    assert status == 410, body
    assert_error(body, "token_revoked")


async def test_link_buttons_wait_for_the_session(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """复制客户链接 and 作废客户链接 are disabled until the page has loaded the session and
    wired them: a click before that did nothing (CI under load lost the revoke so). Failed on
    the old page: both enabled while the session's load was held."""
    sales: Client = await client_factory("sales1")
    sid, _token = await open_session(sales)
    page = await login(browser, server.url, "sales1")
    held: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def hold(route: Any) -> None:
        await held
        await route.continue_()

    await page.route(f"**/api/sessions/{sid}", hold)
    await page.goto(f"{server.url}/sales/session/{sid}", wait_until="domcontentloaded")
    for button in ("#copy-link", "#revoke-link"):
        await expect(page.locator(button)).to_be_disabled()
    held.set_result(None)
    for button in ("#copy-link", "#revoke-link"):
        await expect(page.locator(button)).to_be_enabled()
    no_page_errors(page)


@pytest.mark.e2e
async def test_the_customers_page_says_the_link_was_withdrawn(
    server: RunningServer, client_factory: Any
) -> None:
    """A customer in the call (Chromium, fake camera) whose link is revoked is told so and
    the page stops asking with the dead link."""
    sales: Client = await client_factory("sales1")
    sid, token = await open_session(sales)
    async with chromium(*FAKE_MEDIA) as b:
        ctx = await b.new_context(locale="zh-CN", permissions=["camera", "microphone"])
        page = await ctx.new_page()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/state" in r.url else None)
        await customer_in_call(page, server, sid, token)
        status, body = await sales.post(f"/api/sessions/{sid}/link/revoke")
        assert status == 200, body
        await expect(page.locator("#page-error")).to_contain_text("链接已作废", timeout=20_000)
        # The poll that meets the 410 is the last one (old page: one every 1.5 s for good).
        await page.wait_for_timeout(3000)
        polled = len(asked)
        await page.wait_for_timeout(4500)  # three poll periods: none sent
        assert len(asked) == polled
