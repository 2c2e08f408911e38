"""Crash safety: a SIGKILLed server leaves playable files and recovery keeps them; a
SIGKILLed client is noticed by the room's media watchdog."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from server.rtc.probe import probe_recording
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from tests.session_recovery import recover_sessions

REPO = Path(__file__).resolve().parents[1]

SERVER_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
    from server.rtc.room import Room
    from server.rtc.settings import RtcSettings
    from server.session_dir import SessionDir

    async def main(root):
        room = Room(SessionDir.create(root, "s-crash"), RtcSettings(loopback_only=True, sync_wait_s=1.0))
        clients = []
        for role in ("salesperson", "customer"):
            tl = MediaTimeline()
            client = ClientPeer([PatternVideoTrack(role, tl, fps=15), ToneAudioTrack(tl)], decode=False)
            await client.accept(await room.join(role, await client.offer()))
            clients.append(client)
        while True:
            await asyncio.sleep(0.2)
            stats = room.stats()
            print(json.dumps({"t": time.time(), "recorded": {r: s["recorded"] for r, s in stats.items()}}), flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)

CLIENT_CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack

    async def main():
        tl = MediaTimeline()
        client = ClientPeer([PatternVideoTrack("customer", tl, fps=15), ToneAudioTrack(tl)], decode=False)
        print(json_line(await client.offer()), flush=True)
        answer = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        await client.accept(__import__("json").loads(answer))
        await asyncio.sleep(3600)

    def json_line(text):
        return __import__("json").dumps(text)

    asyncio.run(main())
    """
)


async def spawn(code: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def test_server_killed_mid_session_leaves_playable_files(tmp_path: Path) -> None:
    proc = await spawn(SERVER_CHILD, str(tmp_path))
    try:
        async with asyncio.timeout(20):
            first_recorded = None
            while True:
                line = await proc.stdout.readline()  # type: ignore[union-attr]
                assert line, "child exited early"
                report = json.loads(line)
                counts = [r.get("video", 0) for r in report["recorded"].values()]
                if first_recorded is None and len(counts) == 2 and min(counts) > 0:
                    first_recorded = time.time()
                if first_recorded is not None and time.time() - first_recorded > 4.0:
                    break
        killed_at = time.time()
    finally:
        await kill(proc)
    assert proc.returncode == -signal.SIGKILL

    sdir = SessionDir(tmp_path / "s-crash")
    meta = sdir.metadata
    assert meta["status"] == "live"
    assert {s["status"] for s in meta["segments"]} == {"recording"}
    for seg in sdir.segments():
        assert seg.started_at is not None
        cut_at = killed_at - seg.started_at.timestamp()
        probe = await asyncio.to_thread(probe_recording, seg.path)
        assert (probe.video_codec, probe.audio_codec) == ("vp8", "opus")
        # Plays up to within ~1.5 s of the kill (the last cluster may be cut short).
        assert cut_at - 1.5 <= probe.duration <= cut_at + 0.2, (probe.duration, cut_at)
        assert probe.video_frames >= 15 * (cut_at - 1.5)

    assert await recover_sessions(tmp_path) == ["s-crash"]
    meta = sdir.metadata
    assert meta["status"] == "interrupted"
    assert meta["events"][-1]["type"] == "interrupted"
    for seg in meta["segments"]:
        data = (sdir.path / seg["file"]).read_bytes()
        assert seg["status"] == "interrupted"
        assert seg["sha256"] == hashlib.sha256(data).hexdigest() and seg["bytes"] == len(data)
        assert seg["end_s"] > seg["start_s"]


async def test_killed_client_is_dropped_by_the_media_watchdog(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-gone")
    room = Room(sdir, RtcSettings(loopback_only=True, media_timeout_s=2.0, sync_wait_s=0.5))
    proc = await spawn(CLIENT_CHILD)
    try:
        offer = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))  # type: ignore[union-attr]
        answer = await room.join("customer", offer)
        proc.stdin.write(json.dumps(answer).encode() + b"\n")  # type: ignore[union-attr]
        await proc.stdin.drain()  # type: ignore[union-attr]
        for _ in range(200):
            if room.stats().get("customer", {}).get("recorded", {}).get("video", 0) > 10:
                break
            await asyncio.sleep(0.05)
        assert room.stats()["customer"]["recorded"]["video"] > 10
    finally:
        await kill(proc)
    killed = datetime.now(UTC)
    for _ in range(100):
        if not room.connected()["customer"]:
            break
        await asyncio.sleep(0.1)
    noticed = datetime.now(UTC)
    assert not room.connected()["customer"]
    assert (noticed - killed).total_seconds() <= 8.0  # media_timeout_s + watchdog period
    (segment,) = await room.close()
    assert segment.status == "finished" and segment.ended_at is not None
    assert abs((segment.ended_at - killed).total_seconds()) < 1.0
    leave = [e for e in sdir.metadata["events"] if e["type"] == "leave"]
    assert leave[0]["detail"]["reason"] == "media_timeout"
