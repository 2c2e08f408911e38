"""A request aiohttp cannot parse is a 400 and one info line, not an ERROR with a traceback
(``server/protocol_errors.py``): before, each such request, from anyone reaching the port,
logged "Error handling request" at ERROR with the whole traceback."""

from __future__ import annotations

import asyncio
import logging

import pytest
from yarl import URL

from tests.conftest import RunningServer

MALFORMED = (
    # A Content-Encoding aiohttp cannot decode (no Brotli here).
    b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Encoding: br\r\nContent-Length: 2\r\n\r\n{}",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x01: y\r\n\r\n",
    b"GET /api/me HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
)


async def _send(url: str, data: bytes) -> bytes:
    u = URL(url)
    reader, writer = await asyncio.open_connection(u.host, u.port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 15)
    finally:
        writer.close()


async def test_malformed_requests_are_an_info_line(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    for data in MALFORMED:
        answer = await _send(server.url, data)
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer
    mine = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(mine) == len(MALFORMED), [r.getMessage() for r in mine]
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in mine)
    assert all(r.getMessage().startswith("malformed request") for r in mine)
    assert "Traceback" not in caplog.text
