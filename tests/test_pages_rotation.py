"""A phone turned sideways mid-call, in Debian Chromium on loopback with a real call to the
in-process server (docs/browsers.md): at 740x360 the picture, the current step's text and the
call's buttons stay on the screen without scrolling, and nothing overflows sideways. Before,
the join page's picture kept its 4:3 shape across the whole width (555 px high on a 360 px
screen): the step's text and 离开通话 were below the fold."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.conftest import RunningServer
from tests.test_pages_keyboard import link
from tests.test_selfservice_taps import browser as browser  # the fixtures
from tests.test_selfservice_taps import taps_template as taps_template

pytestmark = pytest.mark.e2e

PORTRAIT = ViewportSize(width=360, height=740)
LANDSCAPE = ViewportSize(width=740, height=360)

OFF_SCREEN = """(selectors) => {
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth) out.push("sideways scroll");
  for (const s of selectors) {
    const r = document.querySelector(s).getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight + 1 || r.right > window.innerWidth + 1) {
      out.push(`${s} ${Math.round(r.top)}..${Math.round(r.bottom)} of ${window.innerHeight}`);
    }
  }
  return out;
}"""


async def off_screen(page: Page, selectors: list[str]) -> list[str]:
    await page.evaluate("window.scrollTo(0, 0)")
    found: list[str] = await page.evaluate(OFF_SCREEN, selectors)
    return found


async def test_a_phone_turned_sideways_mid_call(
    server: RunningServer, browser: Browser, client_factory: Any, taps_template: None
) -> None:
    ctx = await browser.new_context(
        locale="zh-CN",
        viewport=PORTRAIT,
        is_mobile=True,
        has_touch=True,
        permissions=["camera", "microphone"],
    )
    page = await ctx.new_page()
    problems: dict[str, list[str]] = {}

    token = await link(client_factory, "two_party", "taps")
    await page.goto(f"{server.url}/join/{token}")
    await page.check("#consent-check")
    await page.click("#consent-button")
    await page.click("#enter-call", timeout=20_000)
    await expect(page.locator("#view-call")).to_be_visible()
    call = [".stage", "#node-text", "#leave"]
    problems["join portrait"] = await off_screen(page, call)
    await page.set_viewport_size(LANDSCAPE)
    problems["join landscape"] = await off_screen(page, call)

    await page.set_viewport_size(PORTRAIT)
    token = await link(client_factory, "self_service", "taps")
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    await expect(page.locator("#ss-next")).to_be_visible(timeout=20_000)
    step = [".ss-stage", "#step-title", "#step-text", "#ss-next"]
    problems["self portrait"] = await off_screen(page, step)
    await page.set_viewport_size(LANDSCAPE)
    problems["self landscape"] = await off_screen(page, step)
    await ctx.close()
    assert {where: found for where, found in problems.items() if found} == {}
