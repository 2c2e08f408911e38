"""Inspections left without a job, queued again by the housekeeping sweep.

A session ``ended`` whose inspection says ``queued`` (or ``running``) but has no inspect job
waiting or running: the database failed after ending wrote ``queued`` and before the jobs
were queued (``session_call.end_session``), or the job's last status write was lost. Before,
nothing ever queued it (the sweep resumed only ends cut short before ``queued``), and the
recording never reached a reviewer. An operator can use the same path to run an inspection
again: set the session's ``inspection_status`` to ``queued`` (docs/operations.md).

Each node resumes the sessions it holds (``node_id``), so two nodes do not both queue one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select

from server import audit, nodes
from server.context import AppContext
from server.store.models import Job, RecordingSession
from server.store.types import utcnow

log = logging.getLogger("kesu.housekeeping")


def _held_here(ctx: AppContext) -> ColumnElement[bool]:
    me = nodes.node_id(ctx.settings)
    return or_(RecordingSession.node_id == me, RecordingSession.node_id.is_(None))


async def resume_unqueued(ctx: AppContext, grace_s: float) -> list[str]:
    """Queue the inspection of sessions of this node ended ``grace_s`` ago whose inspection
    is ``queued`` or ``running`` with no inspect job in the queue (and the review video, if
    none was ever queued). Audited as ``inspection.requeued`` by ``system``, reason
    ``not_queued``."""
    before = utcnow() - timedelta(seconds=grace_s)
    query = select(RecordingSession.id).where(
        RecordingSession.status == "ended",
        RecordingSession.inspection_status.in_(("queued", "running")),
        RecordingSession.deleted_at.is_(None),
        RecordingSession.ended_at < before,
        _held_here(ctx),
    )
    ids = await ctx.db.run_read(lambda s: list(s.execute(query).scalars()))
    resumed = []
    for session_id in ids:
        if await ctx.queue.active("inspect", session_id):
            continue
        async with ctx.db.session() as s:
            row = await s.get(RecordingSession, session_id)
            if row is None or row.inspection_status not in ("queued", "running"):
                continue  # its job settled meanwhile
            row.inspection_status = "queued"
            await audit.record(
                s, "system", "inspection.requeued", session_id, {"reason": "not_queued"}
            )
        if ctx.settings.make_review_video and not await _ever_queued(
            ctx, "review_video", session_id
        ):
            await ctx.queue.enqueue("review_video", {"session_id": session_id})
        await ctx.queue.enqueue("inspect", {"session_id": session_id})
        log.warning("session %s: its inspection had no job; queued now", session_id)
        resumed.append(session_id)
    return resumed


async def _ever_queued(ctx: AppContext, kind: str, session_id: str) -> bool:
    query = (
        select(Job.id)
        .where(Job.kind == kind, Job.payload["session_id"].as_string() == session_id)
        .limit(1)
    )
    return await ctx.db.run_read(lambda s: s.execute(query).first() is not None)
