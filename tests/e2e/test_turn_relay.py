"""Two browsers that can reach the server only through a TURN relay (coturn).

The server is configured with a TURN URL and coturn's shared secret; each page fetches its
ICE servers (``{base}/ice``, fresh time-limited credentials) before connecting. Both
Chromiums are forced to ``iceTransportPolicy: "relay"`` (an init script wraps
RTCPeerConnection), so they offer no host candidate: the only way their media reaches the
server is via coturn, which runs inside the server's loopback-only network namespace.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
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
    customer_consents_and_checks,
    looks_like,
    mean_colour,
    salesperson_creates_session,
    wait_video_playing,
)
from kesu_e2e import SALES_USER, SERVER_ENV, KesuServer, start_server, stop_server
from playwright.async_api import Browser, Page, expect

from server.settings import load_settings
from server.users import add_user
from tests.conftest import free_port

pytestmark = pytest.mark.e2e

SECRET = "e2e-turn-secret"
FORCE_RELAY = """(() => {
  const Original = window.RTCPeerConnection;
  function RelayOnly(config, ...rest) {
    return new Original({ ...(config || {}), iceTransportPolicy: "relay" }, ...rest);
  }
  RelayOnly.prototype = Original.prototype;
  Object.setPrototypeOf(RelayOnly, Original);
  window.RTCPeerConnection = RelayOnly;
})();"""
SELECTED = """async () => { const pc = window.kesuCall.pc; const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId); });
  if (!pair) stats.forEach((s) => { if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) pair = s; });
  const local = pair && stats.get(pair.localCandidateId);
  return { local: local && local.candidateType, bytesSent: pair && pair.bytesSent,
           bytesReceived: pair && pair.bytesReceived,
           config: pc.getConfiguration().iceTransportPolicy,
           servers: pc.getConfiguration().iceServers.map((s) => [s.urls, Boolean(s.username)]) }; }"""


@pytest.fixture
async def kesu_server(tmp_path: Path) -> AsyncIterator[KesuServer]:
    """The e2e server with TURN configured, and coturn in the server's network namespace."""
    if shutil.which("turnserver") is None:
        pytest.fail("coturn is not installed: bash scripts/setup.sh --dev")
    port = free_port()
    data_dir = tmp_path / "data"
    settings = load_settings({"data_dir": str(data_dir)}, env={})
    name, password, display, institution = SALES_USER
    await add_user(settings, name, "salesperson", password, display, institution)
    env = {
        **SERVER_ENV,
        "KESU_ICE_TURN_URLS": f"turn:127.0.0.1:{port}?transport=udp",
        "KESU_ICE_TURN_SECRET": SECRET,
    }
    server = await start_server(data_dir, env, tmp_path / "server.log")
    turn_log = tmp_path / "turn.log"
    command = [
        "turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
        f"--listening-port={port}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
        "--realm=kesu.test", "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
        "--min-port=43200", "--max-port=43299", "--log-file=stdout", "--simple-log", "--verbose",
        f"--pidfile={tmp_path / 'turn.pid'}", f"--db={tmp_path / 'turndb'}",
    ]  # fmt: skip
    if server.netns is not None:
        command = ["nsenter", f"--net={server.netns}", *command]
    log_file = await asyncio.to_thread(open, turn_log, "wb")
    with log_file:
        turn = await asyncio.create_subprocess_exec(
            *command, stdout=log_file, stderr=asyncio.subprocess.STDOUT
        )
    try:
        for _ in range(200):
            if b"Total General servers" in turn_log.read_bytes() or turn.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert turn.returncode is None, turn_log.read_text(errors="replace")
        server.turn_log = turn_log  # type: ignore[attr-defined]
        server.turn_url = env["KESU_ICE_TURN_URLS"]  # type: ignore[attr-defined]
        yield server
    finally:
        turn.terminate()
        await turn.wait()
        await stop_server(server.process)
        if os.environ.get("KESU_E2E_SHOW_LOG"):
            print(server.log())


async def relay_page(browser: Browser, **context: Any) -> Page:
    ctx = await browser.new_context(locale="zh-CN", **context)
    await ctx.add_init_script(FORCE_RELAY)
    return await ctx.new_page()


async def test_call_through_turn_only(
    kesu_server: KesuServer, browsers: dict[str, Browser], fake_devices: dict[str, FakeDevice]
) -> None:
    shots = Shots(None)
    sales = await relay_page(
        browsers["salesperson"],
        viewport=DESKTOP,
        permissions=[*MEDIA, "clipboard-read", "clipboard-write"],
    )
    customer = await relay_page(
        browsers["customer"], viewport=PHONE, is_mobile=True, has_touch=True, permissions=MEDIA
    )
    url = await salesperson_creates_session(sales, kesu_server, shots)
    await sales.click("#enter-call")
    await sales.click("#start-call")
    await expect(sales.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    session_id = sales.url.rsplit("/", 1)[1]
    await customer_consents_and_checks(customer, url, shots)
    await customer.click("#enter-call")
    await expect(customer.locator("#rtc-state")).to_have_text("已连接", timeout=UI_TIMEOUT_MS)
    await wait_video_playing(customer, "#remote-video")
    await wait_video_playing(sales, "#remote-video")
    assert looks_like(await mean_colour(sales, "#remote-video"), fake_devices["customer"])
    assert looks_like(await mean_colour(customer, "#remote-video"), fake_devices["salesperson"])
    for page in (sales, customer):
        facts = await page.evaluate(SELECTED)
        assert facts["config"] == "relay", facts
        turn_url = kesu_server.turn_url  # type: ignore[attr-defined]
        assert facts["servers"] == [[[turn_url], True]], facts
        assert facts["local"] == "relay" and facts["bytesReceived"] > 10_000, facts
        sdp = await page.evaluate("window.kesuCall.pc.localDescription.sdp")
        kinds = set(re.findall(r"^a=candidate:\S+ \d+ udp \d+ \S+ \d+ typ (\S+)", sdp, re.M))
        assert kinds == {"relay"}, sdp
    # coturn bound channels for both pages' credentials (users "<role>.<session id>").
    log = kesu_server.turn_log.read_text(errors="replace")  # type: ignore[attr-defined]
    for role in ("salesperson", "customer"):
        assert re.search(
            rf"user <\d+:{role}\.{re.escape(session_id)}>: incoming packet CHANNEL_BIND processed, success",
            log,
        ), role
    await sales.click("#end-call")
    await sales.click("#ask-yes")  # asked in the page (ask.js)
    await expect(sales.locator("#ended-panel")).to_be_visible(timeout=UI_TIMEOUT_MS)
