"""The live checks' Server-Sent Events streams are bounded per session and side: one join
link cannot open thousands (each costs the loop an encode and a write per change), and
every stream gives its place back when it ends. A real live-check process is spawned; no
audio reaches its models."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import update
from yarl import URL

from server.api import live as live_api
from server.api.live import MAX_STREAMS, STREAMS_KEY
from server.sessions import get_session
from server.store.models import User
from tests.conftest import (
    Client,
    RunningServer,
    add_test_users,
    make_settings,
    start_server,
    wait_for,
)
from tests.test_api_auth import assert_error
from tests.test_api_recording import join, open_session


async def _first_event(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientResponse:
    """Open a stream and read up to its first event (the state at subscription)."""
    for _ in range(100):  # 409 live_not_started until the tap is open
        r = await http.get(url)
        if r.status != 409:
            break
        r.release()
        await asyncio.sleep(0.2)
    assert r.status == 200, await r.text()
    async for raw in r.content:
        if raw.startswith(b"data: "):
            return r
    raise AssertionError("the stream ended before its first event")


@dataclass(frozen=True)
class LiveCall:
    srv: RunningServer
    sales: Client  # logged in as sales1, in the call
    http: aiohttp.ClientSession  # no login: the customer's side
    sid: str
    token: str


@asynccontextmanager
async def _live_call(tmp_path: Path) -> AsyncIterator[LiveCall]:
    """A server with live checks and one session whose salesperson is in the call."""
    srv = await start_server(make_settings(tmp_path, live_checks=True))
    await add_test_users(srv.ctx)
    sales = Client(srv.url)
    http = aiohttp.ClientSession()
    peer = None
    try:
        await sales.login("sales1")
        sid, token = await open_session(sales)
        peer = await join(sales, f"/api/sessions/{sid}/offer", "salesperson")
        yield LiveCall(srv, sales, http, sid, token)
    finally:
        await http.close()
        if peer is not None:
            await peer.close()
        await sales.close()
        await srv.runner.cleanup()


async def test_streams_per_session_are_bounded_and_given_back(tmp_path: Path) -> None:
    open_streams: list[aiohttp.ClientResponse] = []
    async with _live_call(tmp_path) as call:
        srv, sales, http, sid = call.srv, call.sales, call.http, call.sid
        url = f"{srv.url}/api/join/{call.token}/live"
        for _ in range(MAX_STREAMS):
            open_streams.append(await _first_event(http, url))
        async with http.get(url) as r:
            assert r.status == 429
            assert r.headers["Retry-After"] == "5"
            assert_error(await r.json(), "too_many_streams")
        # The salesperson's own stream is counted apart.
        async with sales.http.get(f"{srv.url}/api/sessions/{sid}/live") as r:
            assert r.status == 200
        # Ending the session ends every stream; their places are given back.
        assert (await sales.post(f"/api/sessions/{sid}/end", json={}))[0] == 200
        await wait_for(lambda: not _streams(srv), 30.0)
        for r in open_streams:
            r.close()


def _streams(srv: RunningServer) -> dict[tuple[str, bool], int]:
    held: dict[tuple[str, bool], int] = srv.runner.app[STREAMS_KEY]
    return dict(held)


async def _ends(r: aiohttp.ClientResponse) -> None:
    """Read the stream to its end (the caller bounds the wait)."""
    async for _ in r.content:
        pass


async def test_a_stream_ends_with_its_login_or_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream is not a way around a logout, a disabled account or an expired join link:
    it was checked only when it opened and went on until the session ended. (The recheck
    is made frequent here so the test does not wait 15 s a stream; without any recheck the
    streams never end and the waits below fail.)"""
    monkeypatch.setattr(live_api, "RECHECK_S", 0.3, raising=False)
    async with _live_call(tmp_path) as call:
        srv, sales, http, sid = call.srv, call.sales, call.http, call.sid
        other = Client(srv.url)
        row = await get_session(srv.ctx, sid)
        # A link that expires in 2 s (the server's links last a day; its signer makes both).
        short = srv.ctx.signer.sign(sid, row.join_nonce, 2)
        customer_stream = await _first_event(http, f"{srv.url}/api/join/{short}/live")
        # A second login of the same salesperson (another browser), then logged out.
        await other.login("sales1")
        other_stream = await _first_event(other.http, f"{srv.url}/api/sessions/{sid}/live")
        sales_stream = await _first_event(sales.http, f"{srv.url}/api/sessions/{sid}/live")
        assert (await other.post("/api/logout", json={}))[0] == 200
        await asyncio.wait_for(_ends(other_stream), 30)
        # The link expired (before the account is disabled below, which ends it too).
        await asyncio.wait_for(_ends(customer_stream), 30)
        async with http.get(f"{srv.url}/api/join/{short}/live") as r:
            assert r.status == 410
        customer_stream = await _first_event(http, f"{srv.url}/api/join/{call.token}/live")
        # The account disabled (kesu user disable): its other login's stream ends too, and
        # so does the customer's (its link refuses them: server/owner_standing.py).
        async with srv.ctx.db.session() as s:
            await s.execute(update(User).where(User.username == "sales1").values(disabled=True))
        await asyncio.wait_for(_ends(sales_stream), 30)
        await asyncio.wait_for(_ends(customer_stream), 30)
        async with http.get(f"{srv.url}/api/join/{call.token}/live") as r:
            assert r.status == 403
            assert_error(await r.json(), "salesperson_disabled")
        await wait_for(lambda: not _streams(srv), 30.0)
        assert srv.ctx.live is not None and srv.ctx.live.sessions  # the call itself goes on
        await other.close()


async def test_head_holds_no_stream(tmp_path: Path) -> None:
    """HEAD on a stream's URL answers its headers and no body, and holds no place: before,
    each HEAD opened a stream whose events went after the headers, and the fifth was 429."""
    async with _live_call(tmp_path) as call:
        srv, sales, http, sid = call.srv, call.sales, call.http, call.sid
        url = f"{srv.url}/api/join/{call.token}/live"
        (await _first_event(http, url)).close()  # the tap is open
        await wait_for(lambda: not _streams(srv), 30.0)
        for _ in range(MAX_STREAMS + 2):
            async with http.head(url) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/event-stream")
                assert await r.read() == b""
        assert not _streams(srv)
        async with sales.http.head(f"{srv.url}/api/sessions/{sid}/live") as r:
            assert r.status == 200
        assert not _streams(srv)


async def test_a_stream_nobody_reads_ends_with_its_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that stops reading (its receive window shut) left the stream's handler
    waiting in a write for ever: its recheck never ran, so the stream outlived a logout (a
    revoked link, the session's end) and kept one of the session's places; four such held
    every place until the server restarted. A write that cannot go out within
    ``WRITE_TIMEOUT_S`` now ends the stream and its connection. (Times made short here.)"""
    monkeypatch.setattr(live_api, "RECHECK_S", 0.3, raising=False)
    monkeypatch.setattr(live_api, "WRITE_TIMEOUT_S", 1.0, raising=False)
    async with _live_call(tmp_path) as call:
        srv, sid = call.srv, call.sid
        other = Client(srv.url)
        await other.login("sales1")
        cookies = other.http.cookie_jar.filter_cookies(URL(srv.url))
        cookie = "; ".join(f"{k}={m.value}" for k, m in cookies.items())
        (await _first_event(other.http, f"{srv.url}/api/sessions/{sid}/live")).close()
        await wait_for(lambda: not _streams(srv), 30.0)
        # A reader with a tiny window that never reads.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        url = URL(srv.url)
        assert url.host is not None and url.port is not None
        sock.connect((url.host, url.port))
        try:
            request = (
                f"GET /api/sessions/{sid}/live HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
                f"Cookie: {cookie}\r\n\r\n"
            )
            sock.sendall(request.encode())
            await wait_for(lambda: _streams(srv).get((sid, False)) == 1, 30.0)
            # A state far larger than the socket buffers: its write cannot finish.
            live = srv.ctx.live
            assert live is not None
            (q,) = live.sessions[sid].subscribers
            with contextlib.suppress(asyncio.QueueEmpty):
                q.get_nowait()
            q.put_nowait({"status": "ok", "pad": "x" * 16_000_000})
            await wait_for(q.empty, 30.0)
            assert (await other.post("/api/logout", json={}))[0] == 200
            await wait_for(lambda: not _streams(srv), 30.0)
        finally:
            sock.close()
            await other.close()
