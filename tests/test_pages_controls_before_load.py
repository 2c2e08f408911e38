"""Staff pages' controls are disabled until their handler is on.

Each page attaches most handlers after its first load (the login check, the page's data). A
control shown enabled before that took a click and did nothing: for a person a lost action,
for a browser test a flaky one (Playwright's click waits for *enabled*, not for a handler).
Each test holds the request the page waits for (``page.route``), checks the controls are
disabled meanwhile, then lets it through and checks they are enabled. The call page's link
buttons are in tests/test_join_revoke.py (test_link_buttons_wait_for_the_session).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import Client, RunningServer
from tests.review_fixtures import build_session
from tests.test_api_recording import open_session
from tests.test_review_pages import browser, login, no_page_errors

__all__ = ["browser"]  # fixture

pytestmark = pytest.mark.e2e


async def hold(page: Page, pattern: str) -> Callable[[], None]:
    """Hold the page's requests matching pattern until the returned function is called."""
    held: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(route: Any) -> None:
        await held
        await route.continue_()

    await page.route(pattern, wait)

    def release() -> None:
        if not held.done():
            held.set_result(None)

    return release


async def check_disabled_then_enabled(
    page: Page, controls: tuple[str, ...], release: Callable[[], None], loaded: Awaitable[None]
) -> None:
    try:
        for control in controls:
            await expect(page.locator(control)).to_be_disabled()
    finally:
        release()  # also on a failure: a held request would hang the page's teardown
    await loaded
    for control in controls:
        await expect(page.locator(control)).to_be_enabled()
    no_page_errors(page)


async def test_call_page_script_and_end_buttons_wait_for_the_session(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """开始话术 and 结束录制 were enabled in the HTML and wired only after the session loaded.
    Failed on the old page: both enabled while the session's load was held."""
    sales: Client = await client_factory("sales1")
    sid, _token = await open_session(sales)
    page = await login(browser, server.url, "sales1")
    release = await hold(page, f"**/api/sessions/{sid}")
    await page.goto(f"{server.url}/sales/session/{sid}", wait_until="domcontentloaded")
    await check_disabled_then_enabled(
        page,
        ("#next-node", "#end-call"),
        release,
        expect(page.locator("#session-info")).not_to_be_empty(),
    )
    await expect(page.locator("#prev-node")).to_be_disabled()  # on no step yet
    await page.click("#next-node")
    await expect(page.locator("#node-pos")).not_to_be_empty()
    no_page_errors(page)


async def test_queue_reset_waits_for_the_login_check(
    server: RunningServer, browser: Browser
) -> None:
    """清除 was enabled in the HTML and wired only after the login check: clicked before, it
    emptied the fields, then the page put the URL's filters back and the list stayed filtered.
    Failed on the old page: 清除 enabled while /api/me was held."""
    await build_session(server.ctx)
    page = await login(browser, server.url, "rev1")
    release = await hold(page, "**/api/me")
    await page.goto(f"{server.url}/review?salesperson=nobody", wait_until="domcontentloaded")
    await check_disabled_then_enabled(
        page, ("#reset",), release, expect(page.locator("#empty")).to_be_visible()
    )
    await page.click("#reset")
    await expect(page.locator("#rows tr")).to_have_count(1)
    await expect(page.locator("#f-salesperson")).to_have_value("")
    no_page_errors(page)


async def test_queue_filters_wait_for_the_url_restore(
    server: RunningServer, browser: Browser
) -> None:
    """The filter fields were enabled in the HTML and filled from the URL only after the login
    check: a filter typed before that was replaced by the URL's (or emptied). Failed on the old
    page: the fields enabled while /api/me was held."""
    await build_session(server.ctx)
    page = await login(browser, server.url, "rev1")
    release = await hold(page, "**/api/me")
    await page.goto(f"{server.url}/review?salesperson=nobody", wait_until="domcontentloaded")
    fields = ("#f-status", "#f-code", "#f-product", "#f-salesperson", "#f-from", "#f-to")
    await check_disabled_then_enabled(
        page, fields, release, expect(page.locator("#empty")).to_be_visible()
    )
    await expect(page.locator("#f-salesperson")).to_have_value("nobody")
    await page.fill("#f-salesperson", "")
    await page.click("#apply")
    await expect(page.locator("#rows tr")).to_have_count(1)
    no_page_errors(page)


async def test_session_player_controls_wait_for_the_player(
    server: RunningServer, browser: Browser
) -> None:
    """播放 and 倍速 were enabled in the HTML; 播放 had no handler until the login check and
    then threw (no player) until the session loaded, and a speed chosen then was not the
    player's. Failed on the old page: both enabled while the session's load was held."""
    built = await build_session(server.ctx)
    page = await login(browser, server.url, "rev1")
    release = await hold(page, f"**/api/review/sessions/{built.id}")
    await page.goto(f"{server.url}/review/session/{built.id}", wait_until="domcontentloaded")
    await check_disabled_then_enabled(
        page,
        ("#play", "#speed"),
        release,
        expect(page.locator("#panes video")).to_have_count(2),
    )
    await page.select_option("#speed", "2")
    rates = await page.eval_on_selector_all("#panes video", "vs => vs.map(v => v.playbackRate)")
    assert rates == [2, 2]
    no_page_errors(page)


async def test_decision_form_waits_for_the_session(server: RunningServer, browser: Browser) -> None:
    """The decision form (通过 / 不通过 and 提交结论) was shown and enabled once the login check
    passed, before the session's recordings and findings were on the page: a reviewer could
    decide on a session not yet shown. Failed on the old page: the form visible while the
    session's load was held."""
    built = await build_session(server.ctx)
    page = await login(browser, server.url, "rev1")
    release = await hold(page, f"**/api/review/sessions/{built.id}")
    await page.goto(f"{server.url}/review/session/{built.id}", wait_until="domcontentloaded")
    try:
        await expect(page.locator("#submit")).to_be_enabled()  # the login check is done
        await expect(page.locator("#decision-form")).to_be_hidden()
    finally:
        release()
    await expect(page.locator(".finding").first).to_be_visible()
    await expect(page.locator("#decision-form")).to_be_visible()
    no_page_errors(page)
