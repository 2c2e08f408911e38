"""Live checks degrade, never block: a full queue drops batches with a visible notice, sessions
beyond live_max_sessions get none, a dead live process switches them off; each change is a
session event. A real spawned process (models not preloaded: silence never reaches them)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import av

from server.live.process import WorkerConfig
from server.live.service import LiveOptions, LiveService
from server.session_dir import SessionDir
from tests.conftest import new_session_body


def _policy() -> dict[str, object]:
    from inspection.policy import Policy

    b = new_session_body()
    return Policy(
        customer_name=b["customer_name"],
        customer_id_number=b["customer_id_number"],
        product_name=b["product_name"],
        product_type=b["product_type"],
        premium=b["premium"],
        payment_method=b["payment_method"],
        payment_years=b["payment_years"],
        insurance_years=b["insurance_years"],
        cooling_off_days=b["cooling_off_days"],
    ).to_dict()


def _silent_opus_packets(n: int) -> list[av.Packet[Any]]:
    import numpy as np

    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate, ctx.layout, ctx.format = 48000, "mono", "s16"
    out = []
    for k in range(n):
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 960), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48000, k * 960
        for p in ctx.encode(frame):
            p.pts = k * 960
            out.append(p)
    return out


async def _wait(pred: object, limit_s: float = 60.0) -> None:
    for _ in range(int(limit_s / 0.1)):
        if pred():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not reached")


async def test_full_queue_busy_notice_full_sessions_and_a_dead_process(tmp_path: Path) -> None:
    options = LiveOptions(
        max_sessions=1, queue=2, worker=WorkerConfig(preload=False, parent_pid=os.getpid())
    )
    live = LiveService(options)
    a = SessionDir.create(tmp_path, "s-000000000000000a", template_id="traditional_life")
    b = SessionDir.create(tmp_path, "s-000000000000000b", template_id="traditional_life")
    try:
        tap = live.open("s-000000000000000a", a, "traditional_life", _policy())
        assert tap is not None
        # A burst far beyond the queue: the tap returns at once, batches are dropped.
        for p in _silent_opus_packets(25) * 20:
            tap("customer", "audio", p, tap.t0 + 1.0, "VP8")
        view = live.view("s-000000000000000a")
        assert view is not None and view["status"] == "busy" and view["notice"] == "live_busy"
        assert live.sessions["s-000000000000000a"].dropped > 0

        # One slot: the next session is recorded without live checks, and says so.
        assert live.open("s-000000000000000b", b, "traditional_life", _policy()) is None
        view_b = live.view("s-000000000000000b")
        assert view_b is not None and (view_b["status"], view_b["notice"]) == ("off", "live_full")

        # The process dies: the session's live checks switch off with a notice.
        await _wait(lambda: live._procs[0].ready)
        os.kill(live.pids[0], signal.SIGKILL)
        await _wait(lambda: live.sessions["s-000000000000000a"].status == "off")
        assert live.view("s-000000000000000a")["notice"] == "live_failed"  # type: ignore[index]
        assert tap.closed
    finally:
        await live.close()
    statuses = [
        (e["detail"]["status"], e["detail"]["notice"])
        for e in a.metadata["events"]
        if e["type"] == "live_status"
    ]
    assert ("busy", "live_busy") in statuses and ("off", "live_failed") in statuses
    assert [e["detail"]["notice"] for e in b.metadata["events"] if e["type"] == "live_status"] == [
        "live_full"
    ]


async def test_sessions_spread_over_live_processes_and_one_dying_stops_only_its_own(
    tmp_path: Path,
) -> None:
    options = LiveOptions(
        max_sessions=4, processes=2, worker=WorkerConfig(preload=False, parent_pid=os.getpid())
    )
    live = LiveService(options)
    dirs = {
        sid: SessionDir.create(tmp_path, sid, template_id="traditional_life")
        for sid in ("s-000000000000000c", "s-000000000000000d")
    }
    try:
        taps = {sid: live.open(sid, d, "traditional_life", _policy()) for sid, d in dirs.items()}
        assert all(taps.values())
        procs = {sid: live.sessions[sid].proc for sid in dirs}
        assert sorted(procs.values()) == [0, 1]
        await _wait(lambda: all(p.ready for p in live._procs))
        first = next(sid for sid, p in procs.items() if p == 0)
        other = next(sid for sid in dirs if sid != first)
        os.kill(live.pids[0], signal.SIGKILL)
        await _wait(lambda: live.sessions[first].status == "off")
        assert live.sessions[other].status == "ok"
    finally:
        await live.close()
