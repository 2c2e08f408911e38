"""A customer whose connection drops rejoins in the browser, and nothing is silently spliced.

First the server drops the customer's connection (as a network failure would end it): the
page must notice and rejoin by itself. Then the customer reloads the page (it closes its
connection on ``pagehide``), passes the device check again and rejoins by hand. Each
connection is its own recording segment, every gap is in metadata.json, every hash matches.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fake_media import FakeDevice
from flows import (
    UI_TIMEOUT_MS,
    CallPages,
    Shots,
    customer_consents_and_checks,
    looks_like,
    mean_colour,
    open_call_pages,
    parse_z,
    salesperson_creates_session,
    salesperson_ends_call,
    salesperson_starts_call,
    wait_video_playing,
)
from kesu_e2e import SERVER_ENV, KesuServer, start_server, stop_server
from media_checks import probe, sha256_of
from playwright.async_api import Browser, Page, expect

pytestmark = pytest.mark.e2e

REJOIN_TIMEOUT_MS = 45_000  # detection (ICE consent or DTLS close) + back-off + new connection
BANNER_TIMEOUT_MS = 3_000  # the pages must show a lost connection this fast (issue 8)


async def both_see_each_other(sales: Page, customer: Page, devices: dict[str, FakeDevice]) -> None:
    await expect(customer.locator("#rtc-state")).to_have_text("已连接", timeout=REJOIN_TIMEOUT_MS)
    await expect(sales.locator("#customer-state")).to_have_text("客户已在线", timeout=UI_TIMEOUT_MS)
    await wait_video_playing(customer, "#remote-video")
    await wait_video_playing(sales, "#remote-video")
    assert looks_like(await mean_colour(sales, "#remote-video"), devices["customer"])
    assert looks_like(await mean_colour(customer, "#remote-video"), devices["salesperson"])


async def call_in_both_pages(
    pages: CallPages, server: KesuServer, devices: dict[str, FakeDevice]
) -> tuple[str, str]:
    """A new session, called: both pages connected and each showing the other's camera.
    Returns the customer's link and the session id."""
    url = await salesperson_creates_session(pages.sales, server, Shots(None))
    await pages.sales.click("#enter-call")
    session_id = await salesperson_starts_call(pages.sales)
    await customer_consents_and_checks(pages.customer, url, Shots(None))
    await pages.customer.click("#enter-call")
    await both_see_each_other(pages.sales, pages.customer, devices)
    return url, session_id


async def record_states(page: Page) -> None:
    await page.evaluate(
        """() => { window.kesuStates = [];
            window.kesuCall.addEventListener('state', (e) => window.kesuStates.push(e.detail)); }"""
    )


def check_session(session_dir: Path) -> dict[str, Any]:
    meta = json.loads((session_dir / "metadata.json").read_text(encoding="utf-8"))
    segments = meta["segments"]
    customer = sorted(
        (s for s in segments if s["participant"] == "customer"), key=lambda s: s["index"]
    )
    sales = [s for s in segments if s["participant"] == "salesperson"]
    assert [s["file"] for s in customer] == [
        "customer-000.mkv",
        "customer-001.mkv",
        "customer-002.mkv",
    ]
    assert len(sales) == 1, "the salesperson stayed connected throughout"
    for seg in segments:
        path = session_dir / seg["file"]
        assert seg["status"] == "finished", seg
        assert seg["sha256"] == sha256_of(path), seg
        facts = probe(path)
        assert facts.video_codec and facts.audio_codec and facts.video_frames > 0, (seg, facts)
        assert facts.audio_rms > 0.01, (seg, facts)
    # Segments of one participant never overlap, and each break is a recorded gap.
    for before, after in zip(customer, customer[1:], strict=False):
        assert parse_z(before["ended_at"]) <= parse_z(after["started_at"]), (before, after)
    gaps = [g for g in meta["gaps"] if g["participant"] == "customer"]
    assert len(gaps) == 2, meta["gaps"]
    gap_events = [
        e for e in meta["events"] if e["type"] == "gap" and e["participant"] == "customer"
    ]
    assert len(gap_events) == 2, meta["events"]
    joins = [e for e in meta["events"] if e["type"] == "join" and e["participant"] == "customer"]
    assert len(joins) == 3, meta["events"]
    return meta


async def test_customer_rejoins_after_drop_and_reload(
    kesu_server: KesuServer,
    browsers: dict[str, Browser],
    fake_devices: dict[str, FakeDevice],
) -> None:
    pages = await open_call_pages(browsers)
    sales, customer = pages.sales, pages.customer
    url, session_id = await call_in_both_pages(pages, kesu_server, fake_devices)
    await sales.wait_for_timeout(2000)

    # 1. The server ends the customer's connection; the page reconnects on its own.
    await record_states(customer)
    token = url.rsplit("/", 1)[1]
    await sales.evaluate(
        "(t) => fetch('/api/join/' + t + '/leave', {method: 'POST'}).then((r) => r.status)", token
    )
    await customer.wait_for_function(
        "() => window.kesuStates.includes('reconnecting') && window.kesuCall.state === 'connected'",
        timeout=REJOIN_TIMEOUT_MS,
    )
    await both_see_each_other(sales, customer, fake_devices)
    print("customer states during the drop:", await customer.evaluate("window.kesuStates"))
    await sales.wait_for_timeout(2000)

    # 2. The customer reloads the page: consent is remembered, the device check comes back.
    await customer.reload()
    await expect(customer.locator("#view-check")).to_be_visible(timeout=UI_TIMEOUT_MS)
    await expect(customer.locator("#enter-call")).to_be_enabled(timeout=UI_TIMEOUT_MS)
    await customer.click("#enter-call")
    await both_see_each_other(sales, customer, fake_devices)
    await sales.wait_for_timeout(2000)

    await salesperson_ends_call(sales, customer)
    await pages.close()
    meta = check_session(kesu_server.data_dir / "sessions" / session_id)
    print("customer gaps:", [e["detail"] for e in meta["events"] if e["type"] == "gap"])


async def test_pages_notice_a_killed_server_and_rejoin_after_restart(
    kesu_server: KesuServer,
    browsers: dict[str, Browser],
    fake_devices: dict[str, FakeDevice],
    tmp_path: Path,
) -> None:
    pages = await open_call_pages(browsers)
    sales, customer = pages.sales, pages.customer
    _url, session_id = await call_in_both_pages(pages, kesu_server, fake_devices)
    for page in (sales, customer):
        await expect(page.locator("#rtc-banner")).to_be_hidden()
    await sales.wait_for_timeout(2000)

    # kill -9: the pages must say so within 3 s, whatever ICE still believes.
    netns_fd = os.open(kesu_server.netns, os.O_RDONLY) if kesu_server.netns else None
    port = int(kesu_server.url.rsplit(":", 1)[1])
    killed = time.monotonic()
    kesu_server.process.kill()
    await kesu_server.process.wait()
    for page in (sales, customer):
        banner = page.locator("#rtc-banner")
        await expect(banner).to_be_visible(timeout=BANNER_TIMEOUT_MS)
        await expect(banner).to_contain_text("连接中断，录制已暂停")
        await expect(page.locator("#rtc-state")).not_to_have_text("已连接")
    print(f"banner on both pages {time.monotonic() - killed:.1f} s after the kill")

    # The server comes back on the same address: both pages rejoin by themselves.
    restarted = await start_server(
        kesu_server.data_dir,
        SERVER_ENV,
        tmp_path / "server-restarted.log",
        port=port,
        join_netns=Path(f"/proc/{os.getpid()}/fd/{netns_fd}") if netns_fd is not None else None,
    )
    try:
        restarted_at = time.monotonic()
        await both_see_each_other(sales, customer, fake_devices)
        for page in (sales, customer):
            await expect(page.locator("#rtc-banner")).to_be_hidden()
        print(f"both pages rejoined {time.monotonic() - restarted_at:.1f} s after the restart")
        await sales.wait_for_timeout(2000)
        await salesperson_ends_call(sales, customer)
        await pages.close()
    finally:
        await stop_server(restarted.process)
        if netns_fd is not None:
            os.close(netns_fd)
        if os.environ.get("KESU_E2E_SHOW_LOG"):
            print(restarted.log())

    meta = json.loads(
        (kesu_server.data_dir / "sessions" / session_id / "metadata.json").read_text("utf-8")
    )
    for role in ("salesperson", "customer"):
        segs = sorted(
            (s for s in meta["segments"] if s["participant"] == role), key=lambda s: s["index"]
        )
        assert [s["status"] for s in segs] == ["interrupted", "finished"], segs
        for seg in segs:
            assert seg["sha256"] == sha256_of(
                kesu_server.data_dir / "sessions" / session_id / seg["file"]
            )
        (gap,) = [g for g in meta["gaps"] if g["participant"] == role]
        assert gap["reason"] == "server_interrupted"
        assert (gap["started_at"], gap["ended_at"]) == (segs[0]["ended_at"], segs[1]["started_at"])
    joins = [e["detail"]["connection"] for e in meta["events"] if e["type"] == "join"]
    assert sorted(joins) == [1, 2, 3, 4]
