"""PostgreSQL stopped under a running server, then started again: every request in between
is a 503 ``database_unavailable`` with a Retry-After (never a 500), and the server serves
again by itself once the database is back (docs/errors.md, docs/operations.md)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from server.localservers import fresh_database, postgres_start, postgres_stop
from tests.conftest import Client, add_test_users, make_settings, new_session_body, start_server


def _unavailable(status: int, body: object) -> bool:
    return (
        status == 503
        and isinstance(body, dict)
        and body["error"]["code"] == "database_unavailable"
        and body["error"]["details"]["retry_after_s"] > 0
    )


async def test_requests_while_postgres_is_down(pg_admin: str, tmp_path: Path) -> None:
    url = await fresh_database(pg_admin)
    srv = await start_server(make_settings(tmp_path, database_url=url))
    await add_test_users(srv.ctx)
    sales, fresh = Client(srv.url), Client(srv.url)
    try:
        await sales.login("sales1")
        status, body = await sales.post("/api/sessions", json=new_session_body())
        assert status == 201, body
        sid = body["session"]["id"]
        await asyncio.to_thread(postgres_stop, pg_admin)
        try:
            answers = {
                "list": await sales.get("/api/sessions"),
                "detail": await sales.get(f"/api/sessions/{sid}"),
                "create": await sales.post("/api/sessions", json=new_session_body()),
                "end": await sales.post(f"/api/sessions/{sid}/end"),
                "login": await fresh.post(
                    "/api/login", json={"username": "sales2", "password": "correct-horse-9"}
                ),
            }
            for what, (status, body) in answers.items():
                assert _unavailable(status, body), (what, status, body)
            async with sales.http.get(f"{srv.url}/api/sessions") as r:
                assert r.headers["Retry-After"].isdigit()
            # Readiness says which check fails, also to a request that carries a login.
            status, body = await sales.get("/readyz")
            assert status == 503 and body["checks"]["database"]["ok"] is False, body
        finally:
            await asyncio.to_thread(postgres_start, pg_admin)
        # Back by itself: the pool's dead connections are replaced, the session ends.
        status, body = await sales.get("/api/sessions")
        assert status == 200, body
        status, body = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 200 and body["session"]["status"] == "ended", body
        meta = json.loads((tmp_path / "data" / "sessions" / sid / "metadata.json").read_text())
        assert meta["status"] == "ended"
    finally:
        await sales.close()
        await fresh.close()
        await srv.runner.cleanup()
