"""A combined sale (主险 + 附加险) from the create form to the review, in two real Chromiums.

The salesperson enters a main product and a rider in the form, the customer consents and
joins, the salesperson goes through the composed script (the rider's own nodes, with its
premium, reach the customer's page), ends; the real worker inspects the recording (fake
camera and a tone, so the script is not heard), a reviewer opens the session from the queue
and the salesperson opens its findings: both see the two products and the rider's nodes.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fake_media import FakeDevice
from flows import (
    MEDIA,
    PHONE,
    UI_TIMEOUT_MS,
    Shots,
    customer_consents_and_checks,
    wait_job,
)
from kesu_e2e import SALES_USER, KesuServer
from playwright.async_api import Browser, Page, expect

from inspection.idnumber import make_id
from server.settings import load_settings
from server.users import add_user
from tests.browser import log_in

pytestmark = pytest.mark.e2e

WIDE = {"width": 1280, "height": 900}
REVIEWER = ("qc.li", "review-pass-123")
MAIN, RIDER = "安康终身寿险", "附加意外伤害保险"
INSPECT_TIMEOUT_S = 600  # speech, faces and OCR on a 2-core machine shared with others


async def create_combined_sale(page: Page, base: str) -> str:
    name, password, _display, _institution = SALES_USER
    await log_in(page, base, name, password)
    await page.fill("#customer_name", "王芳")
    await page.fill("#customer_id_number", make_id(date(1968, 5, 17), "110101", 42))
    await page.fill("#product_name", MAIN)
    await page.fill("#premium", "12000")
    await page.fill("#payment_years", "10")
    await page.fill("#insurance_years", "")
    await page.click("#add-rider")
    rider = page.locator(".rider").first
    await rider.locator('[data-field="product_name"]').fill(RIDER)
    await rider.locator('[data-field="premium"]').fill("600")
    await page.click("#create-submit")
    await expect(page.locator("#link-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#link-title")).to_contain_text(f"{MAIN} + {RIDER}")
    return await page.locator("#join-url").input_value()


async def test_combined_sale_created_recorded_inspected_reviewed(
    kesu_server: KesuServer,
    browsers: dict[str, Browser],
    fake_devices: dict[str, FakeDevice],
    screenshot_dir: Path,
) -> None:
    settings = load_settings({"data_dir": str(kesu_server.data_dir)}, env={})
    await add_user(settings, REVIEWER[0], "reviewer", REVIEWER[1], "李质检", "")
    sales_ctx = await browsers["salesperson"].new_context(
        viewport=WIDE, locale="zh-CN", permissions=[*MEDIA, "clipboard-read", "clipboard-write"]
    )
    customer_ctx = await browsers["customer"].new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, permissions=MEDIA
    )
    sales, customer = await sales_ctx.new_page(), await customer_ctx.new_page()
    url = await create_combined_sale(sales, kesu_server.url)
    await sales.click("#enter-call")
    session_id = sales.url.rsplit("/", 1)[1]
    detail = await sales.evaluate(
        "async (id) => (await (await fetch('/api/sessions/' + id)).json())", session_id
    )
    products = detail["session"]["policy"]["products"]
    assert [p["product_name"] for p in products] == [MAIN, RIDER]
    rider_nodes = [n for n in detail["script"] if n["product"] == "rider1"]
    assert rider_nodes, [n["id"] for n in detail["script"]]
    assert all(RIDER in n["title"] for n in rider_nodes)
    assert [e["product_name"] for e in detail["estimated_products"]] == [MAIN, RIDER]

    await sales.click("#start-call")
    await expect(sales.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    await customer_consents_and_checks(customer, url, Shots(None))
    await customer.click("#enter-call")
    await expect(customer.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    await expect(sales.locator("#customer-state")).to_have_text("客户已在线", timeout=UI_TIMEOUT_MS)

    # The whole composed script, step by step; the rider's premium reaches the customer.
    seen_rider = False
    for i, node in enumerate(detail["script"]):
        await sales.click("#next-node")
        await expect(sales.locator("#node-pos")).to_contain_text(
            f"第 {i + 1} /", timeout=UI_TIMEOUT_MS
        )
        await expect(customer.locator("#node-text")).to_have_text(
            node["text"], timeout=UI_TIMEOUT_MS
        )
        if node["product"] == "rider1" and "600" in node["text"] and not seen_rider:
            seen_rider = True
            await sales.screenshot(path=str(screenshot_dir / "combined-call-salesperson.png"))
            await customer.screenshot(path=str(screenshot_dir / "combined-call-customer.png"))
        await sales.wait_for_timeout(300)
    assert seen_rider, "no rider node states the rider's premium"
    await sales.click("#end-call")
    await sales.click("#ask-yes")  # asked in the page (ask.js)
    await expect(sales.locator("#ended-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(customer.locator("#view-ended")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await customer_ctx.close()

    session_dir = kesu_server.data_dir / "sessions" / session_id
    meta = json.loads((session_dir / "metadata.json").read_text("utf-8"))
    assert [p["product_name"] for p in meta["policy"]["products"]] == [MAIN, RIDER]
    status, error = await wait_job(kesu_server.data_dir / "kesu.db", "inspect", INSPECT_TIMEOUT_S)
    assert status == "done", f"inspection {status}: {error}\n{kesu_server.log()[-3000:]}"

    # QC: the session is in the queue; its page names both products and the rider's nodes.
    qc_ctx = await browsers["salesperson"].new_context(viewport=WIDE, locale="zh-CN")
    qc = await qc_ctx.new_page()
    await log_in(qc, kesu_server.url, *REVIEWER)
    await expect(qc.locator(f'#rows tr[data-id="{session_id}"]')).to_have_count(1)
    await qc.goto(f"{kesu_server.url}/review/session/{session_id}")
    await expect(qc.locator("#head h1")).to_have_text(f"王芳 · {MAIN} + {RIDER}")
    await expect(qc.locator(".finding").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    await qc.screenshot(path=str(screenshot_dir / "combined-review.png"), full_page=True)
    await qc_ctx.close()

    # The salesperson: the list links to the findings, which include the rider's nodes.
    await sales.goto(f"{kesu_server.url}/sales")
    item = sales.locator(f'.session-item[data-session-id="{session_id}"]')
    await expect(item.locator(".who")).to_have_text(f"王芳 · {MAIN} + {RIDER}")
    await item.locator("a.view-findings").click()
    await expect(sales.locator(".sf-finding").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(sales.locator("#summary h1")).to_have_text(f"王芳 · {MAIN} + {RIDER}")
    rider_findings = sales.locator('.sf-finding[data-node^="rider1."]')
    assert await rider_findings.count() >= 1, await sales.locator("#findings").inner_text()
    await expect(rider_findings.first).to_contain_text(RIDER)
    await sales.screenshot(path=str(screenshot_dir / "combined-findings.png"), full_page=True)
    await sales_ctx.close()
