"""The customer pages by keyboard alone (a screen reader's user moves the same way), in Debian
Chromium on loopback (docs/browsers.md): every step is reached with Tab, Space and Enter, and
when a pressed button goes away with its view, the focus goes to the new view's heading (a
screen reader reads where the customer is, Tab goes on from there) instead of falling to the
top of the page, as it did."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import RunningServer, new_session_body
from tests.test_selfservice_taps import browser as browser  # the fixtures
from tests.test_selfservice_taps import taps_template as taps_template

pytestmark = pytest.mark.e2e


async def tab_to(page: Page, selector: str) -> None:
    """Press Tab until selector has the focus (it must be reached within a page's controls)."""
    target = page.locator(selector)
    for _ in range(12):
        if await target.evaluate("(n) => n === document.activeElement"):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reached by Tab")


async def link(client_factory: Any, mode: str, template: str) -> str:
    sales = await client_factory("sales1")
    body = new_session_body(mode=mode, template_id=template)
    status, created = await sales.post("/api/sessions", json=body)
    assert status == 201, created
    status, answer = await sales.post(f"/api/sessions/{created['session']['id']}/link")
    assert status == 200, answer
    return str(answer["token"])


async def test_the_customer_pages_by_keyboard(
    server: RunningServer, browser: Browser, client_factory: Any, taps_template: None
) -> None:
    ctx = await browser.new_context(locale="zh-CN", permissions=["camera", "microphone"])
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # The join page: consent, then the device check, then the call.
    token = await link(client_factory, "two_party", "taps")
    await page.goto(f"{server.url}/join/{token}")
    await expect(page.locator("#view-consent")).to_be_visible()
    await tab_to(page, "#consent-check")
    await page.keyboard.press("Space")
    await tab_to(page, "#consent-button")
    await page.keyboard.press("Enter")
    await expect(page.locator("#view-check h1")).to_be_focused()
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await tab_to(page, "#enter-call")
    await page.keyboard.press("Enter")
    await expect(page.locator("#view-call")).to_be_focused()
    await tab_to(page, "#leave")

    # The self-service page: consent and start, then the first step.
    token = await link(client_factory, "self_service", "taps")
    await page.goto(f"{server.url}/self/{token}")
    await expect(page.locator("#view-intro")).to_be_visible()
    await tab_to(page, "#ss-consent")
    await page.keyboard.press("Space")
    await tab_to(page, "#ss-start")
    await page.keyboard.press("Enter")
    await expect(page.locator("#step-title")).to_be_focused()
    await expect(page.locator("#step-title")).to_have_text("第一步", timeout=20_000)
    await expect(page.locator("#ss-next")).to_be_visible()
    await expect(page.locator("#ss-next")).to_be_enabled()  # taken 0.5 s after it shows
    await tab_to(page, "#ss-next")
    await page.keyboard.press("Enter")
    await expect(page.locator("#step-title")).to_have_text("第二步")
    await expect(page.locator("#ss-next")).to_be_focused()
    assert errors == []
    await ctx.close()
