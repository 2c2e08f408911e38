"""Inspections left without a job, queued again by the housekeeping sweep.

A session ``ended`` whose inspection says ``queued`` (or ``running``) but has no inspect job
waiting or running: the database failed after ending wrote ``queued`` and before the jobs
were queued (``session_end.end_session``), or the job's last status write was lost. Before,
nothing ever queued it (the sweep resumed only ends cut short before ``queued``), and the
recording never reached a reviewer. An operator can use the same path to run an inspection
again: set the session's ``inspection_status`` to ``queued`` (docs/operations.md).

An inspection ``failed`` whose last failure may pass (its ``inspection.failed`` audit entry
says ``permanent: false``: the object store or the database out of reach for longer than the
job's retries, a worker process that died each time) is queued again by
``requeue_failed``, at most ``len(REQUEUE_AFTER_S)`` times, each that long after the failure.
One whose input can never be inspected (files gone, nothing recorded) stays ``failed``.

Each node resumes the sessions it holds (``node_id``), so two nodes do not both queue one,
and the ended sessions of a dead node whose files it can read (server.inspection_adopt).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import Update, select, update

from server import audit, nodes
from server import inspection_adopt as adopt
from server.context import AppContext
from server.jobs import session_jobs
from server.store.models import AuditEntry, Job, RecordingSession
from server.store.types import utcnow

log = logging.getLogger("kesu.housekeeping")

#: How long after each transient failure of a session's inspection it is queued again; one
#: entry per re-queue (an outage of up to about 80 minutes past the job's own retries).
REQUEUE_AFTER_S = (300.0, 900.0, 3600.0)
#: Failures older than this are not queued again (the server was down all that time):
#: an operator decides (docs/operations.md).
REQUEUE_WINDOW_S = 86400.0
#: How often the housekeeping loop looks for them.
REQUEUE_CHECK_EVERY_S = 60.0


LOST = "no job behind this row in the queue; the inspection was queued again"
_ONE_PASS = "inspection_resume.one_pass"


async def resume_unqueued(ctx: AppContext, grace_s: float) -> list[str]:
    """Queue the inspection of sessions of this node (or of a dead one, see
    server.inspection_adopt) ended ``grace_s`` ago whose inspection is ``queued`` or
    ``running`` with no inspect job in the queue (and the review video, if none was ever
    queued). Audited as ``inspection.requeued`` by ``system``, reason ``not_queued``."""
    async with _one_pass(ctx):
        return await _resume_unqueued(ctx, grace_s)


def _one_pass(ctx: AppContext) -> asyncio.Lock:
    """One pass at a time in this process: the status write is no compare-and-set against a
    pass of the same node (``queued`` stays ``queued``), so two passes at once (the
    housekeeping loop's and a direct call's) could both find no job and queue one each."""
    found = ctx.extras.get(_ONE_PASS)
    if not isinstance(found, asyncio.Lock):
        found = ctx.extras[_ONE_PASS] = asyncio.Lock()
    return found


async def _resume_unqueued(ctx: AppContext, grace_s: float) -> list[str]:
    before = utcnow() - timedelta(seconds=grace_s)
    query = select(RecordingSession.id, RecordingSession.node_id).where(
        RecordingSession.status == "ended",
        RecordingSession.inspection_status.in_(("queued", "running")),
        RecordingSession.deleted_at.is_(None),
        RecordingSession.ended_at < before,
        adopt.held_here_or_dead(ctx),
    )
    rows: list[adopt.Held] = await ctx.db.run_read(
        lambda s: [(sid, holder) for sid, holder in s.execute(query)]
    )
    if not rows:
        return []
    active = await ctx.queue.active("inspect", [sid for sid, _ in rows])
    allowed = await adopt.may_resume(
        ctx, [(sid, holder) for sid, holder in rows if sid not in active]
    )
    videos: set[str] = set()
    if ctx.settings.make_review_video and allowed:
        videos = await _ever_queued(ctx, "review_video", [sid for sid, _ in allowed])
    resumed = []
    for session_id, holder in allowed:
        values, detail = adopt.takeover(ctx, holder)
        async with ctx.db.session() as s:
            moved = await s.execute(
                update(RecordingSession)
                .where(
                    RecordingSession.id == session_id,
                    RecordingSession.inspection_status.in_(("queued", "running")),
                    nodes.held_by(holder),
                )
                .values(inspection_status="queued", **values)
            )
            if getattr(moved, "rowcount", 0) != 1:
                continue  # its job settled meanwhile, or another node took it over
            await s.execute(_fail_lost("inspect", session_id))
            await audit.record(
                s, "system", "inspection.requeued", session_id, {"reason": "not_queued", **detail}
            )
        adopt.taken_over(ctx, session_id, holder)
        if ctx.settings.make_review_video and session_id not in videos:
            async with ctx.db.session() as s:
                await s.execute(_fail_lost("review_video", session_id))
            await ctx.queue.enqueue("review_video", {"session_id": session_id})
        await ctx.queue.enqueue("inspect", {"session_id": session_id})
        log.warning("session %s: its inspection had no job; queued now", session_id)
        resumed.append(session_id)
    return resumed


def _fail_lost(kind: str, session_id: str) -> Update:
    """On PostgreSQL, a ``jobs`` row whose procrastinate job was never deferred (the database
    gone in between) would say ``queued`` in the metrics for ever: mark it failed."""
    lost = session_jobs(kind, [session_id]).where(Job.status.in_(("queued", "running")))
    return (
        update(Job)
        .where(Job.id.in_(lost.with_only_columns(Job.id)))
        .values(status="failed", finished_at=utcnow(), locked_by=None, last_error=LOST)
    )


async def _ever_queued(ctx: AppContext, kind: str, session_ids: list[str]) -> set[str]:
    """Those of the sessions that have a ``kind`` job waiting or running in the queue, or
    one that ever ran. A ``jobs`` row that never ran with no job behind it in the queue
    (PostgreSQL: its defer failed) does not count: before, it kept the review video from
    being queued again. Two queries for all of them (before, two per session)."""
    active = await ctx.queue.active(kind, session_ids)
    rest = [sid for sid in session_ids if sid not in active]
    if not rest:
        return active
    query = session_jobs(kind, rest).where(Job.attempts > 0).distinct()
    ran = await ctx.db.run_read(lambda s: set(s.execute(query).scalars()))
    return active | ran


async def requeue_failed(ctx: AppContext) -> list[str]:
    """Queue again the failed inspections of this node whose last failure was transient,
    within the bound above. Audited as ``inspection.requeued`` by ``system``, reason
    ``transient_failure`` with the re-queue's number (``requeue``)."""
    now = utcnow()
    # Only sessions that failed lately: permanent failures (every session ended before anyone
    # joined is one) pile up, and their history need not be read every minute for ever.
    recent = select(AuditEntry.session_id).where(
        AuditEntry.action == "inspection.failed",
        AuditEntry.at > now - timedelta(seconds=REQUEUE_WINDOW_S),
    )
    failed = select(RecordingSession.id, RecordingSession.node_id).where(
        RecordingSession.id.in_(recent),
        RecordingSession.status == "ended",
        RecordingSession.inspection_status == "failed",
        RecordingSession.deleted_at.is_(None),
        adopt.held_here_or_dead(ctx),
    )
    holders: dict[str, str | None] = await ctx.db.run_read(
        lambda s: {sid: holder for sid, holder in s.execute(failed)}
    )
    ids = list(holders)
    if not ids:
        return []
    history = (
        select(AuditEntry)
        .where(
            AuditEntry.session_id.in_(ids),
            AuditEntry.action.in_(("inspection.failed", "inspection.requeued")),
        )
        .order_by(AuditEntry.seq)
    )
    entries = await ctx.db.run_read(lambda s: list(s.execute(history).scalars()))
    by_session: dict[str, list[AuditEntry]] = defaultdict(list)
    for e in entries:
        by_session[str(e.session_id)].append(e)
    due: list[tuple[str, str | None, int]] = []
    for session_id in ids:
        mine = by_session[session_id]
        last = next((e for e in reversed(mine) if e.action == "inspection.failed"), None)
        if last is None or last.detail.get("permanent") is not False:
            continue  # can never pass, or failed before the kind was recorded
        done = sum(
            1
            for e in mine
            if e.action == "inspection.requeued" and e.detail.get("reason") == "transient_failure"
        )
        if done >= len(REQUEUE_AFTER_S) or now - last.at < timedelta(seconds=REQUEUE_AFTER_S[done]):
            continue
        due.append((session_id, holders[session_id], done + 1))
    allowed = set(await adopt.may_resume(ctx, [(sid, holder) for sid, holder, _ in due]))
    requeued = []
    for session_id, holder, number in due:
        if (session_id, holder) in allowed and await _requeue(ctx, session_id, holder, number):
            requeued.append(session_id)
    return requeued


async def _requeue(ctx: AppContext, session_id: str, holder: str | None, number: int) -> bool:
    values, adopted = adopt.takeover(ctx, holder)
    async with ctx.db.session() as s:
        moved = await s.execute(
            update(RecordingSession)
            .where(
                RecordingSession.id == session_id,
                RecordingSession.inspection_status == "failed",
                nodes.held_by(holder),
            )
            .values(inspection_status="queued", **values)
        )
        if getattr(moved, "rowcount", 0) != 1:
            return False  # queued (or taken over) by someone else meanwhile
        detail = {"reason": "transient_failure", "requeue": number, **adopted}
        await audit.record(s, "system", "inspection.requeued", session_id, detail)
    adopt.taken_over(ctx, session_id, holder)
    # If this fails, the session is "queued" with no job: resume_unqueued queues it.
    await ctx.queue.enqueue("inspect", {"session_id": session_id})
    log.warning("session %s: inspection failed transiently; queued again (%d)", session_id, number)
    return True
