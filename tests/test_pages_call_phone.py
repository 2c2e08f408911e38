"""The call pages on a small phone, in Debian Chromium on loopback with real calls to the
in-process server (docs/browsers.md, "Support matrix"): a phone turned sideways (568x320),
an Android WebView without the browser's confirm box, and a phone with a front and a back
camera. Each browser behaviour is put in place by an init script before the page runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from server.rtc.probe import probe_recording
from tests.browser import browser_boxes, chromium, log_in
from tests.conftest import PASSWORD, RunningServer
from tests.join_links import self_service_link, use_template
from tests.test_pages_slow_network import new_link
from tests.test_selfservice_taps import browser as browser  # the fixture (fake media, loopback)

pytestmark = pytest.mark.e2e

# A step whose text is longer than a phone's screen in the page's large type.
LONG_TEXT = (
    "请您仔细听清以下内容：" + "本保险合同的犹豫期为十五日，犹豫期内解除合同将退还全部保费。" * 4
)
TEMPLATE = f"""\
schema: kesu.template/1
id: long
version: 1
title: 长文字
speaking_rate: 4.2
answer_pause_s: 3
document_pause_s: 8
nodes:
  - {{id: one, title: 第一步, speaker: salesperson, text: {LONG_TEXT}}}
  - {{id: two, title: 第二步, speaker: salesperson, text: 第二步的文字。}}
"""

SIDEWAYS: ViewportSize = {"width": 568, "height": 320}  # a small phone turned sideways (iPhone SE)
SIZES: list[ViewportSize] = [
    SIDEWAYS,
    {"width": 320, "height": 568},
    {"width": 1280, "height": 800},
]


@pytest.fixture
def long_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_template(tmp_path, monkeypatch, "long", TEMPLATE)


async def phone(
    browser: Browser, viewport: ViewportSize, init: str = ""
) -> tuple[BrowserContext, Page, list[str]]:
    ctx = await browser.new_context(
        locale="zh-CN", viewport=viewport, has_touch=True, permissions=["camera", "microphone"]
    )
    if init:
        await ctx.add_init_script(init)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page, errors


async def in_call(page: Page, server: RunningServer, token: str) -> None:
    """The customer consents (once per link), passes the device check and is connected."""
    await page.goto(f"{server.url}/join/{token}")
    consent = page.locator("#consent-check")
    await page.wait_for_selector("#view-consent:not([hidden]), #view-check:not([hidden])")
    if await consent.is_visible():
        await consent.check()
        await page.click("#consent-button")
    await page.click("#enter-call", timeout=20_000)
    await page.wait_for_function(
        "() => window.kesuCall && window.kesuCall.connectedAt > 0", timeout=20_000
    )


async def in_view(page: Page, *selectors: str) -> None:
    """Each control is wholly on screen with the page unscrolled."""
    assert await page.evaluate("window.scrollY") == 0
    for selector in selectors:
        await expect(page.locator(selector)).to_be_in_viewport(ratio=1.0)


async def uncovered(page: Page, selector: str) -> None:
    """Scrolled to, the element is on top at its middle: the buttons kept in the window
    leave room for what is under them."""
    top = await page.locator(selector).evaluate(
        """(node) => {
          node.scrollIntoView({ block: "center" });
          const box = node.getBoundingClientRect();
          const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
          return node.contains(hit);
        }"""
    )
    assert top, selector


async def test_the_call_controls_are_in_reach_on_a_phone_turned_sideways(
    server: RunningServer, browser: Browser, client_factory: Any, long_template: None
) -> None:
    """Before, at 568x320 the customer scrolled past a step's text to reach 离开通话 (y 1117
    of a 1179 px page), the self-service customer to reach 下一步 and the salesperson to
    reach 下一步; at 320x568 the salesperson's script, and its buttons, were below the
    picture, out of the window."""
    sales = await client_factory("sales1")
    sid, token = await new_link(client_factory, template_id="long")
    status, _ = await sales.post(f"/api/sessions/{sid}/node", json={"node": "one"})
    assert status == 200
    for viewport in SIZES:
        ctx, page, errors = await phone(browser, viewport)
        await in_call(page, server, token)
        await expect(page.locator("#node-text")).to_contain_text("犹豫期")
        await in_view(page, "#leave")
        await page.evaluate("window.kesuCall.close({ notify: true })")
        assert errors == []

        await log_in(page, server.url, "sales1", PASSWORD)
        await page.goto(f"{server.url}/sales/session/{sid}")
        await expect(page.locator("#node-text")).to_contain_text("犹豫期")
        await in_view(page, "#prev-node", "#next-node", "#end-call")
        await uncovered(page, "#node-list li:last-child")  # nothing lies under them for good
        assert errors == []
        await ctx.close()

    _sid, token = await self_service_link(sales, "long")
    ctx, page, errors = await phone(browser, SIDEWAYS)
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    await expect(page.locator("#step-text")).to_contain_text("犹豫期", timeout=20_000)
    await expect(page.locator("#ss-next")).to_be_visible()
    await in_view(page, "#ss-next")
    assert errors == []
    await ctx.close()


# Android WebViews whose app shows no JavaScript dialogs: confirm() answers false at once
# and shows nothing; some apps' pages have no confirm at all.
NO_CONFIRM = {
    "confirm answers no unseen": "window.confirm = () => false;",
    "no confirm": "delete window.confirm; window.confirm = undefined;",
}


@pytest.mark.parametrize("init", NO_CONFIRM.values(), ids=NO_CONFIRM.keys())
async def test_leaving_the_call_works_without_the_browsers_confirm(
    server: RunningServer, browser: Browser, client_factory: Any, init: str
) -> None:
    """Before, 离开通话 did nothing in such a WebView: confirm() said no (or threw)."""
    sales = await client_factory("sales1")
    sid, token = await new_link(client_factory)
    ctx, page, errors = await phone(browser, SIDEWAYS, init)
    await in_call(page, server, token)
    ask = page.locator("#ask")

    await page.click("[data-lang-switch]")  # in English
    await page.click("#leave")
    await expect(ask).to_be_visible()
    await expect(page.locator("#ask-text")).to_have_text(
        "Leave the call? You can rejoin with the same link."
    )
    await expect(page.locator("#ask-no")).to_have_text("Stay in the call")
    await expect(page.locator("#ask-no")).to_be_focused()  # a slip does not leave
    await in_view(page, "#ask-no", "#ask-yes")
    await page.click("#ask-no")
    await expect(ask).to_be_hidden()
    await expect(page.locator("#view-call")).to_be_visible()
    assert await page.evaluate("window.kesuCall.closed") is False

    await page.click("[data-lang-switch]")  # back in Chinese
    await page.click("#leave")
    await expect(page.locator("#ask-text")).to_have_text(
        "确定离开通话吗？离开后可用同一链接重新加入。"
    )
    await expect(page.locator("#ask-yes")).to_have_text("离开通话")
    await page.keyboard.press("Escape")  # answered no
    await expect(ask).to_be_hidden()
    assert await page.evaluate("window.kesuCall.closed") is False

    await page.click("#leave")
    await page.click("#ask-yes")
    await expect(page.locator("#view-left")).to_be_visible()
    await expect(ask).to_be_hidden()

    for _ in range(300):  # the server has had the leave
        status, live = await sales.get(f"/api/sessions/{sid}/state")
        if status == 200 and not live["connected"]["customer"]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the server still has the customer in the call")
    assert errors == []
    await ctx.close()


@pytest.mark.parametrize(
    "init", ["", *NO_CONFIRM.values()], ids=["browser's confirm", *NO_CONFIRM.keys()]
)
async def test_the_salesperson_is_always_asked_in_the_page(
    server: RunningServer, browser: Browser, client_factory: Any, init: str
) -> None:
    """作废客户链接 and 结束录制 ask in the page, never in the browser's box. Before, they used
    window.confirm where it exists: a WebView whose confirm answers no unseen left both
    buttons doing nothing (and without confirm at all they threw)."""
    sid, _token = await new_link(client_factory)
    ctx, page, errors = await phone(browser, {"width": 1280, "height": 800}, init)
    boxes = browser_boxes(page)  # the browser's own: none may be shown
    await log_in(page, server.url, "sales1", PASSWORD)
    await page.goto(f"{server.url}/sales/session/{sid}")
    await page.click("#revoke-link")
    await expect(page.locator("#ask-text")).to_contain_text("确定作废吗")
    await expect(page.locator("#ask-no")).to_be_focused()
    await page.click("#ask-no")  # no: the link stays
    await expect(page.locator("#ask")).to_have_count(0)
    await expect(page.locator("#copy-status")).to_be_hidden()
    await page.click("#revoke-link")
    await page.click("#ask-yes")
    await expect(page.locator("#copy-status")).to_have_text(
        "客户链接已作废。需要时请点“复制客户链接”获取新链接。"
    )
    await page.click("#end-call")
    await expect(page.locator("#ask-text")).to_contain_text("仍要结束本次录制吗")
    await page.click("#ask-yes")
    await expect(page.locator("#ended-panel")).to_be_visible()
    assert boxes == []
    assert errors == []
    await ctx.close()


@pytest.fixture
async def two_cameras() -> AsyncIterator[Browser]:
    """Chromium's fake devices with two cameras (fake_device_0 and fake_device_1)."""
    media = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=device-count=2"]
    async with chromium(*media, "--allow-loopback-in-peer-connection") as b:
        yield b


# What the page asks of the browser, passed on as it is: the constraints of every getUserMedia
# and the kind of every track given to RTCRtpSender.replaceTrack.
SEEN = """(() => {
  window.kesuSeen = { asked: [], replaced: [] };
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => {
    window.kesuSeen.asked.push(JSON.parse(JSON.stringify(c)));
    return open(c);
  };
  const replace = RTCRtpSender.prototype.replaceTrack;
  RTCRtpSender.prototype.replaceTrack = function (track) {
    window.kesuSeen.replaced.push(track ? track.kind : null);
    return replace.call(this, track);
  };
})();"""

FRAMES_SENT = """async () => {
  let n = 0;
  (await window.kesuCall.pc.getStats()).forEach((r) => {
    if (r.type === "outbound-rtp" && r.kind === "video") n = r.framesSent;
  });
  return n;
}"""

TRACKS = """() => {
  const s = window.kesuCall.stream;
  return { video: s.getVideoTracks()[0].getSettings().deviceId, audio: s.getAudioTracks()[0].id,
           audioLive: s.getAudioTracks()[0].readyState === "live", count: s.getTracks().length };
}"""


async def test_a_phone_with_two_cameras_switches_without_a_new_offer(
    server: RunningServer, browser: Browser, two_cameras: Browser, client_factory: Any
) -> None:
    """Before, there was no way to switch: a customer asked to show an ID card with the back
    camera could only turn the phone round."""
    sid, token = await new_link(client_factory)
    ctx, page, errors = await phone(browser, {"width": 360, "height": 740}, SEEN)
    await in_call(page, server, token)
    cameras = "async () => (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput').map((d) => d.deviceId)"
    assert len(await page.evaluate(cameras)) == 1
    await expect(page.locator("#switch-camera")).to_be_hidden()  # one camera: nothing to switch
    await page.evaluate("window.kesuCall.close({ notify: true })")
    await ctx.close()

    ctx, page, errors = await phone(two_cameras, {"width": 360, "height": 740}, SEEN)
    offers: list[str] = []
    page.on("request", lambda r: offers.append(r.url) if r.url.endswith("/offer") else None)
    joined_at = datetime.now(UTC)
    await in_call(page, server, token)
    ids = await page.evaluate(cameras)
    assert len(ids) == 2
    switch = page.locator("#switch-camera")
    await expect(switch).to_be_visible()
    await expect(switch).to_have_text("切换摄像头")
    before = await page.evaluate(TRACKS)
    other = ids[1] if before["video"] == ids[0] else ids[0]
    await page.evaluate("window.kesuPc = window.kesuCall.pc")

    for camera in (other, before["video"]):  # to the other camera and back
        asked = len(await page.evaluate("window.kesuSeen.asked"))
        await switch.click()
        await page.wait_for_function(f"() => window.kesuSeen.asked.length > {asked}")
        await expect(switch).to_be_enabled()  # the switch is over
        seen = await page.evaluate("window.kesuSeen")
        assert seen["asked"][-1]["audio"] is False  # the microphone is not opened again
        assert seen["asked"][-1]["video"]["deviceId"] == {"exact": camera}
        assert seen["replaced"][-1] == "video"
        now = await page.evaluate(TRACKS)
        assert now["video"] == camera
        # The same microphone track, live, in the same connection: no new offer.
        assert (now["audio"], now["audioLive"], now["count"]) == (before["audio"], True, 2)
        assert await page.evaluate("window.kesuCall.pc === window.kesuPc")
        assert len(offers) == 1
        await expect(page.locator("#rtc-state")).to_have_text("已连接")
    assert len(seen["replaced"]) == 2
    await expect(page.locator("#page-error")).to_be_hidden()

    # The camera now sent goes on into the recording: 60 more frames (2-3 s), then leave.
    switched_at = datetime.now(UTC)
    sent = await page.evaluate(FRAMES_SENT)
    for _ in range(300):  # (wait_for_function takes a promise for a true answer)
        if await page.evaluate(FRAMES_SENT) > sent + 60:
            break
        await asyncio.sleep(0.05)
    await page.click("#leave")
    await page.click("#ask-yes")
    await expect(page.locator("#view-left")).to_be_visible()
    assert errors == []
    await ctx.close()

    # One segment for this join (the switches made none), finished and whole to its end.
    sdir = server.ctx.settings.sessions_dir / sid
    for _ in range(200):
        meta = json.loads((sdir / "metadata.json").read_text("utf-8"))
        mine = [
            g
            for g in meta["segments"]
            if g["participant"] == "customer" and datetime.fromisoformat(g["opened_at"]) > joined_at
        ]
        if mine and mine[-1]["status"] == "finished":
            break
        await asyncio.sleep(0.05)
    assert [g["status"] for g in mine] == ["finished"], mine
    probe = await asyncio.to_thread(probe_recording, sdir / mine[-1]["file"])
    assert probe.decode_errors == 0 and probe.audio_codec == "opus", probe
    # Picture and voice recorded past the switches: more than 1 s of each after them.
    after = (switched_at - datetime.fromisoformat(mine[-1]["started_at"])).total_seconds() + 1.0
    assert probe.video_end is not None and probe.video_end > after, (after, probe)
    assert probe.audio_end is not None and probe.audio_end > after, (after, probe)
