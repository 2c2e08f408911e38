"""Two media nodes with separate data directories (as on two hosts), one database: every
request about a session reaches the node whose disk and room hold it (server.api.forward)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select, update
from yarl import URL

from server import node_stamp
from server.api import forward
from server.rtc.client import ClientPeer
from server.store.models import MediaNode, RecordingSession
from tests.conftest import Client, RunningServer, add_test_users, free_port
from tests.test_api_auth import assert_error
from tests.test_api_recording import join, open_session, wait_for
from tests.test_media_nodes import start_node


@dataclass
class TwoHosts:
    a: RunningServer
    b: RunningServer
    sales: Client  # logged in, talking to node a only (the reverse proxy's pick)
    peers: list[ClientPeer]


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[TwoHosts]:
    shared = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "audit_key_file": str(tmp_path / "audit.key"),  # one key per cluster (docs/audit.md)
        "node_dead_after_s": 3600.0,  # nobody dies unless the test says so
        "node_heartbeat_s": 3600.0,  # rows as the test leaves them (one beat at the start)
    }
    a = await start_node(tmp_path / "host-a", "node-a", **shared)
    b = await start_node(tmp_path / "host-b", "node-b", **shared)
    assert a.ctx.settings.sessions_dir != b.ctx.settings.sessions_dir
    await add_test_users(a.ctx)
    sales = Client(a.url)
    await sales.login("sales1")
    h = TwoHosts(a, b, sales, [])
    try:
        yield h
    finally:
        for p in h.peers:
            await p.close()
        await sales.close()
        await a.runner.cleanup()
        await b.runner.cleanup()


def meta(node: RunningServer, sid: str) -> dict[str, Any]:
    return dict(json.loads((node.ctx.settings.sessions_dir / sid / "metadata.json").read_text()))


async def holder(node: RunningServer, sid: str) -> str | None:
    async with node.ctx.db.read() as s:
        return await s.scalar(select(RecordingSession.node_id).where(RecordingSession.id == sid))


async def test_a_session_on_node_b_is_driven_entirely_through_node_a(hosts: TwoHosts) -> None:
    h = hosts
    # Creations go to the node with the most free capacity: the second one is forwarded to b,
    # which creates the directory on its own disk and holds the session.
    first, _ = await open_session(h.sales)
    sid, token = await open_session(h.sales)
    assert (await holder(h.a, first), await holder(h.a, sid)) == ("node-a", "node-b")
    assert (h.b.ctx.settings.sessions_dir / sid / "metadata.json").is_file()
    assert not (h.a.ctx.settings.sessions_dir / sid).exists()

    # The customer's page talks to node a too: consent lands in b's metadata.
    customer = Client(h.a.url)
    try:
        status, body = await customer.get(f"/api/join/{token}")
        assert status == 200, body
        status, body = await customer.post(f"/api/join/{token}/consent", json={"consent": True})
        assert status == 200, body
        assert [e["type"] for e in meta(h.b, sid)["events"]] == ["consent"]

        # Offers are not forwarded: 409 wrong_node names b, and the pages offer there.
        status, body = await customer.post(
            f"/api/join/{token}/offer", json={"type": "offer", "sdp": "v=0"}
        )
        assert status == 409
        assert_error(body, "wrong_node")
        assert body["error"]["details"] == {"node_id": "node-b", "node_url": h.b.url}
        h.peers.append(await join(Client(h.b.url), f"/api/join/{token}/offer", "customer"))
        sales_b = Client(h.b.url)
        sales_b.http.cookie_jar.update_cookies(h.sales.http.cookie_jar.filter_cookies(URL(h.a.url)))
        sales_b.csrf = h.sales.csrf
        try:
            h.peers.append(await join(sales_b, f"/api/sessions/{sid}/offer", "salesperson"))
        finally:
            await sales_b.close()
        room = h.b.ctx.rooms.get(sid)
        assert room is not None and h.a.ctx.rooms.get(sid) is None
        await wait_for(lambda: room.connected() == {"salesperson": True, "customer": True})

        # Everything else through a: the teleprompter, the live state (b's room), a leave.
        status, body = await h.sales.get(f"/api/sessions/{sid}")
        assert status == 200, body
        node_id = body["script"][1]["id"]
        status, body = await h.sales.post(f"/api/sessions/{sid}/node", json={"node": node_id})
        assert status == 200, body
        assert body["session"]["current_node"] == node_id
        status, body = await h.sales.get(f"/api/sessions/{sid}/state")
        assert status == 200, body
        assert body["connected"] == {"salesperson": True, "customer": True}
        status, body = await customer.post(f"/api/join/{token}/leave")
        assert status == 200, body
    finally:
        await customer.close()
    events = [(e["type"], e.get("participant")) for e in meta(h.b, sid)["events"]]
    assert ("node", None) in events and ("leave", "customer") in events

    # The end, through a, closes b's room and finishes b's files.
    status, body = await h.sales.post(f"/api/sessions/{sid}/end", json={})
    assert status == 200, body
    assert body["session"]["status"] == "ended"
    assert h.b.ctx.rooms.get(sid) is None
    finished = meta(h.b, sid)
    assert finished["status"] == "ended"
    assert finished["segments"] and all(s["sha256"] for s in finished["segments"])
    assert not (h.a.ctx.settings.sessions_dir / sid).exists()

    # The review side reads b's disk through a too: the page's media list and a recording.
    admin = Client(h.a.url)
    try:
        await admin.login("admin")
        status, body = await admin.get(f"/api/review/sessions/{sid}")
        assert status == 200, body
        listed = {seg["file"] for segs in body["media"]["tracks"].values() for seg in segs}
        assert listed == {seg["file"] for seg in finished["segments"]}
        name = finished["segments"][0]["file"]
        status, data = await admin.get(f"/api/media/{sid}/{name}")
        assert status == 200
        assert data == (h.b.ctx.settings.sessions_dir / sid / name).read_bytes()
        status, data = await admin.get(f"/api/media/{sid}/{name}", headers={"Range": "bytes=4-9"})
        assert (status, data) == (206, data[:6]) and len(data) == 6
    finally:
        await admin.close()


async def test_a_holder_that_does_not_answer_gives_503(hosts: TwoHosts) -> None:
    h = hosts
    await open_session(h.sales)
    sid, _token = await open_session(h.sales)
    assert await holder(h.a, sid) == "node-b"
    await h.b.runner.cleanup()  # b stops; its heartbeat row still says alive
    status, body = await h.sales.post(f"/api/sessions/{sid}/node", json={"node": "x"})
    assert status == 503, body
    assert_error(body, "node_unreachable")
    assert body["error"]["details"] == {"node_id": "node-b"}
    # A read is answered by a meanwhile, from the database.
    status, body = await h.sales.get(f"/api/sessions/{sid}")
    assert status == 200, body
    assert body["session"]["status"] == "created"
    assert body["session"]["connected"] == {}
    # A creation that would go to b (a holds more) is made on a instead.
    await open_session(h.sales)
    third, _token = await open_session(h.sales)
    assert await holder(h.a, third) == "node-a"
    assert (h.a.ctx.settings.sessions_dir / third / "metadata.json").is_file()


async def test_a_foreign_origin_is_refused_before_forwarding(hosts: TwoHosts) -> None:
    h = hosts
    await open_session(h.sales)
    sid, _token = await open_session(h.sales)
    status, body = await h.sales.post(
        f"/api/sessions/{sid}/end", json={}, headers={"Origin": "https://evil.example"}
    )
    assert status == 403
    assert_error(body, "origin_mismatch")
    # Nor can a client pass for a forwarding node (the header's MAC needs the cluster key).
    forged_mac = h.a.ctx.signer.node_mac("x")
    for forged in ("node-a", "node-a AAAA", f"node-a {forged_mac}", f"node-a 1 n {forged_mac}"):
        status, body = await h.sales.post(
            f"/api/sessions/{sid}/end",
            json={},
            headers={"Origin": "https://evil.example", forward.HEADER: forged},
        )
        assert status == 403, forged
        assert_error(body, "origin_mismatch")
    assert meta(h.b, sid)["status"] != "ended"


async def test_a_node_url_naming_another_node_is_refused_not_answered(hosts: TwoHosts) -> None:
    """b's node_url misconfigured as a's (e.g. the public URL both share): a forwards to
    itself; the forwarded request must not be answered by a, which has not the files."""
    h = hosts
    await open_session(h.sales)
    sid, token = await open_session(h.sales)
    assert await holder(h.a, sid) == "node-b"
    async with h.a.ctx.db.session() as s:
        await s.execute(update(MediaNode).where(MediaNode.id == "node-b").values(url=h.a.url))
    customer = Client(h.a.url)
    try:
        status, body = await customer.post(f"/api/join/{token}/consent", json={"consent": True})
    finally:
        await customer.close()
    assert status == 503, body
    assert_error(body, "node_misrouted")
    assert [e["type"] for e in meta(h.b, sid)["events"]] == []
    assert not (h.a.ctx.settings.sessions_dir / sid).exists()


async def test_a_join_request_verifies_its_token_once(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The forward middleware (which node holds the session?) and the join handler both need
    # the token's claims: one MAC check per request, its result passed along.
    sales = await client_factory("sales1")
    customer = await client_factory()
    _sid, token = await open_session(sales)
    signer = server.ctx.signer
    calls: list[str] = []
    real = signer.verify

    def counting(tok: str, now: float | None = None) -> Any:
        calls.append(tok)
        return real(tok, now)

    monkeypatch.setattr(signer, "verify", counting)
    status, body = await customer.get(f"/api/join/{token}")
    assert status == 200, body
    assert calls == [token]
    calls.clear()
    status, body = await customer.get(f"/api/join/{token[:-2]}xx")  # a forged MAC
    assert status == 404, body
    assert_error(body, "token_invalid")
    assert len(calls) == 1


@dataclass
class Heard:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


async def _tap(upstream: str, heard: list[Heard]) -> tuple[str, web.AppRunner]:
    """A loopback relay that writes down each request it passes on to ``upstream``: what
    someone on the wire between two nodes would see."""
    http = aiohttp.ClientSession(auto_decompress=False)

    async def relay(request: web.Request) -> web.Response:
        body = await request.read()
        target = request.rel_url.raw_path_qs
        keep = {k: v for k, v in request.headers.items() if k.lower() not in forward.HOP_BY_HOP}
        heard.append(Heard(request.method, target, keep, body))
        url = URL(upstream + target, encoded=True)
        async with http.request(request.method, url, headers=keep, data=body or None) as r:
            return web.Response(
                status=r.status,
                body=await r.read(),
                headers={"Content-Type": r.headers.get("Content-Type", "application/octet-stream")},
            )

    async def close(_app: web.Application) -> None:
        await http.close()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", relay)
    app.on_cleanup.append(close)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"http://127.0.0.1:{port}", runner


async def test_a_forwarded_request_seen_on_the_wire_cannot_be_sent_again(
    hosts: TwoHosts,
) -> None:
    h = hosts
    await open_session(h.sales)
    sid, token = await open_session(h.sales)
    assert await holder(h.a, sid) == "node-b"
    heard: list[Heard] = []
    tap_url, tap = await _tap(h.b.url, heard)
    try:
        async with h.a.ctx.db.session() as s:
            await s.execute(update(MediaNode).where(MediaNode.id == "node-b").values(url=tap_url))
        customer = Client(h.a.url)
        try:
            status, body = await customer.post(f"/api/join/{token}/consent", json={"consent": True})
        finally:
            await customer.close()
        assert status == 200, body
        assert [e["type"] for e in meta(h.b, sid)["events"]] == ["consent"]
        (sent,) = heard
        assert forward.HEADER in sent.headers
        # Sent again as it was (with a foreign Origin, which only a forwarded request skips):
        # refused, and nothing of it happens again.
        replay = dict(sent.headers, Origin="https://evil.example")
        async with aiohttp.ClientSession() as http:
            url = URL(h.b.url + sent.target, encoded=True)
            async with http.request(sent.method, url, headers=replay, data=sent.body) as r:
                status, body = r.status, await r.json()
            assert status == 403, body
            assert_error(body, "forward_replayed")
            # Its stamp put on another request (another path, another body) is no stamp at
            # all: the request is a client's, and its foreign Origin is refused.
            url = URL(h.b.url + f"/api/join/{token}/leave", encoded=True)
            async with http.post(url, headers=replay, data=b"{}") as r:
                status, body = r.status, await r.json()
            assert status == 403, body
            assert_error(body, "origin_mismatch")
        assert [e["type"] for e in meta(h.b, sid)["events"]] == ["consent"]
    finally:
        await tap.cleanup()


async def test_a_stale_forwarding_stamp_is_refused(hosts: TwoHosts) -> None:
    h = hosts
    await open_session(h.sales)
    sid, token = await open_session(h.sales)
    target = f"/api/join/{token}/consent"
    body = b'{"consent": true}'
    async with aiohttp.ClientSession() as http:
        for skew in (-node_stamp.MAX_AGE_S - 5, node_stamp.MAX_AGE_S + 5):
            stamp = node_stamp.make(
                h.a.ctx.signer, "node-a", "POST", target, body, now=time.time() + skew
            )
            headers = {forward.HEADER: stamp, "Content-Type": "application/json"}
            async with http.post(h.b.url + target, headers=headers, data=body) as r:
                status, answer = r.status, await r.json()
            assert status == 403, answer
            assert_error(answer, "forward_stale")
        assert [e["type"] for e in meta(h.b, sid)["events"]] == []
        # A fresh one is honoured, once.
        stamp = node_stamp.make(h.a.ctx.signer, "node-a", "POST", target, body)
        headers = {forward.HEADER: stamp, "Content-Type": "application/json"}
        async with http.post(h.b.url + target, headers=headers, data=body) as r:
            assert r.status == 200, await r.text()
        async with http.post(h.b.url + target, headers=headers, data=body) as r:
            assert r.status == 403
            assert_error(await r.json(), "forward_replayed")
    assert [e["type"] for e in meta(h.b, sid)["events"]] == ["consent"]


def test_seen_nonces_forget_only_stale_ones_and_stay_bounded() -> None:
    seen = node_stamp.SeenNonces(max_entries=2)
    t = 1_000_000.0
    seen.accept(node_stamp.Stamp("a", int(t), "n1"), now=t)
    with pytest.raises(node_stamp.StampError) as err:
        seen.accept(node_stamp.Stamp("a", int(t), "n1"), now=t + 1)
    assert err.value.code == "forward_replayed"
    seen.accept(node_stamp.Stamp("a", int(t), "n2"), now=t)
    with pytest.raises(node_stamp.StampError) as err:
        seen.accept(node_stamp.Stamp("a", int(t), "n3"), now=t + 1)
    assert err.value.code == "forward_busy"  # full of live nonces: refused, not forgotten
    later = t + node_stamp.MAX_AGE_S + 1
    seen.accept(node_stamp.Stamp("a", int(later), "n3"), now=later)  # n1, n2 stale: dropped
