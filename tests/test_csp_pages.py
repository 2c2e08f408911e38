"""Every page under the Content-Security-Policy (server/api/headers.py), in Debian Chromium
on loopback: each page renders its data with no CSP violation (a script, style, image or
request the policy blocks would show up here) and no page error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from tests.browser import FAKE_MEDIA, chromium, log_in
from tests.conftest import PASSWORD, RunningServer, new_session_body
from tests.review_fixtures import build_session

pytestmark = pytest.mark.e2e

#: Records every violation the page reports, before any of its scripts run.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium(*FAKE_MEDIA) as b:
        yield b


async def _page(browser: Browser, base: str, username: str | None) -> Page:
    ctx = await browser.new_context(locale="zh-CN")
    await ctx.add_init_script(WATCH)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.errors = errors  # type: ignore[attr-defined]
    if username is not None:
        await log_in(page, base, username, PASSWORD)
    return page


async def _visit(page: Page, url: str) -> list[str]:
    await page.goto(url)
    await page.wait_for_load_state("networkidle")
    found: list[str] = await page.evaluate("window.__csp")
    return found + page.errors  # type: ignore[attr-defined]


async def test_pages_run_under_the_policy(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    built = await build_session(server.ctx)
    sales = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    assert status == 200, link
    visits = {
        "sales1": ["/sales", f"/sales/session/{sid}", f"/sales/session/{built.id}/findings"],
        "rev1": ["/review", "/review/stats", f"/review/session/{built.id}"],
        None: ["/login", f"/join/{link['token']}"],
    }
    problems: dict[str, list[str]] = {}
    for user, paths in visits.items():
        page = await _page(browser, server.url, user)
        for path in paths:
            found = await _visit(page, f"{server.url}{path}")
            if found:
                problems[path] = found
        await page.context.close()
    assert problems == {}
