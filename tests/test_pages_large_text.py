"""The customer's pages for an older customer: a 320 px wide phone (iPhone SE 1st gen, or a
640 px screen at 200 % zoom) whose default font is 32 px (the system's text size at 200 %,
set through CDP `Page.setFontSizes`), in Debian Chromium with a real call to the in-process
server on loopback (docs/browsers.md, "Small screens and zoom"). In every view of the join
page and the self-service page, in Chinese and English, the element boxes are measured: no
sideways scroll, no control or text running out of its box or off the screen, no two
controls on top of each other or over a text, and every control at least 44x44 CSS px."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.conftest import RunningServer
from tests.join_links import self_service_link
from tests.test_pages_call_phone import in_call
from tests.test_pages_slow_network import new_link
from tests.test_selfservice_taps import browser as browser  # the fixtures
from tests.test_selfservice_taps import taps_template as taps_template

pytestmark = pytest.mark.e2e

LARGE_TEXT_PX = 32  # 200 % of the browser's 16 px
NARROW: ViewportSize = {"width": 320, "height": 568}

# Every problem found in the view as shown, as "what: where" strings. Measured at the page's
# bottom, where the buttons that stay at the window's bottom (position: sticky) are in their
# own place rather than over the text that scrolls under them.
BOXES = """() => {
  window.scrollTo(0, document.documentElement.scrollHeight);
  const problems = [];
  const W = window.innerWidth;
  // A question asked in the page (ask.js) covers the page: only what is in it counts then.
  const ask = document.querySelector("#ask");
  const shown = (n) => n.getClientRects().length > 0 && getComputedStyle(n).visibility !== "hidden"
    && !n.closest("[hidden]") && (!ask || ask.contains(n));
  const name = (n) => `${n.tagName.toLowerCase()}#${n.id || ""}.${n.getAttribute("data-i18n") || ""}`;
  const doc = document.documentElement;
  if (doc.scrollWidth > W) problems.push(`sideways scroll ${doc.scrollWidth - W}px`);
  const controls = [...document.querySelectorAll(
    "button, a.btn, label.check, select, input:not([type=checkbox]):not([type=hidden])"
  )].filter(shown);
  const boxes = controls.map((n) => [n, n.getBoundingClientRect()]);
  for (const [n, r] of boxes) {
    if (r.width < 44 || r.height < 44) problems.push(`small ${Math.round(r.width)}x${Math.round(r.height)}: ${name(n)}`);
    if (r.left < -0.5 || r.right > W + 0.5) problems.push(`off screen ${Math.round(r.left)}..${Math.round(r.right)}: ${name(n)}`);
    if (n.scrollWidth > n.clientWidth + 1) problems.push(`text cut ${n.scrollWidth}>${n.clientWidth}: ${name(n)}`);
  }
  const meets = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      if (meets(ra, rb)) problems.push(`controls overlap: ${name(a)} / ${name(b)}`);
    }
  }
  // What lies on the picture (its label, the recording indicator) must not cover each other
  // or a control.
  const marks = [...document.querySelectorAll(".stage .label, .rec-indicator")].filter(shown);
  for (let i = 0; i < marks.length; i++) {
    const rm = marks[i].getBoundingClientRect();
    for (const other of marks.slice(i + 1)) {
      if (meets(rm, other.getBoundingClientRect())) problems.push(`marks overlap: ${name(marks[i])} / ${name(other)} ${JSON.stringify([rm, other.getBoundingClientRect()])}`);
    }
    for (const [n, r] of boxes) {
      if (meets(r, rm)) problems.push(`control over a mark: ${name(n)} / ${name(marks[i])}`);
    }
  }
  const texts = [...document.querySelectorAll("h1, h2, p, li, .big-text, .caller")].filter(
    (n) => shown(n) && n.textContent.trim()
  );
  for (const t of texts) {
    const rt = t.getBoundingClientRect();
    if (rt.left < -0.5 || rt.right > W + 0.5) problems.push(`text off screen: ${name(t)}`);
    if (t.scrollWidth > t.clientWidth + 1 && getComputedStyle(t).overflowX !== "visible")
      problems.push(`text cut ${t.scrollWidth}>${t.clientWidth}: ${name(t)}`);
    for (const [n, r] of boxes) {
      if (n.contains(t) || t.contains(n)) continue;
      if (meets(r, rt)) problems.push(`control over text: ${name(n)} / ${name(t)}`);
    }
  }
  window.scrollTo(0, 0);
  return problems;
}"""


async def large_text_phone(browser: Browser) -> tuple[Page, list[str]]:
    ctx = await browser.new_context(
        locale="zh-CN",
        viewport=NARROW,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        permissions=["camera", "microphone"],
    )
    page = await ctx.new_page()
    cdp = await ctx.new_cdp_session(page)
    await cdp.send("Page.setFontSizes", {"fontSizes": {"standard": LARGE_TEXT_PX, "fixed": 26}})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


async def measured(page: Page, where: str, found: list[str], both: bool = True) -> None:
    """The view's problems in Chinese, then English (back in Chinese afterwards)."""
    for lang in ("zh-CN", "en") if both else ("zh-CN",):
        found += [f"{where} {lang}: {p}" for p in await page.evaluate(BOXES)]
        if both:
            await page.click("[data-lang-switch]")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


async def test_the_join_page_at_320px_with_200_percent_text(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    _sid, token = await new_link(client_factory)
    page, errors = await large_text_phone(browser)
    found: list[str] = []
    await page.goto(f"{server.url}/join/{token}")
    await expect(page.locator("#view-consent")).to_be_visible()
    assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 32
    await measured(page, "consent", found)
    await page.click("#decline-button")
    await measured(page, "declined", found)
    await page.click("#undecline")
    await page.goto(f"{server.url}/join/{token}")  # in_call consents and enters the call
    await in_call(page, server, token)
    await expect(page.locator("#rtc-state")).to_have_text("已连接")
    await measured(page, "call", found)
    await page.click("#leave")
    await expect(page.locator("#ask-yes")).to_be_visible()
    await measured(page, "leave?", found, both=False)  # (the switch is behind the question)
    await page.click("#ask-yes")
    await expect(page.locator("#view-left")).to_be_visible()
    await measured(page, "left", found)
    assert found == [], "\n".join(found)
    assert errors == []


async def test_the_self_service_page_at_320px_with_200_percent_text(
    server: RunningServer, browser: Browser, client_factory: Any, taps_template: None
) -> None:
    sales = await client_factory("sales1")
    _sid, token = await self_service_link(sales, "taps")
    page, errors = await large_text_phone(browser)
    found: list[str] = []
    await page.goto(f"{server.url}/self/{token}")
    await expect(page.locator("#view-intro")).to_be_visible()
    await measured(page, "intro", found)
    await page.check("#ss-consent")
    await page.click("#ss-start")
    await expect(page.locator("#step-title")).to_have_text("第一步", timeout=20_000)
    for step in ("第二步", "第三步"):
        await expect(page.locator("#ss-next")).to_be_enabled()
        await measured(page, f"step before {step}", found)
        await page.click("#ss-next")
        await expect(page.locator("#step-title")).to_have_text(step)
    await expect(page.locator("#ss-next")).to_be_enabled()
    await page.click("#ss-next")
    await expect(page.locator("#ss-capture")).to_be_visible()
    await measured(page, "id card", found)
    await page.evaluate("window.kesuCall.close({ notify: true })")
    assert found == [], "\n".join(found)
    assert errors == []
