"""Every yes/no question of the pages goes one way (ask.js's askInPage), the list of missing
live-check items before ending too: in a modal <dialog> where the browser has showModal, in a
plain element over the page where it has not (Safari before 15.4), with the same buttons,
focus and answers. In Debian Chromium on loopback, on the salesperson's call page, once as it
is and once with HTMLDialogElement.prototype.showModal taken away before the page runs.
Before, the missing items were a <dialog> of live.js's own, and ask.js's box was used only
where showModal was missing: two ways of asking, one of them never run by the tests."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import browser_boxes, log_in
from tests.conftest import PASSWORD, RunningServer
from tests.test_pages_slow_network import browser as browser  # the fixture (fake media)
from tests.test_pages_slow_network import new_link

pytestmark = pytest.mark.e2e

MISSING: list[dict[str, Any]] = [
    {"node": "reminder", "title": "犹豫期提示", "why": "not_covered"},
    {"node": "id_card", "title": "出示身份证", "why": "document", "document": "id_card"},
]

# Ask the missing-items question; its answer is pushed to window.answers.
ASK_END = """(missing) => import('/static/js/live.js').then(({ confirmEnd }) => {
  confirmEnd(missing).then((a) => window.answers.push(a));
})"""

WAYS = {"showModal": "", "no showModal": "delete HTMLDialogElement.prototype.showModal;"}


async def asked(page: Page, modal: bool) -> None:
    """The missing-items question is on screen, the one way, 返回继续录制 focused."""
    ask = page.locator("#ask")
    await expect(ask).to_have_count(1)
    await expect(ask).to_be_visible()
    assert await ask.evaluate("(n) => n.tagName") == ("DIALOG" if modal else "DIV")
    assert await ask.evaluate("(n) => n.matches('dialog:modal')") == modal
    await expect(page.locator("#ask-title")).to_have_text("以下必需内容尚未完成")
    await expect(page.locator("#ask-text")).to_contain_text("实时质检未检测到以下内容")
    await expect(ask.locator("li")).to_have_text(
        ["犹豫期提示 — 未讲到或差异较大", "出示身份证 — 未识别到身份证"]
    )
    await expect(page.locator("#ask-no")).to_have_text("返回继续录制")
    await expect(page.locator("#ask-yes")).to_have_text("仍然结束录制")
    await expect(page.locator("#ask-no")).to_be_focused()  # a slip does not end the recording
    # Over the page: what is under the box's corner is the question's backdrop, not the page.
    assert await page.evaluate("document.elementFromPoint(3, 3).id") == "ask"


@pytest.mark.parametrize("init", WAYS.values(), ids=WAYS.keys())
async def test_ending_with_missing_items_is_asked_one_way(
    server: RunningServer, browser: Browser, client_factory: Any, init: str
) -> None:
    modal = not init
    sid, _token = await new_link(client_factory)
    ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    await ctx.add_init_script(f"{init} window.answers = [];")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    boxes = browser_boxes(page)  # the browser's own: none may be shown
    await log_in(page, server.url, "sales1", PASSWORD)
    await page.goto(f"{server.url}/sales/session/{sid}")
    # The button is disabled until the page has the session; a disabled button takes no
    # focus (on a busy machine the focus went nowhere and the return of it was not seen).
    await expect(page.locator("#end-call")).to_be_enabled()
    await page.focus("#end-call")
    await expect(page.locator("#end-call")).to_be_focused()

    await page.evaluate(ASK_END, MISSING)
    await asked(page, modal)
    await page.keyboard.press("Tab")  # Tab stays between the two buttons
    await expect(page.locator("#ask-yes")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.locator("#ask-no")).to_be_focused()
    await page.keyboard.press("Escape")  # no
    await expect(page.locator("#ask")).to_have_count(0)
    await expect(page.locator("#end-call")).to_be_focused()  # back where the question came from

    await page.evaluate(ASK_END, MISSING)
    await asked(page, modal)
    await page.mouse.click(3, 3)  # beside the box: no
    await expect(page.locator("#ask")).to_have_count(0)

    await page.evaluate(ASK_END, MISSING)
    await asked(page, modal)
    await page.click("#ask-yes")
    await expect(page.locator("#ask")).to_have_count(0)
    assert await page.evaluate("window.answers") == [False, False, True]

    # The page's own question (no live checks here) goes the same way, and ends the call.
    await page.click("#end-call")
    await expect(page.locator("#ask-text")).to_contain_text("仍要结束本次录制吗")
    assert await page.locator("#ask").evaluate("(n) => n.tagName") == ("DIALOG" if modal else "DIV")
    await page.click("#ask-yes")
    await expect(page.locator("#ended-panel")).to_be_visible()
    assert boxes == []
    assert errors == []
    await ctx.close()
