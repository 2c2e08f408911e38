"""The salesperson's findings page in Debian Chromium: from the list's "查看问题" to the
session's findings (read-only, with QC's judgement), the review's outcome and the
re-recording request, which starts the new session; another salesperson sees nothing of it.
Screenshots go to ``$KESU_SHOTS`` (or the test's tmp dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import RunningServer
from tests.review_fixtures import FLAGGED, ID_NUMBER, MASKED_ID, build_session
from tests.test_api_sales_findings import _reject
from tests.test_review_pages import browser, login, no_page_errors, shots

pytestmark = pytest.mark.e2e
__all__ = ["browser", "shots"]  # fixtures


async def test_owner_opens_findings_from_the_list_and_starts_rerecording(
    server: RunningServer, browser: Browser, shots: Path, client_factory: Any
) -> None:
    built = await build_session(server.ctx, salesperson="sales1")
    await _reject(client_factory, built.id, built.finding_ids)
    page = await login(browser, server.url, "sales1")
    await page.set_viewport_size({"width": 1280, "height": 900})
    assert page.url.endswith("/sales")
    item = page.locator(f'.session-item[data-session-id="{built.id}"]')
    await expect(item.locator(".badge.fail")).to_have_text(f"{len(FLAGGED)} 项问题")
    await item.locator("a.view-findings").click()
    await page.wait_for_url(f"**/sales/session/{built.id}/findings")
    findings = page.locator(".sf-finding")
    await expect(findings).to_have_count(len(FLAGGED))
    await expect(page.locator("#findings-title")).to_have_text(f"质检发现（{len(FLAGGED)}）")
    forbidden = page.locator('.sf-finding[data-code="speech.forbidden_phrase"]')
    await expect(forbidden).to_contain_text("禁用语")
    await expect(forbidden).to_contain_text("质检已确认")
    await expect(forbidden).to_contain_text("这款产品保本保息")
    await expect(forbidden.locator(".sf-where")).to_contain_text("0:01–0:02")
    body = await page.locator("body").inner_text()
    assert MASKED_ID in body and ID_NUMBER not in body
    assert "内部备注" not in body  # QC's comments are not shown to the salesperson
    await expect(page.locator("#review")).to_contain_text("请按要求重录")
    card = page.locator("#rerecord")
    await expect(card).to_be_visible()
    await expect(card.locator(".rerecord-items li")).to_have_count(len(FLAGGED))
    # Read-only: nothing on the page can judge or decide.
    await expect(page.locator("textarea, input[type=radio], button.confirm")).to_have_count(0)
    await page.screenshot(path=str(shots / "sales-findings.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(shots / "sales-findings-phone.png"), full_page=True)
    await page.click("[data-lang-switch]")
    await expect(forbidden).to_contain_text("Confirmed by QC")
    await page.click("[data-lang-switch]")

    await card.locator("button.rerecord-start").click()
    await page.wait_for_url("**/sales/session/s-*")
    assert not page.url.endswith("/findings")
    new_id = page.url.rsplit("/", 1)[1]
    await page.goto(f"{server.url}/sales/session/{built.id}/findings")
    await expect(card.locator(f'a[href="/sales/session/{new_id}"]')).to_be_visible()
    no_page_errors(page)

    other = await login(browser, server.url, "sales2")
    await other.goto(f"{server.url}/sales/session/{built.id}/findings")
    await expect(other.locator("#page-error")).to_have_text("找不到该双录，或它不属于您。")
    await expect(other.locator(".sf-finding")).to_have_count(0)
    assert "保本保息" not in await other.locator("body").inner_text()
