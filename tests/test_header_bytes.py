"""Secret-bearing headers that are not UTF-8 (the CSRF token, the metrics bearer token) are a
refusal, not a 500. aiohttp decodes header bytes as UTF-8 with surrogate escapes; their
comparison encoded the value back with a plain ``encode()``, which raised
UnicodeEncodeError: ``X-CSRF-Token: \\xff\\xfe`` on any logged-in write, or
``Authorization: Bearer \\xff`` on ``/metrics`` with a token, was ``500 internal_error`` and
an "unhandled error" traceback in the log. Sent over a raw socket: a client library would
not send such bytes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import Client, make_settings, new_session_body, serving
from tests.test_api_auth import assert_error


async def _raw(url: str, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """(status, body) of one request written byte for byte."""
    where = urlsplit(url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_non_utf8_secret_headers_are_refused(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path, metrics_token="s3cret-scrape")) as srv:
        sales = Client(srv.url)
        try:
            await sales.login("sales1")
            status, made = await sales.post("/api/sessions", json=new_session_body())
            assert status == 201, made
            sid = made["session"]["id"]
            cookie = next(c.value for c in sales.http.cookie_jar if c.key == "kesu_session")
        finally:
            await sales.close()
        node = json.dumps({"node": "introduction"}).encode()
        for csrf in (b"\xff\xfe", b"\xc3", b"ok\x80"):
            status, body = await _raw(
                srv.url,
                b"POST /api/sessions/%s/node HTTP/1.1\r\nHost: 127.0.0.1\r\n" % sid.encode()
                + b"Cookie: kesu_session=%s\r\n" % cookie.encode()
                + b"X-CSRF-Token: "
                + csrf
                + b"\r\nContent-Type: application/json\r\n",
                node,
            )
            assert status == 403, (csrf, status, body)
            assert_error(json.loads(body), "csrf_failed")
        status, body = await _raw(
            srv.url, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \xff\r\n"
        )
        assert status == 401, (status, body)
        assert_error(json.loads(body), "unauthorized")


async def test_host_names_that_are_not_punycode_are_a_refusal(tmp_path: Path) -> None:
    """An ``xn--`` label that is not valid punycode in the Origin, the Referer or the Host of
    an unsafe request: yarl decodes it when the same-site check reads the URL's host and
    raised UnicodeError, so any client reaching the port had a ``500 internal_error`` and an
    "unhandled error" traceback in the log with one header line. Now a foreign site's
    ``403 origin_mismatch``, and a request with neither header still passes."""
    login = json.dumps({"username": "sales1", "password": "wrong password"}).encode()
    json_body = b"Content-Type: application/json\r\n"
    async with serving(make_settings(tmp_path)) as srv:
        port = srv.url.rsplit(":", 1)[1].encode()
        for head in (
            b"Host: 127.0.0.1:%s\r\nOrigin: http://xn--zz\r\n" % port,
            b"Host: 127.0.0.1:%s\r\nReferer: http://xn--ab.xn--zz/login\r\n" % port,
            b"Host: xn--zz\r\nOrigin: http://evil.example\r\n",
            b"Host: xn--zz\r\nOrigin: http://xn--zz\r\n",
        ):
            status, body = await _raw(
                srv.url, b"POST /api/login HTTP/1.1\r\n" + head + json_body, login
            )
            assert status == 403, (head, status, body)
            assert_error(json.loads(body), "origin_mismatch")
        status, body = await _raw(
            srv.url, b"POST /api/login HTTP/1.1\r\nHost: xn--zz\r\n" + json_body, login
        )
        assert status == 401, (status, body)
        assert_error(json.loads(body), "bad_credentials")
