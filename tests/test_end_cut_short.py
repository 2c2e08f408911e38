"""An end cut short by the database (here: another process takes SQLite's write lock just
after the session's files were finished) leaves the session ``ended`` with nothing queued.
The housekeeping sweep finishes it: the end is audited and the review video and the
inspection are queued, once, so the recording still reaches a reviewer."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from server import housekeeping
from server.session_dir import SessionDir
from server.store import db as db_module
from tests.conftest import Client, make_settings, serving
from tests.test_api_recording import open_session
from tests.worker_jobs import record_a_segment, swept_twice


async def test_an_end_cut_short_is_finished_by_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    monkeypatch.setattr(housekeeping, "END_GRACE_S", 0.0, raising=False)
    holder: list[sqlite3.Connection] = []
    finish = SessionDir.finish

    async def finish_then_lock(self: SessionDir, *args: Any, **kwargs: Any) -> None:
        await finish(self, *args, **kwargs)
        conn = sqlite3.connect(tmp_path / "data" / "kesu.db", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")  # the fault: right after the claim and the files
        holder.append(conn)

    async with serving(make_settings(tmp_path)) as srv:
        sales = Client(srv.url)
        try:
            await sales.login("sales1")
            sid, _token = await open_session(sales)
            sdir = await record_a_segment(srv, sid)
            monkeypatch.setattr(SessionDir, "finish", finish_then_lock)
            status, body = await sales.post(f"/api/sessions/{sid}/end")
            assert status == 503 and body["error"]["code"] == "database_busy", body
            monkeypatch.setattr(SessionDir, "finish", finish)
            holder[0].execute("ROLLBACK")
            row, jobs, ends = await swept_twice(srv, sid, "session.end")  # once only
            assert row.status == "ended"
            assert row.inspection_status == "queued"
            assert sorted(jobs) == ["inspect", "review_video"], jobs
            assert [(e.actor, e.detail["reason"]) for e in ends] == [("system", "end_resumed")]
            assert ends[0].detail["files"] == {"salesperson-000.mkv": seg_sha(sdir)}
        finally:
            for conn in holder:
                conn.close()
            await sales.close()


def seg_sha(sdir: SessionDir) -> str:
    return str(sdir.metadata["segments"][0]["sha256"])
