"""Reviewers of an institution see and act on only the sessions its salespeople made:
the queue and its counts, the review page, recordings and thumbnails, judgements,
decisions and the statistics. Another institution's session is 404, as if it did not
exist, and a refused action changes nothing. A reviewer without an institution and an
admin see every institution. On the old code rev1 (示例人寿) listed, opened and judged
乙保险's session (failed there: the queue held both sessions)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.store.models import AuditEntry, FindingRow, RecordingSession, ReviewDecision
from tests.cli_run import kesu
from tests.conftest import Client, RunningServer, add_users
from tests.review_fixtures import BuiltSession, build_session

OTHER = "乙保险"


async def _add_users(srv: RunningServer) -> None:
    await add_users(
        srv.ctx,
        [
            ("sales_b", "salesperson", OTHER),
            ("rev_b", "reviewer", OTHER),
            ("rev_hq", "reviewer", ""),
        ],
    )


async def _queue_ids(client: Client) -> set[str]:
    status, body = await client.get("/api/review/queue?status=all")
    assert status == 200, body
    assert body["total"] == len(body["sessions"])
    return {s["id"] for s in body["sessions"]}


async def _untouched(srv: RunningServer, built: BuiltSession) -> None:
    async with srv.ctx.db.read() as s:
        states = set(
            await s.scalars(
                select(FindingRow.review_state).where(FindingRow.session_id == built.id)
            )
        )
        decisions = list(
            await s.scalars(select(ReviewDecision).where(ReviewDecision.session_id == built.id))
        )
        row = await s.get(RecordingSession, built.id)
    assert states == {"open"} and not decisions
    assert row is not None and row.review_status == "queued"


async def test_reviewers_see_only_their_institutions_sessions(
    server: RunningServer, client_factory: Any
) -> None:
    await _add_users(server)
    mine = await build_session(server.ctx, salesperson="sales1")  # 示例人寿
    theirs = await build_session(server.ctx, salesperson="sales_b")
    async with server.ctx.db.read() as s:
        row = await s.get(RecordingSession, theirs.id)
    assert row is not None and row.institution == OTHER

    rev1: Client = await client_factory("rev1")
    assert await _queue_ids(rev1) == {mine.id}
    status, body = await rev1.get("/api/review/queue?status=all")
    assert sum(body["counts"]["by_status"].values()) == 1
    status, body = await rev1.get("/api/review/stats?tz=480")
    assert status == 200 and body["sessions"] == 1, body

    refused: list[tuple[str, str, Any]] = [
        ("GET", f"/api/review/sessions/{theirs.id}", None),
        ("POST", f"/api/review/findings/{theirs.finding_ids[0]}", {"state": "confirmed"}),
        ("POST", f"/api/review/sessions/{theirs.id}/decision", {"decision": "approve"}),
        ("GET", f"/api/media/{theirs.id}/{_segment(server, theirs)}", None),
    ]
    for method, path, body_in in refused:
        status, body = await rev1.request(method, path, json=body_in)
        assert status == 404, (path, body)
        assert body["error"]["code"] == "not_found", body
    await _untouched(server, theirs)
    status, body = await rev1.get(f"/api/review/sessions/{mine.id}")
    assert status == 200, body

    rev_b: Client = await client_factory("rev_b")
    assert await _queue_ids(rev_b) == {theirs.id}
    status, body = await rev_b.get(f"/api/review/sessions/{mine.id}")
    assert status == 404, body
    status, body = await rev_b.get(f"/api/review/sessions/{theirs.id}")
    assert status == 200, body
    thumbs = [f["thumbnail_url"] for f in body["findings"] if f["thumbnail_url"]]
    assert thumbs
    status, _ = await rev_b.get(thumbs[0])
    assert status == 200
    status, body = await rev1.get(thumbs[0])
    assert status == 404, body
    status, body = await rev_b.post(
        f"/api/review/findings/{theirs.finding_ids[0]}", {"state": "confirmed"}
    )
    assert status == 200, body

    for everyone in ("rev_hq", "admin"):
        c: Client = await client_factory(everyone)
        assert await _queue_ids(c) == {mine.id, theirs.id}, everyone
        status, body = await c.get(f"/api/review/sessions/{theirs.id}")
        assert status == 200, body


def _segment(srv: RunningServer, built: BuiltSession) -> str:
    sdir = srv.ctx.settings.sessions_dir / built.id
    return sorted(p.name for p in sdir.glob("*.mkv"))[0]


async def test_kesu_user_institution_moves_a_reviewers_scope(
    server: RunningServer, client_factory: Any, tmp_path: Path
) -> None:
    """``kesu user institution NAME ''`` lets a reviewer see every institution, a name
    scopes them to it, audited; a bad value or an unknown user is exit 2 and changes
    nothing (before: no such command, exit 2)."""
    await _add_users(server)
    mine = await build_session(server.ctx, salesperson="sales1")
    theirs = await build_session(server.ctx, salesperson="sales_b")
    rev1: Client = await client_factory("rev1")
    data = str(server.ctx.settings.data_dir)

    async def user_cli(*argv: str) -> Any:
        return await asyncio.to_thread(kesu, "user", "--data-dir", data, *argv, cwd=tmp_path)

    done = await user_cli("institution", "rev1", "")
    assert done.returncode == 0, done.stderr
    assert await _queue_ids(rev1) == {mine.id, theirs.id}
    done = await user_cli("institution", "rev1", OTHER)
    assert done.returncode == 0, done.stderr
    assert await _queue_ids(rev1) == {theirs.id}
    for bad in (("institution", "rev1", "乙\u202e保险"), ("institution", "nobody", OTHER)):
        done = await user_cli(*bad)
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
    assert await _queue_ids(rev1) == {theirs.id}
    async with server.ctx.db.read() as s:
        details = [
            e.detail
            for e in await s.scalars(
                select(AuditEntry).where(AuditEntry.action == "user.institution")
            )
        ]
    assert details == [
        {"username": "rev1", "from": "示例人寿", "to": ""},
        {"username": "rev1", "from": "", "to": OTHER},
    ]
