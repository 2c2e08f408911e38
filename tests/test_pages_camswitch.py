"""切换摄像头 on a phone that opens one camera at a time (camswitch.js), in Debian Chromium
with two fake cameras and a real call to the in-process server on loopback. Such a phone
refuses the second camera while the first is open: an init script makes Chromium do the same
(getUserMedia for a camera fails with NotReadableError while another camera track of the page
is live), and, for a phone whose other camera cannot be opened at all, refuses that camera
always. Either way the call goes on sending one camera, and the customer is told what
happened when the switch could not be made."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import RunningServer
from tests.test_pages_call_phone import FRAMES_SENT, TRACKS, in_call, phone
from tests.test_pages_call_phone import two_cameras as two_cameras  # the fixture
from tests.test_pages_slow_network import new_link

pytestmark = pytest.mark.e2e

# A phone that opens one camera at a time: a camera asked for while another camera track of
# the page is live is refused as such a phone's browser refuses it. With `broken`, only the
# first camera the page opened ever opens. Counts the refusals.
ONE_AT_A_TIME = """(() => {
  const devices = navigator.mediaDevices;
  const open = devices.getUserMedia.bind(devices);
  const opened = [];
  window.kesuCameras = { opened, refused: 0, first: null, broken: %s };
  const refuse = () => {
    window.kesuCameras.refused += 1;
    throw new DOMException("Could not start video source", "NotReadableError");
  };
  devices.getUserMedia = async (c) => {
    if (c && c.video) {
      if (opened.some((t) => t.readyState === "live")) refuse();
      const asked = c.video.deviceId && c.video.deviceId.exact;
      const first = window.kesuCameras.first;
      if (window.kesuCameras.broken && first && asked && asked !== first) refuse();
    }
    const stream = await open(c);
    for (const track of stream.getVideoTracks()) {
      opened.push(track);
      if (!window.kesuCameras.first) window.kesuCameras.first = track.getSettings().deviceId;
    }
    return stream;
  };
})();"""

LIVE_CAMERAS = "() => window.kesuCameras.opened.filter((t) => t.readyState === 'live').length"


async def frames_go_on(page: Page, more: int) -> None:
    """The call sends `more` further video frames (in its connection of the moment)."""
    sent = await page.evaluate(FRAMES_SENT)
    for _ in range(600):  # (wait_for_function takes a promise for a true answer)
        if await page.evaluate(FRAMES_SENT) > sent + more:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {more} more frames sent after {sent}")


@dataclass
class Call:
    """A customer in a call on the phone of ONE_AT_A_TIME: its first offer's connection kept
    (window.kesuPc), the tracks it sent first (`before`) and the offers it made."""

    ctx: BrowserContext
    page: Page
    errors: list[str]
    offers: list[str]
    before: dict[str, Any]

    async def close(self) -> None:
        assert self.errors == []
        await self.page.evaluate("window.kesuCall.close({ notify: true })")
        await self.ctx.close()


async def one_camera_call(
    browser: Browser, server: RunningServer, client_factory: Any, broken: bool, lang: str = "zh-CN"
) -> Call:
    _sid, token = await new_link(client_factory)
    init = ONE_AT_A_TIME % ("true" if broken else "false")
    ctx, page, errors = await phone(browser, {"width": 360, "height": 740}, init)
    offers: list[str] = []
    page.on("request", lambda r: offers.append(r.url) if r.url.endswith("/offer") else None)
    await in_call(page, server, token)
    if lang == "en":
        await page.click("[data-lang-switch]")
    before = await page.evaluate(TRACKS)
    await page.evaluate("window.kesuPc = window.kesuCall.pc")
    return Call(ctx, page, errors, offers, before)


async def switch_once(page: Page, refused: int = 1) -> None:
    """Press 切换摄像头 and wait until the switch is over, `refused` cameras refused by then."""
    switch = page.locator("#switch-camera")
    await expect(switch).to_be_visible()
    await switch.click()
    await page.wait_for_function(f"() => window.kesuCameras.refused >= {refused}")
    await expect(switch).to_be_enabled()  # the switch is over


async def to_the_other_camera_and_back(
    page: Page, before: dict[str, Any], offers: list[str]
) -> None:
    """切换摄像头 twice on ONE_AT_A_TIME's phone, each press refused once while the current
    camera is open: the other camera, then the first again, each in the call's first
    connection (window.kesuPc; no new offer) with the microphone's track untouched."""
    for refused, other in ((1, True), (2, False)):
        await switch_once(page, refused)
        now = await page.evaluate(TRACKS)
        assert (now["video"] != before["video"]) == other
        assert (now["audio"], now["audioLive"], now["count"]) == (before["audio"], True, 2)
        assert await page.evaluate(LIVE_CAMERAS) == 1
        assert await page.evaluate("window.kesuCall.pc === window.kesuPc")
        assert len(offers) == 1
    # (Chromium's second fake camera gives WebRTC no frames, its pixel format being another:
    # the frames are counted back on the first, as in test_pages_call_phone.)
    await frames_go_on(page, 30)


async def test_a_phone_that_opens_one_camera_at_a_time_switches(
    server: RunningServer, two_cameras: Browser, client_factory: Any
) -> None:
    """The other camera is refused while the first is open: the first is stopped and the
    other opened, in the same connection (no new offer), the microphone untouched."""
    call = await one_camera_call(two_cameras, server, client_factory, broken=False)
    await to_the_other_camera_and_back(call.page, call.before, call.offers)
    page = call.page
    await expect(page.locator("#rtc-state")).to_have_text("已连接")
    await expect(page.locator("#page-error")).to_be_hidden()
    await call.close()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_camera_that_never_opens_leaves_the_call_on_the_first(
    server: RunningServer, two_cameras: Browser, client_factory: Any, lang: str
) -> None:
    """The other camera cannot be opened even with the first stopped: the first camera is
    opened again and sent in the same connection, and the customer reads that the switch
    failed and the call goes on with the camera it had. Before, the call took a new
    connection, and the message said only to try again."""
    call = await one_camera_call(two_cameras, server, client_factory, broken=True, lang=lang)
    page, offers, before = call.page, call.offers, call.before

    await switch_once(page)
    message = page.locator("#page-error")
    await expect(message).to_be_visible()
    await expect(message).to_contain_text(
        "无法切换到另一个摄像头" if lang == "zh-CN" else "Could not switch to the other camera"
    )
    await expect(message).to_contain_text(
        "继续使用原来的摄像头" if lang == "zh-CN" else "goes on with the camera it had"
    )
    now = await page.evaluate(TRACKS)
    assert now["video"] == before["video"]  # the camera it had
    assert (now["audioLive"], now["count"]) == (True, 2)
    assert await page.evaluate(LIVE_CAMERAS) == 1
    # In the same connection: before, the stopped camera took a new one (a new offer).
    assert await page.evaluate("window.kesuCall.pc === window.kesuPc")
    assert len(offers) == 1
    await frames_go_on(page, 30)
    await expect(page.locator("#rtc-state")).to_have_text(
        "已连接" if lang == "zh-CN" else "Connected"
    )
    await call.close()
