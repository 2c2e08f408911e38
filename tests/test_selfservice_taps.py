"""The self-service page's step buttons against a quick double tap, in Debian Chromium on
loopback with a real call to the in-process server (docs/browsers.md).

下一步, 拍摄 and 重试 take each other's place in one row. The second tap of a double tap used
to reach the button shown after the first: the next step's 下一步 (the step skipped unread)
or 拍摄 (a still sent before the card was held up). Now a button is taken only once it has
been on screen a moment and never by the second tap of a double tap; a keyboard user's focus
moves to the button that took the pressed one's place instead of falling to the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import FAKE_MEDIA, chromium
from tests.conftest import RunningServer
from tests.join_links import self_service_link, use_template

pytestmark = pytest.mark.e2e

# Three shown steps (read aloud, then 下一步), the last one asking for the ID card: no
# playback, no answer to hear, so no model runs.
TEMPLATE = """\
schema: kesu.template/1
id: taps
version: 1
title: 三步
speaking_rate: 4.2
answer_pause_s: 3
document_pause_s: 8
nodes:
  - {id: one, title: 第一步, speaker: salesperson, text: 第一步的文字。}
  - {id: two, title: 第二步, speaker: salesperson, text: 第二步的文字。}
  - {id: three, title: 第三步, speaker: salesperson, text: 请出示身份证。, document: id_card}
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    # Without loopback candidates Chromium gathers none for a server on 127.0.0.1.
    async with chromium(*FAKE_MEDIA, "--allow-loopback-in-peer-connection") as b:
        yield b


@pytest.fixture
def taps_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_template(tmp_path, monkeypatch, "taps", TEMPLATE)


async def double_tap(page: Page, selector: str, shown_between: str) -> None:
    """A finger's double tap on selector whose second tap comes after the page has shown
    shown_between (what the first tap led to), as on a phone where the answer came fast."""
    box = await page.locator(selector).bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down(click_count=1)
    await page.mouse.up(click_count=1)
    await page.locator(shown_between).wait_for(state="visible")
    await page.mouse.down(click_count=2)
    await page.mouse.up(click_count=2)


async def test_a_double_tap_takes_one_step(
    server: RunningServer, browser: Browser, client_factory: Any, taps_template: None
) -> None:
    sales = await client_factory("sales1")
    sid, token = await self_service_link(sales, "taps")
    ctx = await browser.new_context(
        locale="zh-CN",
        viewport={"width": 360, "height": 740},
        has_touch=True,
        permissions=["camera", "microphone"],
    )
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.url.rsplit("/", 1)[-1]) if r.method == "POST" else None,
    )
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    title, status_line = page.locator("#step-title"), page.locator("#step-status")
    await expect(title).to_have_text("第一步", timeout=20_000)

    # Step one's 下一步, tapped twice: step two is announced and its 下一步 shown in the same
    # place before the second tap, which must not take it.
    await expect(page.locator("#ss-next")).to_be_visible()
    await expect(page.locator("#ss-next")).to_be_enabled()  # taken 0.5 s after it shows
    await double_tap(page, "#ss-next", "#ss-next")
    await expect(title).to_have_text("第二步")
    await expect(status_line).to_have_text("请您朗读以上内容，读完后点击“下一步”")
    assert sent.count("node") == 2, sent  # one and two, not three

    # By keyboard: Enter on step two's 下一步, and the focus is on step three's.
    await expect(page.locator("#ss-next")).to_be_visible()
    await expect(page.locator("#ss-next")).to_be_enabled()  # a disabled button takes no focus
    await page.locator("#ss-next").focus()
    await page.keyboard.press("Enter")
    await expect(title).to_have_text("第三步")
    await expect(page.locator("#ss-next")).to_be_focused()

    # Step three's 下一步, tapped twice: 拍摄 appears at once where it was; the second tap
    # must not send a still before the card is held up.
    await expect(page.locator("#ss-next")).to_be_visible()
    await expect(page.locator("#ss-next")).to_be_enabled()
    await double_tap(page, "#ss-next", "#ss-capture")
    await expect(status_line).to_have_text("请将身份证正面对准镜头，然后点击“拍摄”")
    await page.evaluate("fetch(location.href, {cache: 'no-store'})")  # any POST has started
    assert "document" not in sent, sent
    await expect(page.locator("#ss-capture")).to_be_enabled()  # and it works once it is there
    assert errors == []
    await ctx.close()
