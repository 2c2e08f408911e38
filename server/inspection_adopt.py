"""Ended sessions of a dead media node whose inspection is left to do, taken over by a live one.

The housekeeping of the node holding a session (``recording_sessions.node_id``) queues its
inspection again when it has no job or failed transiently (server.inspection_resume). A node
that never comes back (silent for ``node_dead_after_s``) left its ended sessions with nobody
to do that, and they were never inspected. Now every live node's sweep looks at them too. If
it can read the session's files (the same disk, or the object store of ``storage_url`` with
every segment archived), it takes the session over in the statement that queues the
inspection: a compare-and-set on ``node_id``, as server.nodes places a session, so two nodes
sweeping at once take it over once; the ``inspection.requeued`` entry names the dead node
(``adopted_from``). An end the database cut short (``pending``: no ``session.end`` entry,
no job) is finished the same way from the store (``finish_stored_end``, called by
``housekeeping.resume_cut_ends``): before, only a node with the files on its own disk
finished it, so a dead node's stayed ``pending``, never inspected, and nothing said so.
A session of no node (made before nodes recorded a holder) is claimed
the same way by the first node that queues it. If it cannot, the files may be on that node's own disk: the session is left
to it, and this node says so once (log ``cannot read the files``, audit
``inspection.unreadable`` with ``node``, the dead holder, and ``by``, this node). It looks
again ``RECHECK_FIRST_S`` after that entry, then after twice as long each time up to
``RECHECK_MAX_S``: looking costs an object-store read per session, and the sweep runs every
few seconds, so a dead node with many sessions cost one read per session that often. When
the object store does not answer, the session is asked about again ``UNANSWERED_FIRST_S``
later, doubling the same way (never given up on), and the sweep asks no other session of
the store that pass: before, a silent store was asked about every session at every sweep,
each read taking up to minutes of retries while the sweep (which also releases idle rooms
and ends abandoned sessions) waited. The times are kept in memory; after a restart each
noted session's next look is taken from its audit entry (``_resumed``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from server import audit, nodes, session_end, sessions
from server.archive import stored_final, stored_final_metadata
from server.blobs import StorageUnavailable
from server.context import AppContext
from server.session_format import METADATA
from server.store.models import AuditEntry, RecordingSession
from server.store.types import utcnow

log = logging.getLogger("kesu.housekeeping")

UNREADABLE = "inspection.unreadable"

Held = tuple[str, str | None]  # a session and its node_id

#: A dead node's session this node could not read is looked at again this long after it
#: said so, then twice as long after each look that fails again, up to RECHECK_MAX_S.
RECHECK_FIRST_S = 300.0
RECHECK_MAX_S = 3600.0
#: One the object store did not answer about is asked again this long after, then twice as
#: long each time it stays silent, up to RECHECK_MAX_S: never given up on.
UNANSWERED_FIRST_S = 60.0
_RECHECKS = "inspection_adopt.rechecks"


@dataclass
class _Recheck:
    due: datetime
    interval_s: float
    #: Its ``inspection.unreadable`` entry is written (not when only the store was silent).
    noted: bool


def held_here_or_dead(ctx: AppContext) -> ColumnElement[bool]:
    """Sessions this node resumes: its own, those of no node, those of dead nodes."""
    me = nodes.node_id(ctx.settings)
    return or_(
        RecordingSession.node_id == me,
        RecordingSession.node_id.is_(None),
        RecordingSession.node_id.in_(nodes.dead_nodes(ctx.settings)),
    )


def _taken_from(ctx: AppContext, holder: str | None) -> str | None:
    return None if holder is None or holder == nodes.node_id(ctx.settings) else holder


def takeover(ctx: AppContext, holder: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the write queuing a session's inspection sets (this node as its holder if it
    was a dead node's or nobody's) and what its audit entry adds (``adopted_from``).

    A session of no node counts as every live node's: left unheld, each node's sweep would
    queue it again (the compare-and-set on ``node_id IS NULL`` holds for all of them), so
    the first write claims it."""
    me = nodes.node_id(ctx.settings)
    if holder == me:
        return {}, {}
    if holder is None:
        return {"node_id": me}, {}
    return {"node_id": me}, {"adopted_from": holder}


def taken_over(ctx: AppContext, session_id: str, holder: str | None) -> None:
    if (dead := _taken_from(ctx, holder)) is not None:
        log.warning("session %s: its node %s is dead; this node took it over", session_id, dead)


async def may_resume(ctx: AppContext, rows: list[Held]) -> list[Held]:
    """Those of ``rows`` this node may queue: its own and unheld ones, and a dead node's whose
    files it can read. The others are noted once (log and audit ``inspection.unreadable``)
    and looked at again only when their recheck is due; so are those the object store did
    not answer about, and once it did not answer in a pass, the others due in that pass
    wait with them (a read of a silent store can take minutes of retries)."""
    now = utcnow()
    rechecks = _rechecks(ctx)
    noted = await _noted(ctx, [sid for sid, h in rows if _taken_from(ctx, h) is not None])
    for session_id, at in noted.items():
        # Known from the audit, not from this process (it restarted).
        rechecks.setdefault(session_id, _resumed(at, now))
    out, unreadable = [], []
    silent = False  # the store did not answer in this pass
    for session_id, holder in rows:
        if _taken_from(ctx, holder) is None:
            out.append((session_id, holder))
            continue
        recheck = rechecks.get(session_id)
        if recheck is not None and now < recheck.due:
            continue
        readable = await _readable(ctx, session_id, ask_store=not silent)
        if readable:
            rechecks.pop(session_id, None)
            out.append((session_id, holder))
        elif readable is None:
            silent = True
            said = recheck is not None and recheck.noted
            # From the end of the read: a silent store's read can take minutes.
            rechecks[session_id] = _later(recheck, utcnow(), UNANSWERED_FIRST_S, said)
        elif recheck is None or not recheck.noted:
            unreadable.append((session_id, holder))  # never said: say it first
        else:
            rechecks[session_id] = _later(recheck, utcnow(), RECHECK_FIRST_S, noted=True)
    if unreadable:
        await _note_unreadable(ctx, unreadable)
        for session_id, _holder in unreadable:
            rechecks[session_id] = _later(None, utcnow(), RECHECK_FIRST_S, noted=True)
    return out


def _rechecks(ctx: AppContext) -> dict[str, _Recheck]:
    """This node's recheck times of the dead nodes' sessions it could not read (per node:
    several nodes may share a process in tests). A session another node took over stays
    here; there are as many as unreadable sessions, each a few dozen bytes."""
    found = ctx.extras.get(_RECHECKS)
    if not isinstance(found, dict):
        found = ctx.extras[_RECHECKS] = {}
    return found


def _later(last: _Recheck | None, now: datetime, first_s: float, noted: bool) -> _Recheck:
    """The next look: ``first_s`` after the first, then twice the last interval (at most
    RECHECK_MAX_S)."""
    interval = first_s if last is None else min(2 * last.interval_s, RECHECK_MAX_S)
    return _Recheck(now + timedelta(seconds=interval), interval, noted)


def _resumed(at: datetime, now: datetime) -> _Recheck:
    """The recheck of a session noted unreadable at ``at``, after a restart: the next look
    of the schedule counted from the entry, as if the process had kept running (before, every
    noted session was looked at again at the first sweep, and the intervals began again)."""
    interval = RECHECK_FIRST_S
    due = at + timedelta(seconds=interval)
    while due <= now and interval < RECHECK_MAX_S:
        interval = min(2 * interval, RECHECK_MAX_S)
        due += timedelta(seconds=interval)
    if due <= now:  # capped: whole intervals of RECHECK_MAX_S past the last uncapped look
        steps = (now - due) // timedelta(seconds=RECHECK_MAX_S) + 1
        due += steps * timedelta(seconds=RECHECK_MAX_S)
    return _Recheck(due, interval, noted=True)


async def _readable(ctx: AppContext, session_id: str, ask_store: bool) -> bool | None:
    """Whether this node's jobs can read the session's files (``None``: the object store did
    not answer, or was not asked: ``ask_store`` false)."""
    local = sessions.path_of(ctx, session_id) / METADATA
    if await asyncio.to_thread(local.is_file):
        return True
    if ctx.archive is None:
        return False
    if not ask_store:
        return None
    try:
        return await stored_final(ctx.archive.store, session_id)
    except StorageUnavailable:
        return None


async def _noted(ctx: AppContext, ids: list[str]) -> dict[str, datetime]:
    """When this node said it cannot read each of ``ids`` (those it did not say it for are
    left out). Only asked for sessions this process has no recheck time of yet."""
    known = _rechecks(ctx)
    ids = [sid for sid in ids if sid not in known]
    if not ids:
        return {}
    me = nodes.node_id(ctx.settings)
    query = select(AuditEntry.session_id, AuditEntry.detail, AuditEntry.at).where(
        AuditEntry.action == UNREADABLE, AuditEntry.session_id.in_(ids)
    )
    found = await ctx.db.run_read(lambda s: s.execute(query).all())
    return {str(sid): at for sid, detail, at in found if detail.get("by") == me}


async def _note_unreadable(ctx: AppContext, rows: list[Held]) -> None:
    me = nodes.node_id(ctx.settings)
    async with ctx.db.session() as s:
        for session_id, holder in rows:
            await audit.record(s, "system", UNREADABLE, session_id, {"node": holder, "by": me})
    for session_id, holder in rows:
        log.warning(
            "session %s: its node %s is dead and this node cannot read the files of its "
            "ended session; its inspection waits for that node (or shared storage)",
            session_id,
            holder,
        )


async def finish_stored_end(ctx: AppContext, session_id: str, holder: str) -> bool:
    """Finish the end a database fault cut short (``pending``) of a dead node's session that
    the object store holds ended with every segment archived, as
    ``session_end.resume_cut_end`` does on the holder's own disk: the end audited (reason
    ``end_resumed``, the segments' hashes from the stored metadata, ``adopted_from``), this
    node its holder, its jobs queued (they read the files from the store). Once: the status
    leaves ``pending`` and the holder changes in one compare-and-set."""
    if ctx.archive is None:
        return False
    meta = await stored_final_metadata(ctx.archive.store, session_id)
    if meta is None:
        return False  # no longer final there (deleted meanwhile)
    files = {seg["file"]: seg["sha256"] for seg in meta["segments"] if seg.get("sha256")}
    values, adopted = takeover(ctx, holder)
    detail = {"files": files, "reason": "end_resumed", **adopted}
    held = nodes.held_by(holder)
    if not await session_end.finish_cut_end(ctx, session_id, detail, held, **values):
        return False  # finished (or taken over) by another node meanwhile
    taken_over(ctx, session_id, holder)
    return True
