"""A teleprompter move refused by the database (here: another process holds SQLite's write
lock; on PostgreSQL an outage) is not half stored: the client's retry adds one ``node``
event to metadata.json, not a second one for the attempt that failed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from server.store import db as db_module
from tests.conftest import Client, make_settings, serving
from tests.test_api_recording import open_session


async def test_a_node_change_retried_after_a_database_fault_is_stored_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    async with serving(make_settings(tmp_path)) as srv:
        sales = Client(srv.url)
        holder = sqlite3.connect(tmp_path / "data" / "kesu.db", isolation_level=None)
        try:
            await sales.login("sales1")
            sid, _token = await open_session(sales)
            status, shown = await sales.get(f"/api/sessions/{sid}")
            node = shown["script"][1]["id"]
            holder.execute("BEGIN EXCLUSIVE")
            status, body = await sales.post(f"/api/sessions/{sid}/node", json={"node": node})
            assert status == 503 and body["error"]["code"] == "database_busy", body
            holder.execute("ROLLBACK")
            status, body = await sales.post(f"/api/sessions/{sid}/node", json={"node": node})
            assert status == 200 and body["session"]["current_node"] == node, body
            meta = json.loads((srv.ctx.settings.sessions_dir / sid / "metadata.json").read_text())
            assert [e["node"] for e in meta["events"] if e["type"] == "node"] == [node]
        finally:
            holder.close()
            await sales.close()


async def test_a_move_retried_after_its_answer_was_lost_is_stored_once(tmp_path: Path) -> None:
    """The move was stored but its answer never reached the page (a network cut): the retry
    of the same move is a no-op with the same answer, not a second ``node`` event. Moving
    away and back is still two moves."""
    async with serving(make_settings(tmp_path)) as srv:
        sales = Client(srv.url)
        try:
            await sales.login("sales1")
            sid, _token = await open_session(sales)
            _status, shown = await sales.get(f"/api/sessions/{sid}")
            first, second = shown["script"][1]["id"], shown["script"][2]["id"]
            answers = []
            for node in (first, first, second, first):
                status, body = await sales.post(f"/api/sessions/{sid}/node", json={"node": node})
                assert status == 200, body
                answers.append(body["session"]["current_node"])
            assert answers == [first, first, second, first]
            meta = json.loads((srv.ctx.settings.sessions_dir / sid / "metadata.json").read_text())
            moves = [e["node"] for e in meta["events"] if e["type"] == "node"]
            assert moves == [first, second, first]
        finally:
            await sales.close()
