"""The staff pages (sales list, call, findings, review queue, review session, statistics)
when their first requests fail, in Debian Chromium on loopback (docs/browsers.md): the page
says so in its language (a proxy's 502 is not shown as "Bad Gateway") and 重试 loads it
without a reload; a failure that trying again cannot mend (not the user's session) is said
without 重试. Before, only the customer pages had a retry: a failed first request left an
error and a dead page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import RunningServer
from tests.review_fixtures import build_session
from tests.test_pages_slow_network import browser as browser  # the fixture
from tests.test_pages_slow_network import contexts, failing, new_link, watch

pytestmark = pytest.mark.e2e


async def test_a_staff_page_whose_first_request_fails_says_so_and_retries(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    built = await build_session(server.ctx)
    sid, _ = await new_link(client_factory)
    ctxs = await contexts(browser, server.url)
    # (user, page, request that fails, failure, language, words said, what shows it loaded)
    cases = [
        (
            "sales1",
            "/sales",
            "**/api/templates",
            "502",
            "zh-CN",
            "服务暂时无法访问（502）",
            "#template_id option",
        ),
        (
            "sales1",
            f"/sales/session/{sid}",
            f"**/api/sessions/{sid}",
            "502",
            "zh-CN",
            "服务暂时无法访问（502）",
            "#start-call:enabled",
        ),
        (
            "sales1",
            f"/sales/session/{sid}",
            "**/api/me",
            "network",
            "en",
            "Network error",
            "#start-call:enabled",
        ),
        (
            "sales1",
            f"/sales/session/{built.id}/findings",
            f"**/api/sessions/{built.id}/findings",
            "502",
            "zh-CN",
            "服务暂时无法访问（502）",
            "#summary h1",
        ),
        (
            "rev1",
            "/review",
            "**/api/review/queue*",
            "502",
            "zh-CN",
            "服务暂时无法访问（502）",
            "#rows tr",
        ),
        (
            "rev1",
            f"/review/session/{built.id}",
            f"**/api/review/sessions/{built.id}",
            "network",
            "en",
            "Network error",
            "#head h1",
        ),
        (
            "rev1",
            "/review/stats",
            "**/api/review/stats*",
            "502",
            "en",
            "cannot be reached right now (502)",
            "#kpis > *",
        ),
        (
            "rev1",
            "/review/stats",
            "**/api/me",
            "502",
            "zh-CN",
            "服务暂时无法访问（502）",
            "#kpis > *",
        ),
    ]
    problems: list[str] = []
    for user, path, request, failure, language, words, loaded in cases:
        page = await ctxs[user].new_page()
        await page.add_init_script(f"localStorage.setItem('kesu.lang', '{language}')")
        seen = watch(page)
        await page.route(request, failing(failure, asyncio.Event()))
        await page.goto(server.url + path)
        error = page.locator("#page-error")
        retry = page.locator("#load-retry")
        try:
            await expect(error).to_contain_text(words)
            assert "Bad Gateway" not in await error.inner_text()
            await expect(retry).to_be_visible()
            await page.unroute(request)
            await retry.click()
            await expect(page.locator(loaded).first).to_be_attached()
            await expect(error).to_be_hidden()
            await expect(retry).to_be_hidden()
            assert seen["errors"] == [], seen["errors"]
        except AssertionError as e:
            problems.append(f"{path} ({request} {failure}): {str(e).splitlines()[0]}")
        await page.close()
    # Not the user's session (404): said, without a 重试 that cannot help.
    page = await ctxs["sales1"].new_page()
    await page.goto(f"{server.url}/sales/session/no-such-session/findings")
    await expect(page.locator("#page-error")).to_contain_text("找不到该双录")
    await expect(page.locator("#load-retry")).to_be_hidden()
    for ctx in ctxs.values():
        await ctx.close()
    assert problems == []
