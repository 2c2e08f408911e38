"""TURN: coturn's REST credentials, the browsers' ICE server endpoint, and a call whose
clients can only reach the server through a real coturn relay on loopback."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.rtc.turn import IceServers, turn_credential
from server.session_dir import SessionDir
from server.settings import Settings
from tests.conftest import free_port, make_settings, new_session_body

SECRET = "north-wind"
CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\S+)", re.M)


def test_credential_matches_coturn_rest_scheme() -> None:
    # Reference value: echo -n "1700000000:alice" | openssl dgst -sha1 -hmac north-wind -binary | base64
    cred = turn_credential(SECRET, "alice", ttl_s=3600, now=1_700_000_000 - 3600)
    assert cred.username == "1700000000:alice"
    assert cred.credential == "Oko4dt8u/EbTRjRUJWQDFm/zTCc="
    assert cred.expires_at == 1_700_000_000
    # The user part cannot smuggle in another ':' (coturn splits the username at it).
    odd = turn_credential(SECRET, "a:b c", ttl_s=10, now=0)
    assert odd.username == "10:a_b_c" and len(base64.b64decode(odd.credential)) == 20


def test_ice_servers_config_and_validation() -> None:
    assert IceServers().browser_config("x") == [] and IceServers().rtc_servers("x") == []
    servers = IceServers(
        stun_urls=("stun:turn.example.com:3478",),
        turn_urls=("turn:turn.example.com:3478?transport=udp",),
        turn_secret=SECRET,
    )
    stun, turn = servers.browser_config("customer.s1", now=100.0)
    assert stun == {"urls": ["stun:turn.example.com:3478"]}
    assert turn["username"] == "86500:customer.s1" and turn["credential"]
    assert SECRET not in repr(servers)
    with pytest.raises(ValueError, match="secret"):
        IceServers(turn_urls=("turn:h:3478",))
    with pytest.raises(ValueError, match="not a turn"):
        IceServers.from_settings(
            Settings(ice_turn_urls="stun:h:3478", ice_turn_secret=SECRET)  # wrong scheme
        )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        ice_stun_urls="stun:127.0.0.1:3478",
        ice_turn_urls="turn:127.0.0.1:3478?transport=udp",
        ice_turn_secret=SECRET,
    )


async def test_pages_get_fresh_turn_credentials(server: Any, client_factory: Any) -> None:
    sales = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body())
    sid = body["session"]["id"]
    status, body = await sales.get(f"/api/sessions/{sid}/ice")
    assert status == 200, body
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:127.0.0.1:3478"]}
    assert turn["username"].endswith(f":salesperson.{sid}")
    assert SECRET not in str(body)
    other = await client_factory("sales2")
    status, body = await other.get(f"/api/sessions/{sid}/ice")
    assert status == 404 and "ice_servers" not in body  # not their session
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    customer = await client_factory()
    status, body = await customer.get(f"/api/join/{link['token']}/ice")
    assert status == 200 and body["ice_servers"][1]["username"].endswith(f":customer.{sid}")
    status, body = await customer.get(f"/api/join/{link['token']}x/ice")
    assert status == 404 and body["error"]["code"] == "token_invalid"


# --------------------------------------------------------------------------- real coturn


@dataclass
class Coturn:
    port: int
    log: Path

    def relayed_bytes(self, user: str) -> int:
        """Bytes coturn relayed to and from peers for ``user``'s closed allocations."""
        total = 0
        for m in PEER_USAGE.finditer(self.log.read_text(errors="replace")):
            if m.group(1).endswith(f":{user}"):
                total += int(m.group(2)) + int(m.group(3))
        return total


PEER_USAGE = re.compile(
    r"peer usage: realm=<[^>]*>, username=<([^>]*)>, rp=\d+, rb=(\d+), sp=\d+, sb=(\d+)"
)


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[Coturn]:
    """coturn on 127.0.0.1 with the REST secret; loopback peers allowed (test only)."""
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.fail("coturn is not installed: bash scripts/setup.sh --dev")
    port = free_port()
    log = tmp_path / "turn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
             f"--listening-port={port}", "--use-auth-secret", f"--static-auth-secret={SECRET}",
             "--realm=kesu.test", "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
             "--min-port=43100", "--max-port=43199", "--log-file=stdout", "--simple-log", "--verbose",
             f"--pidfile={tmp_path / 'turn.pid'}", f"--db={tmp_path / 'turndb'}"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(200):
            if b"Total General servers" in log.read_bytes() or proc.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert proc.poll() is None, log.read_text(errors="replace")
        yield Coturn(port, log)
    finally:
        proc.terminate()
        proc.wait(10)


def relay_client(role: str, servers: list[RTCIceServer]) -> ClientPeer:
    timeline = MediaTimeline()
    return ClientPeer(
        [PatternVideoTrack(role, timeline, fps=10), ToneAudioTrack(timeline)],
        configuration=RTCConfiguration(
            iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY
        ),
    )


async def test_wrong_or_expired_credentials_get_no_relay(coturn: Coturn) -> None:
    url = f"turn:127.0.0.1:{coturn.port}?transport=udp"
    expired = turn_credential(SECRET, "late", ttl_s=-60)
    cases = (
        (IceServers(turn_urls=(url,), turn_secret="not-the-secret").rtc_servers("x"), []),
        ([RTCIceServer(urls=url, username=expired.username, credential=expired.credential)], []),
        (IceServers(turn_urls=(url,), turn_secret=SECRET).rtc_servers("x"), ["relay"]),
    )
    for servers, expected in cases:
        client = relay_client("customer", servers)
        try:
            kinds = sorted({typ for _h, _p, typ in CANDIDATE.findall(await client.offer())})
        finally:
            await client.close()
        assert kinds == expected, (servers[0].username, kinds)


async def test_call_through_coturn_relay_only(coturn: Coturn, tmp_path: Path) -> None:
    ice = IceServers(turn_urls=(f"turn:127.0.0.1:{coturn.port}?transport=udp",), turn_secret=SECRET)
    room = Room(
        SessionDir.create(tmp_path, "s-turn"),
        RtcSettings(loopback_only=True, ice=ice, sync_wait_s=0.5),
    )
    clients: list[ClientPeer] = []
    try:
        for role in ("salesperson", "customer"):
            client = relay_client(role, ice.rtc_servers(f"{role}.s-turn"))
            clients.append(client)
            offer = await client.offer()
            # The "browser" offers nothing but its relay address on coturn.
            found = CANDIDATE.findall(offer)
            assert found and {typ for _h, _p, typ in found} == {"relay"}, offer
            assert all(43100 <= int(port) <= 43199 for _h, port, _t in found)
            await client.accept(await room.join(role, offer))
        for _ in range(300):
            if all(
                c.received.frames["video"] > 5 and c.received.frames["audio"] > 5 for c in clients
            ):
                break
            await asyncio.sleep(0.05)
        for c in clients:
            assert c.received.frames["video"] > 5 and c.received.frames["audio"] > 5, (
                c.received.frames
            )
            pair = c.pc.getTransceivers()[
                0
            ].sender.transport.transport.iceGatherer.getLocalCandidates()
            assert pair and {cand.type for cand in pair} == {"relay"}
        stats = room.stats()
        assert all(stats[r]["packets_received"]["video"] > 0 for r in ("salesperson", "customer"))
    finally:
        for c in clients:
            await c.close()
        await room.close()
    # coturn itself counts the media it relayed (logged when the allocations close).
    for _ in range(200):
        if all(coturn.relayed_bytes(f"{r}.s-turn") > 5_000 for r in ("salesperson", "customer")):
            break
        await asyncio.sleep(0.05)
    for role in ("salesperson", "customer"):
        assert coturn.relayed_bytes(f"{role}.s-turn") > 5_000, coturn.log.read_text()[-3000:]
