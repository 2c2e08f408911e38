"""A request body that trickles in (headers, then a byte now and then) is cut off at
``body_timeout_s`` with 408 ``request_timeout`` and the connection closed: it cannot hold a
connection and a handler for as long as the sender likes. A body sent at once is unaffected."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, make_settings, serving, wait_for

# Generous: the refusal comes after body_timeout_s (0.5 s); this only stops a hang.
GIVE_UP_S = 20


@pytest.fixture
async def short_deadline(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with serving(make_settings(tmp_path, body_timeout_s=0.5)) as srv:
        yield srv


async def _send(url: str, path: str, declared: int, sent: bytes) -> tuple[bytes, bytes]:
    """POST with a declared Content-Length, send ``sent`` and stall; returns the answer's
    head and body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n".encode()
            + sent
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GIVE_UP_S)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        body = await asyncio.wait_for(reader.readexactly(length), GIVE_UP_S)
    finally:
        writer.close()
    return head, body


@pytest.mark.parametrize("path", ["/api/login", "/api/join/s-0123456789abcdef.x.1.y/consent"])
async def test_a_stalled_body_is_408_and_the_connection_closes(
    short_deadline: RunningServer, path: str
) -> None:
    head, body = await _send(short_deadline.url, path, 1000, b'{"username": "sa')
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), head
    # Not kept alive: the rest of the body may still come (aiohttp then closes it, after
    # reading what arrives for at most its lingering time).
    assert b"\r\nConnection: close\r\n" in head, head
    assert json.loads(body)["error"]["code"] == "request_timeout"


async def test_a_whole_body_is_read_as_before(short_deadline: RunningServer) -> None:
    sent = json.dumps({"username": "sales1", "password": "correct-horse-9"}).encode()
    host = short_deadline.url.removeprefix("http://")
    reader, writer = await asyncio.open_connection(*host.split(":"))
    try:
        writer.write(
            f"POST /api/login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(sent)}\r\nConnection: close\r\n\r\n".encode()
            + sent
        )
        answer = await asyncio.wait_for(reader.read(), GIVE_UP_S)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]


async def test_a_declared_oversize_body_is_413_before_it_is_sent(
    short_deadline: RunningServer,
) -> None:
    """Refused on its Content-Length: the sender need not (and cannot) push 10 MB first."""
    head, body = await _send(short_deadline.url, "/api/login", 10_000_000, b"")
    assert head.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"), head
    assert json.loads(body)["error"]["code"] == "payload_too_large"


async def _raw(url: str, request: bytes) -> bytes:
    """Send ``request`` as it is on a fresh connection; the answer up to its close."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), GIVE_UP_S)
    finally:
        writer.close()


@pytest.mark.parametrize("path", ["/api/login", "/api/join/s-0123456789abcdef.x.1.y/consent"])
async def test_a_body_that_does_not_decode_is_400(
    short_deadline: RunningServer, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A body sent gzip-encoded that does not inflate was a 500 and a logged traceback."""
    answer = await _raw(
        short_deadline.url,
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Encoding: gzip\r\nContent-Length: 9\r\nConnection: close\r\n\r\n".encode()
        + b"not gzip!",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert json.loads(body)["error"]["code"] == "invalid_body"
    assert "unhandled error" not in caplog.text


async def test_a_client_leaving_mid_body_is_no_server_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that sends half its body and hangs up is not an error of the server: each
    one was logged as an "unhandled error" traceback (a script could fill the error log)."""
    caplog.set_level(logging.INFO, logger="kesu.api")
    # The default 60 s body deadline.
    async with serving(make_settings(tmp_path), users=False) as srv:
        await _leave_mid_body(srv.url, caplog)


async def _leave_mid_body(url: str, caplog: pytest.LogCaptureFixture) -> None:
    host, port = url.removeprefix("http://").split(":")
    for framing in (b"Content-Length: 100\r\n\r\n{", b"Transfer-Encoding: chunked\r\n\r\n5\r\n{"):
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing
        )
        await writer.drain()
        await asyncio.sleep(0.2)  # the server is reading the body
        writer.close()
    outcomes = ("left before its body", "unhandled error")
    await wait_for(lambda: sum(caplog.text.count(o) for o in outcomes) >= 2)
    assert "unhandled error" not in caplog.text
    answer = await _raw(url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
