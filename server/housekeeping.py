"""Sessions nobody is coming back to: crash recovery at start-up, and a background sweep.

At start-up, sessions a crash left ``live`` are marked ``interrupted`` (their segments kept,
hashed and anchored in the audit chain; see ``SessionDir.mark_interrupted``). Then, every
few seconds, the sweep

- releases media rooms that have been empty longer than the rejoin window, so an abandoned
  call or a refused offer never holds one of the ``max_sessions`` slots (the leave that
  emptied the room already finalised its segments; ``Room.close`` finalises anything left),
  and writes a ``room_released`` event;
- takes salespeople whose account was disabled out of their calls, and the customer out
  of a self-service call whose salesperson was disabled or lost the R20 qualification;
- ends, as ``system``, every session that can no longer continue and has something recorded:
  one whose room was released, or an interrupted one nobody rejoined within the window.
  Ending queues the review video and the inspection, with the reason in the ``end`` event
  and the audit entry;
- finishes ends a database fault cut short (``resume_cut_ends``; a dead node's from the
  object store, server.inspection_adopt) and queues inspections
  left without a job (``inspection_resume``); every minute, it queues again inspections
  that failed transiently (a bounded number of times).

A participant who left (or was cut off by the crash) may rejoin only within the window
(``session_call._check_rejoin_window``), so past it the session's state is final.

Before its first sweep, the sweeper also finishes the deletions a crash left claimed but
unfinished (``retention.finish_claimed``): off the start-up path, because removing a
session's objects waits on the object store. A node alone finishes every claim however
young (they can only be its own, cut short by the crash); beside other live nodes only
those ``CLAIM_GRACE_S`` old (``finish_on_start``). Every ``FINISH_CLAIMED_EVERY_S`` after
that it finishes those a failure cut short while the server kept running (a storage error
after the claim), once they are ``CLAIM_GRACE_S`` old.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from server import (
    inspection_adopt,
    inspection_resume,
    nodes,
    owner_standing,
    retention,
    selfservice,
    session_call,
    session_end,
    sessions,
)
from server.aio import raise_if_cancelling
from server.context import AppContext
from server.session_dir import SessionDir
from server.session_format import SEGMENT_RECORDING, parse_iso
from server.store.models import RecordingSession, User
from server.store.types import utcnow

log = logging.getLogger("kesu.housekeeping")

MIN_INTERVAL_S = 0.2
MAX_INTERVAL_S = 5.0
# Not every sweep: no index tells a claimed deletion from a finished one, so the query reads
# every deleted session; fine every few minutes, wasted every few seconds.
FINISH_CLAIMED_EVERY_S = 300.0
# A younger claim may be a deletion still under way (its request removing the files and
# objects, here or on another node). Finished beside it, its entry would be system's, for a
# deletion cut short, listing only what that request had not removed yet.
CLAIM_GRACE_S = 600.0
# An end younger than this may still be under way (finishing the files, anchoring them).
END_GRACE_S = 60.0


async def recover_interrupted(ctx: AppContext) -> list[str]:
    """After a crash: sessions this node left live are marked interrupted; their segments
    are kept and hashed. Sessions other live nodes hold are theirs (see server.nodes)."""
    me = nodes.node_id(ctx.settings)
    async with ctx.db.session() as s:
        rows = list(
            await s.execute(
                select(RecordingSession.id, RecordingSession.node_id).where(
                    RecordingSession.status == "live",
                    or_(RecordingSession.node_id == me, RecordingSession.node_id.is_(None)),
                )
            )
        )
    out = [sid for sid, holder in rows if await nodes.interrupt(ctx, sid, holder, "server_stopped")]
    if out:
        log.warning(
            "marked %d session(s) interrupted after an unclean stop: %s", len(out), ", ".join(out)
        )
    return out + await keep_left_behind(ctx)


async def keep_left_behind(ctx: AppContext) -> list[str]:
    """Nodes on separate disks: while this node was down, another one marked its live
    sessions interrupted (``nodes.sweep_dead``) but could not reach their directories,
    which are here, their last segments still ``recording``. Hash and keep those segments
    now (the ``interrupted`` event carries ``node_dead``), so the archive uploads what was
    flushed before the crash and the holder can end the session."""
    me = nodes.node_id(ctx.settings)
    query = select(RecordingSession.id).where(
        RecordingSession.status == "interrupted",
        RecordingSession.node_id == me,
        RecordingSession.deleted_at.is_(None),
    )
    ids = await ctx.db.run_read(lambda s: list(s.execute(query).scalars()))
    kept = []
    for session_id in ids:
        sdir = await asyncio.to_thread(SessionDir, sessions.path_of(ctx, session_id))
        recording = sdir.exists() and any(
            seg.status == SEGMENT_RECORDING for seg in sdir.segments()
        )
        if not sdir.exists() or (sdir.status != "live" and not recording):
            continue  # marked already (one disk for every node), or not on this disk
        await sdir.mark_interrupted(reason="node_dead")
        kept.append(session_id)
    if kept:
        log.warning(
            "kept the segments of %d session(s) other nodes interrupted while this one was "
            "down: %s",
            len(kept),
            ", ".join(kept),
        )
    return kept


def last_activity(sdir: SessionDir) -> datetime | None:
    """The newest server time in the session's metadata (events and segment ends)."""
    meta = sdir.metadata
    stamps = [parse_iso(e.get("at")) for e in meta.get("events", [])]
    stamps += [parse_iso(s.get("ended_at")) for s in meta.get("segments", [])]
    known = [t for t in stamps if t is not None]
    return max(known, default=None)


async def _end_if_recorded(ctx: AppContext, session_id: str, reason: str) -> bool:
    sdir = SessionDir(sessions.path_of(ctx, session_id))
    if not sdir.exists() or not sdir.segments():
        return False  # nothing to inspect; the session stays as it is
    row = await ctx.db.run_read(lambda s: s.get(RecordingSession, session_id))
    if row is None or row.deleted_at is not None or row.status not in session_call.LIVE_STATES:
        return False
    try:
        await session_end.end_session(ctx, row, "system", reason=reason)
    except (nodes.WrongNode, sessions.SessionError):
        return False  # its (live again) node ends it, or someone ended it meanwhile
    log.info("session %s ended by the system (%s); inspection queued", session_id, reason)
    return True


async def release_idle_rooms(ctx: AppContext) -> list[str]:
    """Close rooms empty for longer than the rejoin window; end their sessions."""
    window = ctx.settings.rejoin_window_s
    released = []
    for session_id in ctx.rooms.idle_rooms(window):
        room = ctx.rooms.get(session_id)
        if room is None or (room.empty_for() is None and not room.closed):
            continue  # someone rejoined meanwhile
        segments = await ctx.rooms.close_room(session_id)
        sdir = SessionDir(sessions.path_of(ctx, session_id))
        if sdir.exists():
            await sdir.add_event(
                "room_released",
                detail={
                    "reason": "empty_past_rejoin_window",
                    "rejoin_window_s": window,
                    "segments": [s.file for s in segments],
                },
            )
        released.append(session_id)
        await _end_if_recorded(ctx, session_id, "abandoned")
    return released


async def end_unresumed(ctx: AppContext) -> list[str]:
    """End interrupted sessions that nobody rejoined within the window (their inspection
    is queued; before, they waited for someone to press "end")."""
    # A read (it used to take the write lock every few seconds, for nothing most of the
    # time); _end_if_recorded re-checks each one in its own write.
    query = select(RecordingSession.id).where(
        RecordingSession.status == "interrupted", RecordingSession.deleted_at.is_(None)
    )
    ids = await ctx.db.run_read(lambda s: list(s.execute(query).scalars()))
    ended = []
    now = utcnow()
    for session_id in ids:
        if ctx.rooms.get(session_id) is not None:
            continue
        sdir = SessionDir(sessions.path_of(ctx, session_id))
        last = last_activity(sdir) if sdir.exists() else None
        if last is not None and (now - last).total_seconds() < ctx.settings.rejoin_window_s:
            continue
        if await _end_if_recorded(ctx, session_id, "interrupted"):
            ended.append(session_id)
    return ended


def _calls_with(ctx: AppContext, participant: str) -> list[str]:
    """The sessions whose open call has ``participant`` connected."""
    return [
        sid
        for sid, room in ctx.rooms.rooms().items()
        if not room.closed and room.connected().get(participant)
    ]


async def disconnect_disabled(ctx: AppContext) -> list[str]:
    """Take salespeople whose account was disabled out of the calls they are in (the
    sessions stay; their customers may wait or leave). A disabled account's cookie is
    refused at once, but a call joined before went on being relayed and recorded for as
    long as its browser stayed. Returns the sessions concerned."""
    calls = _calls_with(ctx, "salesperson")
    if not calls:
        return []
    query = (
        select(RecordingSession.id)
        .join(User, User.id == RecordingSession.salesperson_id)
        .where(RecordingSession.id.in_(calls), User.disabled.is_(True))
    )
    ids = await ctx.db.run_read(lambda s: list(s.execute(query).scalars()))
    for session_id in ids:
        room = ctx.rooms.get(session_id)
        if room is not None:
            await room.leave("salesperson", reason="account_disabled")
            log.warning("session %s: the salesperson's account is disabled; left", session_id)
    return ids


async def disconnect_unbacked_self_service(ctx: AppContext) -> list[str]:
    """Take the customer out of a self-service call whose salesperson was disabled or lost
    the R20 qualification (``leave`` reason ``salesperson_disabled`` /
    ``salesperson_not_qualified``): the customer records alone there, under that
    salesperson's name, and every further request of the link is refused anyway. (In a
    two-party call the customer stays, as before: the salesperson is taken out above.)
    Returns the sessions concerned."""
    calls = _calls_with(ctx, "customer")
    if not calls:
        return []
    query = (
        select(RecordingSession.id, User.disabled, User.role, User.qualified_remote)
        .join(User, User.id == RecordingSession.salesperson_id)
        .where(RecordingSession.id.in_(calls))
    )
    found = await ctx.db.run_read(lambda s: list(s.execute(query).all()))
    dropped = []
    for session_id, disabled, role, qualified in found:
        refusal = owner_standing.refusal_for(disabled, role, qualified)
        if refusal is None:
            continue
        # The mode is in metadata.json (read off the loop), and only for the rare session
        # whose salesperson is refused, not for every call at every sweep.
        mode = await asyncio.to_thread(sessions.session_mode, ctx, session_id)
        room = ctx.rooms.get(session_id)
        if mode != selfservice.MODE or room is None or room.closed:
            continue
        await room.leave("customer", reason=refusal.code)
        log.warning("session %s: self-service customer left (%s)", session_id, refusal.code)
        dropped.append(session_id)
    return dropped


async def resume_cut_ends(ctx: AppContext, grace_s: float) -> list[str]:
    """Sessions ended for ``grace_s`` whose end did not get as far as queuing their jobs
    (the database failed in between): finish it now. Those on this node's disk, as before;
    a dead node's whose files are not here is finished from the object store when it holds
    the session ended with every segment archived (server.inspection_adopt), else noted
    once as unreadable (audit ``inspection.unreadable``), and looked at again when due."""
    before = utcnow() - timedelta(seconds=grace_s)
    dead = RecordingSession.node_id.in_(nodes.dead_nodes(ctx.settings))
    query = select(RecordingSession.id, RecordingSession.node_id, dead).where(
        RecordingSession.status == "ended",
        RecordingSession.inspection_status == "pending",
        RecordingSession.deleted_at.is_(None),
        RecordingSession.ended_at < before,
    )
    rows: list[tuple[str, str | None, bool]] = await ctx.db.run_read(
        lambda s: [(sid, holder, bool(dead)) for sid, holder, dead in s.execute(query)]
    )
    resumed: list[str] = []
    dead_nodes: list[inspection_adopt.Held] = []
    for session_id, holder, holder_dead in rows:
        if await asyncio.to_thread(SessionDir(sessions.path_of(ctx, session_id)).exists):
            if await session_end.resume_cut_end(ctx, session_id):
                log.warning("session %s: its end was cut short; jobs queued now", session_id)
                resumed.append(session_id)
        elif holder_dead:
            dead_nodes.append((session_id, holder))
        # else: another node's disk, and that node is alive: it resumes it
    for session_id, holder in await inspection_adopt.may_resume(ctx, dead_nodes):
        if holder is not None and await inspection_adopt.finish_stored_end(ctx, session_id, holder):
            log.warning("session %s: its end was cut short; finished from the store", session_id)
            resumed.append(session_id)
    return resumed


async def sweep(ctx: AppContext) -> None:
    """One pass of the checks."""
    await nodes.sweep_dead(ctx)
    await disconnect_disabled(ctx)
    await disconnect_unbacked_self_service(ctx)
    await release_idle_rooms(ctx)
    await end_unresumed(ctx)
    await resume_cut_ends(ctx, END_GRACE_S)
    await inspection_resume.resume_unqueued(ctx, END_GRACE_S)


async def finish_on_start(ctx: AppContext) -> list[str]:
    """Finish the claimed deletions a crash of this node may have cut short. Beside another
    live node a young claim may be that node's deletion still under way, so only claims past
    ``CLAIM_GRACE_S`` are finished then (the later passes take the rest)."""
    alone = await nodes.others_alive(ctx) == 0
    return await retention.finish_claimed(ctx, 0.0 if alone else CLAIM_GRACE_S)


async def _finish_claimed(ctx: AppContext, at_start: bool) -> None:
    try:
        if at_start:
            await finish_on_start(ctx)
        else:
            await retention.finish_claimed(ctx, CLAIM_GRACE_S)
    except Exception:
        log.exception("finishing interrupted deletions failed")
    raise_if_cancelling()


async def run(ctx: AppContext) -> None:
    """Finish interrupted deletions, then sweep until cancelled (finishing those cut short
    since now and then); the period follows the (possibly changed) rejoin window."""
    await _finish_claimed(ctx, at_start=True)
    finished_at = requeued_at = time.monotonic()
    while True:
        try:
            await sweep(ctx)
        except Exception:
            log.exception("housekeeping sweep failed")
        raise_if_cancelling()
        if time.monotonic() - requeued_at >= inspection_resume.REQUEUE_CHECK_EVERY_S:
            requeued_at = time.monotonic()
            try:
                await inspection_resume.requeue_failed(ctx)
            except Exception:
                log.exception("queuing failed inspections again failed")
            raise_if_cancelling()
        if time.monotonic() - finished_at >= FINISH_CLAIMED_EVERY_S:
            await _finish_claimed(ctx, at_start=False)
            finished_at = time.monotonic()
        window = ctx.settings.rejoin_window_s
        await asyncio.sleep(max(MIN_INTERVAL_S, min(MAX_INTERVAL_S, window / 5)))
