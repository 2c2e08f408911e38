"""A whole remote dual recording in two real Chromium browsers, checked down to the files.

Salesperson (desktop) logs in, creates a session, gets the link and enters the call; the
customer (phone viewport) opens the link, consents, passes the device check and joins. Both
must see the other's video (by colour: each fake camera has its own background), talk for
about ten seconds while the salesperson advances the script, then the salesperson ends.
The recordings, metadata.json and the review video are then reopened and checked.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fake_media import FakeDevice
from kesu_e2e import SALES_USER, KesuServer
from media_checks import probe, sha256_of
from playwright.async_api import Browser, Page, expect

from inspection.idnumber import make_id

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TALK_S = 10.0
UI_TIMEOUT_MS = 20_000
# Granted like a user would: Chromium then offers plain host candidates (127.0.0.1) instead of
# mDNS names, which cannot be resolved in a namespace without multicast.
MEDIA = ["camera", "microphone"]


@dataclass
class Shots:
    directory: Path
    taken: list[Path]

    async def take(self, page: Page, name: str) -> None:
        """Full-page screenshots of ``page`` at desktop and phone size (then restore its size)."""
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
    await expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    await page.fill("#password", password)
    await page.click("#login-submit")
    await expect(page).to_have_url(f"{server.url}/sales")
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
        "Number(document.querySelector('#mic-meter').dataset.peak) > 20", timeout=UI_TIMEOUT_MS
    )
    await expect(page.locator("#enter-call")).to_be_enabled()
    await shots.take(page, "06-join-device-check")


async def run_call(
    sales: Page, customer: Page, devices: dict[str, FakeDevice], shots: Shots
) -> dict[str, Any]:
    """Both connected: remote videos play, the right person on each side; advance 3 steps."""
    await customer.click("#enter-call")
    await expect(customer.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    await expect(sales.locator("#customer-state")).to_have_text("客户已在线", timeout=UI_TIMEOUT_MS)
    await expect(sales.locator("#consent-state")).to_contain_text("客户已同意录音录像")
    started = time.monotonic()
    playing = {
        "salesperson sees": await wait_video_playing(sales, "#remote-video"),
        "customer sees": await wait_video_playing(customer, "#remote-video"),
    }
    for state in playing.values():
        assert (state["w"], state["h"]) == (640, 480), playing
    sales_view = await mean_colour(sales, "#remote-video")
    customer_view = await mean_colour(customer, "#remote-video")
    assert looks_like(sales_view, devices["customer"]), f"salesperson sees {sales_view}"
    assert looks_like(customer_view, devices["salesperson"]), f"customer sees {customer_view}"
    ice = {"salesperson": await ice_facts(sales), "customer": await ice_facts(customer)}
    for who, facts in ice.items():
        assert_loopback_only(facts, who)

    nodes: list[str] = []
    for step in range(3):
        await sales.click("#next-node")
        await expect(sales.locator("#node-pos")).to_contain_text(f"第 {step + 1} /")
        text = (await sales.locator("#node-text").text_content() or "").strip()
        await expect(customer.locator("#node-text")).to_have_text(text, timeout=UI_TIMEOUT_MS)
        nodes.append(text)
        await sales.wait_for_timeout(1500)
    await shots.take(sales, "07-call-salesperson")
    await shots.take(customer, "08-call-customer")
    remaining = TALK_S - (time.monotonic() - started)
    if remaining > 0:
        await sales.wait_for_timeout(remaining * 1000)
    return {
        "ice": ice,
        "playing": playing,
        "node_texts": nodes,
        "talk_s": time.monotonic() - started,
    }


async def end_call(sales: Page, customer: Page, server: KesuServer, shots: Shots) -> None:
    sales.once("dialog", lambda dialog: dialog.accept())
    await sales.click("#end-call")
    await expect(sales.locator("#ended-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(customer.locator("#view-ended")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await shots.take(sales, "09-call-ended-salesperson")
    await shots.take(customer, "10-join-ended")
    await sales.goto(f"{server.url}/sales")
    await expect(sales.locator(".session-item .badge.ended")).to_have_text("已结束")
    await shots.take(sales, "11-sales-list-after")


# ---------------------------------------------------------------------------------------------


def check_metadata(session_dir: Path, script_ids: list[str]) -> dict[str, Any]:
    meta = json.loads((session_dir / "metadata.json").read_text(encoding="utf-8"))
    assert meta["schema"] == "kesu.session/1"
    assert meta["status"] == "ended"
    events = meta["events"]
    for event in events:
        parse_z(event["at"])
    types = [e["type"] for e in events]
    joins = {e["participant"] for e in events if e["type"] == "join"}
    assert joins == {"salesperson", "customer"}, events
    consent = [e for e in events if e["type"] == "consent"]
    assert len(consent) == 1 and consent[0]["participant"] == "customer"
    customer_join = next(
        e for e in events if e["type"] == "join" and e["participant"] == "customer"
    )
    assert parse_z(consent[0]["at"]) <= parse_z(customer_join["at"])
    assert [e["node"] for e in events if e["type"] == "node"] == script_ids[:3]
    assert types[-1] == "end" or "end" in types
    ats = [parse_z(e["at"]) for e in events]
    assert ats == sorted(ats), "events out of server-time order"
    assert not meta.get("gaps"), meta.get("gaps")
    return meta


def check_segments(session_dir: Path, meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    segments = {s["participant"]: s for s in meta["segments"]}
    assert set(segments) == {"salesperson", "customer"}, meta["segments"]
    assert len(meta["segments"]) == 2, "one segment each: nobody dropped"
    for who, seg in segments.items():
        path = session_dir / seg["file"]
        assert path.exists(), path
        assert seg["status"] == "finished", seg
        assert seg["bytes"] == path.stat().st_size
        assert seg["sha256"] == sha256_of(path), f"{who}: sha256 differs from the file"
        parse_z(seg["started_at"])
        parse_z(seg["ended_at"])
    return segments


def check_recording(path: Path, seg: dict[str, Any], device: FakeDevice) -> dict[str, Any]:
    facts = probe(path)
    wall = (parse_z(seg["ended_at"]) - parse_z(seg["started_at"])).total_seconds()
    assert facts.video_codec in ("vp8", "libvpx", "h264"), facts
    assert facts.audio_codec in ("opus", "libopus"), facts
    assert (facts.width, facts.height) == (640, 480), facts
    assert abs(facts.video_duration_s - wall) < 3.0, (facts, wall)
    assert abs(facts.audio_duration_s - wall) < 3.0, (facts, wall)
    # The fake camera runs at 15 fps; allow for a slow start and a busy 2-core machine.
    assert 5 * wall <= facts.video_frames <= 31 * wall, (facts, wall)
    assert facts.audio_rms > 0.01, facts
    assert abs(facts.audio_peak_hz - device.pitch_hz) < 15, facts
    assert looks_like(facts.mean_rgb, device), facts
    return {"wall_s": wall, **facts.__dict__}


def check_review_video(path: Path, call_s: float) -> dict[str, Any]:
    facts = probe(path)
    assert facts.video_codec is not None and facts.video_frames > 0, facts
    assert facts.width >= 2 * 320, facts  # two pictures side by side
    assert abs(facts.video_duration_s - call_s) < 4.0, (facts, call_s)
    return facts.__dict__


async def test_remote_recording_in_two_browsers(
    kesu_server: KesuServer,
    browsers: dict[str, Browser],
    fake_devices: dict[str, FakeDevice],
    screenshot_dir: Path,
) -> None:
    shots = Shots(screenshot_dir, [])
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    sales_ctx = await browsers["salesperson"].new_context(
        viewport=DESKTOP, locale="zh-CN", permissions=[*MEDIA, "clipboard-read", "clipboard-write"]
    )
    customer_ctx = await browsers["customer"].new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, permissions=MEDIA
    )
    sales, customer = await sales_ctx.new_page(), await customer_ctx.new_page()
    sales.on("console", lambda m: print("CONSOLE", m.text))
    url = await salesperson_creates_session(sales, kesu_server, shots)
    await sales.click("#enter-call")
    await expect(sales.locator("#next-node")).to_have_text("开始话术")
    await shots.take(sales, "04-call-before-start")
    session_id = sales.url.rsplit("/", 1)[1]
    await sales.click("#start-call")
    await expect(sales.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    timings["setup_s"] = time.monotonic() - t0

    await customer_consents_and_checks(customer, url, shots)
    call = await run_call(sales, customer, fake_devices, shots)
    t_end = time.monotonic()
    await end_call(sales, customer, kesu_server, shots)
    timings["call_s"] = call["talk_s"]
    script_ids = await sales.evaluate(
        """async (id) => (await (await fetch('/api/sessions/' + id)).json()).script.map((n) => n.id)""",
        session_id,
    )
    await sales_ctx.close()
    await customer_ctx.close()

    session_dir = kesu_server.data_dir / "sessions" / session_id
    meta = check_metadata(session_dir, script_ids)
    segments = check_segments(session_dir, meta)
    recordings = {
        who: check_recording(session_dir / seg["file"], seg, fake_devices[who])
        for who, seg in segments.items()
    }
    # The customer was connected for the whole talk; the salesperson a little longer.
    assert recordings["customer"]["wall_s"] >= TALK_S - 1
    assert recordings["salesperson"]["wall_s"] >= recordings["customer"]["wall_s"]

    status, error = await wait_job(kesu_server.data_dir / "kesu.db", "review_video", 300)
    timings["review_video_wait_s"] = time.monotonic() - t_end
    assert status == "done", f"review video job {status}: {error}\n{kesu_server.log()[-3000:]}"
    review = next(
        p for p in (session_dir / "review.mp4", session_dir / "review.webm") if p.exists()
    )
    # The review video spans the whole session: from the first participant's media to the end.
    check_review_video(review, max(r["wall_s"] for r in recordings.values()))

    timings["total_s"] = time.monotonic() - t0
    report = {
        "isolated_netns": kesu_server.netns is not None,
        "timings": timings,
        "recordings": recordings,
        "screenshots": [str(p) for p in shots.taken],
    }
    (screenshot_dir / "e2e-report.json").write_text(json.dumps(report, indent=1, default=str))
