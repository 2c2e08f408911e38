"""Reduced motion (the system's "reduce motion" / "remove animations"), in Debian Chromium on
loopback: the salesperson's page scrolled to the new customer link with a glide, which
Chromium does not drop by itself for such users (docs/browsers.md, "Small screens and
zoom"). The customer pages' one animation (the recording dot's blink) stops in CSS."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser import log_in
from tests.conftest import PASSWORD, RunningServer
from tests.test_pages_slow_network import browser as browser  # the fixture
from tests.test_sales_form_products import fill_main

pytestmark = pytest.mark.e2e

# Record how the page asks to scroll.
SCROLLS = """(() => {
  window.kesuScrolls = [];
  const scroll = Element.prototype.scrollIntoView;
  Element.prototype.scrollIntoView = function (options) {
    window.kesuScrolls.push(JSON.stringify(options));
    return scroll.call(this, options);
  };
})();"""


async def test_no_smooth_scroll_when_motion_is_reduced(
    server: RunningServer, browser: Browser
) -> None:
    ctx = await browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 600}, reduced_motion="reduce"
    )
    await ctx.add_init_script(SCROLLS)
    page = await ctx.new_page()
    await log_in(page, server.url, "sales1", PASSWORD)
    await fill_main(page)
    await page.click("#create-submit")
    await expect(page.locator("#link-panel")).to_be_visible()
    scrolls: list[str] = await page.evaluate("window.kesuScrolls")
    assert scrolls and not any("smooth" in s for s in scrolls), scrolls
    await ctx.close()
