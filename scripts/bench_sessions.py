"""Benchmark: N concurrent two-party sessions relayed and recorded by the server.

The server (RoomManager on loopback, behind a tiny aiohttp control API) runs in its own
process so its CPU and memory can be read from /proc; this process runs the client peers,
which replay media encoded once (640x480@30 VP8 + Opus, flash/beep sync markers), so
they cost little. For each N it reports server CPU per session, RSS growth, video frames
sent / received by the server / received by the other party / recorded, and the A/V
offset measured on the markers in the recordings. Prints a markdown table.

With ``--live on`` (or ``both``: each level with and without) the server also runs the live
checks (docs/live.md): a LiveService taps every room, its live-check process is measured
with the server (CPU of the process tree), and the peers say Mandarin lines (committed TTS
clips, a ~60 s script with the customer's answers, looped) instead of a tone, so speech
recognition, face detection on sampled keyframes and OCR during the ID-card node cost what
they would in a call. Reports how far the live checks fell behind (skipped audio, lag).

    .venv/bin/python scripts/bench_sessions.py --sessions 1 2 5 10 --seconds 15
    .venv/bin/python scripts/bench_sessions.py --sessions 1 2 3 --seconds 90 --live both
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench_live import child_processes, cpu_seconds  # noqa: E402
from scripts.bench_loops import (  # noqa: E402
    ROLES,
    encode_speech_loops,
    load_or_encode_loops,
)
from scripts.bench_sessions_server import bench_policy, serve  # noqa: E402
from server.rtc.client import (  # noqa: E402
    ClientPeer,
    EncodedLoop,
    LoopedPacketTrack,
    MediaTimeline,
)
from server.rtc.probe import marker_offsets, probe_recording  # noqa: E402

# ---------------------------------------------------------------------- measuring


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of ``pid`` and each of its descendants (by pid)."""
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        cpu = cpu_seconds(p)
        if cpu is None:  # exited meanwhile
            continue
        out[p] = cpu
        todo += child_processes(p)
    return out


async def live_settled(http: aiohttp.ClientSession, base: str, limit_s: float = 120.0) -> Any:
    """Wait until the live checks of every room run and have caught up with the backlog of
    their start (the model loads while audio queues); returns their stats."""
    live: dict[str, Any] = {}
    for _ in range(int(limit_s)):
        async with http.get(f"{base}/stats") as resp:
            live = (await resp.json()).get("_live", {})
        if live and all(v["status"] == "ok" and (v["lag_s"] or 0) < 2.0 for v in live.values()):
            break
        await asyncio.sleep(1.0)
    return live


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
            audio = LoopedPacketTrack(
                self.loops.get(f"audio_{role}", self.loops["audio"]), timeline
            )
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


def video_counts(sessions: list[Session], closed: dict[str, Any]) -> dict[str, int]:
    """Video frames of every session and party: sent by the peers, received, recorded,
    dropped and skipped by the server (its rooms' history at close), received by the other
    party, and keyframes sent on the server's request."""
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
    return {
        "sent": sent,
        "server_received": received,
        "peer_received": forwarded_got,
        "recorded": recorded,
        "relay_dropped": relay_dropped,
        "relay_skipped_before_keyframe": relay_skipped,
        "keyframes_on_request": keyframes,
    }


async def run_level(
    n: int, seconds: float, loops: dict[str, EncodedLoop], probe_sessions: int, live_threads: int
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-{n}-"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        str(data_dir),
        "--live-threads",
        str(live_threads),
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
        live0 = await live_settled(http, base) if live_threads else {}
        cpu0, t0 = tree_cpu_s(proc.pid), time.monotonic()
        await asyncio.sleep(seconds)
        cpu1, t1 = tree_cpu_s(proc.pid), time.monotonic()
        rss1 = proc_rss_mb(proc.pid)
        async with http.get(f"{base}/stats") as resp:
            stats1 = await resp.json()
        live1, live_pids = stats1.get("_live", {}), stats1.get("_live_pids") or []
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

    video = video_counts(sessions, closed)
    offsets: list[float] = []
    for s in sessions[:probe_sessions]:
        for f in closed[s.sid]["files"]:
            offsets += marker_offsets(await asyncio.to_thread(probe_recording, Path(f), True))
    wall = t1 - t0
    media_pct = 100 * (cpu1.get(proc.pid, 0.0) - cpu0.get(proc.pid, 0.0)) / wall
    cpu_pct = 100 * sum(cpu1[p] - cpu0.get(p, 0.0) for p in cpu1) / wall
    live_pct = 100 * sum(cpu1.get(p, 0.0) - cpu0.get(p, 0.0) for p in live_pids) / wall
    skipped = sum(
        (live1.get(sid, {}).get("skipped_audio_s") or 0.0)
        - (live0.get(sid, {}).get("skipped_audio_s") or 0.0)
        for sid in live1
    )
    return {
        "n": n,
        "live": bool(live_threads),
        "cpu_total": cpu_pct,
        "cpu_per_session": cpu_pct / n,
        "cpu_media_per_session": media_pct / n,
        "cpu_live_per_session": live_pct / n,
        "live_skipped_audio_s": round(skipped, 1),
        "live_audio_s": round(2 * n * wall, 1),
        "live_lag_s": max((v.get("lag_s") or 0.0 for v in live1.values()), default=None),
        "live_status": sorted({str(v.get("status")) for v in live1.values()}),
        "rss_mb": rss1,
        "rss_per_session": (rss1 - rss0) / n,
        **video,
        "av_offset_ms": [round(o * 1000) for o in offsets],
    }


def _pct(x: int, of: int) -> str:
    return f"{x} ({100 * x / of:.2f}%)" if of else str(x)


def live_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| sessions | live checks | CPU total (% of a core) | per session | media process "
        "/ session | live process / session | live audio skipped (of audio sent) "
        "| live lag s (last) | live status |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['n']} | {'on' if r['live'] else 'off'} | {r['cpu_total']:.1f} "
            f"| {r['cpu_per_session']:.1f} | {r['cpu_media_per_session']:.1f} "
            f"| {r['cpu_live_per_session']:.1f} "
            f"| {r['live_skipped_audio_s']} s of {r['live_audio_s']} s "
            f"| {r['live_lag_s'] if r['live_lag_s'] is not None else '-'} "
            f"| {', '.join(r['live_status']) or '-'} |"
        )
    return "\n".join(lines)


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


def live_replay(seconds: float, threads: int) -> dict[str, float]:
    """CPU cost of the live checks of one session, free of contention: the session's speech
    loops and sampled keyframes (one per 2 s per participant) fed through the live-check
    worker in this process as fast as it goes, nothing skipped. CPU seconds per second of
    session = cores one session's live checks need."""
    from server.live.process import LiveWorker, WorkerConfig

    loops = {**load_or_encode_loops(Path(tempfile.gettempdir()) / "kesu-bench-loops-v2.pkl")}
    loops.update(encode_speech_loops())
    worker = LiveWorker(WorkerConfig(threads=threads, max_lag_s=1e9))
    _ = worker.inspector.speech, worker.inspector.faces, worker.inspector.ocr  # loaded first
    sid = "s-replay"
    worker.handle(("open", sid, "traditional_life", bench_policy()))
    keyframes = loops["video"].keyframes or loops["video"].packets
    cpu0, wall0 = time.process_time(), time.monotonic()
    steps = round(seconds * 2)
    for k in range(steps):
        t = k * 0.5
        for role in ROLES:
            loop = loops[f"audio_{role}"]
            batch = []
            for j in range(25):
                n = k * 25 + j
                batch.append((t + j * 0.02, n * loop.ticks, loop.packets[n % len(loop.packets)]))
            worker.handle(("audio", sid, role, time.time(), batch))
            if k % 4 == 0:
                frame = keyframes[(k * 15) % len(keyframes)]
                worker.handle(("video", sid, role, time.time(), t, "VP8", frame))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    state = worker.sessions[sid].checker.state()
    covered = sum(n["status"] == "covered" for n in state["nodes"])
    return {"seconds": seconds, "cpu_s": cpu, "wall_s": wall, "cores": cpu / seconds,
            "nodes_covered": covered}  # fmt: skip


async def bench(
    levels: list[int], seconds: float, probe_sessions: int, live: str, live_threads: int
) -> None:
    loops = load_or_encode_loops(Path(tempfile.gettempdir()) / "kesu-bench-loops-v2.pkl")
    modes = {"off": [0], "on": [live_threads], "both": [0, live_threads]}[live]
    if live != "off":
        loops = {**loops, **encode_speech_loops()}  # the same speech with live checks off too
    rows = []
    for n in levels:
        for threads in modes:
            row = await run_level(n, seconds, loops, probe_sessions, threads)
            print(json.dumps(row), file=sys.stderr)
            rows.append(row)
    print(table(rows))
    if live != "off":
        print()
        print(live_table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--seconds", type=float, default=15.0, help="measurement window per level")
    parser.add_argument(
        "--probe-sessions", type=int, default=2, help="sessions per level checked for A/V offset"
    )
    parser.add_argument(
        "--live",
        choices=("off", "on", "both"),
        default="off",
        help="live checks on the server: off, on, or each level both ways (docs/live.md)",
    )
    parser.add_argument(
        "--live-threads", type=int, default=1, help="model threads of the live-check process"
    )
    parser.add_argument(
        "--live-replay",
        type=float,
        metavar="SECONDS",
        help="only measure the live checks' CPU per session-second, free of contention",
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.live_replay:
        print(json.dumps(live_replay(args.live_replay, args.live_threads)))
        return
    if args.serve:
        profile = os.environ.get("KESU_BENCH_PROFILE")
        if profile:  # event-loop thread only
            import cProfile

            cProfile.runctx(
                "asyncio.run(serve(args.serve, args.live_threads))", globals(), locals(), profile
            )
        else:
            asyncio.run(serve(args.serve, args.live_threads))
    else:
        asyncio.run(
            bench(args.sessions, args.seconds, args.probe_sessions, args.live, args.live_threads)
        )


if __name__ == "__main__":
    main()
