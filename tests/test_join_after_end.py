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

    status, body = await sales.post(f"/api/sessions/{sid}/end")
    assert status == 200, body

    for path in (base, f"{base}/ice"):
        status, body = await customer.get(path)
        assert status == 410, (path, body)
        assert_error(body, "session_ended")
        assert "张三" not in str(body)
    status, body = await sales.get(f"/api/sessions/{sid}/ice")
    assert status == 409, body
    assert_error(body, "session_ended")
    # What the pages poll still answers, with nothing personal in it.
    status, state = await customer.get(f"{base}/state")
    assert status == 200 and state["status"] == "ended"


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("mode", "page_path", "view"),
    [
        ("two_party", "/join/", "#view-ended"),
        ("self_service", "/self/", "#view-done"),
    ],
)
async def test_the_pages_show_their_ended_view(
    server: RunningServer, client_factory: Any, mode: str, page_path: str, view: str
) -> None:
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
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{server.url}{page_path}{link['token']}")
            await expect(page.locator(view)).to_be_visible(timeout=10_000)
            assert "张三" not in await page.content()
            assert not errors, errors
        finally:
            await browser.close()
