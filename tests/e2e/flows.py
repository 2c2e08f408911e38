"""Page flows and browser-side checks shared by the end-to-end tests."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fake_media import FakeDevice
from kesu_e2e import SALES_USER, KesuServer
from playwright.async_api import Browser, BrowserContext, Page, expect

from inspection.idnumber import make_id

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
UI_TIMEOUT_MS = 20_000
# Granted like a user would: Chromium then offers plain host candidates (127.0.0.1) instead of
# mDNS names, which cannot be resolved in a namespace without multicast.
MEDIA = ["camera", "microphone"]


@dataclass
class Shots:
    """Screenshots into ``directory`` (None: take none)."""

    directory: Path | None
    taken: list[Path] = field(default_factory=list)

    async def take(self, page: Page, name: str) -> None:
        """Full-page screenshots of ``page`` at desktop and phone size (then restore its size)."""
        if self.directory is None:
            return
        original = page.viewport_size
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(size)
            await page.wait_for_timeout(150)
            path = self.directory / f"{name}-{label}.png"
            await page.screenshot(path=str(path), full_page=True)
            self.taken.append(path)
        if original:
            await page.set_viewport_size(original)


async def video_state(page: Page, selector: str) -> dict[str, float]:
    return await page.evaluate(
        """(sel) => { const v = document.querySelector(sel);
            return {w: v.videoWidth, h: v.videoHeight, t: v.currentTime, ready: v.readyState}; }""",
        selector,
    )


async def wait_video_playing(page: Page, selector: str) -> dict[str, float]:
    """Wait until the element shows frames, then check that its clock advances."""
    await page.wait_for_function(
        """(sel) => { const v = document.querySelector(sel); return v && v.videoWidth > 0 && v.currentTime > 0; }""",
        arg=selector,
        timeout=UI_TIMEOUT_MS,
    )
    first = await video_state(page, selector)
    await page.wait_for_timeout(1000)
    second = await video_state(page, selector)
    assert second["t"] > first["t"] + 0.3, f"{selector} is not advancing: {first} -> {second}"
    return second


async def mean_colour(page: Page, selector: str) -> list[float]:
    """Mean RGB of what the video element currently shows (drawn onto a small canvas)."""
    return await page.evaluate(
        """(sel) => { const v = document.querySelector(sel); const c = document.createElement('canvas');
            c.width = 64; c.height = 48; const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 48);
            const d = g.getImageData(0, 0, 64, 48).data; const s = [0, 0, 0];
            for (let i = 0; i < d.length; i += 4) { s[0] += d[i]; s[1] += d[i + 1]; s[2] += d[i + 2]; }
            return s.map((x) => x / (d.length / 4)); }""",
        selector,
    )


def looks_like(rgb: list[float] | tuple[float, ...], device: FakeDevice) -> bool:
    """Orange (R >> B) vs blue (B >> R) background: the dominant channel must match."""
    want_red = device.rgb[0] > device.rgb[2]
    return (rgb[0] > rgb[2] + 20) if want_red else (rgb[2] > rgb[0] + 20)


async def ice_facts(page: Page) -> dict[str, Any]:
    return await page.evaluate(
        """async () => { const c = window.kesuCall; const {sdpCandidates, selectedCandidatePair} =
              await import('/static/js/rtc.js');
            return {local: sdpCandidates(c.pc.localDescription.sdp),
                    remote: sdpCandidates(c.pc.remoteDescription.sdp),
                    pair: await selectedCandidatePair(c.pc)}; }"""
    )


def assert_loopback_only(facts: dict[str, Any], who: str) -> None:
    for side in ("local", "remote"):
        assert facts[side], f"{who}: no ICE candidates in the {side} SDP"
        addresses = {c["address"] for c in facts[side]}
        assert addresses == {"127.0.0.1"}, f"{who}: {side} candidates {addresses}"
    assert facts["pair"] == {"local": "127.0.0.1", "remote": "127.0.0.1"}, facts["pair"]


def parse_z(text: str) -> datetime:
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def wait_job(db: Path, kind: str, timeout_s: float) -> tuple[str, str | None]:
    """Poll the job table (read-only) until a job of ``kind`` is done or failed for good."""
    deadline = time.monotonic() + timeout_s
    status, error = "missing", None
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute(
                "SELECT status, last_error FROM jobs WHERE kind = ? ORDER BY id DESC LIMIT 1",
                (kind,),
            ).fetchone()
        if row is not None:
            status, error = row
            if status in ("done", "failed"):
                return status, error
        await asyncio.sleep(1.0)
    return status, error


# ---------------------------------------------------------------------------------------------


@dataclass
class CallPages:
    """The salesperson's page and the customer's, each in its own browser and context."""

    sales_ctx: BrowserContext
    customer_ctx: BrowserContext
    sales: Page
    customer: Page

    async def close(self) -> None:
        await self.sales_ctx.close()
        await self.customer_ctx.close()


async def open_call_pages(
    browsers: dict[str, Browser], sales_viewport: dict[str, int] = DESKTOP
) -> CallPages:
    """The salesperson on a desktop (camera, microphone, clipboard), the customer on a phone."""
    sales_ctx = await browsers["salesperson"].new_context(
        viewport=sales_viewport,
        locale="zh-CN",
        permissions=[*MEDIA, "clipboard-read", "clipboard-write"],
    )
    customer_ctx = await browsers["customer"].new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, permissions=MEDIA
    )
    return CallPages(
        sales_ctx, customer_ctx, await sales_ctx.new_page(), await customer_ctx.new_page()
    )


async def salesperson_starts_call(sales: Page) -> str:
    """On the call page: start the call, wait until connected; returns the session id."""
    await sales.click("#start-call")
    await expect(sales.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    return sales.url.rsplit("/", 1)[1]


async def salesperson_ends_call(sales: Page, customer: Page) -> None:
    """End (answering yes in the page); both pages say the recording ended."""
    await sales.click("#end-call")
    await sales.click("#ask-yes")  # asked in the page (ask.js)
    await expect(sales.locator("#ended-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(customer.locator("#view-ended")).to_be_visible(timeout=UI_TIMEOUT_MS)


async def salesperson_creates_session(page: Page, server: KesuServer, shots: Shots) -> str:
    """Log in, try a bad ID number (refused in the page), create a session; returns its link."""
    await page.goto(f"{server.url}/sales")
    await expect(page).to_have_url(f"{server.url}/login?next=/sales")
    await expect(page.locator("#login-submit")).to_have_text("登录")
    await shots.take(page, "01-login")
    name, password, display, institution = SALES_USER
    await page.fill("#username", name)
    await page.fill("#password", "wrong-password")
    await page.click("#login-submit")
    # Argon2 (64 MiB, t=3) runs for every login, right or wrong: on a busy CI box it can
    # take seconds, so these waits get the UI timeout, not Playwright's 5 s default.
    await expect(page.locator("#login-error")).to_have_text(
        "用户名或密码错误。", timeout=UI_TIMEOUT_MS
    )
    await page.fill("#password", password)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{server.url}/sales", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#who")).to_contain_text(display)
    await expect(page.locator("#sessions-empty")).to_be_visible()

    form = page.locator("#create-form")
    await form.locator("#customer_name").fill("王芳")
    good_id = make_id(datetime(1968, 5, 17).date(), "110101", 42)
    bad_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    await form.locator("#customer_id_number").fill(bad_id)
    await form.locator("#product_name").fill("安康终身寿险")
    await form.locator("#premium").fill("12000")
    await page.click("#create-submit")
    await expect(page.locator("#customer_id_number-error")).to_contain_text("校验位不符")
    await expect(page.locator("#link-panel")).to_be_hidden()
    await shots.take(page, "02-sales-invalid-form")

    await form.locator("#customer_id_number").fill(good_id)
    await page.click("#create-submit")
    await expect(page.locator("#link-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
    url = await page.locator("#join-url").input_value()
    assert url.startswith(f"{server.url}/join/"), url
    await expect(page.locator("#qr svg")).to_be_visible()
    year = str(datetime.now().year)
    await expect(page.locator("#link-expires")).to_contain_text(year)  # not 1970: seconds vs ms
    await page.click("#copy-link")
    await expect(page.locator("#copy-status")).to_have_text("已复制")
    assert await page.evaluate("navigator.clipboard.readText()") == url
    await expect(page.locator(".session-item")).to_have_count(1)
    await expect(page.locator(".session-item .badge.created")).to_have_text("待开始")
    await shots.take(page, "03-sales-created")
    return url


async def customer_consents_and_checks(page: Page, url: str, shots: Shots) -> None:
    name, _password, display, institution = SALES_USER
    await page.goto(url)
    await expect(page.locator("#view-consent")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#caller")).to_have_text(
        f"{display}（{institution}）邀请您进行远程双录"
    )
    await expect(page.locator("#product")).to_contain_text("安康终身寿险")
    await expect(page.locator("#consent-button")).to_be_disabled()
    await shots.take(page, "05-join-consent")
    # The English switch translates in place and is remembered; switch back for the rest.
    await page.click("[data-lang-switch]")
    await expect(page.locator("#consent-button")).to_have_text("Agree and continue")
    await shots.take(page, "05-join-consent-en")
    await page.click("[data-lang-switch]")
    await expect(page.locator("#consent-button")).to_have_text("同意并继续")

    await page.check("#consent-check")
    await page.click("#consent-button")
    await expect(page.locator("#view-check")).to_be_visible()
    await expect(page.locator("#check-camera")).to_have_text("正常", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#check-mic")).to_have_text("正常")
    await expect(page.locator("#check-network")).to_contain_text("毫秒")
    # The fake microphone plays a tone: the level meter must move.
    await page.wait_for_function(
        "() => Number(document.querySelector('#mic-meter').dataset.peak) > 20",
        timeout=UI_TIMEOUT_MS,
    )
    await expect(page.locator("#enter-call")).to_be_enabled()
    await shots.take(page, "06-join-device-check")
