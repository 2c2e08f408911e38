"""Two media nodes (two apps on two ports, one data dir; SQLite, then PostgreSQL): placement,
wrong_node, dead nodes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select, update

from server import audit_verify, housekeeping, nodes, session_end, sessions
from server.app import create_app
from server.context import CTX
from server.localservers import fresh_database
from server.rtc.client import ClientPeer
from server.session_dir import SessionDir
from server.store.models import AuditEntry, Job, MediaNode, RecordingSession
from server.store.types import utcnow
from tests.conftest import PASSWORD, Client, RunningServer, add_test_users, free_port, make_settings
from tests.test_api_auth import assert_error
from tests.test_api_recording import _serve, _wait_healthy, make_peer, open_session, wait_for


async def start_node(tmp_path: Path, name: str, **overrides: Any) -> RunningServer:
    """A node whose URL is known before it starts (it is stored in its media_nodes row)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path, port=port, node_id=name, node_url=url, **overrides)
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return RunningServer(url, app[CTX], runner)


async def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    """_wait_healthy, longer: on a loaded machine a `kesu serve` may take a minute to import
    (it failed at 15 s at load average 40, on main as here)."""
    for _ in range(7):
        try:
            await _wait_healthy(url, proc)
            return
        except TimeoutError:
            continue
    await _wait_healthy(url, proc)


@dataclass
class Cluster:
    a: RunningServer
    b: RunningServer
    sales_a: Client
    sales_b: Client
    peers: list[ClientPeer]


@pytest.fixture(params=["sqlite", "postgresql"])
async def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cluster]:
    db: dict[str, Any] = {}
    if request.param == "postgresql":
        db["database_url"] = await fresh_database(request.getfixturevalue("pg_admin"))
    # Node b never beats again after it starts, so the test decides when it looks dead (to
    # a: long node_dead_after_s, however slow the machine); b's own long node_dead_after_s
    # keeps its lease on media (server.fence) meanwhile.
    a = await start_node(tmp_path, "node-a", node_dead_after_s=3600.0, **db)
    b = await start_node(
        tmp_path, "node-b", node_heartbeat_s=3600.0, node_dead_after_s=3600.0, **db
    )
    await add_test_users(a.ctx)
    sales_a, sales_b = Client(a.url), Client(b.url)
    await sales_a.login("sales1")
    await sales_b.login("sales1")
    c = Cluster(a, b, sales_a, sales_b, [])
    try:
        yield c
    finally:
        for p in c.peers:
            await p.close()
        await sales_a.close()
        await sales_b.close()
        await a.runner.cleanup()
        await b.runner.cleanup()  # a second cleanup of a stopped runner does nothing


async def offer(c: Cluster, client: Client, path: str, role: str) -> tuple[int, Any]:
    peer = make_peer(role)
    c.peers.append(peer)
    status, body = await client.post(path, json={"type": "offer", "sdp": await peer.offer()})
    if status == 200:
        await peer.accept(body["sdp"])
    return status, body


async def holders(c: Cluster) -> dict[str, str | None]:
    async with c.a.ctx.db.read() as s:
        rows = (await s.execute(select(RecordingSession.id, RecordingSession.node_id))).all()
    return {sid: node for sid, node in rows}


async def spread(c: Cluster, n: int) -> dict[str, str]:
    """Open n sessions on node a and join each as the pages do: offer to a, and on
    wrong_node offer again to the node_url it names. Returns session -> node."""
    placed: dict[str, str] = {}
    urls = {c.a.url: ("node-a", c.sales_a), c.b.url: ("node-b", c.sales_b)}
    for _ in range(n):
        sid, _token = await open_session(c.sales_a)
        status, body = await offer(c, c.sales_a, f"/api/sessions/{sid}/offer", "salesperson")
        node = "node-a"
        if status != 200:
            assert status == 409, body
            assert_error(body, "wrong_node")
            node, client = urls[body["error"]["details"]["node_url"]]
            assert body["error"]["details"]["node_id"] == node
            status, body = await offer(c, client, f"/api/sessions/{sid}/offer", "salesperson")
            assert status == 200, body
        placed[sid] = node
    return placed


async def test_sessions_spread_over_both_nodes_and_offers_reach_the_holder(
    cluster: Cluster,
) -> None:
    c = cluster
    placed = await spread(c, 4)
    assert sorted(placed.values()) == ["node-a", "node-a", "node-b", "node-b"]
    assert await holders(c) == placed
    assert {sid for sid in placed if c.a.ctx.rooms.get(sid)} == {
        s for s, n in placed.items() if n == "node-a"
    }
    assert {sid for sid in placed if c.b.ctx.rooms.get(sid)} == {
        s for s, n in placed.items() if n == "node-b"
    }
    async with c.a.ctx.db.read() as s:
        rows = {n.id: n.url for n in (await s.execute(select(MediaNode))).scalars()}
    assert rows == {"node-a": c.a.url, "node-b": c.b.url}

    # A rejoin (or a customer's join link) reaching the other node is sent to the holder.
    on_b = next(s for s, n in placed.items() if n == "node-b")
    status, body = await offer(c, c.sales_a, f"/api/sessions/{on_b}/offer", "salesperson")
    assert status == 409
    assert_error(body, "wrong_node")
    assert body["error"]["details"] == {"node_id": "node-b", "node_url": c.b.url}
    _status, link = await c.sales_a.post(f"/api/sessions/{on_b}/link")
    customer = Client(c.a.url)
    try:
        consent = await customer.post(f"/api/join/{link['token']}/consent", json={"consent": True})
        assert consent[0] == 200
        status, body = await offer(c, customer, f"/api/join/{link['token']}/offer", "customer")
    finally:
        await customer.close()
    assert status == 409
    assert body["error"]["details"]["node_url"] == c.b.url
    assert (await holders(c))[on_b] == "node-b"  # the refused offer moved nothing


async def test_dead_node_sessions_are_interrupted_once_by_the_other(cluster: Cluster) -> None:
    c = cluster
    placed = await spread(c, 4)
    on_a = sorted(s for s, n in placed.items() if n == "node-a")
    on_b = sorted(s for s, n in placed.items() if n == "node-b")
    assert len(on_a) == len(on_b) == 2

    # Within node_dead_after_s nothing happens to b's sessions.
    await housekeeping.sweep(c.a.ctx)
    assert await nodes.sweep_dead(c.a.ctx) == []

    # b stops without a word (its rooms close, its rows stay live) and its last beat ages.
    await c.b.runner.cleanup()
    # SessionDir's write hook is per process and sessions root, so b's stop unhooked a's
    # anchorer too (separate processes each have their own): hook a's again.
    assert c.a.ctx.anchorer is not None
    SessionDir.on_written(c.a.ctx.settings.sessions_dir, c.a.ctx.anchorer.written)
    old = utcnow() - timedelta(seconds=c.a.ctx.settings.node_dead_after_s + 1)
    async with c.a.ctx.db.session() as s:
        await s.execute(update(MediaNode).where(MediaNode.id == "node-b").values(heartbeat_at=old))
    # Two survivors sweeping at once: each session is interrupted exactly once.
    first, second = await asyncio.gather(nodes.sweep_dead(c.a.ctx), nodes.sweep_dead(c.a.ctx))
    assert sorted(first + second) == on_b

    async with c.a.ctx.db.read() as s:
        states = dict((await s.execute(select(RecordingSession.id, RecordingSession.status))).all())
        audits = (
            await s.execute(
                select(AuditEntry.session_id, AuditEntry.detail).where(
                    AuditEntry.action == "session.interrupted"
                )
            )
        ).all()
    assert {sid: states[sid] for sid in on_a} == {sid: "live" for sid in on_a}
    assert {sid: states[sid] for sid in on_b} == {sid: "interrupted" for sid in on_b}
    assert sorted(sid for sid, _ in audits) == on_b
    assert all(d["reason"] == "node_dead" and d["node"] == "node-b" for _, d in audits)

    sessions_dir = c.a.ctx.settings.sessions_dir
    for sid in on_a + on_b:
        meta = json.loads((sessions_dir / sid / "metadata.json").read_text())
        gaps = [e for e in meta["events"] if e["type"] == "interrupted"]
        if sid in on_b:
            assert [g["detail"]["reason"] for g in gaps] == ["node_dead"]
            assert meta["status"] == "interrupted"
        else:
            assert gaps == []

    # The salesperson rejoins within the window: the session is placed on the live node.
    status, body = await offer(c, c.sales_a, f"/api/sessions/{on_b[0]}/offer", "salesperson")
    assert status == 200, body
    assert (await holders(c))[on_b[0]] == "node-a"

    # Two nodes wrote one audit chain; it and the files it anchors check out.
    await c.a.ctx.anchorer.flush()
    async with c.a.ctx.db.session() as s:
        assert await audit_verify.verify_chain(s) == []
        assert await audit_verify.verify_files(s, sessions_dir) == [], (on_a, on_b)


async def test_kill_9_of_a_node_process_interrupts_only_its_sessions(tmp_path: Path) -> None:
    """Two `kesu serve` processes on one data dir; SIGKILL one mid-call."""
    data = tmp_path / "data"
    env = {**os.environ, "KESU_DATA_DIR": str(data)}
    for args in (
        ["migrate"],
        ["user", "add", "s1", "--role", "salesperson", "--password", PASSWORD],
    ):
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "server.cli", *args],
            check=True,
            env=env,
            capture_output=True,
        )
    ports = {"m1": free_port(), "m2": free_port()}
    urls = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    procs = {
        n: _serve(
            data,
            ports[n],
            KESU_NODE_ID=n,
            KESU_NODE_URL=urls[n],
            KESU_NODE_HEARTBEAT_S="0.5",
            KESU_NODE_DEAD_AFTER_S="3",
            KESU_REJOIN_WINDOW_S="20",  # the sweep runs every window/5 = 4 s
        )
        for n in ports
    }
    clients = {n: Client(u) for n, u in urls.items()}
    peers: list[ClientPeer] = []
    try:
        for n in ports:
            await wait_up(urls[n], procs[n])
            await clients[n].login("s1")
        placed: dict[str, str] = {}
        for _ in range(2):
            sid, _token = await open_session(clients["m1"])
            node = "m1"
            while True:
                peer = make_peer("salesperson")
                peers.append(peer)
                status, body = await clients[node].post(
                    f"/api/sessions/{sid}/offer", json={"type": "offer", "sdp": await peer.offer()}
                )
                if status == 200:
                    await peer.accept(body["sdp"])
                    break
                assert status == 409 and node == "m1", body
                node = next(n for n, u in urls.items() if u == body["error"]["details"]["node_url"])
            placed[sid] = node
        assert sorted(placed.values()) == ["m1", "m2"]
        segments = [data / "sessions" / sid / "salesperson-000.mkv" for sid in placed]
        await wait_for(lambda: all(f.exists() and f.stat().st_size > 0 for f in segments), 30)

        procs["m2"].send_signal(signal.SIGKILL)
        procs["m2"].wait(10)
        on_m1, on_m2 = (next(s for s, n in placed.items() if n == want) for want in ("m1", "m2"))
        for _ in range(300):
            status, body = await clients["m1"].get(f"/api/sessions/{on_m2}")
            if body["session"]["status"] == "interrupted":
                break
            await asyncio.sleep(0.1)
        assert body["session"]["status"] == "interrupted"
        status, body = await clients["m1"].get(f"/api/sessions/{on_m1}")
        assert body["session"]["status"] == "live"
        meta = json.loads((data / "sessions" / on_m2 / "metadata.json").read_text())
        (gap,) = [e for e in meta["events"] if e["type"] == "interrupted"]
        assert gap["detail"]["reason"] == "node_dead"
        assert {s["status"] for s in meta["segments"]} == {"interrupted"}
    finally:
        for p in peers:
            await p.close()
        for c in clients.values():
            await c.close()
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)


async def test_end_is_claimed_once_and_only_by_the_holder(cluster: Cluster) -> None:
    c = cluster
    placed = await spread(c, 2)
    on_a = next(s for s, n in placed.items() if n == "node-a")
    on_b = next(s for s, n in placed.items() if n == "node-b")

    # Ending on a node that does not hold the live call (it would leave it recording) is
    # forwarded to the holder, which closes the room (server.api.forward).
    status, body = await c.sales_a.post(f"/api/sessions/{on_b}/end")
    assert status == 200, body
    assert body["session"]["status"] == "ended"
    assert c.b.ctx.rooms.get(on_b) is None
    # Called on the holder itself (not forwarded), a non-holder refuses it: 409 wrong_node.
    with pytest.raises(nodes.WrongNode):
        await nodes.check_holder(c.a.ctx, on_b)

    # Two enders at once (the salesperson and the housekeeping): one wins, one is refused.
    row = await sessions.get_session(c.a.ctx, on_a)
    results = await asyncio.gather(
        session_end.end_session(c.a.ctx, row, "user:sales1"),
        session_end.end_session(c.a.ctx, row, "system", reason="abandoned"),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], sessions.SessionError), results
    async with c.a.ctx.db.read() as s:
        ends = (
            await s.execute(
                select(AuditEntry.seq).where(
                    AuditEntry.session_id == on_a, AuditEntry.action == "session.end"
                )
            )
        ).all()
        jobs = [j for j in (await s.execute(select(Job))).scalars() if j.kind == "inspect"]
    assert len(ends) == 1
    assert sorted(j.payload["session_id"] for j in jobs) == sorted([on_a, on_b])
    meta = json.loads((c.a.ctx.settings.sessions_dir / on_a / "metadata.json").read_text())
    assert [e["type"] for e in meta["events"]].count("end") == 1


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
async def test_two_placements_at_once_do_not_take_the_same_free_slot(
    request: pytest.FixtureRequest, tmp_path: Path, db: str
) -> None:
    # Node a has room for one session, node b for two. Placing two sessions at once, the
    # first goes to b (two free) and the second, seeing one free on each, to a (this node
    # wins a tie). Without a lock both counted the load before either wrote, and both went
    # to b (on PostgreSQL; SQLite's writer lock serialised them already).
    extra: dict[str, Any] = {"node_heartbeat_s": 3600.0, "node_dead_after_s": 3600.0}
    if db == "postgresql":
        extra["database_url"] = await fresh_database(request.getfixturevalue("pg_admin"))
    a = await start_node(tmp_path, "node-a", max_sessions=1, **extra)
    b = await start_node(tmp_path, "node-b", max_sessions=2, **extra)
    await add_test_users(a.ctx)
    sales = Client(a.url)
    try:
        await sales.login("sales1")
        for _round in range(3):
            sids = [(await open_session(sales))[0] for _ in range(2)]
            async with a.ctx.db.session() as s:
                # Nobody holds them yet, and nothing else counts against either node.
                await s.execute(update(RecordingSession).values(node_id=None))
                await s.execute(
                    update(RecordingSession)
                    .where(RecordingSession.id.not_in(sids))
                    .values(status="ended")
                )
            results = await asyncio.gather(
                *(nodes.place(a.ctx, sid) for sid in sids), return_exceptions=True
            )
            assert all(r is None or isinstance(r, nodes.WrongNode) for r in results), results
            held = await holders_of(a, sids)
            assert sorted(held.values()) == ["node-a", "node-b"], held
    finally:
        await sales.close()
        await a.runner.cleanup()
        await b.runner.cleanup()


async def holders_of(node: RunningServer, sids: list[str]) -> dict[str, str | None]:
    async with node.ctx.db.read() as s:
        rows = await s.execute(
            select(RecordingSession.id, RecordingSession.node_id).where(
                RecordingSession.id.in_(sids)
            )
        )
    return {sid: holder for sid, holder in rows}
