"""A camera that stops mid-call (unplugged, taken by a phone call), in Debian Chromium on
loopback with a real call to the in-process server (docs/browsers.md).

Chromium's fake camera cannot be unplugged: the track is stopped and its "ended" event sent,
which is what the page sees when a device goes, and getUserMedia is made to find no camera
until the test "plugs it back". Before, the page said nothing (the other party saw a frozen
picture, the recording went on with voice alone); now it says so, keeps trying, and rejoins
with the camera opened again once there is one."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import RunningServer
from tests.join_links import self_service_link
from tests.test_selfservice_taps import browser as browser  # the fixtures
from tests.test_selfservice_taps import taps_template as taps_template

pytestmark = pytest.mark.e2e

UNPLUGGABLE = """(() => {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.kesuUnplugged = false;
  navigator.mediaDevices.getUserMedia = (c) => window.kesuUnplugged
    ? Promise.reject(new DOMException("Requested device not found", "NotFoundError"))
    : open(c);
})();"""

UNPLUG = """() => {
  window.kesuUnplugged = true;
  const track = window.kesuCall.stream.getVideoTracks()[0];
  track.stop();
  track.dispatchEvent(new Event("ended"));
}"""


async def test_a_camera_lost_mid_call_is_said_and_taken_up_again(
    server: RunningServer, browser: Browser, client_factory: Any, taps_template: None
) -> None:
    sales = await client_factory("sales1")
    sid, token = await self_service_link(sales, "taps")
    ctx = await browser.new_context(
        locale="zh-CN", viewport={"width": 360, "height": 740}, permissions=["camera", "microphone"]
    )
    await ctx.add_init_script(UNPLUGGABLE)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    offers: list[str] = []
    page.on("request", lambda r: offers.append(r.url) if r.url.endswith("/offer") else None)
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    await expect(page.locator("#step-title")).to_have_text("第一步", timeout=20_000)
    assert len(offers) == 1

    await page.evaluate(UNPLUG)
    error = page.locator("#page-error")
    await expect(error).to_contain_text("摄像头或麦克风断开了")
    assert len(offers) == 1  # no camera yet: the connection (voice) is kept meanwhile

    await page.evaluate("window.kesuUnplugged = false")  # plugged back in
    await expect(error).to_be_hidden(timeout=20_000)
    await page.wait_for_function(
        """() => window.kesuCall.state === "connected"
            && window.kesuCall.stream.getVideoTracks()[0].readyState === "live"
            && document.querySelector("#local-video").srcObject === window.kesuCall.stream""",
        timeout=20_000,
    )
    assert len(offers) == 2  # rejoined with the camera opened again
    status, live = await sales.get(f"/api/sessions/{sid}/state")
    assert status == 200 and live["connected"]["customer"] is True, live
    # The steps go on.
    await page.click("#ss-next")
    await expect(page.locator("#step-title")).to_have_text("第二步")
    assert errors == []
    await ctx.close()
