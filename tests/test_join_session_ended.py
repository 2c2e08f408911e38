"""The join page when the salesperson ends the session before the customer is in the call,
in Debian Chromium on loopback with a fake camera (helpers from test_link_owner_pages.py).
As for a dead link (test_join_link_gone.py), the page stops by itself: the camera and
microphone off, no button left, nothing sent any more; only the ended view is shown.
Before, the device check's poll of ``/state`` ignored its ``"status": "ended"``: the
customer was left with the camera on, 进入通话 enabled and the poll going on every 3 s; and
同意并继续 on an ended session said 本次双录已结束。 and gave the button back, for ever."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import Client, RunningServer
from tests.join_links import customer_in_call
from tests.test_api_recording import open_session
from tests.test_link_owner_pages import LIVE_TRACKS, _context, _open, _stays_quiet
from tests.test_selfservice_taps import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e

ENDED = "本次双录已结束，感谢您的配合！"


async def end(sales: Client, sid: str) -> None:
    status, body = await sales.post(f"/api/sessions/{sid}/end", json={"confirm_missing": True})
    assert status == 200, body


async def _only_the_ended_view(page: Page) -> None:
    await expect(page.locator("#view-ended")).to_be_visible(timeout=10_000)
    await expect(page.locator("#view-ended")).to_have_text(ENDED)
    await expect(page.locator("#page-error")).to_be_hidden()
    await expect(page.locator("main button:visible")).to_have_count(0)


async def test_the_device_check_stops_when_the_session_is_ended(
    server: RunningServer,
    browser: Browser,  # noqa: F811 (the fixture imported above)
    client_factory: Any,
) -> None:
    sales = await client_factory("sales1")
    sid, token = await open_session(sales)
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await page.goto(f"{server.url}/join/{token}")
    await page.check("#consent-check")
    await page.click("#consent-button")
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    assert await page.evaluate(LIVE_TRACKS) == 2  # the preview's camera and microphone
    await end(sales, sid)
    # Nothing pressed: the device check's poll finds out by itself.
    await _only_the_ended_view(page)
    assert await page.evaluate(LIVE_TRACKS) == 0
    await _stays_quiet(w)
    await ctx.close()


async def test_consent_on_an_ended_session_shows_that_it_ended(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
) -> None:
    sales = await client_factory("sales1")
    sid, token = await open_session(sales)
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await page.goto(f"{server.url}/join/{token}")
    await page.check("#consent-check")
    await end(sales, sid)  # while the customer reads the consent
    await page.click("#consent-button")
    await _only_the_ended_view(page)
    await _stays_quiet(w)
    assert w.api == [f"GET join/{token}", f"POST join/{token}/consent"], w.api
    await ctx.close()


async def test_the_call_stops_when_the_session_is_ended(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
) -> None:
    """In the call the page already stopped; but a rejoin refused as the room closed left
    本场通话已关闭。 (409 room_closed) above the ended view."""
    sales = await client_factory("sales1")
    sid, token = await open_session(sales)
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await customer_in_call(page, server, sid, token)
    await end(sales, sid)
    await _only_the_ended_view(page)
    await _stays_quiet(w)
    await ctx.close()
