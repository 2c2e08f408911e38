"""A customer who leaves the page mid-recording (another app, the home screen, the screen
locked), in Debian Chromium on loopback with a real call to the in-process server
(docs/browsers.md). Phones pause the camera of a page that is not in front; the page said
nothing. Now, back in front, it asks the customer to keep it there (知道了 hides it), and
only while recording. Headless Chromium never hides a page: its visibility is set and
visibilitychange sent, which is what the page sees when the phone puts it away."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import RunningServer
from tests.test_pages_keyboard import link
from tests.test_selfservice_taps import browser as browser  # the fixtures
from tests.test_selfservice_taps import taps_template as taps_template

pytestmark = pytest.mark.e2e

VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => state === "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


async def away_and_back(page: Page) -> None:
    await page.evaluate(VISIBILITY, "hidden")
    await page.evaluate(VISIBILITY, "visible")


async def test_back_in_front_mid_recording_the_customer_is_told(
    server: RunningServer, browser: Browser, client_factory: Any, taps_template: None
) -> None:
    ctx = await browser.new_context(locale="zh-CN", permissions=["camera", "microphone"])
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    notice = page.locator("#away")

    token = await link(client_factory, "self_service", "taps")
    await page.goto(f"{server.url}/self/{token}")
    await expect(page.locator("#view-intro")).to_be_visible()
    await away_and_back(page)  # not recording yet: nothing to say
    await page.check("#ss-consent")
    await page.click("#ss-start")
    await expect(page.locator("#step-title")).to_have_text("第一步", timeout=20_000)
    await page.wait_for_function("() => window.kesuCall && window.kesuCall.connectedAt > 0")
    await expect(notice).to_be_hidden()
    await away_and_back(page)
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("请保持本页面在前台")
    await page.click("#away-ok")
    await expect(notice).to_be_hidden()

    token = await link(client_factory, "two_party", "taps")
    await page.goto(f"{server.url}/join/{token}")
    await page.check("#consent-check")
    await page.click("#consent-button")
    await page.click("#enter-call", timeout=20_000)
    await page.wait_for_function(
        "() => window.kesuCall && window.kesuCall.connectedAt > 0", timeout=20_000
    )
    await page.click("[data-lang-switch]")  # in English too
    await away_and_back(page)
    await expect(notice).to_contain_text("Keep this page in front")
    await page.click("#away-ok")
    await expect(notice).to_be_hidden()
    assert errors == []
    await ctx.close()
