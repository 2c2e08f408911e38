"""The server process of ``scripts/bench_sessions.py``: a RoomManager on loopback behind a
tiny aiohttp control API (POST /join, GET /stats, POST /close), optionally with live checks
tapping every room; run as ``bench_sessions.py --serve DIR``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from server.rtc.manager import RoomManager
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir


def _live_service(threads: int) -> Any:
    from server.live.process import WorkerConfig
    from server.live.service import LiveOptions, LiveService

    worker = WorkerConfig(threads=threads, parent_pid=os.getpid())
    processes = int(os.environ.get("KESU_BENCH_LIVE_PROCESSES", "1"))
    return LiveService(LiveOptions(max_sessions=64, processes=processes, worker=worker))


def bench_policy() -> dict[str, Any]:
    from inspection.policy import Policy

    return Policy(
        customer_name="李明华",
        customer_id_number="11010519491231002X",
        product_name="安康定期寿险",
        product_type="traditional",
        premium=12000,
        payment_method="年交",
        payment_years=10,
        insurance_years=20,
        cooling_off_days=15,
    ).to_dict()


async def serve(data_dir: Path, live_threads: int = 0) -> None:
    """Run rooms behind POST /join, GET /stats, POST /close; print the port, run until EOF.
    ``live_threads`` > 0: live checks on every room, with that many model threads."""
    manager = RoomManager(max_rooms=64, settings=RtcSettings(loopback_only=True))
    live = _live_service(live_threads) if live_threads > 0 else None

    async def join(request: web.Request) -> web.Response:
        body = await request.json()
        sid = body["session"]
        sdir = (
            SessionDir(data_dir / sid)
            if (data_dir / sid).exists()
            else SessionDir.create(data_dir, sid)
        )
        room = manager.room_for(sid, sdir)
        if live is not None and room.tap is None:
            room.tap = live.open(sid, sdir, "traditional_life", bench_policy())
        answer = await room.join(body["role"], body["sdp"])
        return web.json_response({"sdp": answer})

    async def stats(request: web.Request) -> web.Response:
        out: dict[str, Any] = {sid: room.stats() for sid, room in manager.rooms().items()}
        if live is not None:
            keys = ("status", "notice", "t_s", "lag_s", "skipped_audio_s")
            views = {sid: live.view(sid) or {} for sid in manager.rooms()}
            out["_live"] = {sid: {k: v.get(k) for k in keys} for sid, v in views.items()}
            out["_live_pids"] = live.pids
        return web.json_response(out)

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
    if live is not None:
        await live.close()
    await runner.cleanup()
