"""The end of a recording session: the end claimed once, the files finished and anchored,
the end audited and the review video and inspection queued; and the finishing of an end
a database fault cut short.

The call before it (consent, joins, progress) is ``server.session_call``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import ColumnElement, select, update

from server import audit, nodes
from server.context import AppContext
from server.session_call import LIVE_STATES, update_session
from server.sessions import SessionError, local_dir, session_dir
from server.store.models import RecordingSession
from server.store.types import utcnow


async def _claim_end(ctx: AppContext, session_id: str) -> str:
    """Set ``ended`` if the session is still in a live state; returns the state it had."""
    async with ctx.db.session() as s:
        status = await s.scalar(
            select(RecordingSession.status).where(RecordingSession.id == session_id)
        )
        if status in LIVE_STATES:
            done = await s.execute(
                update(RecordingSession)
                .where(RecordingSession.id == session_id, RecordingSession.status == status)
                .values(status="ended", ended_at=utcnow())
            )
            if getattr(done, "rowcount", 0) == 1:
                return str(status)
    raise SessionError(409, "session_ended", "this session has already ended")


async def end_session(
    ctx: AppContext,
    row: RecordingSession,
    actor: str,
    reason: str | None = None,
    confirmed_missing: bool = False,
) -> RecordingSession:
    """Finalise the recordings, then queue the review video and the inspection. ``reason``
    (the system ending a session nobody came back to) goes in the end event and audit.
    What the live checks still missed is stored as a ``live_end`` event, with whether the
    salesperson confirmed ending anyway (``confirmed_missing``)."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has already ended")
    # Only the node holding the call can close its room (or WrongNode: the page goes there).
    await nodes.check_holder(ctx, row.id)
    await local_dir(ctx, row.id)  # (or 503: the files are on a node that is down)
    # The database must take the end before the call is closed: with its write lock held
    # elsewhere (SQLite) the end failed only after the room was closed, dropping both
    # parties from a call that then stayed live. Now they stay connected and get the 503.
    async with ctx.db.session() as s:
        await s.execute(select(1))
    # The room closes before the status changes: this node's fence (server.fence) takes a
    # session that stops being live under an open room for one the cluster took away.
    if ctx.live is not None:
        await ctx.live.end(row.id, confirmed_missing)
    # From here no offer opens a room for it, also one that read it as live before.
    ctx.rooms.retire(row.id)
    try:
        if ctx.rooms.get(row.id) is not None:
            await ctx.rooms.close_room(row.id)
        # Then the end is claimed by compare-and-set: two enders at once (the salesperson
        # and the housekeeping of another node) must not both finish the files and queue
        # the jobs.
        previous = await _claim_end(ctx, row.id)
    except SessionError:
        raise  # ended by someone else meanwhile: it stays retired
    except BaseException:
        ctx.rooms.unretire(row.id)  # not ended: its participants may come back
        raise
    try:
        sdir = session_dir(ctx, row.id)
        await sdir.finish(detail={"reason": reason} if reason else None)
        if ctx.anchorer is not None:
            await ctx.anchorer.flush(row.id)  # the final metadata.json is anchored before the end
    except BaseException:
        await asyncio.shield(update_session(ctx, row.id, status=previous, ended_at=None))
        ctx.rooms.unretire(row.id)
        raise
    detail: dict[str, Any] = {"files": await sdir.file_hashes()}
    if reason:
        detail["reason"] = reason
    # ``queued`` and its audit entry in one transaction: a fault between the two left the end
    # unaudited for good (the sweep queues the jobs of a ``queued`` session, it writes no
    # entry). Cut before it, the end stays ``pending`` and resume_cut_end finishes it.
    async with ctx.db.session() as s:
        ended = await s.get(RecordingSession, row.id)
        if ended is None:
            raise SessionError(404, "not_found", "no such session")
        ended.ended_at, ended.inspection_status = utcnow(), "queued"
        await audit.record(s, actor, "session.end", row.id, detail)
    await _enqueue_jobs(ctx, row.id)
    return ended


async def _enqueue_jobs(ctx: AppContext, session_id: str) -> None:
    if ctx.settings.make_review_video:
        await ctx.queue.enqueue("review_video", {"session_id": session_id})
    await ctx.queue.enqueue("inspect", {"session_id": session_id})


async def resume_cut_end(ctx: AppContext, session_id: str) -> bool:
    """Finish an end that a database fault cut short after its claim (``ended``, but its
    inspection still ``pending``): no audit entry, no review video, no inspection, so the
    recording would never reach a reviewer. The files are finished if they are not, the
    end is audited (by ``system``, reason ``end_resumed``) and the jobs are queued, once:
    the status moves from ``pending`` in the same transaction as the audit entry."""
    sdir = session_dir(ctx, session_id)
    if sdir.metadata.get("status") != "ended":
        await sdir.finish(detail={"reason": "end_resumed"})
    detail = {"files": await sdir.file_hashes(), "reason": "end_resumed"}
    return await finish_cut_end(ctx, session_id, detail)


async def finish_cut_end(
    ctx: AppContext,
    session_id: str,
    detail: dict[str, Any],
    holder: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    """The end of a cut-short end: ``pending`` to ``queued`` (and ``values``; only while
    ``holder`` holds, if given) with its ``session.end`` entry in one transaction, then its
    jobs queued. False if another pass finished it meanwhile."""
    where = [] if holder is None else [holder]
    async with ctx.db.session() as s:
        done = await s.execute(
            update(RecordingSession)
            .where(
                RecordingSession.id == session_id,
                RecordingSession.status == "ended",
                RecordingSession.inspection_status == "pending",
                *where,
            )
            .values(inspection_status="queued", **values)
        )
        if getattr(done, "rowcount", 0) != 1:
            return False
        await audit.record(s, "system", "session.end", session_id, detail)
    await _enqueue_jobs(ctx, session_id)
    return True
