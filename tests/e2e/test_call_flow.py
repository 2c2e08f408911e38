"""A whole remote dual recording in two real Chromium browsers, checked down to the files.

Salesperson (desktop) logs in, creates a session, gets the link and enters the call; the
customer (phone viewport) opens the link, consents, passes the device check and joins. Both
must see the other's video (by colour: each fake camera has its own background), talk for
about ten seconds while the salesperson advances the script, then the salesperson ends.
The recordings, metadata.json and the review video are then reopened and checked.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fake_media import FakeDevice
from flows import (
    DESKTOP,
    MEDIA,
    PHONE,
    UI_TIMEOUT_MS,
    Shots,
    assert_loopback_only,
    customer_consents_and_checks,
    ice_facts,
    looks_like,
    mean_colour,
    parse_z,
    salesperson_creates_session,
    wait_job,
    wait_video_playing,
)
from kesu_e2e import KesuServer
from media_checks import probe, sha256_of
from playwright.async_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

TALK_S = 10.0


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
    await sales.click("#end-call")
    await sales.click("#ask-yes")  # asked in the page (ask.js)
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
    shots = Shots(screenshot_dir)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    sales_ctx = await browsers["salesperson"].new_context(
        viewport=DESKTOP, locale="zh-CN", permissions=[*MEDIA, "clipboard-read", "clipboard-write"]
    )
    customer_ctx = await browsers["customer"].new_context(
        viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True, permissions=MEDIA
    )
    sales, customer = await sales_ctx.new_page(), await customer_ctx.new_page()
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
