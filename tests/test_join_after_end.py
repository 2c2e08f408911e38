"""A join link outlives its call (it expires after a day): once the session has ended it
gives out neither who was called about what nor TURN credentials; the pages' polling of
the state still learns that it ended."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from tests.browser import BASE_FLAGS, CHROMIUM
from tests.conftest import RunningServer, new_session_body
from tests.test_api_auth import assert_error


@pytest.mark.parametrize("mode", ["two_party", "self_service"])
async def test_an_ended_sessions_link_tells_only_that_it_ended(
    client_factory: Any, mode: str
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    status, body = await sales.post("/api/sessions", json=new_session_body(mode=mode))
    assert status == 201, body
    sid = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    base = f"/api/join/{link['token']}"
    status, info = await customer.get(base)
    assert status == 200 and info["customer_name"] == "张三"
    for path in (f"{base}/ice", f"/api/sessions/{sid}/ice"):
        status, _ = await (customer if path.startswith(base) else sales).get(path)
        assert status == 200, path

    gone = [base, f"{base}/ice"]
    if mode == "self_service":
        # What the customer answered, node by node: for the summary before submitting.
        status, summary = await customer.get(f"{base}/summary")
        assert status == 200 and summary["nodes"], summary
        gone.append(f"{base}/summary")

    status, body = await sales.post(f"/api/sessions/{sid}/end")
    assert status == 200, body

    for path in gone:
        status, body = await customer.get(path)
        assert status == 410, (path, body)
        assert_error(body, "session_ended")
        assert "张三" not in str(body) and "nodes" not in str(body)
    status, body = await sales.get(f"/api/sessions/{sid}/ice")
    assert status == 409, body
    assert_error(body, "session_ended")
    # What the pages poll still answers, with nothing personal in it.
    status, state = await customer.get(f"{base}/state")
    assert status == 200 and state["status"] == "ended"


JOIN_ENDED = ("本次双录已结束，感谢您的配合！", "This recording has ended. Thank you!")
SELF_ENDED = (
    "本次自助双录已结束，无需再操作。如有疑问，请联系销售人员。",
    "This self-service recording has ended; there is nothing more to do."
    " If you have any questions, please contact your salesperson.",
)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("mode", "page_path", "said"),
    [("two_party", "/join/", JOIN_ENDED), ("self_service", "/self/", SELF_ENDED)],
)
async def test_the_pages_show_their_ended_view(
    server: RunningServer,
    client_factory: Any,
    mode: str,
    page_path: str,
    said: tuple[str, str],
) -> None:
    """In Chinese and, after the switch, in English; nothing else on the page, and asked
    once. The self-service page said 提交成功 (submitted) for a session its customer may
    never have submitted (ended by the salesperson, or by the system)."""
    sales = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body(mode=mode))
    sid = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    status, body = await sales.post(f"/api/sessions/{sid}/end")
    assert status == 200, body
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", *BASE_FLAGS]
        )
        try:
            page = await (await browser.new_context(locale="zh-CN")).new_page()
            errors: list[str] = []
            api: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: api.append(r.url) if "/api/" in r.url else None)
            await page.goto(f"{server.url}{page_path}{link['token']}")
            main = page.locator("main")
            for text in said:
                if text is said[1]:
                    await page.click("[data-lang-switch]")
                await expect(main).to_contain_text(text, timeout=10_000)
                await expect(page.locator("main section:visible")).to_have_count(1)
                await expect(page.locator("#page-error")).to_be_hidden()
                await expect(page.locator("main button:visible")).to_have_count(0)
            assert "提交成功" not in await main.inner_text()
            assert "张三" not in await page.content()
            assert api == [f"{server.url}/api/join/{link['token']}"], api
            assert not errors, errors
        finally:
            await browser.close()
