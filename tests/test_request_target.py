"""A request target whose host aiohttp parses but cannot build a request from is a ``400``
that closes the connection, not a connection left open for ever.

aiohttp 3.14.5 accepts a request line in absolute form (``GET http://xn--zz/ HTTP/1.1``) or
authority form (``CONNECT xn--zz:443 HTTP/1.1``) whose host is an ``xn--`` label that is
not punycode, then raises ``UnicodeError`` building the request from it, outside the code
that answers a handler's failure: nothing was sent, nothing logged, and the connection
stayed open past aiohttp's own 75 s limit for an idle one, so a client could hold file
descriptors as long as it liked (``server/api/request_target.py``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from server.api import request_target
from server.private_method import wrapped_by
from tests.conftest import make_settings, serving
from tests.test_api_auth import assert_error

# Reads until the server closes, failing after 20 s (before the fix none came in 200 s).
from tests.test_body_deadline import _raw as _exchange

TARGETS = (
    b"GET http://xn--zz/ HTTP/1.1",
    b"GET http://xn--zz:8080/healthz?x=1 HTTP/1.1",
    b"GET http://xn--ab.xn--zz/login HTTP/1.1",
    b"GET https://xn--zz./ HTTP/1.1",
    b"OPTIONS http://a.xn--/ HTTP/1.1",
    b"POST http://xn--zz/api/login HTTP/1.1",
    b"GET http://user@xn--zz:1/ HTTP/1.1",
    b"CONNECT xn--zz:443 HTTP/1.1",
    b"CONNECT xn--ab.xn--zz:80 HTTP/1.1",
)


@pytest.mark.parametrize("line", TARGETS, ids=lambda t: t.decode())
async def test_a_host_that_is_not_punycode_is_answered_and_closed(
    tmp_path: Path, line: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(make_settings(tmp_path), users=False) as srv:
        caplog.set_level(logging.INFO, logger="kesu.api")
        # No "Connection: close": the server must close it itself.
        answer = await _exchange(srv.url, line + b"\r\nHost: 127.0.0.1\r\n\r\n")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), answer
        assert b"\r\nConnection: close\r\n" in head, head
        assert_error(json.loads(body), "bad_request")
        target = line.split(b" ")[1].decode()
        said = [(r.levelname, r.getMessage()) for r in caplog.records]
        assert said.count(("INFO", f"malformed request target: {target!r}")) == 1, said
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], said
        # The server goes on serving.
        answer = await _exchange(
            srv.url, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200 "), answer


async def test_a_valid_absolute_form_target_is_still_served(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path), users=False) as srv:
        answer = await _exchange(
            srv.url,
            b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Connection: close\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 200 "), answer


async def test_aiohttp_still_makes_requests_through_the_guarded_method(tmp_path: Path) -> None:
    """The guard wraps ``Application._make_request`` (private): if aiohttp stops handing
    that method to its server as the request factory, this says so before a release."""
    async with serving(make_settings(tmp_path), users=False) as srv:
        server = srv.runner.server
        assert server is not None
        assert wrapped_by(server.request_factory, request_target.guarded)
