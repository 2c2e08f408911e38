"""A loop of the same request cannot grow the audit chain without bound: a view or a refused
attempt by the same person on the same session, with the same facts, is recorded once per
10 minutes (like media views). Before, every ``GET`` of a salesperson's findings or a
reviewer's session page, and every refused ``DELETE`` or legal hold by any login on any
session, added an entry (a write transaction each): a logged-in script could add thousands
a minute to the tamper-evident log that ``kesu audit verify`` walks whole."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from server.store.models import AuditEntry
from tests.conftest import RunningServer
from tests.review_fixtures import build_session

REPEATS = 25


async def _count(server: RunningServer, session_id: str, action: str, actor: str) -> int:
    async with server.ctx.db.read() as s:
        query = select(func.count()).where(
            AuditEntry.session_id == session_id,
            AuditEntry.action == action,
            AuditEntry.actor == actor,
        )
        return int((await s.execute(query)).scalar_one())


async def test_repeated_views_are_recorded_once(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    sales, rev = await client_factory("sales1"), await client_factory("rev1")
    for _ in range(REPEATS):
        status, body = await sales.get(f"/api/sessions/{built.id}/findings")
        assert status == 200, body
        status, body = await rev.get(f"/api/review/sessions/{built.id}")
        assert status == 200, body
    assert await _count(server, built.id, "findings.view", "user:sales1") == 1
    assert await _count(server, built.id, "review.view", "user:rev1") == 1
    # Another viewer is another entry.
    rev2 = await client_factory("rev2")
    assert (await rev2.get(f"/api/review/sessions/{built.id}"))[0] == 200
    assert await _count(server, built.id, "review.view", "user:rev2") == 1


async def test_repeated_refusals_are_recorded_once(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx)
    other = await client_factory("sales2")  # not even the owner
    for _ in range(REPEATS):
        status, body = await other.request("DELETE", f"/api/sessions/{built.id}")
        assert status == 403, body
        status, body = await other.post(f"/api/sessions/{built.id}/hold", {"hold": True})
        assert status == 403, body
    assert await _count(server, built.id, "session.delete.refused", "user:sales2") == 1
    assert await _count(server, built.id, "retention.hold.refused", "user:sales2") == 1
    # A refusal for another reason is its own entry.
    status, body = await other.post(f"/api/sessions/{built.id}/hold", {"hold": False})
    assert status == 403, body
    assert await _count(server, built.id, "retention.hold.refused", "user:sales2") == 2


async def test_repeated_refused_review_actions_are_recorded_once(
    server: RunningServer, client_factory: Any
) -> None:
    """A reviewer's refused decision (409 findings_open) or judgement, clicked in a loop:
    one entry per reason (failed on the old code: 25 entries for the decisions)."""
    built = await build_session(server.ctx)
    rev = await client_factory("rev1")
    url = f"/api/review/sessions/{built.id}/decision"
    for _ in range(REPEATS):
        status, body = await rev.post(url, {"decision": "approve"})
        assert status == 409 and body["error"]["code"] == "findings_open", body
    assert await _count(server, built.id, "review.refused", "user:rev1") == 1
