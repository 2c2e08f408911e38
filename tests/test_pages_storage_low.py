"""The salesperson's call page says when the server's disk is below ``min_free_mb`` at a
join that goes on (a recording of the session has started: never cut off; ``storage_low``
in the session's ``/state``), in Debian Chromium on loopback with a real call to the
in-process server. The free space is made "low" by raising the threshold on the running
server above the real free space (as tests/test_free_space_join.py does)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from server.free_space import MB, free_bytes
from tests.browser import log_in
from tests.conftest import PASSWORD, RunningServer
from tests.test_pages_call_phone import in_call, phone
from tests.test_pages_slow_network import new_link
from tests.test_selfservice_taps import browser as browser  # the fixture (fake media, loopback)

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


async def test_the_salesperson_is_told_the_disk_is_low(
    server: RunningServer, browser: Browser, client_factory: Any
) -> None:
    sid, token = await new_link(client_factory)
    ctx, customer, errors = await phone(browser, PHONE)
    await in_call(customer, server, token)  # the customer's recording starts
    s = server.ctx.settings
    server.ctx.settings = replace(s, min_free_mb=free_bytes(s.sessions_dir) // MB + 1_000_000)

    sales_ctx, sales, sales_errors = await phone(browser, {"width": 1280, "height": 900})
    await log_in(sales, server.url, "sales1", PASSWORD)
    await sales.goto(f"{server.url}/sales/session/{sid}")
    notice = sales.locator("#storage-low")
    await sales.click("#start-call")
    await expect(sales.locator("#rtc-state")).to_have_text("已连接", timeout=20_000)
    await expect(notice).to_be_visible(timeout=20_000)
    await expect(notice).to_have_text(
        "服务器磁盘剩余空间不足：录制仍在继续，但可能无法完整保存。请尽快完成本次双录并告知管理员。"
    )
    await sales.click("[data-lang-switch]")
    await expect(notice).to_have_text(
        "The server's disk is nearly full: recording goes on but may not be saved "
        "completely. Finish this session soon and tell your administrator."
    )
    assert errors == [] and sales_errors == []
    await sales_ctx.close()
    await ctx.close()
