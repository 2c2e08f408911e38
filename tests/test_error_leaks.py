"""An unexpected exception in a handler answers a JSON 500 with a reference to quote, never
a traceback, an exception message, a path or a DSN of the server (server.api.errors)."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.exc import OperationalError

from server.app import create_app
from tests.conftest import free_port, make_settings

SECRET = "/srv/kesu/private/secret-key-0123"
DSN = "postgresql://kesu:hunter2@10.1.2.3:5432/kesu"


async def _boom(_request: web.Request) -> web.Response:
    raise RuntimeError(f"cannot open {SECRET}")


async def _db_boom(_request: web.Request) -> web.Response:
    raise OperationalError("SELECT 1", {}, Exception(f"connection to {DSN} refused"))


async def _key_boom(request: web.Request) -> web.Response:
    return web.json_response({"x": request.match_info["missing"]})  # KeyError


def _leaks(text: str) -> list[str]:
    return [
        w
        for w in ("Traceback", SECRET, "hunter2", "10.1.2.3", "KeyError", "missing", 'File "')
        if w in text
    ]


async def test_unexpected_exceptions_answer_500_without_internals(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(tmp_path))
    app.router.add_get("/api/test-boom", _boom)
    app.router.add_get("/api/test-db-boom", _db_boom)
    app.router.add_get("/api/test-key-boom", _key_boom)
    app.router.add_get("/test-page-boom", _boom)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            for path in (
                "/api/test-boom",
                "/api/test-db-boom",
                "/api/test-key-boom",
                "/test-page-boom",
            ):
                with caplog.at_level(logging.ERROR, logger="kesu"):
                    async with http.get(f"http://127.0.0.1:{port}{path}") as r:
                        text = await r.text()
                        assert r.status == 500, (path, text)
                        body = await r.json()
                assert body["error"]["code"] == "internal_error", path
                assert body["error"]["message"].startswith("internal error (ref "), body
                assert body["error"]["details"] == {}
                assert not _leaks(text), (path, text)
                assert "Content-Security-Policy" in r.headers
                # The reference leads the operator to the whole story in the log.
                ref = body["error"]["message"].removeprefix("internal error (ref ").rstrip(")")
                assert any(ref in rec.getMessage() and rec.exc_info for rec in caplog.records)
                caplog.clear()
    finally:
        await runner.cleanup()
