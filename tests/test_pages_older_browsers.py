"""Browser APIs the pages use that some promised browsers lack (docs/browsers.md, "What the
pages need": iOS 14.3, desktop Safari 14, Chromium 80). Only Debian Chromium runs here, so
each API is taken away in Chromium before the page's modules run, as the older browser would
lack it, and the page must still do its job without a page error. Found by the compatibility
audit (eslint-plugin-compat and @mdn/browser-compat-data over web/static/js)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.browser import browser_boxes
from tests.conftest import RunningServer
from tests.test_pages_slow_network import browser as browser  # the fixture (fake media)

pytestmark = pytest.mark.e2e


async def test_mic_meter_without_float_samples(server: RunningServer, browser: Browser) -> None:
    """iOS 14.0-14.4 (webkitAudioContext) has no AnalyserNode.getFloatTimeDomainData: the
    device check's meter threw 20 times a second and never moved."""
    ctx = await browser.new_context(permissions=["camera", "microphone"])
    await ctx.add_init_script("delete AnalyserNode.prototype.getFloatTimeDomainData;")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{server.url}/login")
    peak = await page.evaluate(
        """async () => {
          const { startLevelMeter } = await import('/static/js/devicecheck.js');
          const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
          let peak = 0;
          const stop = startLevelMeter(stream, (level) => { peak = Math.max(peak, level); });
          // Chromium's fake microphone beeps about once a second.
          for (let i = 0; i < 100 && peak === 0; i++) await new Promise((r) => setTimeout(r, 100));
          stop();
          return peak;
        }"""
    )
    assert errors == []
    assert peak > 0
    await ctx.close()


async def test_ending_with_missing_items_without_dialog_element(
    server: RunningServer, browser: Browser
) -> None:
    """Desktop Safari before 15.4 has no <dialog> showModal(): the list of missing items
    threw and 结束录制 did nothing. The question is asked in the page (ask.js), not with
    window.confirm, which an app's WebView may answer no without showing it."""
    ctx = await browser.new_context(locale="zh-CN")
    await ctx.add_init_script(
        "delete HTMLDialogElement.prototype.showModal; window.confirm = () => false;"
    )
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    boxes = browser_boxes(page)  # the browser's own: none may be shown
    await page.goto(f"{server.url}/login")
    missing: list[dict[str, Any]] = [
        {"node": "reminder", "title": "犹豫期提示", "why": "not_covered"}
    ]
    await page.evaluate(
        """(missing) => import('/static/js/live.js').then(({ confirmEnd }) => {
          window.answers = [];
          const ask = () => confirmEnd(missing).then((a) => window.answers.push(a));
          ask().then(() => ask());
        })""",
        missing,
    )
    ask = page.locator("#ask")
    await expect(ask).to_contain_text("以下必需内容尚未完成")
    await expect(ask).to_contain_text("犹豫期提示")
    await expect(page.locator("#ask-no")).to_be_focused()
    await page.click("#ask-yes")  # 仍要结束
    await expect(ask).to_contain_text("犹豫期提示")
    await page.click("#ask-no")  # 返回继续
    await expect(ask).to_have_count(0)
    assert await page.evaluate("window.answers") == [True, False]  # ends when yes, stays when no
    assert boxes == []
    assert errors == []
    await ctx.close()


async def test_language_switch_without_storage(server: RunningServer, browser: Browser) -> None:
    """Storage blocked (cookies off; an Android WebView whose app left DOM storage off, as is
    WebView's default): every access to localStorage throws. The switch to English did
    nothing, since the language was read back from storage only."""
    ctx = await browser.new_context(locale="zh-CN")
    await ctx.add_init_script(
        """Object.defineProperty(window, "localStorage", {
          configurable: true,
          get() { throw new DOMException("The operation is insecure.", "SecurityError"); },
        });"""
    )
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{server.url}/login")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await page.click("[data-lang-switch]")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("[data-lang-switch]")).to_have_text("中文")
    await page.click("[data-lang-switch]")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert errors == []
    await ctx.close()
