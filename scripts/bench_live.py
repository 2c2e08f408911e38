"""The live session of scripts/bench_api.py, and where its frames are lost.

A child process runs one session through the API as the pages do (login, create, link,
consent, two offers) with two aiortc peers replaying pre-encoded 640x480@30 VP8 + Opus. At
each window edge it takes a snapshot of every stage a frame passes, so a loss can be put
where it happened:

1. ``sent``: frames the peers handed to their RTP senders;
2. ``server received``/``recorded``/``relayed``: the server's own counters (``GET /metrics``,
   ``kesu_rtc_packets``; summed over both parties, so per kind);
3. ``received``: frames the other peer got;
4. UDP receive-buffer drops (``/proc/net/udp``, ``drops`` of every socket of the process):
   of the server (between the peers and the server's loop) and of the peers' process
   (between the server and the peers' loop);
5. after the session ends, the recording itself, decoded with PyAV: frames stamped inside
   each window (segment ``started_at`` + frame time, on the sender's clock, which is this
   machine's clock), per party.

It also measures its own event-loop delay and CPU during the load: a starved peers'
process loses frames that the server relayed intact.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROLES = ("salesperson", "customer")
KINDS = ("video", "audio")
SERVER_STAGES = ("received", "recorded", "relayed")


def other(role: str) -> str:
    return ROLES[1] if role == ROLES[0] else ROLES[0]


# ---------------------------------------------------------------------- /proc and /metrics


def _socket_inodes(pid: int) -> set[str]:
    out: set[str] = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(link[8:-1])
    return out


def udp_stats(pid: int) -> dict[str, int]:
    """Receive-buffer drops (cumulative) and bytes queued now, over every UDP socket of
    ``pid`` (Linux; zeros elsewhere). A socket closed meanwhile takes its count with it."""
    inodes = _socket_inodes(pid)
    drops = queued = sockets = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) >= 13 and f[9] in inodes:
                sockets += 1
                queued += int(f[4].split(":")[1], 16)
                drops += int(f[12])
    return {"drops": drops, "queued": queued, "sockets": sockets}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_processes(pid: int) -> dict[int, str]:
    """Direct child processes of ``pid``: {pid: name} (the live-check process of kesu serve)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            head, rest = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        if int(rest.split()[1]) == pid:
            out[int(entry)] = head.split("(", 1)[1]
    return out


_SAMPLE = re.compile(r"^kesu_rtc_(packets|dropped_packets)_total\{([^}]*)\} (\S+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def parse_packets(metrics_text: str) -> dict[str, int]:
    """``{"received video": n, "dropped relay video": n, ...}`` from the server's
    ``kesu_rtc_packets`` and ``kesu_rtc_dropped_packets`` counters."""
    out: dict[str, int] = {}
    for line in metrics_text.splitlines():
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m[2]))
        if m[1] == "packets":
            key = f"{labels.get('stage')} {labels.get('kind')}"
        else:
            key = f"dropped {labels.get('where')} {labels.get('kind')}"
        out[key] = out.get(key, 0) + int(float(m[3]))
    return out


# ---------------------------------------------------------------------- the recording


def _iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def count_recording(session_dir: Path, windows: list[tuple[float, float]]) -> dict[str, Any]:
    """Per party and kind: frames in the recording stamped inside each window (decoded with
    PyAV: a packet that does not decode is counted in ``undecodable``, not as recorded)."""
    import av

    meta = json.loads((session_dir / "metadata.json").read_text())
    counts = {f"{role} {kind}": [0] * len(windows) for role in ROLES for kind in ("video", "audio")}
    undecodable = 0
    for seg in meta.get("segments", []):
        role = seg.get("participant")
        if role not in ROLES or not seg.get("started_at"):
            continue
        start = _iso(seg["started_at"])
        with av.open(str(session_dir / seg["file"])) as container:
            streams = [s for s in container.streams if s.type in KINDS]
            for packet in container.demux(streams):
                if packet.pts is None or packet.time_base is None:
                    continue
                t = start + float(packet.pts * packet.time_base)
                kind = packet.stream.type
                try:
                    packet.decode()
                except av.FFmpegError:
                    undecodable += 1
                    continue
                for i, (t0, t1) in enumerate(windows):
                    if t0 <= t < t1:
                        counts[f"{role} {kind}"][i] += 1
    return {"counts": counts, "undecodable": undecodable}


# ---------------------------------------------------------------------- the child


async def media_child(base: str, baseline_s: float, server_pid: int) -> None:
    """Run one live session through the API; print a JSON line per event on stdout."""
    from scripts.bench_api_load import Api
    from scripts.bench_loops import load_or_encode_loops
    from scripts.session_body import new_session_body
    from server.rtc.client import ClientPeer, LoopedPacketTrack, MediaTimeline

    loops = load_or_encode_loops(Path(tempfile.gettempdir()) / "kesu-bench-loops-v2.pkl")
    api = Api(base)
    assert await api.login("sales0") == 200
    status, body = await api.call("POST", "/api/sessions", new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    status, link = await api.call("POST", f"/api/sessions/{sid}/link")
    assert status == 200, link
    join = f"/api/join/{link['token']}"
    status, body = await api.call("POST", f"{join}/consent", {"consent": True})
    assert status == 200, body
    peers: dict[str, ClientPeer] = {}
    tracks: dict[str, dict[str, LoopedPacketTrack]] = {}
    for role, path in ((ROLES[0], f"/api/sessions/{sid}/offer"), (ROLES[1], f"{join}/offer")):
        timeline = MediaTimeline()
        video = LoopedPacketTrack(loops["video"], timeline)
        audio = LoopedPacketTrack(loops["audio"], timeline)
        peer = ClientPeer([video, audio], decode=False)
        status, answer = await api.call("POST", path, {"type": "offer", "sdp": await peer.offer()})
        assert status == 200, answer
        await peer.accept(answer["sdp"])
        peers[role], tracks[role] = peer, {"video": video, "audio": audio}

    async def snapshot() -> dict[str, Any]:
        """Frames sent now; the rest one second later (what was in flight has landed)."""
        t = time.time()
        sent = {f"{r} {k}": tracks[r][k].sent for r in ROLES for k in KINDS}
        await asyncio.sleep(1.0)
        _, text = await api.call("GET", "/metrics")
        return {
            "t": t,
            "sent": sent,
            # keyed by the sender's role, like "sent"
            "received": {
                f"{r} {k}": peers[other(r)].received.frames[k] for r in ROLES for k in KINDS
            },
            "server": parse_packets(text.decode() if isinstance(text, bytes) else str(text)),
            "udp": {"server": udp_stats(server_pid), "peers": udp_stats(os.getpid())},
            "cpu": {"peers": cpu_seconds(os.getpid())},
        }

    def emit(obj: dict[str, Any]) -> None:
        print(json.dumps(obj), flush=True)

    await asyncio.sleep(4.0)  # ICE/DTLS up, first keyframes through
    emit({"event": "ready", "session": sid})
    start = await snapshot()
    await asyncio.sleep(baseline_s)
    emit({"event": "window", "name": "before load", "start": start, "end": await snapshot()})
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    start = await snapshot()  # taken before the load starts, like the end one after it stops
    lags: list[float] = []
    probe = asyncio.create_task(_probe_lag(lags))
    emit({"event": "started"})
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    probe.cancel()
    await asyncio.gather(probe, return_exceptions=True)
    end = await snapshot()
    emit({"event": "window", "name": "during load", "start": start, "end": end, "lag": lags})
    for peer in peers.values():
        await peer.close()
    status, body = await api.call("POST", f"/api/sessions/{sid}/end", {"confirm_missing": True})
    emit({"event": "done", "end_status": status})
    await api.close()


async def _probe_lag(out: list[float], tick: float = 0.05) -> None:
    while True:
        t0 = time.monotonic()
        await asyncio.sleep(tick)
        out.append(time.monotonic() - t0 - tick)


# ---------------------------------------------------------------------- the tables


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _loss(part: int, whole: int) -> str:
    return f"{100 * (1 - part / whole):.2f}%" if whole else "-"


def media_tables(
    windows: list[dict[str, Any]], recording: dict[str, Any] | None, cpu: dict[str, Any]
) -> str:
    """End to end per direction; then the stages per kind, so the server's share of a loss
    can be told from the peers' share; then socket drops, the peers' loop delay and CPU."""
    out = [
        "| live session | stream | frames sent | received by the other party | lost |",
        "|---|---|---|---|---|",
    ]
    for w in windows:
        for r in ROLES:
            for k in KINDS:
                key = f"{r} {k}"
                sent = w["end"]["sent"][key] - w["start"]["sent"][key]
                got = w["end"]["received"][key] - w["start"]["received"][key]
                out.append(
                    f"| {w['name']} | {r}->{other(r)} {k} | {sent} | {got} | {_loss(got, sent)} |"
                )
    out += [
        "",
        "Where frames were lost (both parties summed; server counters from /metrics; the "
        "recording decoded with PyAV after the end, frames stamped inside the window):",
        "",
        "| window | kind | sent by peers | server received | recorded (counter) "
        "| recorded (decoded file) | relayed by server | server queue drops (relay, recorder) "
        "| received by peers | lost before the server | lost after the server |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, w in enumerate(windows):
        for k in KINDS:

            def d(group: str, key: str, w: dict[str, Any] = w) -> int:
                return int(w["end"][group].get(key, 0)) - int(w["start"][group].get(key, 0))

            sent = sum(d("sent", f"{r} {k}") for r in ROLES)
            got = sum(d("received", f"{r} {k}") for r in ROLES)
            srv = {s: d("server", f"{s} {k}") for s in SERVER_STAGES}
            rec = "-"
            if recording is not None:
                rec = str(sum(recording["counts"][f"{r} {k}"][i] for r in ROLES))
            out.append(
                f"| {w['name']} | {k} | {sent} | {srv['received']} | {srv['recorded']} | {rec} "
                f"| {srv['relayed']} | {d('server', f'dropped relay {k}')}, "
                f"{d('server', f'dropped recorder {k}')} | {got} | {_loss(srv['received'], sent)} "
                f"| {_loss(got, srv['relayed'])} |"
            )
    out += [
        "",
        "| window | UDP receive-buffer drops: server | peers' process | peers' CPU (share of a core) |",
        "|---|---|---|---|",
    ]
    for w in windows:
        span = w["end"]["t"] - w["start"]["t"]
        drops = {
            p: w["end"]["udp"][p]["drops"] - w["start"]["udp"][p]["drops"]
            for p in ("server", "peers")
        }
        c0, c1 = w["start"]["cpu"]["peers"], w["end"]["cpu"]["peers"]
        share = f"{100 * (c1 - c0) / span:.0f} %" if c0 is not None and c1 is not None else "-"
        out.append(f"| {w['name']} | {drops['server']} | {drops['peers']} | {share} |")
    lag = next((w.get("lag") for w in windows if w.get("lag")), None)
    if lag:
        out.append(
            f"\npeers' process event-loop delay during the load: p50 {_pct(lag, 50) * 1000:.0f} ms, "
            f"p99 {_pct(lag, 99) * 1000:.0f} ms, max {max(lag) * 1000:.0f} ms"
        )
    if recording is not None and recording["undecodable"]:
        out.append(f"\nrecorded packets that did not decode: {recording['undecodable']}")
    for name, used in cpu.items():
        out.append(f"\n{name}: {used}")
    return "\n".join(out)
