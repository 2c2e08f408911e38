"""The customer's pages as phones see them, in Debian Chromium (loopback only).

- A 360x740 portrait phone (touch, Android user agent) whose user asked for large text
  (default font 22 px instead of 16, set through CDP): the consent page, the device check and
  the self-service intro, in Chinese and English, have no horizontal scroll, every button is
  at least 44 px each way, and the text grows with the user's setting.
- Camera/microphone refused (getUserMedia rejects NotAllowedError): the device check says so
  and how to allow it, not just "异常".
- WeChat's in-app browser without getUserMedia: the page says at once (before consent when
  it opens there) how to open the link in the phone's browser.
- A Safari-like customer that offers only H264 (setCodecPreferences) on a slow, high-latency
  network (CDP emulation of DevTools' "Slow 3G" for the page's HTTP: signalling, heartbeat,
  device check; WebRTC media is not throttled by it) joins without a false "connection lost",
  is recorded, and the H264 recording decodes with PyAV.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from fake_media import FakeDevice
from flows import MEDIA, UI_TIMEOUT_MS
from kesu_e2e import SALES_USER, KesuServer
from playwright.async_api import Browser, BrowserContext, Page, expect

from inspection.idnumber import make_id
from server.rtc.probe import probe_recording
from tests.browser import log_in

pytestmark = pytest.mark.e2e

PHONE_360 = {"width": 360, "height": 740}
ANDROID_UA = (
    "Mozilla/5.0 (Linux; Android 12; SM-A515F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
WECHAT_UA = ANDROID_UA + " MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 NetType/4G"
LARGE_TEXT_PX = 22  # the browser's default font size, 16 unless the user changed it

DENY_MEDIA = """(() => {
  navigator.mediaDevices.getUserMedia = () =>
    Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
})();"""
NO_MEDIA = "(() => { Object.defineProperty(navigator, 'mediaDevices', { value: undefined }); })();"
# Offer video in H264 only, as a Safari that prefers it might (RTX kept for retransmissions).
H264_ONLY = """(() => {
  const createOffer = RTCPeerConnection.prototype.createOffer;
  RTCPeerConnection.prototype.createOffer = function (...args) {
    const codecs = RTCRtpReceiver.getCapabilities("video").codecs
      .filter((c) => /h264|rtx/i.test(c.mimeType));
    for (const t of this.getTransceivers()) {
      if (t.receiver.track.kind === "video") t.setCodecPreferences(codecs);
    }
    return createOffer.apply(this, args);
  };
})();"""

# Whatever breaks a phone layout: horizontal overflow, small tap targets, small text.
LAYOUT = """() => {
  const doc = document.documentElement;
  const out = {
    overflow: doc.scrollWidth - window.innerWidth,
    rootPx: parseFloat(getComputedStyle(doc).fontSize),
    small: [], tiny: [],
  };
  const visible = (n) => n.getClientRects().length > 0 && getComputedStyle(n).visibility !== "hidden";
  for (const n of document.querySelectorAll("button, a.btn, label.check, select, input:not([type=checkbox])")) {
    if (!visible(n)) continue;
    const r = n.getBoundingClientRect();
    const name = n.id || n.getAttribute("data-i18n") || n.className || n.tagName;
    if (r.height < 44 || r.width < 44) out.small.push(`${name} ${Math.round(r.width)}x${Math.round(r.height)}`);
    if (r.left < -1 || r.right > window.innerWidth + 1) out.small.push(`${name} off screen`);
  }
  for (const n of document.querySelectorAll("main p, main li, main label, main h1, main h2, main button, header button")) {
    if (!visible(n) || !n.textContent.trim()) continue;
    const px = parseFloat(getComputedStyle(n).fontSize);
    if (px < 16) out.tiny.push(`${n.id || n.tagName} ${px}px`);
  }
  return out;
}"""


async def phone(browser: Browser, *, ua: str = ANDROID_UA, init: str | None = None) -> Page:
    """A 360x740 touch phone with large text; ``init`` runs before the pages' scripts."""
    context = await browser.new_context(
        viewport=PHONE_360,
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
        user_agent=ua,
        locale="zh-CN",
        permissions=MEDIA,
    )
    if init:
        await context.add_init_script(script=init)
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Page.setFontSizes", {"fontSizes": {"standard": LARGE_TEXT_PX, "fixed": 18}})
    return page


async def assert_phone_layout(page: Page, where: str) -> None:
    facts: dict[str, Any] = await page.evaluate(LAYOUT)
    assert facts["overflow"] <= 0, (where, facts)
    assert not facts["small"], (where, facts)
    assert not facts["tiny"], (where, facts)
    # The pages follow the user's text size (18 px at the default 16 px).
    assert facts["rootPx"] >= LARGE_TEXT_PX * 18 / 16 - 0.5, (where, facts)


async def in_both_languages(page: Page, where: str) -> None:
    """Check the layout in Chinese, switch to English, check again, switch back."""
    await assert_phone_layout(page, f"{where} zh")
    await page.click("[data-lang-switch]")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await assert_phone_layout(page, f"{where} en")
    await page.click("[data-lang-switch]")
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


async def create_session(server: KesuServer, browser: Browser, mode: str) -> str:
    """The salesperson creates a session (``call`` or ``self_service``); returns its link."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        name, password, _display, _institution = SALES_USER
        await log_in(page, server.url, name, password)
        form = page.locator("#create-form")
        await form.locator("#customer_name").fill("王芳")
        await form.locator("#customer_id_number").fill(make_id(date(1950, 5, 17), "110101", 42))
        await form.locator("#product_name").fill("安康终身寿险")
        await form.locator("#premium").fill("12000")
        if mode == "self_service":
            await form.locator("#mode").select_option("self_service")
        await page.click("#create-submit")
        await expect(page.locator("#link-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
        return await page.locator("#join-url").input_value()
    finally:
        await context.close()


async def test_phone_layout_large_text_and_refused_camera(
    kesu_server: KesuServer, browsers: dict[str, Browser]
) -> None:
    browser = browsers["customer"]
    url = await create_session(kesu_server, browser, "call")
    page = await phone(browser, init=DENY_MEDIA)
    await page.goto(url)
    await expect(page.locator("#view-consent")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#page-error")).to_be_hidden()  # this browser can record
    await in_both_languages(page, "consent")
    await page.click("#decline-button")
    await in_both_languages(page, "declined")
    await page.click("#undecline")
    await page.check("#consent-check")
    await page.click("#consent-button")
    # Refused: say so, and how to allow it; the check can be run again.
    error = page.locator("#check-error")
    await expect(error).to_contain_text("权限被拒绝", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#check-camera")).to_have_text("异常")
    await expect(page.locator("#enter-call")).to_be_disabled()
    await in_both_languages(page, "device check (refused)")
    await page.click("[data-lang-switch]")
    await expect(error).to_contain_text("refused")
    await page.context.close()

    # WeChat's in-app browser without camera access: told at once how to go on (consent was
    # given above, so the page opens on the device check, which says the same).
    page = await phone(browser, ua=WECHAT_UA, init=NO_MEDIA)
    await page.goto(url)
    await expect(page.locator("#page-error")).to_contain_text("在浏览器打开", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#check-error")).to_contain_text(
        "在浏览器打开", timeout=UI_TIMEOUT_MS
    )
    await assert_phone_layout(page, "device check in WeChat")
    await page.context.close()

    # The self-service intro on the same phone.
    self_url = await create_session(kesu_server, browser, "self_service")
    page = await phone(browser, init=DENY_MEDIA)
    await page.goto(self_url)
    await expect(page.locator("#view-intro")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await in_both_languages(page, "self-service intro")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    # Refused here too: explained on the intro, and the start button works again.
    await expect(page.locator("#page-error")).to_contain_text("权限被拒绝", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#view-intro")).to_be_visible()
    await expect(page.locator("#ss-start")).to_be_enabled()
    await assert_phone_layout(page, "self-service refused")
    await page.context.close()


async def slow_network(context: BrowserContext, page: Page) -> None:
    """About a weak 3G link for the page's HTTP (WebRTC media is not throttled by CDP)."""
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            # Chrome DevTools' "Slow 3G": 2 s round trips, about 400 kbit/s each way.
            "latency": 2000,
            "downloadThroughput": 400 * 1000 / 8,
            "uploadThroughput": 400 * 1000 / 8,
            "connectionType": "cellular3g",
        },
    )


async def test_h264_only_customer_on_a_slow_network_is_recorded(
    kesu_server: KesuServer,
    browsers: dict[str, Browser],
    fake_devices: dict[str, FakeDevice],
) -> None:
    browser = browsers["customer"]
    url = await create_session(kesu_server, browser, "call")
    context = await browser.new_context(
        viewport=PHONE_360, is_mobile=True, has_touch=True, locale="zh-CN", permissions=MEDIA
    )
    await context.add_init_script(script=H264_ONLY)
    page = await context.new_page()
    await slow_network(context, page)
    await page.goto(url)
    await page.check("#consent-check", timeout=UI_TIMEOUT_MS)
    await page.click("#consent-button")
    await expect(page.locator("#check-network")).to_contain_text("毫秒", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=UI_TIMEOUT_MS)
    await page.click("#enter-call")
    await expect(page.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#rec-indicator")).to_have_attribute("data-rec", "on")
    sdp = await page.evaluate("() => window.kesuCall.pc.localDescription.sdp")
    video = sdp.split("m=video", 1)[1]
    assert "H264/90000" in video and "VP8/90000" not in video
    # The heartbeat over the slow link never takes the call for lost (it did with a fixed
    # 1.5 s timeout: banner shown, no rejoin ever tried).
    for _ in range(10):
        await page.wait_for_timeout(500)
        assert await page.locator("#rtc-banner").is_hidden()
    assert await page.evaluate("() => window.kesuCall.beatTimeout()") > 4000
    await page.click("#leave")
    await page.click("#ask-yes")  # asked in the page (ask.js)
    await expect(page.locator("#view-left")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await context.close()

    files = sorted((kesu_server.data_dir / "sessions").glob("*/customer-000.mkv"))
    assert len(files) == 1, files
    for _ in range(100):  # the segment is finalised once the server has handled the leave
        meta = (files[0].parent / "metadata.json").read_text("utf-8")
        if '"finished"' in meta:
            break
        await asyncio.sleep(0.1)
    probe = await asyncio.to_thread(probe_recording, files[0])
    assert (probe.video_codec, probe.audio_codec) == ("h264", "opus"), probe
    assert probe.video_frames > 30 and probe.decode_errors == 0, probe
    assert probe.duration > 3.0, probe
