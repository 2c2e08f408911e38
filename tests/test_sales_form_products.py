"""The create form's products in Debian Chromium: a combined sale (主险 + 附加险) is entered,
checked in the page (a rider without name or with a template that does not cover its type is
refused on that rider's field), sent as ``products`` (main first) and stored as such; removing
the riders sends the one-product form again. Screenshots to ``$KESU_SHOTS``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from inspection.policy import Policy
from server.store.models import RecordingSession
from tests.conftest import VALID_ID, RunningServer
from tests.test_review_pages import browser, login, no_page_errors, shots

pytestmark = pytest.mark.e2e
__all__ = ["browser", "shots"]  # fixtures


async def fill_main(page: Page) -> None:
    await page.fill("#customer_name", "王芳")
    await page.fill("#customer_id_number", VALID_ID)
    await page.fill("#product_name", "安康终身寿险")
    await page.fill("#premium", "12000")
    await page.fill("#payment_years", "10")
    await page.fill("#insurance_years", "")  # whole life


async def stored_policy(server: RunningServer, session_id: str) -> dict[str, Any]:
    async with server.ctx.db.session() as s:
        row = await s.get(RecordingSession, session_id)
        assert row is not None
        return dict(row.policy)


async def test_combined_sale_is_entered_checked_and_stored(
    server: RunningServer, browser: Browser, shots: Path
) -> None:
    page = await login(browser, server.url, "sales1")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await fill_main(page)
    await expect(page.locator(".rider")).to_have_count(0)
    await page.click("#add-rider")
    rider = page.locator(".rider").nth(0)
    await expect(rider.locator(".rider-title")).to_have_text("附加险 1")
    # A rider without a name is refused on its own field, nothing is sent.
    await page.click("#create-submit")
    await expect(page.locator('[id="products[1].product_name-error"]')).to_contain_text(
        "请填写产品名称"
    )
    await expect(page.locator("#link-panel")).to_be_hidden()
    await rider.locator('[data-field="product_name"]').fill("附加意外伤害保险")
    await rider.locator('[data-field="premium"]').fill("600")
    await expect(page.locator("#total-premium")).to_have_text(
        "合计保费：12,600 元（主险 + 1 个附加险）"
    )
    # A universal-life rider is not covered by the traditional template: choose its own.
    await rider.locator('[data-field="product_type"]').select_option("universal")
    await page.click("#create-submit")
    await expect(page.locator('[id="products[1].product_type-error"]')).to_contain_text(
        "话术模板不适用"
    )
    await rider.locator('[data-field="template_id"]').select_option("participating_universal")
    await expect(page.locator('[id="products[1].product_type-error"]')).to_have_count(0)
    # A second rider, then removed again: the first keeps its number.
    await page.click("#add-rider")
    await expect(page.locator(".rider")).to_have_count(2)
    await expect(page.locator(".rider-title").nth(1)).to_have_text("附加险 2")
    await page.screenshot(path=str(shots / "sales-form-combined.png"), full_page=True)
    await page.locator(".rider").nth(1).locator(".remove-rider").click()
    await expect(page.locator(".rider")).to_have_count(1)

    async with page.expect_request("**/api/sessions") as sent:
        await page.click("#create-submit")
    body = (await sent.value).post_data_json
    assert "product_name" not in body and len(body["products"]) == 2
    main, extra = body["products"]
    assert main["product_name"] == "安康终身寿险" and main["insurance_years"] is None
    assert extra == {
        "product_name": "附加意外伤害保险",
        "product_type": "universal",
        "premium": 600,
        "payment_method": "年交",
        "payment_years": 1,
        "insurance_years": 1,
        "template_id": "participating_universal",
    }
    await expect(page.locator("#link-panel")).to_be_visible()
    await expect(page.locator("#link-title")).to_contain_text("安康终身寿险 + 附加意外伤害保险")
    item = page.locator(".session-item").first
    await expect(item.locator(".who")).to_have_text("王芳 · 安康终身寿险 + 附加意外伤害保险")
    session_id = await item.get_attribute("data-session-id")
    assert session_id
    policy = Policy.from_dict(await stored_policy(server, session_id))
    assert [p.product_name for p in policy.products] == ["安康终身寿险", "附加意外伤害保险"]
    assert [p.premium for p in policy.products] == [12000.0, 600.0]
    assert policy.products[1].role == "rider" and policy.products[0].insurance_years is None
    # The form is empty again: no rider rows left over for the next sale.
    await expect(page.locator(".rider")).to_have_count(0)
    await expect(page.locator("#total-premium")).to_be_hidden()

    # English labels follow the language switch, rows included.
    await page.click("#add-rider")
    await page.click("[data-lang-switch]")
    await expect(page.locator(".rider-title")).to_have_text("Rider 1")
    await page.click("[data-lang-switch]")
    await page.locator(".remove-rider").click()

    # Without riders the one-product form is sent, as before.
    await fill_main(page)
    async with page.expect_request("**/api/sessions") as sent:
        await page.click("#create-submit")
    body = (await sent.value).post_data_json
    assert "products" not in body and body["product_name"] == "安康终身寿险"
    await expect(page.locator(".session-item")).to_have_count(2)
    no_page_errors(page)


async def test_a_form_sent_before_the_templates_arrive_waits_for_them(
    server: RunningServer, browser: Browser
) -> None:
    """On a slow link the form can be filled and sent before /api/templates has answered: it
    is sent once the list is there, not refused for a template that was not loaded yet."""
    page = await login(browser, server.url, "sales1")

    async def slow(route: Any) -> None:
        await asyncio.sleep(3.0)
        await route.continue_()

    await page.route("**/api/templates", slow)
    await page.reload()
    await expect(page.locator("#create-form")).to_be_visible()
    await fill_main(page)
    await page.click("#create-submit")
    await expect(page.locator("#link-panel")).to_be_visible(timeout=20_000)
    await expect(page.locator("#create-error")).to_be_hidden()
    no_page_errors(page)
    await page.context.close()


async def test_the_form_cannot_be_sent_before_the_page_script_is_ready(
    server: RunningServer, browser: Browser
) -> None:
    """While the page still waits for /api/me (a slow link), its script has not taken the
    form's submit yet: the button must not send the form as a plain browser POST (that showed
    the server's raw JSON refusal, origin_mismatch); it is enabled once the script is ready,
    and the session is then created."""
    page = await login(browser, server.url, "sales1")

    async def slow(route: Any) -> None:
        await asyncio.sleep(3.0)
        await route.continue_()

    await page.route("**/api/me", slow)
    await page.reload(wait_until="domcontentloaded")
    await fill_main(page)
    await expect(page.locator("#create-submit")).to_be_disabled()
    await page.click("#create-submit")  # Playwright waits for it to be enabled
    await expect(page.locator("#link-panel")).to_be_visible(timeout=20_000)
    await expect(page.locator("#create-error")).to_be_hidden()
    no_page_errors(page)
    await page.context.close()
