"""What the customer's pages (join, self-service) show for a link whose salesperson may no
longer record remotely (403 ``salesperson_disabled`` / ``salesperson_not_qualified``, see
test_link_owner_standing.py), in Debian Chromium on loopback with a fake camera: the reason
in the page's language (Chinese, English after the switch), no 重试, no request sent again,
the camera and microphone off, no console errors; and a customer already in the call when
the salesperson is disabled is stopped and told why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, expect
from sqlalchemy import update

from server.store.models import User
from tests.conftest import RunningServer
from tests.join_links import customer_in_call, self_service_link, self_service_recording
from tests.test_api_recording import open_session
from tests.test_selfservice_taps import browser, taps_template  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e

DISABLED = ("本次双录的销售人员账号已停用", "account for this recording is no longer active")
UNQUALIFIED = ("暂不具备远程双录资格", "not qualified for remote recording")

# Every camera and microphone track the page opens, to see that none is left on.
TRACK_WATCH = """(() => {
  window.__tracks = [];
  const md = navigator.mediaDevices;
  const open = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    const s = await open(c);
    window.__tracks.push(...s.getTracks());
    return s;
  };
})()"""
LIVE_TRACKS = "() => window.__tracks.filter((t) => t.readyState === 'live').length"
# Chromium logs each refused fetch itself; a refusal is what these pages are tested on (403
# a salesperson's standing, 409/410 an ended session: test_join_session_ended.py).
REFUSED_LOG = tuple(
    f"Failed to load resource: the server responded with a status of {status}"
    for status in (403, 409, 410)
)


@dataclass
class Watched:
    page: Page
    api: list[str] = field(default_factory=list)  # "METHOD path" of every API request
    errors: list[str] = field(default_factory=list)  # page errors and console errors

    def on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.text.startswith(REFUSED_LOG):
            self.errors.append(msg.text)


async def _open(ctx: BrowserContext) -> Watched:
    page = await ctx.new_page()
    w = Watched(page)
    await page.add_init_script(TRACK_WATCH)
    page.on("console", w.on_console)
    page.on("pageerror", lambda e: w.errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            w.api.append(f"{r.method} {r.url.split('/api/', 1)[1]}") if "/api/" in r.url else None
        ),
    )
    return w


async def _context(b: Browser) -> BrowserContext:
    return await b.new_context(
        locale="zh-CN", viewport={"width": 360, "height": 740}, permissions=["camera", "microphone"]
    )


async def _set(server: RunningServer, **values: Any) -> None:
    async with server.ctx.db.session() as s:
        await s.execute(update(User).where(User.username == "sales1").values(**values))


async def _stays_quiet(w: Watched) -> None:
    """No request is sent any more (several heartbeat and poll periods), nothing is left
    recording, and nothing went wrong in the page."""
    await w.page.wait_for_timeout(1000)  # a request already under way lands
    sent = list(w.api)
    await w.page.wait_for_timeout(4000)
    assert w.api == sent, w.api[len(sent) :]
    assert await w.page.evaluate(LIVE_TRACKS) == 0
    assert w.errors == []


@pytest.mark.parametrize(
    ("change", "said"),
    [({"disabled": True}, DISABLED), ({"qualified_remote": False}, UNQUALIFIED)],
    ids=["disabled", "unqualified"],
)
async def test_opening_the_link_says_why_and_stops(
    server: RunningServer,
    browser: Browser,  # noqa: F811 (the fixture imported above)
    client_factory: Any,
    change: dict[str, bool],
    said: tuple[str, str],
) -> None:
    sales = await client_factory("sales1")
    _sid, token = await open_session(sales)
    _ssid, self_token = await self_service_link(sales)
    await _set(server, **change)
    for path, link in ((f"/join/{token}", token), (f"/self/{self_token}", self_token)):
        ctx = await _context(browser)  # its own: the language chosen is kept per browser
        w = await _open(ctx)
        await w.page.goto(f"{server.url}{path}")
        box = w.page.locator("#page-error")
        await expect(box).to_contain_text(said[0])
        await expect(w.page.locator("#load-retry")).to_be_hidden()
        await w.page.click("[data-lang-switch]")
        await expect(box).to_contain_text(said[1])
        await _stays_quiet(w)
        assert w.api == [f"GET join/{link}"], w.api  # asked once, never again
        await ctx.close()


async def test_the_join_page_in_the_call_stops_when_the_salesperson_is_disabled(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
) -> None:
    sales = await client_factory("sales1")
    sid, token = await open_session(sales)
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await customer_in_call(page, server, sid, token)
    await _set(server, disabled=True)
    await expect(page.locator("#page-error")).to_contain_text(DISABLED[0], timeout=10_000)
    await _stays_quiet(w)
    await ctx.close()


async def test_the_self_service_page_in_the_call_stops_when_the_salesperson_is_disabled(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
    taps_template: None,  # noqa: F811
) -> None:
    sales = await client_factory("sales1")
    _sid, token = await self_service_link(sales, "taps")
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await self_service_recording(page, server, token)
    await _set(server, disabled=True)
    # The call's own heartbeat (1 s) meets the refusal: no step request is needed.
    await expect(page.locator("#page-error")).to_contain_text(DISABLED[0], timeout=10_000)
    for gone in ("#view-step", "#rec"):  # no step, button or 录制中 left
        await expect(page.locator(gone)).to_be_hidden()
    await _stays_quiet(w)
    await ctx.close()
