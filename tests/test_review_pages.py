"""Reviewer pages in Debian Chromium: the queue, the session page (synced playback, seek by
clicking a finding, judge, decide), 二审 by another reviewer, the salesperson seeing the
re-recording request, and the statistics page. Screenshots go to ``$KESU_SHOTS`` (or the
test's tmp dir) so a person can look at them.

Loopback only: the server listens on 127.0.0.1 and Chromium runs with background networking
off; the pages load nothing from elsewhere (no CDN, no fonts from the internet).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser import chromium, log_in
from tests.conftest import PASSWORD, RunningServer
from tests.review_fixtures import ID_NUMBER, MASKED_ID, build_session

pytestmark = pytest.mark.e2e


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("KESU_SHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out


async def login(browser: Browser, base: str, username: str) -> Page:
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    def bad_response(r: Any) -> None:
        # API refusals (4xx) are part of the flows under test; anything else failing is a bug.
        if r.status >= 500 or (r.status >= 400 and "/api/" not in r.url):
            errors.append(f"{r.status} {r.url}")

    page.on("response", bad_response)
    page.errors = errors  # type: ignore[attr-defined]
    await log_in(page, base, username, PASSWORD)
    return page


def no_page_errors(page: Page) -> None:
    errors = [e for e in page.errors if not e.endswith("/favicon.ico")]  # type: ignore[attr-defined]
    assert errors == []


async def current_time(page: Page) -> float:
    text = await page.locator("#time").inner_text()
    m, s = text.split("/")[0].strip().split(":")
    return int(m) * 60 + float(s)


async def test_queue_page(
    server: RunningServer, browser: Browser, shots: Path, client_factory: Any
) -> None:
    from datetime import timedelta

    old = await build_session(server.ctx, age=timedelta(days=3))
    new = await build_session(server.ctx, salesperson="sales2", age=timedelta(hours=2))
    page = await login(browser, server.url, "rev1")
    assert page.url.endswith("/review")
    rows = page.locator("#rows tr")
    await expect(rows).to_have_count(2)
    assert await rows.nth(0).get_attribute("data-id") == old.id  # oldest first, same severity
    await expect(page.locator("#total")).to_have_text("共 2 个双录")
    await expect(page.locator("#status-counts .chip").first).to_contain_text("待一审2")
    body = await page.locator("body").inner_text()
    assert MASKED_ID in body and ID_NUMBER not in body
    assert "禁用语" in body and "人员离开画面" in body
    await page.screenshot(path=str(shots / "01-queue.png"), full_page=True)

    await page.fill("#f-salesperson", "sales2")
    await page.click("#filters button[type=submit]")
    await expect(rows).to_have_count(1)
    assert await rows.nth(0).get_attribute("data-id") == new.id
    assert "salesperson=sales2" in page.url
    await page.click("[data-lang-switch]")
    await expect(page.locator("h1")).to_have_text("QC queue")
    await expect(page.locator("#total")).to_have_text("Recordings: 1")
    await page.screenshot(path=str(shots / "02-queue-filtered-en.png"), full_page=True)
    await page.click("[data-lang-switch]")
    no_page_errors(page)


async def test_session_page_seek_judge_decide_and_salesperson_sees_request(
    server: RunningServer, browser: Browser, shots: Path
) -> None:
    built = await build_session(server.ctx, seconds=6.0)  # two tracks, no review video
    page = await login(browser, server.url, "rev1")
    await page.goto(f"{server.url}/review/session/{built.id}")
    await expect(page.locator(".finding")).to_have_count(4)
    videos = page.locator("#panes video")
    await expect(videos).to_have_count(2)
    # The salesperson's recording loads (Matroska VP8/Opus served with Range by the media
    # API); the customer joined 0.5 s later, so at 0 s that pane shows "no picture".
    await page.wait_for_function(
        "() => document.querySelector('[data-participant=salesperson]').readyState >= 2"
    )
    await expect(page.locator('[data-pane="customer"] .overlay')).to_be_visible()
    await expect(page.locator('[data-pane="salesperson"] .overlay')).to_be_hidden()
    head = await page.locator("#head").inner_text()
    assert MASKED_ID in head
    assert ID_NUMBER not in await page.locator("body").inner_text()
    await expect(page.locator("#timeline .marker")).to_have_count(3)  # one finding has no time
    await expect(page.locator("#transcript li")).to_have_count(4)

    # Play: the clock advances and both videos run in step.
    await page.click("#play")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#panes video')].every(v => v.currentTime > 1.2)"
    )
    await page.click("#play")  # pause
    times = await page.evaluate(
        "[...document.querySelectorAll('#panes video')].map(v => v.currentTime)"
    )
    # The customer's segment starts 0.5 s later on the session clock.
    assert abs((times[0] - times[1]) - 0.5) < 0.35, times
    await page.screenshot(path=str(shots / "03-session-playing.png"), full_page=True)

    # Seek by clicking a finding: the face.absent finding at 2.5 s.
    card = page.locator('.finding[data-code="face.absent"]')
    await card.locator("button.seek").click()
    await expect(card).to_have_class("finding open active")
    assert abs(await current_time(page) - 2.5) < 0.05
    customer_t = await page.evaluate(
        "document.querySelector('[data-participant=customer]').currentTime"
    )
    assert abs(customer_t - 2.0) < 0.05  # 2.5 s on the session clock = 2.0 s into its file
    # The transcript follows: the last utterance before 2.5 s is the salesperson's at 1.2 s.
    await expect(page.locator("#transcript li.current")).to_contain_text("保本保息")
    img = card.locator(".evidence img")
    await expect(img).to_be_visible()
    assert await img.evaluate("i => i.complete && i.naturalWidth > 0")
    # ... and by clicking the timeline marker of the forbidden phrase at 1.2 s.
    await page.locator(f'#timeline .marker[data-finding-id="{built.finding_ids[0]}"]').click()
    assert abs(await current_time(page) - 1.2) < 0.05
    await expect(page.locator(".finding.active")).to_have_attribute(
        "data-code", "speech.forbidden_phrase"
    )
    # ... and by clicking a transcript line (the customer's consent at 0.9 s).
    await page.locator('#transcript li[data-i="1"]').click()
    assert abs(await current_time(page) - 0.9) < 0.05
    await expect(page.locator("#transcript li.current")).to_have_attribute("data-i", "1")
    await page.locator(f'#timeline .marker[data-finding-id="{built.finding_ids[0]}"]').click()
    await page.screenshot(path=str(shots / "04-session-seek-finding.png"), full_page=True)

    # Deciding before judging every finding is refused with a translated message.
    await page.check("input[name=decision][value=reject]")
    await page.fill("#reason", "误导销售")
    await page.click("#submit")
    await expect(page.locator("#decision-error")).to_have_text("请先逐项确认或驳回全部质检发现。")

    # Judge: confirm the forbidden phrase and the missing node, dismiss the others.
    for code in ("speech.forbidden_phrase", "script.node_missing"):
        c = page.locator(f'.finding[data-code="{code}"]')
        await c.locator("textarea").fill("录像中确认")
        await c.locator("button.confirm").click()
        await expect(page.locator(f'.finding[data-code="{code}"] .state')).to_have_text("已确认")
    for code in ("face.absent", "document.id_card_mismatch"):
        c = page.locator(f'.finding[data-code="{code}"]')
        await c.locator("button.dismiss").click()
        await expect(c.locator(".alert")).to_have_text("驳回误报时请填写理由。")
        await c.locator("textarea").fill("误报：客户低头签字")
        await c.locator("button.dismiss").click()
        await expect(page.locator(f'.finding[data-code="{code}"] .state')).to_have_text("已驳回")
    await expect(page.locator("#open-left")).to_be_hidden()
    await page.check("input[name=decision][value=reject]")
    await page.fill("#reason", "误导销售且漏讲责任免除")
    await page.click("#submit")
    await expect(page.locator("#decided")).to_have_text("已提交：待二审")
    await expect(page.locator("#blocked")).to_have_text(
        "您已完成本双录的一审，二审须由其他质检人员完成。"
    )
    await expect(page.locator(".finding button.confirm")).to_have_count(0)
    await page.screenshot(path=str(shots / "05-session-after-first-review.png"), full_page=True)
    no_page_errors(page)

    # 二审 by another reviewer: the queue shows it, the decision makes it final.
    page2 = await login(browser, server.url, "rev2")
    await page2.goto(f"{server.url}/review?status=second_pending")
    await expect(page2.locator("#rows tr")).to_have_count(1)
    await page2.click(f'#rows tr[data-id="{built.id}"] a')
    await expect(page2.locator("#decision-title")).to_have_text("审核结论（二审）")
    await page2.check("input[name=decision][value=reject]")
    await page2.fill("#reason", "同意一审意见，请重录相关环节")
    await page2.click("#submit")
    await expect(page2.locator("#decided")).to_have_text("已提交：已驳回")
    await expect(page2.locator("#rerecord-items li")).to_have_count(2)
    await page2.screenshot(path=str(shots / "06-session-second-review.png"), full_page=True)
    no_page_errors(page2)

    # The salesperson sees the request with only what must be redone, and starts it.
    sales = await login(browser, server.url, "sales1")
    assert sales.url.endswith("/sales")
    card = sales.locator("#rerecord-requests")
    await expect(card).to_be_visible()
    await expect(card.locator("h2")).to_have_text("需要重新录制")
    items = card.locator(".rerecord-items li")
    await expect(items).to_have_count(2)
    await expect(items.nth(0)).to_have_text("讲解「责任免除 (R8)」")
    await expect(items.nth(1)).to_contain_text("保险责任 (R7)")
    await expect(card).to_contain_text("同意一审意见，请重录相关环节")
    await sales.screenshot(path=str(shots / "07-sales-rerecord-request.png"), full_page=True)
    await card.locator("button.rerecord-start").click()
    await sales.wait_for_url("**/sales/session/s-*")
    new_id = sales.url.rsplit("/", 1)[-1]
    assert new_id != built.id
    status, body = await _get_as(server, "sales1", f"/api/sessions/{new_id}")
    assert status == 200 and body["session"]["rerecord_of"] == built.id


async def _get_as(server: RunningServer, user: str, path: str) -> tuple[int, Any]:
    from tests.conftest import Client

    c = Client(server.url)
    try:
        await c.login(user)
        return await c.get(path)
    finally:
        await c.close()


async def test_review_video_mode_and_stats_page(
    server: RunningServer, browser: Browser, shots: Path, client_factory: Any
) -> None:
    built = await build_session(server.ctx, review_video=True)
    rev = await client_factory("rev1")
    for fid in built.finding_ids:
        await rev.post(f"/api/review/findings/{fid}", {"state": "dismissed", "comment": "误报"})
    status, _ = await rev.post(f"/api/review/sessions/{built.id}/decision", {"decision": "approve"})
    assert status == 200

    page = await login(browser, server.url, "admin")
    await page.goto(f"{server.url}/review/session/{built.id}")
    await expect(page.locator("#mode")).to_be_visible()
    await expect(page.locator("#panes video")).to_have_count(1)  # the review video first
    await page.wait_for_function("() => document.querySelector('#panes video').readyState >= 2")
    await page.locator("#timeline .track").first.click(position={"x": 5, "y": 5})
    await page.screenshot(path=str(shots / "08-session-review-video.png"), full_page=True)
    await page.click('#mode button[data-mode="tracks"]')
    await expect(page.locator("#panes video")).to_have_count(2)
    await expect(page.locator("#export")).to_be_visible()  # admins may export

    await page.goto(f"{server.url}/review/stats")
    await expect(page.locator(".kpi")).to_have_count(6)
    await expect(page.locator("#per-day svg rect")).not_to_have_count(0)
    await expect(page.locator("#per-code tbody tr")).to_have_count(4)
    await expect(page.locator('#per-code tr[data-code="face.absent"] td').last).to_have_text("0.0%")
    kpis = await page.locator("#kpis").inner_text()
    assert "100.0%" in kpis  # first-review pass rate: the one decision was an approval
    await page.screenshot(path=str(shots / "09-stats.png"), full_page=True)
    no_page_errors(page)

    sales = await login(browser, server.url, "sales1")
    await sales.goto(f"{server.url}/review")
    # The page shell loads for any login, but the data API refuses the role and the page
    # leaves for the salesperson's home.
    await sales.wait_for_url("**/sales")
