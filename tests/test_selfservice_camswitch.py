"""切换摄像头 on the self-service page (camswitch.js, as on the join page's call), in Debian
Chromium with two fake cameras and a real call to the in-process server on loopback. The
customer records alone and is asked to hold an ID card to the camera: with the back camera
that is easier than turning the phone round. Before, the self-service page had no switch."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import RunningServer
from tests.join_links import self_service_link, self_service_recording
from tests.test_pages_call_phone import TRACKS, phone
from tests.test_pages_call_phone import two_cameras as two_cameras  # the fixture
from tests.test_pages_camswitch import ONE_AT_A_TIME, frames_go_on, to_the_other_camera_and_back
from tests.test_selfservice_taps import taps_template as taps_template  # the fixture

pytestmark = pytest.mark.e2e


async def recording(
    browser: Browser, server: RunningServer, client_factory: Any, broken: bool
) -> tuple[BrowserContext, Page, list[str], list[str]]:
    """A customer on step one of a self-service recording on ONE_AT_A_TIME's phone."""
    sales = await client_factory("sales1")
    _sid, token = await self_service_link(sales, "taps")
    ctx, page, errors = await phone(
        browser, {"width": 360, "height": 740}, ONE_AT_A_TIME % ("true" if broken else "false")
    )
    offers: list[str] = []
    page.on("request", lambda r: offers.append(r.url) if r.url.endswith("/offer") else None)
    await self_service_recording(page, server, token)
    await page.evaluate("window.kesuPc = window.kesuCall.pc")
    return ctx, page, errors, offers


async def test_self_service_switches_camera_in_the_same_connection(
    server: RunningServer, two_cameras: Browser, client_factory: Any, taps_template: None
) -> None:
    ctx, page, errors, offers = await recording(two_cameras, server, client_factory, False)
    before = await page.evaluate(TRACKS)
    await expect(page.locator("#switch-camera")).to_have_text("切换摄像头")
    await to_the_other_camera_and_back(page, before, offers)
    # The step goes on: its 下一步 still takes the customer to step two.
    await expect(page.locator("#ss-next")).to_be_enabled()
    await page.click("#ss-next")
    await expect(page.locator("#step-title")).to_have_text("第二步")
    await expect(page.locator("#page-error")).to_be_hidden()
    assert errors == []
    await page.evaluate("window.kesuCall.close({ notify: true })")
    await ctx.close()


async def test_self_service_keeps_its_camera_when_the_other_never_opens(
    server: RunningServer, two_cameras: Browser, client_factory: Any, taps_template: None
) -> None:
    """The customer is told, in Chinese and English, that the recording goes on with the
    camera it had; it does, in the same connection."""
    ctx, page, errors, offers = await recording(two_cameras, server, client_factory, True)
    before = await page.evaluate(TRACKS)
    await page.click("#switch-camera")
    await page.wait_for_function("() => window.kesuCameras.refused >= 1")
    message = page.locator("#page-error")
    await expect(message).to_contain_text("无法切换到另一个摄像头")
    await expect(message).to_contain_text("继续使用原来的摄像头")
    await page.click("[data-lang-switch]")
    await expect(message).to_contain_text("goes on with the camera it had")
    now = await page.evaluate(TRACKS)
    assert now["video"] == before["video"]
    assert await page.evaluate("window.kesuCall.pc === window.kesuPc")
    assert len(offers) == 1
    await frames_go_on(page, 30)
    assert errors == []
    await page.evaluate("window.kesuCall.close({ notify: true })")
    await ctx.close()
