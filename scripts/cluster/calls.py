"""Calls in the cluster demo: a salesperson logged in on a node, aiortc peers playing
pre-encoded media, each offer sent to the node that holds the session (409 wrong_node:
the other one), and the session driven through either node's URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from scripts.cluster.common import PASSWORD, ROLES, CheckFailed, check
from scripts.cluster.processes import Cluster
from scripts.cluster.state import read_meta, session_path
from scripts.session_body import new_session_body
from server.rtc.client import (
    ClientPeer,
    EncodedLoop,
    LoopedPacketTrack,
    MediaTimeline,
    encode_audio_loop,
    encode_video_loop,
)


class Client:
    """A logged-in salesperson (or an anonymous customer) talking to one node."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str) -> None:
        status, body = await self.call(
            "POST", "/api/login", {"username": username, "password": PASSWORD}
        )
        assert status == 200, body
        self.csrf = body["csrf_token"]

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        async with self.http.request(
            method, self.base + path, json=body, headers=headers, allow_redirects=False
        ) as r:
            return r.status, await r.json() if r.content_type == "application/json" else None

    async def close(self) -> None:
        await self.http.close()


class CountingTrack(LoopedPacketTrack):
    """Counts the payload bytes handed to the connection (what the server could record)."""

    bytes_sent = 0

    async def recv(self) -> Any:
        packet = await super().recv()
        self.bytes_sent += packet.size
        return packet


@dataclass
class Call:
    """One session with both parties connected to the node that holds it."""

    sid: str
    token: str
    node: str = ""
    peers: dict[str, ClientPeer] = field(default_factory=dict)
    tracks: dict[str, list[CountingTrack]] = field(default_factory=dict)

    def bytes_sent(self) -> dict[str, int]:
        return {role: sum(t.bytes_sent for t in tracks) for role, tracks in self.tracks.items()}

    async def close(self) -> None:
        for peer in self.peers.values():
            await peer.close()


def make_loops(seconds: float) -> dict[str, dict[str, EncodedLoop]]:
    out = {}
    for role in ROLES:
        timeline = MediaTimeline()
        out[role] = {
            "video": encode_video_loop(role, seconds, (320, 240), 15, 30, timeline),
            "audio": encode_audio_loop(seconds, timeline),
        }
    return out


async def open_call(sales: dict[str, Client], loops: dict[str, dict[str, EncodedLoop]]) -> Call:
    """Create on m1, then join both parties as the pages do (wrong_node: go to node_url)."""
    status, body = await sales["m1"].call("POST", "/api/sessions", new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    status, link = await sales["m1"].call("POST", f"/api/sessions/{sid}/link")
    assert status == 200, link
    call = Call(sid, link["token"])
    customer = Client(sales["m1"].base)
    try:
        status, body = await customer.call(
            "POST", f"/api/join/{call.token}/consent", {"consent": True}
        )
        assert status == 200, body
        for role in ROLES:
            await join(call, role, sales, loops[role])
    finally:
        await customer.close()
    return call


async def join(
    call: Call, role: str, sales: dict[str, Client], loops: dict[str, EncodedLoop]
) -> None:
    node = call.node or "m1"
    path = (
        f"/api/sessions/{call.sid}/offer"
        if role == "salesperson"
        else f"/api/join/{call.token}/offer"
    )
    for _ in range(3):
        timeline = MediaTimeline()
        tracks = [CountingTrack(loops["video"], timeline), CountingTrack(loops["audio"], timeline)]
        peer = ClientPeer(tracks, decode=False)
        client = sales[node] if role == "salesperson" else Client(sales[node].base)
        try:
            status, body = await client.call(
                "POST", path, {"type": "offer", "sdp": await peer.offer()}
            )
        finally:
            if client is not sales[node]:
                await client.close()
        if status == 200:
            await peer.accept(body["sdp"])
            call.node = node
            call.peers[role] = peer
            call.tracks.setdefault(role, []).extend(tracks)
            return
        await peer.close()
        if status != 409 or body["error"]["code"] != "wrong_node":
            raise CheckFailed(f"offer refused: {status} {body}")
        node = sales_node(sales, body["error"]["details"]["node_url"])
    raise CheckFailed(f"{call.sid}: no node took the {role}")


def sales_node(sales: dict[str, Client], url: str) -> str:
    return next(n for n, c in sales.items() if c.base == url)


async def connected(call: Call) -> bool:
    return all(p.received.frames["video"] > 0 for p in call.peers.values())


async def end_call(call: Call, sales: dict[str, Client], via: str = "") -> dict[str, int]:
    """End through ``via`` (default: the holder); returns the bytes sent per role when the
    room had closed."""
    via = via or call.node
    status, body = await sales[via].call("POST", f"/api/sessions/{call.sid}/end")
    sent = call.bytes_sent()
    await call.close()
    check(status == 200, f"{call.sid} (on {call.node}) ended through {via} ({status})")
    return sent


async def drive_through(cluster: Cluster, call: Call, sales: dict[str, Client], via: str) -> None:
    """The salesperson's page on ``via``: the script, the live state, as the holder sees them."""
    client = sales[via]
    status, body = await client.call("GET", f"/api/sessions/{call.sid}")
    assert status == 200, body
    node = body["script"][0]["id"]
    status, body = await client.call("POST", f"/api/sessions/{call.sid}/node", {"node": node})
    assert status == 200, body
    status, state = await client.call("GET", f"/api/sessions/{call.sid}/state")
    assert status == 200, state
    events = [e.get("node") for e in read_meta(cluster, call.sid)["events"] if e["type"] == "node"]
    home = session_path(cluster, call.sid).parent.parent
    check(
        state["connected"] == {"salesperson": True, "customer": True}
        and events == [node]
        and home == cluster.node_dirs[call.node],
        f"{call.sid} on {call.node} driven through {via}: script node {node} in "
        f"{home.name}/sessions only, connected {state['connected']}",
    )
