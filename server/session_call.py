"""A recording session's call: the customer's consent, media joins and leaves (rejoin
window) and teleprompter progress.

Creating, reading and listing sessions is ``server.sessions``; the end that finalises the
files and queues the jobs is ``server.session_end``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from server import audit, free_space, nodes
from server.context import AppContext
from server.rtc.errors import RtcError
from server.sdp_check import check_offer, public_message
from server.session_dir import SessionDir
from server.session_events import EventBudgetSpent, SessionEnded
from server.session_format import parse_iso
from server.session_locks import session_lock
from server.sessions import SessionError, get_session, local_dir, node_of
from server.store.models import AuditEntry, RecordingSession
from server.store.types import iso, utcnow

log = logging.getLogger("kesu.sessions")


LIVE_STATES = ("created", "live", "interrupted")
#: Revocations of one session's join links. Each is a write and an audit entry: a loop of
#: them by a login would grow the audit chain without end; a real session needs one or two.
MAX_LINK_REVOCATIONS = 20


async def update_session(ctx: AppContext, session_id: str, **values: Any) -> RecordingSession:
    """Set ``values`` on the session's row (404 if there is none); returns the row."""
    async with ctx.db.session() as s:
        row = await s.get(RecordingSession, session_id)
        if row is None:
            raise SessionError(404, "not_found", "no such session")
        for key, value in values.items():
            setattr(row, key, value)
    return row


async def record_consent(ctx: AppContext, row: RecordingSession) -> RecordingSession:
    """R2: the customer's consent to be recorded, stamped with the server clock."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has ended")
    if row.consent_at is not None:
        return row
    sdir = await local_dir(ctx, row.id)
    try:
        # Requests sent at once (a double click) all read no consent above: the first
        # consent event is the one, and its time is the stamp every one of them answers.
        event, _new = await sdir.add_first_event("consent", "customer", live_only=True)
    except SessionEnded:
        raise ended_error() from None
    at = parse_iso(event["at"])
    assert at is not None
    async with ctx.db.session() as s:
        db_row = await s.get(RecordingSession, row.id, with_for_update=True)
        assert db_row is not None
        if db_row.consent_at is None:  # one stamp and one audit entry, whoever commits first
            db_row.consent_at = at
            await audit.record(s, f"customer:{row.id}", "consent.given", row.id, {"at": iso(at)})
    return db_row


async def join_media(ctx: AppContext, row: RecordingSession, role: str, offer_sdp: str) -> str:
    """Connect one participant's browser to the session's media room; returns the SDP answer."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has ended")
    if role == "customer" and row.consent_at is None:
        raise SessionError(409, "consent_required", "the customer must consent to recording first")
    if len(offer_sdp.encode()) > ctx.settings.max_sdp_bytes:
        raise SessionError(
            413, "sdp_too_large", f"SDP offer larger than {ctx.settings.max_sdp_bytes} bytes"
        )
    sdir = await local_dir(ctx, row.id)
    _check_rejoin_window(sdir, role, ctx.settings.rejoin_window_s)
    _check_join_count(sdir, role, ctx.settings.max_joins_per_participant)
    try:
        check_offer(offer_sdp, ctx.settings.max_sdp_bytes)
        await nodes.place(ctx, row.id)  # or WrongNode: the browser goes to the holder
        low = await _storage_low(ctx, sdir)
        # A self-service session is driven by its customer's link: a customer must not be
        # turned away because of the salesperson's own calls, so those rooms count apart,
        # with a bound of their own (one login sending many links must still not take every
        # room).
        self_service = sdir.metadata.get("mode") == "self_service"
        room = ctx.rooms.room_for(
            row.id,
            sdir,
            owner=row.salesperson_id,
            owner_limit=ctx.settings.max_live_self_service_per_user
            if self_service
            else ctx.settings.max_live_sessions_per_user,
            self_service=self_service,
        )
        room.storage_low = low
        if ctx.live is not None and room.tap is None:
            room.tap = ctx.live.open(row.id, sdir, row.template_id, row.policy)
        try:
            answer = await room.join(role, offer_sdp)
        except BaseException:
            # A refused offer must not hold one of the max_sessions slots.
            await ctx.rooms.discard_if_unused(row.id)
            raise
    except RtcError as exc:
        log.info("session %s: %s refused: %s", row.id, role, exc)
        raise SessionError(exc.status, exc.code, public_message(exc)) from None
    if not await _still_live(ctx, row.id, row.status != "live"):
        # The session ended while the offer was being answered (its end closed the room
        # under the join): it must not look live again, nor keep this participant.
        await room.leave(role)
        raise SessionError(409, "session_ended", "this session has ended")
    if room.closed:
        raise SessionError(409, "room_closed", "this session's call was closed; join again")
    async with ctx.db.session() as s:
        actor = f"customer:{row.id}" if role == "customer" else f"salesperson:{row.salesperson_id}"
        await audit.record(s, actor, "media.join", row.id, {"role": role})
    return answer


async def _storage_low(ctx: AppContext, sdir: SessionDir) -> bool:
    """``min_free_mb`` at join time (server/free_space.py): below it, an offer that would
    start the session's first recording is ``507 storage_full`` before anything is
    allocated; once something is recorded the join goes on (True: the page says so)."""
    s = ctx.settings
    if not await free_space.is_low(s.sessions_dir, s.min_free_mb):
        return False
    if not sdir.metadata.get("segments"):
        raise free_space.StorageFull(
            "the server's disk is too full to start a recording; try again later"
        )
    return True


async def _still_live(ctx: AppContext, session_id: str, start: bool) -> bool:
    """Whether the session is still in a live state; with ``start``, also set it ``live``
    (and its start time) in the same compare-and-set: the row the request read may be
    older than an end that came meanwhile, and writing its status back would undo it."""
    if not start:
        async with ctx.db.read() as r:
            status = await r.scalar(
                select(RecordingSession.status).where(RecordingSession.id == session_id)
            )
        return status in LIVE_STATES
    async with ctx.db.session() as s:
        done = await s.execute(
            update(RecordingSession)
            .where(RecordingSession.id == session_id, RecordingSession.status.in_(LIVE_STATES))
            .values(status="live", started_at=func.coalesce(RecordingSession.started_at, utcnow()))
        )
        return getattr(done, "rowcount", 0) == 1


def ended_error() -> SessionError:
    """409 ``session_ended``: what a participant's request gets once the session ended."""
    return SessionError(409, "session_ended", "this session has ended")


def _too_many_events(count: int, limit: int) -> SessionError:
    return SessionError(
        429,
        "too_many_events",
        f"this session has {count} events, the most a client may add",
        {"limit": limit},
    )


def check_event_budget(ctx: AppContext, sdir: SessionDir) -> None:
    """Refuse a client's request that would add an event to a session that has as many as
    ``max_session_events`` (before any costly work: an answer runs Whisper)."""
    limit = ctx.settings.max_session_events
    if limit > 0 and (count := sdir.event_count()) >= limit:
        raise _too_many_events(count, limit)


async def add_client_event(
    ctx: AppContext, sdir: SessionDir, type: str, **kwargs: Any
) -> dict[str, Any]:
    """An event a client's request makes (teleprompter node, self-service answer or
    document), within the session's ``max_session_events`` (429 ``too_many_events``): a
    script holding a login or the join link cannot grow metadata.json without bound."""
    limit = max(ctx.settings.max_session_events, 0)
    try:
        return await sdir.add_event(type, budget=limit, live_only=True, **kwargs)
    except EventBudgetSpent as exc:
        raise _too_many_events(exc.count, limit) from None
    except SessionEnded:
        raise ended_error() from None


def _check_join_count(sdir: SessionDir, role: str, limit: int) -> None:
    """Each join starts new segment files and metadata events: a script holding the link (or
    a login) that joins and leaves in a loop must not grow them without bound."""
    if limit <= 0:
        return
    joins = sum(
        1
        for e in sdir.metadata.get("events", [])
        if e.get("type") == "join" and e.get("participant") == role
    )
    if joins >= limit:
        raise SessionError(
            429,
            "too_many_joins",
            f"the {role} has joined this session {joins} times, the most allowed",
            {"limit": limit},
        )


def _check_rejoin_window(sdir: SessionDir, role: str, window_s: float) -> None:
    """A participant whose last event is a leave (or the server's crash, which dropped
    everyone) may come back only within the window."""
    last = None
    for event in sdir.metadata.get("events", []):
        if event.get("type") == "interrupted" or (
            event.get("participant") == role and event.get("type") in ("join", "leave")
        ):
            last = event
    if last is None or last["type"] == "join":
        return
    left_at = datetime.fromisoformat(str(last["at"]).replace("Z", "+00:00"))
    away_s = (utcnow() - left_at).total_seconds()
    if away_s > window_s:
        raise SessionError(
            410,
            "rejoin_window_expired",
            f"the {role} left {away_s:.0f} s ago; rejoining is allowed within {window_s:.0f} s",
        )


async def leave_media(ctx: AppContext, row: RecordingSession, role: str) -> None:
    room = ctx.rooms.get(row.id)
    if room is not None:
        await room.leave(role)


async def revoke_join_link(ctx: AppContext, row: RecordingSession, actor: str) -> None:
    """End every join link of ``row`` before it expires: the session gets a new nonce
    (links made from now on carry it; ``POST .../link`` makes one), the revocation is
    audited in the same transaction, and a customer in the call is taken out of it (reason
    ``link_revoked``). A request with an old link is then 410 ``token_revoked``. Open
    customer live streams are the API's to cut (``server.api.live``)."""
    async with ctx.db.session() as s:
        # Locked before counting: on PostgreSQL simultaneous revocations would all count
        # the same entries and pass the bound together.
        db_row = await s.get(RecordingSession, row.id, with_for_update=True)
        if db_row is None or db_row.deleted_at is not None:
            raise SessionError(404, "not_found", "no such session")
        done = await s.scalar(
            select(func.count(AuditEntry.seq)).where(
                AuditEntry.session_id == row.id, AuditEntry.action == "join_link.revoke"
            )
        )
        if (done or 0) >= MAX_LINK_REVOCATIONS:
            raise SessionError(
                429,
                "too_many_revocations",
                f"this session's links were revoked {done} times; make a new session",
            )
        db_row.join_nonce = secrets.token_hex(8)
        await audit.record(s, actor, "join_link.revoke", row.id, {"status": db_row.status})
    await drop_revoked_customer(ctx, row.id)


async def drop_revoked_customer(ctx: AppContext, session_id: str) -> None:
    """Take the customer out of ``session_id``'s call on this node (reason ``link_revoked``):
    after a revocation, and for an offer answered while the revocation ran."""
    room = ctx.rooms.get(session_id)
    if room is not None and not room.closed:
        await room.leave("customer", reason="link_revoked")


async def set_node(ctx: AppContext, row: RecordingSession, node_id: str) -> RecordingSession:
    """The salesperson moved the teleprompter to ``node_id``; stored with the server time."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has ended")
    node_of(row, node_id)  # refuses a node not in the script (400)
    sdir = await local_dir(ctx, row.id)
    # One move of a session at a time, each judged on what the one before it left: the
    # same move sent twice at once (a double click) was two events, both found it new.
    async with session_lock(ctx, "node", row.id):
        return await _move(ctx, await get_session(ctx, row.id), sdir, node_id)


async def _move(
    ctx: AppContext, row: RecordingSession, sdir: SessionDir, node_id: str
) -> RecordingSession:
    last = sdir.last_event("node")
    if row.current_node == node_id and last is not None and last.get("node") == node_id:
        return row  # a retry of a stored move whose answer was lost: no second event
    # The budget before the row: a move refused with 429 must not change current_node.
    check_event_budget(ctx, sdir)
    # The database first: the event went to metadata.json before, and a database fault
    # after it (503) made the client's retry add the same move a second time. A disk fault
    # after the database only leaves ``current_node`` ahead of the events until the retry.
    row = await update_session(ctx, row.id, current_node=node_id)
    await add_client_event(ctx, sdir, "node", node=node_id)
    if ctx.live is not None:
        ctx.live.marker(row.id, node_id)
    return row
