"""Offers the pages never make themselves but a browser or an in-app wrapper might: Chromium
asked for simulcast (three ``a=rid`` layers) and with audio RED preferred over Opus. The
server answers without simulcast and with Opus only; the real browser then sends one video
stream and plain Opus, and the recording decodes. And an offer the room cannot take (H264
only, after the salesperson's VP8 fixed the room's codec) is refused with the sentence the
customer's page shows (docs/browsers.md, "Which offers the server takes"; the same kinds of
offers are replayed in tests/test_sdp_browsers.py).
"""

from __future__ import annotations

import asyncio

import pytest
from flows import (
    MEDIA,
    UI_TIMEOUT_MS,
    Shots,
    customer_consents_and_checks,
    open_call_pages,
    salesperson_creates_session,
    salesperson_starts_call,
)
from kesu_e2e import KesuServer
from playwright.async_api import Browser, expect
from test_phone_browsers import H264_ONLY, create_session

from server.rtc.probe import probe_recording

pytestmark = pytest.mark.e2e

# The page's addTrack(camera) becomes a simulcast transceiver; RED is put first for audio.
SIMULCAST_RED_FIRST = """(() => {
  const addTrack = RTCPeerConnection.prototype.addTrack;
  RTCPeerConnection.prototype.addTrack = function (track, ...streams) {
    if (track.kind !== "video") return addTrack.call(this, track, ...streams);
    return this.addTransceiver(track, {
      direction: "sendrecv",
      streams,
      sendEncodings: [
        { rid: "h" },
        { rid: "m", scaleResolutionDownBy: 2 },
        { rid: "l", scaleResolutionDownBy: 4 },
      ],
    }).sender;
  };
  const createOffer = RTCPeerConnection.prototype.createOffer;
  RTCPeerConnection.prototype.createOffer = function (...args) {
    const codecs = RTCRtpReceiver.getCapabilities("audio").codecs;
    const red = codecs.filter((c) => /red/i.test(c.mimeType));
    const rest = codecs.filter((c) => !/red/i.test(c.mimeType));
    for (const t of this.getTransceivers()) {
      if (t.receiver.track.kind === "audio") t.setCodecPreferences([...red, ...rest]);
    }
    return createOffer.apply(this, args);
  };
})();"""


async def test_simulcast_and_red_first_offer_is_recorded(
    kesu_server: KesuServer, browsers: dict[str, Browser]
) -> None:
    browser = browsers["customer"]
    url = await create_session(kesu_server, browser, "call")
    context = await browser.new_context(locale="zh-CN", permissions=MEDIA)
    await context.add_init_script(script=SIMULCAST_RED_FIRST)
    page = await context.new_page()
    await page.goto(url)
    await page.check("#consent-check", timeout=UI_TIMEOUT_MS)
    await page.click("#consent-button")
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=UI_TIMEOUT_MS)
    await page.click("#enter-call")
    await expect(page.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#rec-indicator")).to_have_attribute("data-rec", "on")
    local = await page.evaluate("() => window.kesuCall.pc.localDescription.sdp")
    remote = await page.evaluate("() => window.kesuCall.pc.remoteDescription.sdp")
    audio_offer = local.split("m=audio", 1)[1].split("\r\n", 1)[0]
    red_pt = local.split(" red/48000/2", 1)[0].rsplit("a=rtpmap:", 1)[1]
    assert audio_offer.split(" ")[3] == red_pt, audio_offer  # RED listed first
    assert "a=simulcast:send h;m;l" in local
    assert "a=simulcast" not in remote and "red/" not in remote.split("m=video", 1)[0]
    await page.wait_for_timeout(3000)
    await page.click("#leave")
    await page.click("#ask-yes")  # asked in the page (ask.js)
    await expect(page.locator("#view-left")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await context.close()

    files = sorted((kesu_server.data_dir / "sessions").glob("*/customer-000.mkv"))
    assert len(files) == 1, files
    for _ in range(100):  # the segment is finalised once the server has handled the leave
        if '"finished"' in (files[0].parent / "metadata.json").read_text("utf-8"):
            break
        await asyncio.sleep(0.1)
    probe = await asyncio.to_thread(probe_recording, files[0])
    assert (probe.video_codec, probe.audio_codec) == ("vp8", "opus"), probe
    assert probe.video_frames > 30 and probe.decode_errors == 0, probe
    assert probe.audio_rms > 0.01, probe  # the fake microphone's tone, not silence


async def test_an_offer_the_room_cannot_take_is_explained_on_the_page(
    kesu_server: KesuServer, browsers: dict[str, Browser]
) -> None:
    pages = await open_call_pages(browsers)
    sales, customer = pages.sales, pages.customer
    await pages.customer_ctx.add_init_script(script=H264_ONLY)
    url = await salesperson_creates_session(sales, kesu_server, Shots(None))
    await sales.click("#enter-call")
    await salesperson_starts_call(sales)  # Chromium offers VP8 first: the room is VP8
    await customer_consents_and_checks(customer, url, Shots(None))
    async with customer.expect_response(lambda r: r.url.endswith("/offer")) as answer:
        await customer.click("#enter-call")
    response = await answer.value
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "codec_unsupported"
    error = customer.locator("#page-error")
    await expect(error).to_contain_text("您的浏览器不支持所需的音视频格式", timeout=UI_TIMEOUT_MS)
    await expect(customer.locator("#rtc-state")).not_to_have_text("已连接")
    # Refused, not half-joined: the salesperson's call goes on, the customer is not online.
    await expect(sales.locator("#rtc-state")).to_have_text("已连接")
    await expect(sales.locator("#customer-state")).not_to_have_text("客户已在线")
    await pages.close()
