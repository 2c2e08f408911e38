"""Ending a call while another process holds SQLite's write lock (``sqlite3 kesu.db 'BEGIN
EXCLUSIVE;'`` left open): the salesperson gets 503 ``database_busy`` and the call goes on,
both parties connected and recorded; once the lock is gone the end succeeds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.rtc.client import ClientPeer
from server.store import db as db_module
from tests.conftest import Client, make_settings, serving, wait_for
from tests.test_api_recording import start_call


async def test_an_end_refused_by_a_locked_database_keeps_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    async with serving(make_settings(tmp_path)) as srv:
        sales, customer = Client(srv.url), Client(srv.url)
        peers: list[ClientPeer] = []
        holder = sqlite3.connect(tmp_path / "data" / "kesu.db", isolation_level=None)
        try:
            await sales.login("sales1")
            sid, _token = await start_call(sales, customer, peers)
            holder.execute("BEGIN EXCLUSIVE")
            status, body = await sales.post(f"/api/sessions/{sid}/end")
            assert status == 503 and body["error"]["code"] == "database_busy", body
            room = srv.ctx.rooms.get(sid)
            assert room is not None and not room.closed
            frames = [p.received.frames["video"] for p in peers]
            await wait_for(
                lambda: all(
                    p.received.frames["video"] > f for p, f in zip(peers, frames, strict=True)
                )
            )
            holder.execute("ROLLBACK")
            status, body = await sales.post(f"/api/sessions/{sid}/end")
            assert status == 200 and body["session"]["status"] == "ended", body
        finally:
            holder.close()
            for peer in peers:
                await peer.close()
            await sales.close()
            await customer.close()
