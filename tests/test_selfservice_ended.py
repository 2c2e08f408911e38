"""The self-service page when the salesperson ends the session while the customer is at it,
in Debian Chromium on loopback with a fake camera and a real call to the in-process server
(helpers from test_link_owner_pages.py): at the consent (开始 pressed after the end), while
the page connects (its offer answered after the end), and mid-recording (nothing pressed).
Each time the page stops as for a dead link (test_link_owner_pages.py): the camera and
microphone off, no step, button or 录制中 left, nothing sent any more, and it says that the
recording has ended. Before (measured 6 s after the end): an offer refused after the end left
本次双录已结束。 over the step with 重新连接, the camera and microphone on and the call's
heartbeat asking ``/state`` every second; a recording ended mid-step said nothing at all and
kept 下一步 and 重新连接, the camera on and the same heartbeat. (开始 after the end said
本次双录已结束。 and gave the button back, by the code.)"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, Route, expect

from tests.conftest import RunningServer
from tests.join_links import self_service_link, self_service_recording, use_template
from tests.test_join_session_ended import end
from tests.test_link_owner_pages import LIVE_TRACKS, _context, _open, _stays_quiet
from tests.test_selfservice_taps import browser, taps_template  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e

ENDED = "本次自助双录已结束，无需再操作。如有疑问，请联系销售人员。"

# Two shown steps: read, 下一步, and the summary; nothing for a model to do.
TWO_STEPS = """\
schema: kesu.template/1
id: twosteps
version: 1
title: 两步
speaking_rate: 4.2
answer_pause_s: 3
document_pause_s: 8
nodes:
  - {id: one, title: 第一步, speaker: salesperson, text: 第一步的文字。}
  - {id: two, title: 第二步, speaker: salesperson, text: 第二步的文字。}
"""


@pytest.fixture
def two_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_template(tmp_path, monkeypatch, "twosteps", TWO_STEPS)


async def _only_the_ended_view(page: Page) -> None:
    await expect(page.locator("#view-ended")).to_be_visible(timeout=10_000)
    await expect(page.locator("#view-ended")).to_have_text(ENDED)
    await expect(page.locator("main section:visible")).to_have_count(1)
    await expect(page.locator("#page-error")).to_be_hidden()
    await expect(page.locator("main button:visible")).to_have_count(0)
    await expect(page.locator("#rec")).to_be_hidden()


async def test_start_after_the_end_says_it_ended(
    server: RunningServer,
    browser: Browser,  # noqa: F811 (the fixture imported above)
    client_factory: Any,
    taps_template: None,  # noqa: F811
) -> None:
    sales = await client_factory("sales1")
    sid, token = await self_service_link(sales, "taps")
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await end(sales, sid)  # while the customer reads the consent
    await page.click("#ss-start")
    await _only_the_ended_view(page)
    await _stays_quiet(w)
    assert w.api == [f"GET join/{token}", f"POST join/{token}/consent"], w.api
    await ctx.close()


async def test_an_offer_answered_after_the_end_stops_the_camera(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
    taps_template: None,  # noqa: F811
) -> None:
    sales = await client_factory("sales1")
    sid, token = await self_service_link(sales, "taps")
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    held: asyncio.Queue[Route] = asyncio.Queue()
    await page.route(f"**/api/join/{token}/offer", held.put)
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    offer = await asyncio.wait_for(held.get(), 20)  # the camera is on, the offer on its way
    assert await page.evaluate(LIVE_TRACKS) == 2
    await end(sales, sid)
    await offer.continue_()  # answered: 409 session_ended
    await _only_the_ended_view(page)
    await _stays_quiet(w)
    await ctx.close()


async def test_a_recording_ended_mid_step_stops_the_page(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
    taps_template: None,  # noqa: F811
) -> None:
    sales = await client_factory("sales1")
    sid, token = await self_service_link(sales, "taps")
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await self_service_recording(page, server, token)
    await expect(page.locator("#rec")).to_be_visible()
    await end(sales, sid)
    # Nothing pressed: the call's heartbeat (1 s) or its lost connection finds out.
    await _only_the_ended_view(page)
    await _stays_quiet(w)
    await ctx.close()


async def test_a_submitted_recording_stays_submitted(
    server: RunningServer,
    browser: Browser,  # noqa: F811
    client_factory: Any,
    two_steps: None,
) -> None:
    """完成并提交 ends the session itself: its page says 提交成功, not that the recording was
    ended, also when the call's heartbeat reads the end before the submission's answer."""
    sales = await client_factory("sales1")
    _sid, token = await self_service_link(sales, "twosteps")
    ctx = await _context(browser)
    w = await _open(ctx)
    page = w.page
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    await page.wait_for_function(
        "() => window.kesuCall && window.kesuCall.state === 'connected'", timeout=20_000
    )
    for title in ("第一步", "第二步"):
        await expect(page.locator("#step-title")).to_have_text(title, timeout=20_000)
        await page.click("#ss-next")
    finish = f"**/api/join/{token}/finish"
    held: asyncio.Queue[Route] = asyncio.Queue()
    await page.route(finish, held.put)
    await page.click("#ss-finish")
    submitted = await asyncio.wait_for(held.get(), 20)
    response = await submitted.fetch()  # the session has ended; its answer not yet given
    await page.wait_for_timeout(2500)  # heartbeats meanwhile read "status": "ended"
    await expect(page.locator("#view-summary")).to_be_visible()  # not "ended" meanwhile
    await submitted.fulfill(response=response)
    await expect(page.locator("#view-done")).to_be_visible(timeout=10_000)
    await expect(page.locator("#view-done")).to_contain_text("提交成功")
    await expect(page.locator("main section:visible")).to_have_count(1)
    await expect(page.locator("#page-error")).to_be_hidden()
    await _stays_quiet(w)
    await ctx.close()
