"""Benchmark: N concurrent two-party sessions relayed and recorded by the server.

The server (RoomManager on loopback, behind a tiny aiohttp control API) runs in its own
process so its CPU and memory can be read from /proc; this process runs the client peers,
which replay media encoded once (640x480@30 VP8 + Opus, flash/beep sync markers), so
they cost little. For each N it reports server CPU per session, RSS growth, video frames
sent / received by the server / received by the other party / recorded, and the A/V
offset measured on the markers in the recordings. Prints a markdown table.

    .venv/bin/python scripts/bench_sessions.py --sessions 1 2 5 10 --seconds 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.rtc.client import (  # noqa: E402
    ClientPeer,
    EncodedLoop,
    LoopedPacketTrack,
    MediaTimeline,
    encode_audio_loop,
    encode_video_loop,
)
from server.rtc.probe import marker_offsets, probe_recording  # noqa: E402
from server.rtc.room import RoomManager  # noqa: E402
from server.rtc.settings import RtcSettings  # noqa: E402
from server.session_dir import SessionDir  # noqa: E402

ROLES = ("salesperson", "customer")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------- server process


async def serve(data_dir: Path) -> None:
    """Run rooms behind POST /join, GET /stats, POST /close; print the port, run until EOF."""
    manager = RoomManager(max_rooms=64, settings=RtcSettings(loopback_only=True))

    async def join(request: web.Request) -> web.Response:
        body = await request.json()
        sid = body["session"]
        sdir = (
            SessionDir(data_dir / sid)
            if (data_dir / sid).exists()
            else SessionDir.create(data_dir, sid)
        )
        answer = await manager.room_for(sid, sdir).join(body["role"], body["sdp"])
        return web.json_response({"sdp": answer})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({sid: room.stats() for sid, room in manager.rooms().items()})

    async def close(request: web.Request) -> web.Response:
        out: dict[str, Any] = {}
        for sid, room in manager.rooms().items():
            segments = await manager.close_room(sid)
            out[sid] = {"history": room.history, "files": [str(s.path) for s in segments]}
        return web.json_response(out)

    app = web.Application()
    app.add_routes([web.post("/join", join), web.get("/stats", stats), web.post("/close", close)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(json.dumps({"port": port}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await manager.close_all()
    await runner.cleanup()


# ---------------------------------------------------------------------- measuring


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Session:
    def __init__(self, sid: str, loops: dict[str, EncodedLoop]) -> None:
        self.sid = sid
        self.peers: dict[str, ClientPeer] = {}
        self.tracks: dict[str, LoopedPacketTrack] = {}
        self.loops = loops

    async def connect(self, http: aiohttp.ClientSession, base: str) -> None:
        for role in ROLES:
            timeline = MediaTimeline()
            video = LoopedPacketTrack(self.loops["video"], timeline)
            audio = LoopedPacketTrack(self.loops["audio"], timeline)
            peer = ClientPeer([video, audio], decode=False)
            async with http.post(
                f"{base}/join", json={"session": self.sid, "role": role, "sdp": await peer.offer()}
            ) as resp:
                resp.raise_for_status()
                await peer.accept((await resp.json())["sdp"])
            self.peers[role], self.tracks[role] = peer, video

    def stop_sending(self) -> None:
        for peer in self.peers.values():
            for track in peer.tracks:
                track.stop()


async def run_level(
    n: int, seconds: float, loops: dict[str, EncodedLoop], probe_sessions: int
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{n}-"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        str(data_dir),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdin is not None
    port = json.loads(await proc.stdout.readline())["port"]
    base = f"http://127.0.0.1:{port}"
    await asyncio.sleep(1.0)
    rss0 = proc_rss_mb(proc.pid)
    sessions = [Session(f"s-bench-{n}-{i}", loops) for i in range(n)]
    async with aiohttp.ClientSession() as http:
        for s in sessions:
            await s.connect(http, base)
        await asyncio.sleep(3.0)  # ICE/DTLS up, recorders past their sync pre-roll
        cpu0, t0 = proc_cpu_s(proc.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, t1 = proc_cpu_s(proc.pid), time.monotonic()
        rss1 = proc_rss_mb(proc.pid)
        for s in sessions:
            s.stop_sending()
        await asyncio.sleep(1.0)  # let in-flight packets land
        async with http.post(f"{base}/close") as resp:
            closed = await resp.json()
    for s in sessions:
        for peer in s.peers.values():
            await peer.close()
    proc.stdin.write(b"\n")
    await proc.stdin.drain()
    await proc.wait()

    sent = received = forwarded_got = recorded = relay_dropped = relay_skipped = keyframes = 0
    for s in sessions:
        history = {h["role"]: h for h in closed[s.sid]["history"]}
        for role in ROLES:
            other = ROLES[1] if role == ROLES[0] else ROLES[0]
            sent += s.tracks[role].sent
            received += history[role]["packets_received"]["video"]
            recorded += history[role]["recorded"]["video"]
            relay_dropped += history[role]["relay_dropped"]["video"]
            relay_skipped += history[role]["relay_skipped"]["video"]
            keyframes += s.tracks[role].keyframes_sent
            forwarded_got += s.peers[other].received.frames["video"]
    offsets: list[float] = []
    for s in sessions[:probe_sessions]:
        for f in closed[s.sid]["files"]:
            offsets += marker_offsets(await asyncio.to_thread(probe_recording, Path(f), True))
    cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
    return {
        "n": n,
        "cpu_total": cpu_pct,
        "cpu_per_session": cpu_pct / n,
        "rss_mb": rss1,
        "rss_per_session": (rss1 - rss0) / n,
        "sent": sent,
        "server_received": received,
        "peer_received": forwarded_got,
        "recorded": recorded,
        "relay_dropped": relay_dropped,
        "relay_skipped_before_keyframe": relay_skipped,
        "keyframes_on_request": keyframes,
        "av_offset_ms": [round(o * 1000) for o in offsets],
    }


def _pct(x: int, of: int) -> str:
    return f"{x} ({100 * x / of:.2f}%)" if of else str(x)


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| sessions | server CPU (% of a core) | per session | RSS MB (+/session) "
        "| video frames sent | server received | other party received | recorded "
        "| A/V offset ms (median, max abs) |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        offs = r["av_offset_ms"]
        av_text = f"{statistics.median(offs):+.0f}, {max(abs(o) for o in offs)}" if offs else "n/a"

        lines.append(
            f"| {r['n']} | {r['cpu_total']:.1f} | {r['cpu_per_session']:.1f} "
            f"| {r['rss_mb']:.0f} (+{r['rss_per_session']:.1f}) | {r['sent']} "
            f"| {_pct(r['server_received'], r['sent'])} | {_pct(r['peer_received'], r['sent'])} "
            f"| {_pct(r['recorded'], r['sent'])} | {av_text} |"
        )
    return "\n".join(lines)


def load_or_encode_loops(cache: Path) -> dict[str, EncodedLoop]:
    """640x480@30 VP8 (keyframe every 2 s) and Opus, 4 s each; encoded once, then cached."""
    if cache.exists():
        loaded: dict[str, EncodedLoop] = pickle.loads(cache.read_bytes())
        return loaded
    timeline = MediaTimeline()
    t = time.monotonic()
    loops = {
        "video": encode_video_loop("salesperson", 4.0, (640, 480), 30, 60, timeline),
        "audio": encode_audio_loop(4.0, timeline),
    }
    print(f"pre-encoded 4 s loops in {time.monotonic() - t:.1f} s", file=sys.stderr)
    cache.write_bytes(pickle.dumps(loops))
    return loops


async def bench(levels: list[int], seconds: float, probe_sessions: int) -> None:
    loops = load_or_encode_loops(Path(tempfile.gettempdir()) / "kesu-bench-loops-v2.pkl")
    rows = []
    for n in levels:
        row = await run_level(n, seconds, loops, probe_sessions)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--seconds", type=float, default=15.0, help="measurement window per level")
    parser.add_argument(
        "--probe-sessions", type=int, default=2, help="sessions per level checked for A/V offset"
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        profile = os.environ.get("KESU_BENCH_PROFILE")
        if profile:  # event-loop thread only
            import cProfile

            cProfile.runctx("asyncio.run(serve(args.serve))", globals(), locals(), profile)
        else:
            asyncio.run(serve(args.serve))
    else:
        asyncio.run(bench(args.sessions, args.seconds, args.probe_sessions))


if __name__ == "__main__":
    main()
