"""The join page once its salesperson is disabled, in Debian Chromium on loopback with a fake
camera (helpers from test_link_owner_pages.py): a customer still on the device check is told
without pressing anything (before, only 重新检测 found out, and said "network failed"), and
after the page stops no button is left that would send another request with the dead link
(before, 离开 stayed, and 重新加入 behind it was refused once more)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import RunningServer
from tests.join_links import customer_in_call
from tests.test_api_recording import open_session
from tests.test_link_owner_pages import DISABLED, _context, _open, _set, _stays_quiet
from tests.test_selfservice_taps import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


async def _no_control_left(page: Page) -> None:
    """Only the reason is shown: no 进入通话, 重新检测, 离开, 重新加入 or 重新连接."""
    await expect(page.locator("#page-error")).to_contain_text(DISABLED[0], timeout=10_000)
    await expect(page.locator("main button:visible")).to_have_count(0)


async def test_the_device_check_stops_when_the_salesperson_is_disabled(
    server: RunningServer,
    browser: Browser,  # noqa: F811 (the fixture imported above)
    client_factory: Any,
) -> None:
    sales = await client_factory("sales1")
    _sid, token = await open_session(sales)
    ctx = await _context(browser)
    w = await _open(ctx)
    await w.page.goto(f"{server.url}/join/{token}")
    await w.page.check("#consent-check")
    await w.page.click("#consent-button")
    await expect(w.page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await _set(server, disabled=True)
    # Nothing pressed: the page finds out by itself.
    await _no_control_left(w.page)
    await _stays_quiet(w)
    await ctx.close()


async def test_no_rejoin_after_the_call_is_stopped(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
) -> None:
    sales = await client_factory("sales1")
    sid, token = await open_session(sales)
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await customer_in_call(page, server, sid, token)
    await _set(server, disabled=True)
    await _no_control_left(page)
    await _stays_quiet(w)
    await ctx.close()
