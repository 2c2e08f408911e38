"""What a phone's browser or network does differently with the camera, the microphone and
the call, and what the customer's pages make of it (docs/browsers.md, "What the customer sees
when something fails" and "Support matrix"). Only Debian Chromium runs here: each behaviour is
put in place by an init script before the page's modules run (loopback only, the in-process
server); Playwright's clock stands in for the long waits.

- An audio context the browser will not make (too many open, a WebView): the mic meter stays
  still, the check passes. A camera that refuses the page's 640x480 / 30 fps: asked again for
  any picture.
- No camera, then no microphone: each named; 重新检测 takes them up once plugged in.
- The permission question unanswered: after 8 s the page says what it waits for.
- A refusal inside an app's WebView: open the link in the phone's browser.
- A camera stopped during the device check: 重新检测 and 进入通话 open it again.
- No candidate pair ever works: after 20 s the page says so and tries again by itself.
- An offer whose request hangs: given up after 30 s, 重新连接 sends it again.
- The Screen Wake Lock is asked for while the call is on and let go when it ends.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser import log_in
from tests.conftest import PASSWORD, RunningServer, wait_for
from tests.test_pages_slow_network import browser as browser  # the fixture (fake media)
from tests.test_pages_slow_network import failing, new_link

pytestmark = pytest.mark.e2e

NO_AUDIO_CONTEXT = """(() => {
  const refuse = function () { throw new DOMException("no more contexts", "NotSupportedError"); };
  window.AudioContext = refuse;
  window.webkitAudioContext = refuse;
})();"""

# A camera whose modes do not meet the page's wish: any constraint on the picture is refused,
# a plain {video: true} is granted.
PICKY_CAMERA = """(() => {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.kesuAsked = [];
  navigator.mediaDevices.getUserMedia = (c) => {
    window.kesuAsked.push(JSON.stringify(c));
    if (c && typeof c.video === "object") {
      const err = new DOMException("Constraints could not be satisfied", "OverconstrainedError");
      return Promise.reject(err);
    }
    return open(c);
  };
})();"""

# Devices the test plugs in and out: window.kesuDevices lists the kinds present.
PLUGGABLE = """(() => {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  const list = navigator.mediaDevices.enumerateDevices.bind(navigator.mediaDevices);
  window.kesuDevices = ["audioinput"];
  navigator.mediaDevices.getUserMedia = (c) => {
    const missing = (c.video && !window.kesuDevices.includes("videoinput"))
      || (c.audio && !window.kesuDevices.includes("audioinput"));
    if (missing) return Promise.reject(new DOMException("Requested device not found", "NotFoundError"));
    return open(c);
  };
  navigator.mediaDevices.enumerateDevices = async () =>
    (await list()).filter((d) => window.kesuDevices.includes(d.kind));
})();"""


async def customer(
    browser: Browser, init: str, user_agent: str | None = None
) -> tuple[BrowserContext, Page, list[str]]:
    ctx = await browser.new_context(
        locale="zh-CN",
        viewport={"width": 360, "height": 740},
        permissions=["camera", "microphone"],
        user_agent=user_agent,
    )
    await ctx.add_init_script(init)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page, errors


async def said_in_both(page: Page, box: Locator, zh: str, en: str) -> None:
    """box says zh, and en once the page is switched to English (then switched back)."""
    await expect(box).to_contain_text(zh, timeout=20_000)
    await page.click("[data-lang-switch]")
    await expect(box).to_contain_text(en)
    await page.click("[data-lang-switch]")


async def check_passes(page: Page, errors: list[str]) -> None:
    """The device check passes: 进入通话 enabled, no message, no page error."""
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await expect(page.locator("#check-error")).to_be_hidden()
    assert errors == []


async def at_device_check(
    server: RunningServer, browser: Browser, client_factory: Any, init: str
) -> tuple[BrowserContext, Page, list[str]]:
    """A customer of a new link (``init`` run before the page) who has consented."""
    _sid, token = await new_link(client_factory)
    ctx, page, errors = await customer(browser, init)
    await consent(page, server, token)
    return ctx, page, errors


async def consent(page: Page, server: RunningServer, token: str) -> None:
    await page.goto(f"{server.url}/join/{token}")
    await page.check("#consent-check")
    await page.click("#consent-button")


@pytest.mark.parametrize(
    ("init", "result"),
    [(NO_AUDIO_CONTEXT, "#check-mic"), (PICKY_CAMERA, "#check-camera")],
    ids=["no audio context", "camera refuses the constraints"],
)
async def test_the_device_check_passes_on_a_phone_that_differs(
    server: RunningServer, browser: Browser, client_factory: Any, init: str, result: str
) -> None:
    ctx, page, errors = await at_device_check(server, browser, client_factory, init)
    await check_passes(page, errors)
    await expect(page.locator(result)).to_have_text("正常")
    await expect(page.locator("#page-error")).to_be_hidden()
    if init == PICKY_CAMERA:  # asked again for any picture
        asked = await page.evaluate("window.kesuAsked")
        assert len(asked) == 2 and '"video":true' in asked[1], asked
    await ctx.close()


async def test_a_missing_camera_or_microphone_is_named_and_taken_up_once_there(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    ctx, page, errors = await at_device_check(server, browser, client_factory, PLUGGABLE)
    box = page.locator("#check-error")
    await said_in_both(page, box, "没有找到摄像头。", "No camera was found")  # not "或麦克风"
    await expect(page.locator("#enter-call")).to_be_disabled()

    await page.evaluate("window.kesuDevices = ['videoinput']")  # a camera, no microphone
    await page.click("#retry-check")
    await expect(box).to_contain_text("没有找到麦克风。")

    await page.evaluate("window.kesuDevices = ['videoinput', 'audioinput']")  # both plugged in
    await page.click("#retry-check")
    await check_passes(page, errors)
    await ctx.close()


# A network on which no ICE candidate pair ever works (UDP blocked, no TURN): while
# window.kesuBlocked is true the page's offers and the server's answers carry no candidates,
# so that neither side has an address to try and the connection stays "connecting".
NO_ROUTE = """(() => {
  window.kesuBlocked = true;
  const strip = (sdp) => window.kesuBlocked
    ? sdp.split("\\r\\n").filter((l) => !l.startsWith("a=candidate")).join("\\r\\n") : sdp;
  const proto = RTCPeerConnection.prototype;
  const local = Object.getOwnPropertyDescriptor(proto, "localDescription");
  Object.defineProperty(proto, "localDescription", {
    configurable: true,
    get() {
      const d = local.get.call(this);
      return d && { type: d.type, sdp: strip(d.sdp) };
    },
  });
  const setRemote = proto.setRemoteDescription;
  proto.setRemoteDescription = function (d) {
    return setRemote.call(this, { type: d.type, sdp: strip(d.sdp) });
  };
})();"""


async def test_a_call_that_never_connects_says_why_and_tries_again(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """Before, the page said 连接中… for as long as the customer waited: Chromium leaves a
    connection without candidate pairs "connecting" for ever, the server drops it after 20 s,
    and no rejoin was ever tried."""
    sid, token = await new_link(client_factory)
    ctx, page, errors = await customer(browser, NO_ROUTE)
    offers: list[str] = []
    page.on("request", lambda r: offers.append(r.url) if r.url.endswith("/offer") else None)
    await page.clock.install()
    await consent(page, server, token)
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await page.click("#enter-call")
    await expect(page.locator("#rtc-state")).to_have_text("连接中…")
    await page.wait_for_function("() => window.kesuCall.pc && window.kesuCall.pc.remoteDescription")
    await page.clock.run_for(21_000)  # past the page's wait for a connection
    error = page.locator("#page-error")
    await said_in_both(page, error, "无法建立音视频连接", "could not be set up")
    await wait_for(lambda: len(offers) == 2)  # tried again by itself

    # On a network that lets it through (Wi-Fi, mobile data), the next try connects.
    await page.wait_for_function("() => window.kesuCall.pc && window.kesuCall.pc.remoteDescription")
    await page.evaluate("window.kesuBlocked = false")
    await page.clock.run_for(21_000)
    await expect(page.locator("#rtc-state")).to_have_text("已连接", timeout=20_000)
    await expect(error).to_be_hidden()
    assert len(offers) == 3
    assert server.ctx.rooms.get(sid) is not None
    assert errors == []
    await ctx.close()


# The browser's question (allow the camera and microphone?) not answered yet: getUserMedia
# settles only when the test calls window.kesuAllow().
UNANSWERED = """(() => {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => new Promise((resolve, reject) => {
    window.kesuAllow = () => open(c).then(resolve, reject);
  });
})();"""


async def test_an_unanswered_permission_question_is_explained(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """Before, the device check said 检测中… for as long as the question went unseen (behind
    another tab, a WebView that never shows it)."""
    _sid, token = await new_link(client_factory)
    ctx, page, errors = await customer(browser, UNANSWERED)
    answered: list[str] = []
    page.on("requestfinished", lambda r: answered.append(r.url))
    await page.clock.install()
    await consent(page, server, token)
    await page.wait_for_function("() => typeof window.kesuAllow === 'function'")
    # The network check's answer is in (its own 3 s limit is not what this test is about).
    await wait_for(lambda: sum(url.endswith("/state") for url in answered) >= 2)  # and the poll
    box = page.locator("#check-error")
    await expect(box).to_be_hidden()
    await page.clock.run_for(9_000)
    await said_in_both(page, box, "请在弹出的提示中点“允许”", "choose “Allow”")
    await page.evaluate("window.kesuAllow()")
    await check_passes(page, errors)
    await ctx.close()


# The Screen Wake Lock API, counted: what the page asked for and let go.
WAKE_LOCK = """(() => {
  window.kesuLocks = { requested: 0, released: 0 };
  const request = async (type) => {
    window.kesuLocks.requested += 1;
    const sentinel = new EventTarget();
    sentinel.type = type;
    sentinel.release = async () => {
      window.kesuLocks.released += 1;
      sentinel.dispatchEvent(new Event("release"));
    };
    return sentinel;
  };
  Object.defineProperty(navigator, "wakeLock", { configurable: true, value: { request } });
})();"""


async def test_the_screen_stays_on_while_the_call_records(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """Before, nothing kept a customer's phone from locking its screen while they listened:
    the page went to the background and the camera paused (a stretch without picture)."""
    ctx, page, errors = await at_device_check(server, browser, client_factory, WAKE_LOCK)
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    assert await page.evaluate("window.kesuLocks.requested") == 0  # not before the call
    await page.click("#enter-call")
    await expect(page.locator("#rtc-state")).to_have_text("已连接", timeout=20_000)
    await page.wait_for_function("() => window.kesuLocks.requested === 1")
    await page.click("#leave")
    await page.click("#ask-yes")  # asked in the page (ask.js)
    await expect(page.locator("#view-left")).to_be_visible()
    await page.wait_for_function("() => window.kesuLocks.released === 1")
    assert await page.evaluate("window.kesuLocks.requested") == 1
    assert errors == []
    await ctx.close()


DENY = """(() => {
  navigator.mediaDevices.getUserMedia = () =>
    Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
})();"""
ANDROID = (
    "Mozilla/5.0 (Linux; Android 12; SM-A515F{wv}) AppleWebKit/537.36 (KHTML, like Gecko) "
    "{version}Chrome/120.0.0.0 Mobile Safari/537.36"
)
ANDROID_CHROME = ANDROID.format(wv="", version="")
ANDROID_WEBVIEW = ANDROID.format(wv="; wv", version="Version/4.0 ")  # any app's own browser
IOS_WEBVIEW = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)


async def test_a_camera_refused_inside_an_app_points_to_the_phone_browser(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """An app's WebView that grants pages no camera refuses without asking: before, the page
    said to choose "Allow" when the browser asks, which it never does there."""
    _sid, token = await new_link(client_factory)
    first = True
    for user_agent, in_app in [
        (ANDROID_WEBVIEW, True),
        (IOS_WEBVIEW, True),
        (ANDROID_CHROME, False),
    ]:
        ctx, page, errors = await customer(browser, DENY, user_agent)
        if first:  # given once per link: later the page opens on the device check
            await consent(page, server, token)
            first = False
        else:
            await page.goto(f"{server.url}/join/{token}")
        box = page.locator("#check-error")
        await expect(box).to_contain_text("权限被拒绝", timeout=20_000)
        if in_app:
            await expect(box).to_contain_text("在浏览器打开")
        else:
            await expect(box).not_to_contain_text("在浏览器打开")
        await expect(page.locator("#retry-check")).to_be_enabled()
        assert errors == []
        await ctx.close()


STOP_CAMERA = """() => {
  const track = document.querySelector("#preview").srcObject.getVideoTracks()[0];
  track.stop();
  track.dispatchEvent(new Event("ended"));
}"""
ALL_LIVE = """() => document.querySelector("TRACKS").srcObject.getTracks()
  .every((t) => t.readyState === "live")"""


async def test_check_again_opens_a_camera_that_stopped(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """The camera taken away during the device check (a phone call, another app): 重新检测
    checked the same dead track again (and called it 正常: the preview kept its last frame),
    and 进入通话 started the call with it, without picture."""
    ctx, page, errors = await at_device_check(server, browser, client_factory, "")
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await page.evaluate(STOP_CAMERA)
    await page.click("#retry-check")
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await expect(page.locator("#check-camera")).to_have_text("正常")
    assert await page.evaluate(ALL_LIVE.replace("TRACKS", "#preview"))
    # Stopped after the check, before 进入通话: checked again first, then into the call.
    await page.evaluate(STOP_CAMERA)
    await page.click("#enter-call")
    await expect(page.locator("#view-check")).to_be_visible()
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await page.click("#enter-call")
    await expect(page.locator("#rtc-state")).to_have_text("已连接", timeout=20_000)
    assert await page.evaluate(ALL_LIVE.replace("TRACKS", "#local-video"))
    assert errors == []
    await ctx.close()


async def test_an_offer_without_answer_is_given_up_and_sent_again(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    """A stalled phone network holds the offer's POST for minutes: the page said 连接中… all
    that time. Now it gives up after 30 s, says the network is too slow, and 重新连接 sends
    the offer again."""
    _sid, token = await new_link(client_factory)
    ctx, page, errors = await customer(browser, "")
    release = asyncio.Event()
    offer = f"**/api/join/{token}/offer"
    await page.route(offer, failing("hang", release))
    await page.clock.install()
    await consent(page, server, token)
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await page.click("#enter-call")
    await expect(page.locator("#rtc-state")).to_have_text("连接中…")
    await page.clock.run_for(31_000)
    await expect(page.locator("#page-error")).to_contain_text("请求超时")
    await expect(page.locator("#rtc-state")).to_have_text("连接失败")
    await page.unroute(offer)
    release.set()
    await page.click("#reconnect")
    await expect(page.locator("#rtc-state")).to_have_text("已连接", timeout=20_000)
    await expect(page.locator("#page-error")).to_be_hidden()
    assert errors == []
    await ctx.close()


@pytest.mark.parametrize("page_kind", ["self-service", "salesperson"])
async def test_the_retry_button_is_the_one_the_message_names(
    server: RunningServer, browser: Browser, client_factory: Any, page_kind: str
) -> None:
    """The camera messages end with "then tap 重新检测" (the join page's button). The
    self-service page (开始自助双录) and the salesperson's page (开始通话) had none: their
    start button now says 重新检测 after such a failure, and tries again."""
    ctx, page, errors = await customer(browser, PLUGGABLE)  # a microphone, no camera
    if page_kind == "self-service":
        _sid, token = await new_link(client_factory, "self_service")
        await page.goto(f"{server.url}/self/{token}")
        await page.check("#ss-consent")
        start, started = page.locator("#ss-start"), page.locator("#view-step")
    else:
        sid, _token = await new_link(client_factory)
        await log_in(page, server.url, "sales1", PASSWORD)
        await page.goto(f"{server.url}/sales/session/{sid}")
        start, started = page.locator("#start-call"), page.locator("#local-video")
    await start.click()
    await said_in_both(page, page.locator("#page-error"), "没有找到摄像头。", "Check again")
    await expect(start).to_have_text("重新检测")
    await page.evaluate("window.kesuDevices = ['videoinput', 'audioinput']")  # plugged in
    await start.click()
    await expect(started).to_be_visible(timeout=20_000)
    await page.wait_for_function("() => window.kesuCall && window.kesuCall.stream.active")
    await expect(page.locator("#page-error")).to_be_hidden()
    assert errors == []
    await ctx.close()
