"""The self-service page after its automatic rejoins give up, in Debian Chromium on loopback
with a real call to the in-process server (docs/browsers.md).

The page rejoins a dropped call by itself with back-off; when the attempts run out the call
is "failed". The join page then shows 重新连接; the self-service page showed nothing, and
only a reload brought the customer back. Now it shows the same button.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Route, expect

from tests.conftest import RunningServer
from tests.join_links import self_service_link, self_service_recording
from tests.test_selfservice_taps import browser, taps_template  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e


async def test_reconnect_button_after_the_rejoins_give_up(
    server: RunningServer,
    browser: Browser,  # noqa: F811 (the fixture imported above)
    client_factory: Any,
    taps_template: None,  # noqa: F811
) -> None:
    sales = await client_factory("sales1")
    sid, token = await self_service_link(sales, "taps")
    ctx = await browser.new_context(
        locale="zh-CN", viewport={"width": 360, "height": 740}, permissions=["camera", "microphone"]
    )
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await self_service_recording(page, server, token)
    reconnect = page.locator("#ss-reconnect")
    await expect(reconnect).to_be_hidden()

    # The network loses the server's media endpoint: every rejoin's offer fails, and after
    # the last allowed attempt (one here, to keep the test short) the call gives up.
    async def refuse(route: Route) -> None:
        await route.abort()

    await page.route("**/offer", refuse)
    await page.evaluate("window.kesuCall.maxAttempts = 1")
    left = await page.evaluate(
        "(t) => fetch('/api/join/' + t + '/leave', {method: 'POST'}).then((r) => r.status)",
        token,
    )
    assert left == 200
    await expect(reconnect).to_be_visible(timeout=30_000)

    # The network is back: the button connects the same call again.
    await page.unroute("**/offer", refuse)
    await reconnect.click()
    await page.wait_for_function("() => window.kesuCall.state === 'connected'", timeout=30_000)
    await expect(reconnect).to_be_hidden()
    assert errors == []
    await ctx.close()
