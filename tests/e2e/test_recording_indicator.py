"""Both parties see that they are being recorded, and the salesperson can always end.

Two Chromiums in a real call: the salesperson at 1280x900, the customer on a 390x844 phone.
Each page shows a recording indicator on the picture: "尚未开始录制" before the call,
"录制中 m:ss" (server time) while its media reaches the server, "录制已暂停" together with the
"连接中断，录制已暂停" banner while the page cannot reach the server, and "录制中" again
once it can. 结束录制 is inside the salesperson's window without scrolling, before the script
starts and after advancing through it. Viewport screenshots go to ``$KESU_E2E_SHOTS``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fake_media import FakeDevice
from flows import (
    UI_TIMEOUT_MS,
    Shots,
    customer_consents_and_checks,
    open_call_pages,
    salesperson_creates_session,
    salesperson_ends_call,
    salesperson_starts_call,
)
from kesu_e2e import KesuServer
from playwright.async_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

WIDE = {"width": 1280, "height": 900}
ON = re.compile(r"^录制中 \d+:\d\d$")


async def assert_unscrolled_and_visible(page: Page, selector: str) -> None:
    """The element lies wholly inside the window while the page is scrolled to the top."""
    await page.evaluate("window.scrollTo(0, 0)")
    await expect(page.locator(selector)).to_be_in_viewport(ratio=1.0)
    box = await page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, h: innerHeight, y: scrollY}; }""",
        selector,
    )
    assert box["y"] == 0 and 0 <= box["top"] and box["bottom"] <= box["h"], box


async def viewport_shot(page: Page, directory: Path, name: str) -> None:
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(directory / f"{name}.png"))


async def test_recording_indicator_and_end_button_in_view(
    kesu_server: KesuServer,
    browsers: dict[str, Browser],
    fake_devices: dict[str, FakeDevice],
    screenshot_dir: Path,
) -> None:
    pages = await open_call_pages(browsers, WIDE)
    sales, customer = pages.sales, pages.customer
    url = await salesperson_creates_session(sales, kesu_server, Shots(None))
    await sales.click("#enter-call")
    indicator = sales.locator("#rec-indicator")
    label = indicator.locator(".rec-label")  # what is shown (the spoken text is apart)
    await expect(indicator).to_have_attribute("data-rec", "waiting")
    await expect(label).to_have_text("尚未开始录制")
    await assert_unscrolled_and_visible(sales, "#end-call")

    await salesperson_starts_call(sales)
    await expect(indicator).to_have_attribute("data-rec", "on")
    await expect(label).to_have_text(ON, timeout=UI_TIMEOUT_MS)  # after a state poll
    await assert_unscrolled_and_visible(sales, "#rec-indicator")

    await customer_consents_and_checks(customer, url, Shots(None))
    await customer.click("#enter-call")
    await expect(customer.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    on_phone = customer.locator("#rec-indicator")
    await expect(on_phone.locator(".rec-label")).to_have_text(ON, timeout=UI_TIMEOUT_MS)
    await assert_unscrolled_and_visible(customer, "#rec-indicator")
    await expect(sales.locator("#customer-state")).to_have_text("客户已在线", timeout=UI_TIMEOUT_MS)

    # The script moves on; the list of steps grows below, the end button stays in view.
    steps = await sales.evaluate("document.querySelectorAll('#node-list li').length")
    assert steps >= 8, steps
    moves: list[str] = []
    sales.on(
        "request", lambda r: moves.append(r.post_data or "") if r.url.endswith("/node") else None
    )
    try:
        for step in range(steps - 1):
            await sales.click("#next-node")
            await expect(sales.locator("#node-pos")).to_contain_text(
                f"第 {step + 1} /", timeout=UI_TIMEOUT_MS
            )
            # At a speaking pace: the customer's page shows the step before the next click.
            text = (await sales.locator("#node-text").text_content() or "").strip()
            await expect(customer.locator("#node-text")).to_have_text(text, timeout=UI_TIMEOUT_MS)
            await sales.wait_for_timeout(500)
    finally:
        print("node moves posted:", moves)
    await assert_unscrolled_and_visible(sales, "#end-call")
    await assert_unscrolled_and_visible(sales, "#rec-indicator")
    # The step list scrolls inside its card and follows the current step.
    inside = await sales.evaluate(
        """() => { const l = document.querySelector('#node-list').getBoundingClientRect();
            const c = document.querySelector('#node-list li.current').getBoundingClientRect();
            return c.top >= l.top - 1 && c.bottom <= l.bottom + 1; }"""
    )
    assert inside, "the current step is scrolled out of the list"
    # The server's clock drives the time shown: it has advanced since the call began.
    await sales.wait_for_timeout(2500)
    # (On a saturated machine a heartbeat may time out and show "paused" for a moment.)
    await expect(label).to_have_text(ON, timeout=UI_TIMEOUT_MS)
    shown = (await label.inner_text()).split()[-1]
    minutes, seconds = shown.split(":")
    assert int(minutes) * 60 + int(seconds) >= 2, shown
    await viewport_shot(sales, screenshot_dir, "call-salesperson-recording-1280x900")
    await viewport_shot(customer, screenshot_dir, "call-customer-recording-390x844")

    # The customer's page loses the server: paused, like the banner; then recording again.
    await pages.customer_ctx.set_offline(True)
    await expect(on_phone).to_have_attribute("data-rec", "paused", timeout=UI_TIMEOUT_MS)
    await expect(on_phone.locator(".rec-label")).to_have_text("录制已暂停")
    await expect(on_phone.get_by_role("status")).to_have_text("连接中断，录制已暂停")
    await expect(customer.locator("#rtc-banner")).to_be_visible()
    await assert_unscrolled_and_visible(customer, "#rec-indicator")
    await viewport_shot(customer, screenshot_dir, "call-customer-paused-390x844")
    await pages.customer_ctx.set_offline(False)
    await expect(on_phone).to_have_attribute("data-rec", "on", timeout=UI_TIMEOUT_MS)
    await expect(customer.locator("#rtc-banner")).to_be_hidden()

    await salesperson_ends_call(sales, customer)
    await pages.close()
