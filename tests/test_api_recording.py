"""Media through the HTTP API with Python aiortc peers: record, second customer refused, server kill."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.probe import probe_recording
from server.session_format import iso_z
from tests.conftest import PASSWORD, Client, RunningServer, free_port, new_session_body, wait_for
from tests.test_api_auth import assert_error

FPS = 15


def make_peer(role: str) -> ClientPeer:
    timeline = MediaTimeline()
    return ClientPeer([PatternVideoTrack(role, timeline, fps=FPS), ToneAudioTrack(timeline)])


async def join(client: Client, path: str, role: str) -> ClientPeer:
    peer = make_peer(role)
    status, body = await client.post(path, json={"type": "offer", "sdp": await peer.offer()})
    assert status == 200, body
    await peer.accept(body["sdp"])
    return peer


async def open_session(sales: Client) -> tuple[str, str]:
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    assert status == 200
    return sid, link["token"]


async def start_call(sales: Client, customer: Client, peers: list[ClientPeer]) -> tuple[str, str]:
    """Open a session; the customer consents; both join (their peers appended to ``peers``,
    which the caller closes) and receive each other's video. Returns (session id, token)."""
    sid, token = await open_session(sales)
    await customer.post(f"/api/join/{token}/consent", json={"consent": True})
    peers.append(await join(sales, f"/api/sessions/{sid}/offer", "salesperson"))
    peers.append(await join(customer, f"/api/join/{token}/offer", "customer"))
    await wait_for(lambda: all(p.received.frames["video"] > 0 for p in peers))
    return sid, token


async def test_recorded_call_through_the_api(server: RunningServer, client_factory: Any) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    sid, token = await open_session(sales)
    assert (await customer.post(f"/api/join/{token}/consent", json={"consent": True}))[0] == 200
    sp = await join(sales, f"/api/sessions/{sid}/offer", "salesperson")
    cp = await join(customer, f"/api/join/{token}/offer", "customer")
    try:
        await wait_for(lambda: sp.received.frames["video"] > 0 and cp.received.frames["video"] > 0)
        # A second customer on the same link is refused while the first is connected.
        intruder = make_peer("customer")
        status, body = await customer.post(
            f"/api/join/{token}/offer", json={"type": "offer", "sdp": await intruder.offer()}
        )
        await intruder.close()
        assert status == 409
        assert_error(body, "role_taken")
        status, state = await sales.get(f"/api/sessions/{sid}/state")
        assert state["status"] == "live"
        assert state["connected"] == {"salesperson": True, "customer": True}
        _, info = await sales.get(f"/api/sessions/{sid}")
        for node in [n["id"] for n in info["script"][:3]]:
            assert (await sales.post(f"/api/sessions/{sid}/node", json={"node": node}))[0] == 200
            await asyncio.sleep(0.7)
        await asyncio.sleep(1.5)
    finally:
        status, body = await sales.post(f"/api/sessions/{sid}/end")
        await sp.close()
        await cp.close()
    assert status == 200 and body["session"]["status"] == "ended"

    sdir = server.ctx.settings.sessions_dir / sid
    meta = json.loads((sdir / "metadata.json").read_text("utf-8"))
    types = [e["type"] for e in meta["events"]]
    for needed in ("consent", "join", "node", "end"):
        assert needed in types, types
    assert [e["node"] for e in meta["events"] if e["type"] == "node"] == [
        n["id"] for n in info["script"][:3]
    ]
    assert {s["participant"] for s in meta["segments"]} == {"salesperson", "customer"}
    for seg in meta["segments"]:
        data = (sdir / seg["file"]).read_bytes()
        assert seg["sha256"] == hashlib.sha256(data).hexdigest()
        probe = await asyncio.to_thread(probe_recording, sdir / seg["file"])
        assert probe.video_codec in ("vp8", "h264") and probe.audio_codec == "opus"
        assert probe.duration >= 2.5, probe
        assert probe.video_frames >= FPS * 2
        assert probe.audio_rms > 0.01
    # Ending made the finished files' hashes part of the audit chain.
    from sqlalchemy import select

    from server.store.models import AuditEntry

    async with server.ctx.db.session() as db:
        ends = [
            e for e in (await db.execute(select(AuditEntry))).scalars() if e.action == "session.end"
        ]
    assert len(ends) == 1 and set(ends[0].detail["files"]) == {s["file"] for s in meta["segments"]}


def _serve(data_dir: Path, port: int, **extra_env: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "KESU_DATA_DIR": str(data_dir),
            "KESU_PORT": str(port),
            "KESU_HOST": "127.0.0.1",
            "KESU_WORKERS": "0",
            "KESU_RTC_LOOPBACK_ONLY": "1",
            "KESU_BOOTSTRAP_ADMIN": "0",
            # These peers send tones and a test pattern: once the live checks have heard
            # enough, every end answers 409 missing_items (tested in test_live_call).
            "KESU_LIVE_CHECKS": "0",
            **extra_env,
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


async def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    c = Client(url)
    # A cold start imports aiortc, PyAV and SQLAlchemy: seconds on a quiet box, over 30 s on
    # a loaded CI machine. The bound only stops a server that never comes up.
    deadline = time.monotonic() + 120.0
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {proc.stdout.read().decode() if proc.stdout else ''}"
                )
            try:
                status, _ = await c.get("/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.1)
        raise TimeoutError("server did not start")
    finally:
        await c.close()


async def test_server_kill_keeps_the_recording(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "KESU_DATA_DIR": str(data)}
    # The CLI creates a database only in `kesu serve` / `kesu migrate`.
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", "migrate"],
        check=True,
        env=env,
        capture_output=True,
    )
    await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "server.cli",
            "user",
            "add",
            "s1",
            "--role",
            "salesperson",
            "--password",
            PASSWORD,
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(data, port)
    peers: list[ClientPeer] = []
    sales = Client(url)
    customer = Client(url)
    try:
        await _wait_healthy(url, proc)
        await sales.login("s1")
        sid, token = await start_call(sales, customer, peers)
        await asyncio.sleep(4.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        for p in peers:
            await p.close()
        await sales.close()
        await customer.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    sdir = data / "sessions" / sid
    files = sorted(sdir.glob("*.mkv"))
    assert [f.name for f in files] == ["customer-000.mkv", "salesperson-000.mkv"]
    for f in files:
        probe = await asyncio.to_thread(probe_recording, f)
        # Crash-safe container: everything up to about a second before the kill is readable.
        assert probe.duration >= 2.5, probe
        assert probe.video_frames >= FPS * 2

    last_writes = {f.name: datetime.fromtimestamp(f.stat().st_mtime, UTC) for f in files}

    # Restart: the session is marked interrupted, its segments kept and hashed.
    proc = _serve(data, port)
    again = Client(url)
    customer = Client(url)
    back: list[ClientPeer] = []
    try:
        await _wait_healthy(url, proc)
        await again.login("s1")
        status, body = await again.get(f"/api/sessions/{sid}")
        assert status == 200 and body["session"]["status"] == "interrupted"
        meta = json.loads((sdir / "metadata.json").read_text("utf-8"))
        assert {s["status"] for s in meta["segments"]} == {"interrupted"}
        for seg in meta["segments"]:
            assert seg["sha256"] == hashlib.sha256((sdir / seg["file"]).read_bytes()).hexdigest()
        (interrupted,) = [e for e in meta["events"] if e["type"] == "interrupted"]
        # Stamped with the last flushed media, not with the time of recovery.
        assert interrupted["at"] == iso_z(max(last_writes.values()))
        assert interrupted["detail"]["recovered_at"] > interrupted["at"]
        # Both participants come back: recording goes on in new segments, each hole is a gap.
        back.append(await join(again, f"/api/sessions/{sid}/offer", "salesperson"))
        back.append(await join(customer, f"/api/join/{token}/offer", "customer"))
        await wait_for(lambda: all(p.received.frames["video"] > 0 for p in back))
        await asyncio.sleep(1.5)
        # Ending queues the inspection of everything that was kept.
        status, body = await again.post(f"/api/sessions/{sid}/end")
        assert status == 200 and body["session"]["status"] == "ended"
        meta = json.loads((sdir / "metadata.json").read_text("utf-8"))
        joins = [e["detail"]["connection"] for e in meta["events"] if e["type"] == "join"]
        assert joins == [1, 2, 3, 4]  # numbering goes on after the restart
        segs = {s["file"]: s for s in meta["segments"]}
        assert set(segs) == {f"{r}-00{i}.mkv" for r in ("salesperson", "customer") for i in (0, 1)}
        for role in ("salesperson", "customer"):
            (gap,) = [g for g in meta["gaps"] if g["participant"] == role]
            assert gap["reason"] == "server_interrupted"
            assert gap["started_at"] == iso_z(last_writes[f"{role}-000.mkv"])
            assert gap["started_at"] == segs[f"{role}-000.mkv"]["ended_at"]
            assert gap["ended_at"] == segs[f"{role}-001.mkv"]["started_at"]
        # The crash-kept segments were anchored in the audit chain; verification passes.
        verify = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "server.cli", "audit", "verify", "--data-dir", str(data)],
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        seg = sdir / "customer-000.mkv"
        seg.write_bytes(seg.read_bytes()[:-100])
        verify = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "server.cli", "audit", "verify", "--data-dir", str(data)],
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 1 and "customer-000.mkv" in verify.stdout, verify.stdout
    finally:
        for p in back:
            await p.close()
        await again.close()
        await customer.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def test_drop_and_rejoin_records_a_gap_then_window_expires(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    peers: list[ClientPeer] = []
    sid, token = await start_call(sales, customer, peers)
    cp = peers[1]
    try:
        await asyncio.sleep(2.0)
        # The customer's connection drops; they come back with the same link.
        assert (await customer.post(f"/api/join/{token}/leave"))[0] == 200
        await cp.close()
        await asyncio.sleep(1.5)
        cp2 = await join(customer, f"/api/join/{token}/offer", "customer")
        peers.append(cp2)
        await wait_for(lambda: cp2.received.frames["video"] > 0)
        await asyncio.sleep(2.0)
        # Away longer than the rejoin window: refused with a clear code.
        server.ctx.settings = replace(server.ctx.settings, rejoin_window_s=0.5)
        assert (await customer.post(f"/api/join/{token}/leave"))[0] == 200
        await cp2.close()
        await asyncio.sleep(1.0)
        late = make_peer("customer")
        peers.append(late)
        status, body = await customer.post(
            f"/api/join/{token}/offer", json={"type": "offer", "sdp": await late.offer()}
        )
        assert status == 410
        assert_error(body, "rejoin_window_expired")
    finally:
        assert (await sales.post(f"/api/sessions/{sid}/end"))[0] == 200
        for p in peers:
            await p.close()
    meta = json.loads((server.ctx.settings.sessions_dir / sid / "metadata.json").read_text("utf-8"))
    files = sorted(s["file"] for s in meta["segments"] if s["participant"] == "customer")
    assert files == ["customer-000.mkv", "customer-001.mkv"]
    gaps = [g for g in meta["gaps"] if g["participant"] == "customer"]
    assert len(gaps) >= 1 and gaps[0]["end_s"] - gaps[0]["start_s"] >= 1.0, gaps
    for f in files:
        probe = await asyncio.to_thread(probe_recording, server.ctx.settings.sessions_dir / sid / f)
        assert probe.duration >= 1.0 and probe.video_frames > 0
