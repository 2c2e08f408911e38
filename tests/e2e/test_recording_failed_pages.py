"""Both pages say when the server cannot save the recording (a full or failing disk).

Two Chromiums in a real call. The server process's file size limit is lowered from outside
(``prlimit`` of its soft ``RLIMIT_FSIZE``: every write past the first byte of any file now
fails in the kernel with ``EFBIG``, which Python reports as an ``OSError``, as a full disk's
``ENOSPC`` is; CPython ignores ``SIGXFSZ``). The tests run as root, so a read-only mode
would not stop a write, and a small tmpfs needs a mount namespace the server and the
browsers' network namespace would have to share. The salesperson's page tells them to end
the session; the customer's page says calmly that the salesperson has been told and will
end it (before, the customer's page said nothing). The limit is lifted again (the hard limit
is never touched) before the session ends, so its files are finalised.
"""

from __future__ import annotations

import resource

import pytest
from fake_media import FakeDevice
from flows import (
    UI_TIMEOUT_MS,
    Shots,
    customer_consents_and_checks,
    open_call_pages,
    salesperson_creates_session,
    salesperson_ends_call,
    salesperson_starts_call,
)
from kesu_e2e import KesuServer
from playwright.async_api import Browser, expect

pytestmark = pytest.mark.e2e


def _file_size_limit(pid: int, soft: int) -> None:
    _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))


async def test_both_pages_say_the_recording_is_not_being_saved(
    kesu_server: KesuServer,
    browsers: dict[str, Browser],
    fake_devices: dict[str, FakeDevice],
) -> None:
    pages = await open_call_pages(browsers)
    sales, customer = pages.sales, pages.customer
    url = await salesperson_creates_session(sales, kesu_server, Shots(None))
    await sales.click("#enter-call")
    await salesperson_starts_call(sales)
    await customer_consents_and_checks(customer, url, Shots(None))
    await customer.click("#enter-call")
    await expect(customer.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    await expect(sales.locator("#customer-state")).to_have_text("客户已在线", timeout=UI_TIMEOUT_MS)
    sales_warning = sales.locator("#recording-failed")
    customer_warning = customer.locator("#recording-failed")
    await expect(sales_warning).to_be_hidden()
    await expect(customer_warning).to_be_hidden()

    pid = kesu_server.process.pid
    _file_size_limit(pid, 1)
    try:
        await expect(sales_warning).to_be_visible(timeout=UI_TIMEOUT_MS)
        await expect(sales_warning).to_contain_text("请结束本次双录")
        await expect(customer_warning).to_be_visible(timeout=UI_TIMEOUT_MS)
        await expect(customer_warning).to_have_text(
            "服务器暂时无法完整保存本次录制。销售人员已收到提示，会结束本次双录，"
            "之后再与您联系。您无需任何操作。"
        )
        # The call itself goes on: nothing else on the customer's page changed.
        await expect(customer.locator("#rtc-state")).to_have_text("已连接")
    finally:
        _file_size_limit(pid, resource.RLIM_INFINITY)
    # Room to write again: what was lost stays lost, so the notice stays; in English too.
    await customer.click("[data-lang-switch]")
    await expect(customer_warning).to_have_text(
        "The server cannot fully save this recording at the moment. The salesperson has been "
        "told and will end this session, then contact you. There is nothing you need to do."
    )
    await customer.click("[data-lang-switch]")
    await salesperson_ends_call(sales, customer)
    await pages.close()
