"""A media node declared dead while alive (paused, cut off from the database) stops taking
media when its lease lapses, and abandons the rooms the cluster took away at its next beat,
leaving the files as the cluster hashed them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from server import audit_verify, fence, nodes
from server.session_dir import SessionDir
from server.store.models import MediaNode, RecordingSession
from server.store.types import utcnow
from tests.conftest import Client, add_test_users
from tests.test_media_nodes import Cluster, spread, start_node


async def test_node_declared_dead_while_alive_abandons_its_rooms(tmp_path: Path) -> None:
    # b never beats on its own: the test beats for it, then stops (a pause), then resumes.
    a = await start_node(
        tmp_path, "node-a", node_heartbeat_s=0.5, node_dead_after_s=4.0, rejoin_window_s=60.0
    )
    b = await start_node(
        tmp_path, "node-b", node_heartbeat_s=3600.0, node_dead_after_s=4.0, rejoin_window_s=60.0
    )
    await add_test_users(a.ctx)
    c = Cluster(a, b, Client(a.url), Client(b.url), [])

    async def b_alive() -> None:
        while True:
            await fence.beat(b.ctx)
            await asyncio.sleep(0.3)

    beating = asyncio.create_task(b_alive())
    try:
        await c.sales_a.login("sales1")
        await c.sales_b.login("sales1")
        placed = await spread(c, 2)
        on_a = next(s for s, n in placed.items() if n == "node-a")
        on_b = next(s for s, n in placed.items() if n == "node-b")
        segment = a.ctx.settings.sessions_dir / on_b / "salesperson-000.mkv"
        for _ in range(300):  # b alive: it beats, records
            if segment.exists() and segment.stat().st_size > 20_000:
                break
            await asyncio.sleep(0.2)
        assert segment.stat().st_size > 20_000
        assert b.ctx.fence is not None

        # The pause: b's lease lapses (its rooms stop taking media) and, later, its row ages
        # past node_dead_after_s; a marks b's session interrupted and hashes its segment.
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        await asyncio.sleep(b.ctx.fence.length_s)
        assert not b.ctx.fence.held()
        old = utcnow() - timedelta(seconds=5)
        async with a.ctx.db.session() as s:
            await s.execute(
                update(MediaNode).where(MediaNode.id == "node-b").values(heartbeat_at=old)
            )
        assert await nodes.sweep_dead(a.ctx) == [on_b]
        assert b.ctx.rooms.get(on_b) is not None  # b has not noticed yet
        meta = json.loads((segment.parent / "metadata.json").read_text())
        hashed = {s["file"]: s["sha256"] for s in meta["segments"]}
        await asyncio.sleep(1.0)  # b's peer goes on sending meanwhile

        # b resumes: its next beat abandons the room, files left as a hashed them.
        assert await fence.beat(b.ctx) == [on_b]
        assert b.ctx.rooms.get(on_b) is None
        for name, digest in hashed.items():
            assert hashlib.sha256((segment.parent / name).read_bytes()).hexdigest() == digest
        meta = json.loads((segment.parent / "metadata.json").read_text())
        assert {s["file"]: s["sha256"] for s in meta["segments"]} == hashed
        assert [e["type"] for e in meta["events"]][-1] == "interrupted"
        assert not list(segment.parent.glob(".*.kept"))

        # a's session is untouched, and a later beat of b abandons nothing more.
        assert await fence.beat(b.ctx) == []
        room_a = a.ctx.rooms.get(on_a)
        assert room_a is not None and not room_a.closed
        async with a.ctx.db.read() as s:
            states = dict(
                (await s.execute(select(RecordingSession.id, RecordingSession.status))).all()
            )
        assert states == {on_a: "live", on_b: "interrupted"}
        assert a.ctx.anchorer is not None
        SessionDir.on_written(a.ctx.settings.sessions_dir, a.ctx.anchorer.written)
        await a.ctx.anchorer.flush()
        async with a.ctx.db.session() as s:
            assert await audit_verify.verify_files(s, a.ctx.settings.sessions_dir) == []
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        for p in c.peers:
            await p.close()
        await c.sales_a.close()
        await c.sales_b.close()
        await a.runner.cleanup()
        await b.runner.cleanup()


async def test_a_node_alone_keeps_taking_media_while_its_beats_stall(tmp_path: Path) -> None:
    # The embedded default is one node: nobody can declare it dead, so a stalled database
    # (a heartbeat write waiting behind load) must never stop its recordings.
    a = await start_node(tmp_path, "node-a", node_heartbeat_s=3600.0, node_dead_after_s=4.0)
    try:
        fenced = a.ctx.fence
        assert fenced is not None
        await fence.beat(a.ctx)
        await asyncio.sleep(fenced.length_s + 0.2)  # no beat for longer than the lease
        assert fenced.alone and fenced.held()

        # Another live node appears: from then on the lease applies.
        async with a.ctx.db.session() as s:
            s.add(MediaNode(id="node-b", url="http://127.0.0.1:9", capacity=1))
        await fence.beat(a.ctx)
        assert not fenced.alone and fenced.held()
        await asyncio.sleep(fenced.length_s + 0.2)
        assert not fenced.held()
    finally:
        await a.runner.cleanup()
