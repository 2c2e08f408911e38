"""Review actions at the same moment, on PostgreSQL (where, unlike SQLite, two write
transactions run at once): two reviewers deciding on one session never make two level-1
decisions; two starts of one re-recording request never make two sessions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from server.context import AppContext
from server.localservers import fresh_database
from server.reviews import decisions, rerecord
from server.reviews.access import ReviewError
from server.store.models import (
    AuditEntry,
    FindingRow,
    RecordingSession,
    RerecordRequest,
    ReviewDecision,
)
from tests.conftest import make_settings, serving
from tests.review_fixtures import build_session, set_review_status, user_named

# How long the first decision waits, inside its transaction, for the second to catch up
# (a rendezvous that makes the race happen every time; not an assertion on time).
RENDEZVOUS_S = 5.0


@contextlib.asynccontextmanager
async def queued_session(pg_admin: str, tmp_path: Path) -> AsyncIterator[tuple[AppContext, str]]:
    """A server on a fresh PostgreSQL database with the test users and one session queued
    for review; yields its context and the session id."""
    url = await fresh_database(pg_admin)
    async with serving(make_settings(tmp_path, database_url=url)) as srv:
        built = await build_session(srv.ctx, findings=[])
        await set_review_status(srv.ctx, built.id, "queued")
        yield srv.ctx, built.id


async def test_two_simultaneous_decisions_make_one(
    pg_admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with queued_session(pg_admin, tmp_path) as (ctx, session_id):
        rev1, rev2 = await user_named(ctx, "rev1"), await user_named(ctx, "rev2")

        arrived: list[str] = []
        both = asyncio.Event()
        real = decisions._opened_at

        async def rendezvous(s: Any, session_id: str, user: Any) -> Any:
            # Both past the "may this reviewer act?" check, inside their transactions.
            arrived.append(user.username)
            if len(arrived) == 2:
                both.set()
            try:
                await asyncio.wait_for(both.wait(), RENDEZVOUS_S)
            except TimeoutError:
                pass  # the other one waits on the session's row lock: go on alone
            return await real(s, session_id, user)

        monkeypatch.setattr(decisions, "_opened_at", rendezvous)
        results = await asyncio.gather(
            decisions.decide(ctx, session_id, rev1, "approve", ""),
            decisions.decide(ctx, session_id, rev2, "reject", "误导销售"),
            return_exceptions=True,
        )
        # Taken in turn: the second sees the first's outcome. It is refused (decided), or,
        # when the first sent the session to second review, it is that second review
        # (another reviewer). Never two level-1 decisions side by side.
        made_levels = sorted(r.decision.level for r in results if not isinstance(r, Exception))
        refused = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(r, ReviewError) for r in refused), refused
        assert made_levels in ([1], [1, 2]), results
        async with ctx.db.read() as s:
            made = await s.scalar(
                select(func.count())
                .select_from(ReviewDecision)
                .where(ReviewDecision.session_id == session_id, ReviewDecision.level == 1)
            )
        assert made == 1


async def test_two_simultaneous_starts_of_a_rerecording_make_one_session(
    pg_admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with queued_session(pg_admin, tmp_path) as (ctx, session_id):
        rev1, rev2 = await user_named(ctx, "rev1"), await user_named(ctx, "rev2")
        sales = await user_named(ctx, "sales1")
        first = await decisions.decide(ctx, session_id, rev1, "reject", "漏讲免责条款")
        if first.review_status == "second_pending":
            await decisions.decide(ctx, session_id, rev2, "reject", "同意")
        async with ctx.db.read() as s:
            req_id = await s.scalar(
                select(RerecordRequest.id).where(RerecordRequest.session_id == session_id)
            )
        assert req_id is not None

        arrived: list[int] = []
        both = asyncio.Event()
        real = rerecord.load_session

        async def rendezvous(s: Any, session_id: str, for_update: bool = False) -> Any:
            arrived.append(1)  # both past "is the request still open?"
            if len(arrived) == 2:
                both.set()
            try:
                await asyncio.wait_for(both.wait(), RENDEZVOUS_S)
            except TimeoutError:
                pass  # the other one waits on the request's row lock
            return await real(s, session_id, for_update)

        monkeypatch.setattr(rerecord, "load_session", rendezvous)
        results = await asyncio.gather(
            rerecord.start_rerecord(ctx, req_id, sales),
            rerecord.start_rerecord(ctx, req_id, sales),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(refused) == 1, results
        assert isinstance(refused[0], ReviewError) and refused[0].code == "request_closed"
        async with ctx.db.read() as s:
            again = await s.scalar(
                select(func.count())
                .select_from(RecordingSession)
                .where(RecordingSession.rerecord_of == session_id)
            )
        assert again == 1


async def test_two_simultaneous_judgements_of_a_finding_audit_each_change(
    pg_admin: str, tmp_path: Path
) -> None:
    """Each ``finding.judge`` entry names the state it changed from. Read before the
    session's row lock, a judgement waiting on that lock would name the state before the
    other judgement (open -> dismissed after open -> confirmed), and the chain would not say
    that a confirmed finding was dismissed."""
    url = await fresh_database(pg_admin)
    async with serving(make_settings(tmp_path, database_url=url)) as srv:
        ctx = srv.ctx
        built = await build_session(ctx)
        await set_review_status(ctx, built.id, "queued")
        fid = built.finding_ids[0]
        rev1, rev2 = await user_named(ctx, "rev1"), await user_named(ctx, "rev2")
        await asyncio.gather(
            decisions.judge_finding(ctx, fid, rev1, "confirmed", ""),
            decisions.judge_finding(ctx, fid, rev2, "dismissed", "误报"),
        )
        async with ctx.db.read() as s:
            details = (
                await s.scalars(
                    select(AuditEntry.detail)
                    .where(AuditEntry.session_id == built.id, AuditEntry.action == "finding.judge")
                    .order_by(AuditEntry.seq)
                )
            ).all()
            final = await s.scalar(select(FindingRow.review_state).where(FindingRow.id == fid))
        steps = [(d["from"], d["to"]) for d in details]
        assert steps[0][0] == "open" and len(steps) == 2, steps
        assert steps[1][0] == steps[0][1], steps  # the second starts where the first ended
        assert final == steps[1][1]
