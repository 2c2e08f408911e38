"""Every page in a window 640 px wide, as a 1280 px laptop screen at 200 % zoom (an older
reviewer or salesperson), in Debian Chromium on loopback (docs/browsers.md): nothing makes
the page scroll sideways. Before, the review queue's table did (80 px): now the table
scrolls in its own box."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import RunningServer
from tests.test_pages_slow_network import all_pages, contexts
from tests.test_pages_slow_network import browser as browser  # the fixture

pytestmark = pytest.mark.e2e


async def test_no_page_scrolls_sideways_at_200_percent(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    pages = await all_pages(server, client_factory)
    ctxs = await contexts(browser, server.url)
    sideways: dict[str, int] = {}
    for p in pages:
        page = await ctxs[p.user].new_page()
        await page.set_viewport_size({"width": 640, "height": 400})
        await page.goto(server.url + p.path)
        await expect(page.locator(f"html[data-js~='{p.script}']")).to_be_attached()
        if p.script == "review.js":
            await expect(page.locator("#rows tr")).to_have_count(1)  # the queue's one session
        over: int = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
        if over > 0:
            sideways[p.path] = over
        await page.close()
    for ctx in ctxs.values():
        await ctx.close()
    assert sideways == {}
