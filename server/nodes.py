"""Several media nodes on one database: heartbeats, room placement, taking over dead nodes.

One ``kesu serve`` is one event loop and saturates one core with media, so a site runs one
per core and per machine. Each registers a row in ``media_nodes`` and refreshes its
``heartbeat_at`` every ``node_heartbeat_s``. A session's room lives on the node named by
``recording_sessions.node_id``:

- a new session is created on the live node with the most free capacity (this one on a
  tie; a node's load is its live sessions and those created within ``join_link_hours``
  and not joined yet): another node's creation is forwarded there (server.api.forward), so
  the session directory is on its holder from the start, also when nodes have separate
  disks;
- the first offer for a session nobody live holds (one created before nodes recorded a
  holder at creation, or one whose node died) places it on the live node with the most
  free capacity, recorded by a compare-and-set UPDATE so two nodes placing the same
  session at once agree on one;
- any other request about a session held by another live node is forwarded to it
  (server.api.forward): consent, script progress, end, playback, state, live checks...;
- an offer reaching a node that does not hold the room gets 409 ``wrong_node`` with that
  node's public URL in ``details.node_url``; the pages go there and offer again;
- a node silent for ``node_dead_after_s`` is dead: the housekeeping sweep of any other
  node marks its live sessions interrupted (the same bookkeeping as a restart after a
  crash, with ``reason: node_dead``), each exactly once, and later offers place them anew;
  its ended sessions whose inspection is left to do are taken over by a node that can read
  their files (server.inspection_adopt).

The embedded default is one node: every session is placed on it and nothing changes.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server import audit
from server.context import AppContext
from server.errors import KesuError
from server.session_dir import SessionDir
from server.settings import Settings
from server.store.models import MediaNode, RecordingSession
from server.store.types import utcnow

log = logging.getLogger("kesu.nodes")

PLACE_ATTEMPTS = 3


class WrongNode(KesuError):
    """The session's room is held by another live node: the browser must go there."""

    def __init__(self, node_id: str, node_url: str) -> None:
        super().__init__(
            "this session's call is on another media node",
            code="wrong_node",
            status=409,
            details={"node_id": node_id, "node_url": node_url},
        )


def node_id(settings: Settings) -> str:
    return settings.node_id or f"{socket.gethostname()}:{settings.port}"


def node_url(settings: Settings) -> str:
    if settings.node_url:
        return settings.node_url.rstrip("/")
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.host}:{settings.port}"


async def heartbeat(ctx: AppContext, starting: bool = False) -> None:
    """Insert or refresh this node's row (capacity and room count as of now)."""
    me = node_id(ctx.settings)
    now = utcnow()
    url, capacity, rooms = node_url(ctx.settings), ctx.settings.max_sessions, len(ctx.rooms)

    def beat(s: Session) -> None:
        row = s.get(MediaNode, me)
        if row is None:
            row = MediaNode(id=me, started_at=now)
            s.add(row)
        elif starting:
            row.started_at = now
        row.url = url
        row.capacity = capacity
        row.live_rooms = rooms
        row.heartbeat_at = now

    # One call on the writer thread, like the request paths' writes.
    await ctx.db.run_write(beat)


def _dead_before(settings: Settings) -> datetime:
    return utcnow() - timedelta(seconds=settings.node_dead_after_s)


def dead_nodes(settings: Settings) -> Select[str]:
    """The ids of the other nodes silent for ``node_dead_after_s``."""
    return select(MediaNode.id).where(
        MediaNode.id != node_id(settings), MediaNode.heartbeat_at < _dead_before(settings)
    )


def held_by(holder: str | None) -> ColumnElement[bool]:
    """The compare-and-set condition of a write that moves a session away from ``holder``."""
    return (
        RecordingSession.node_id.is_(None) if holder is None else RecordingSession.node_id == holder
    )


async def others_alive(ctx: AppContext) -> int:
    """How many other media nodes have a heartbeat recent enough to count as alive."""
    query = (
        select(func.count())
        .select_from(MediaNode)
        .where(
            MediaNode.id != node_id(ctx.settings),
            MediaNode.heartbeat_at >= _dead_before(ctx.settings),
        )
    )
    # On the reader threads like housekeeping's other reads: an async read session opens a
    # connection (on SQLite, a thread) of its own when a request holds the pooled one.
    n = await ctx.db.run_read(lambda s: s.scalar(query))
    return int(n or 0)


async def place(ctx: AppContext, session_id: str) -> None:
    """Make sure this node holds ``session_id``'s room, placing it if no live node does.

    Raises :class:`WrongNode` when another live node holds it or is chosen for it."""
    me = node_id(ctx.settings)
    async with ctx.db.read() as s:
        # The usual case (a rejoin here, or one node) takes no write lock.
        held = await s.scalar(
            select(RecordingSession.node_id).where(RecordingSession.id == session_id)
        )
    if held == me:
        return
    for _ in range(PLACE_ATTEMPTS):
        async with ctx.db.session() as s:
            live = await _live_nodes_locked(s, ctx.settings)
            held = (
                await s.execute(
                    select(RecordingSession.node_id).where(RecordingSession.id == session_id)
                )
            ).scalar_one()
            if held == me:
                return
            if held is not None and held in live:
                raise WrongNode(held, live[held].url)
            load = await _load(s, ctx.settings, sorted(set(live) | {me}))
            chosen = _choose(live, load, me, ctx.settings.max_sessions)
            done = await s.execute(
                update(RecordingSession)
                .where(RecordingSession.id == session_id, held_by(held))
                .values(node_id=chosen)
            )
            if getattr(done, "rowcount", 0) != 1:
                continue  # another node placed it meanwhile: read again
            await audit.record(
                s, "system", "session.placed", session_id, {"node": chosen, "previous": held}
            )
        log.info("session %s placed on node %s (previous: %s)", session_id, chosen, held)
        if chosen == me:
            return
        raise WrongNode(chosen, live[chosen].url)
    raise KesuError("could not place the session on a media node", code="busy", status=503)


async def _live_nodes_locked(s: AsyncSession, settings: Settings) -> dict[str, MediaNode]:
    """The live nodes' rows, locked (in id order: no deadlock) before the load is counted, so
    that placements serialise: on PostgreSQL two nodes placing at once both counted the load
    before either wrote, and both took the same free slot. (SQLite: the writer's BEGIN
    IMMEDIATE already holds the database's one lock.)"""
    rows = await s.execute(
        select(MediaNode)
        .where(MediaNode.heartbeat_at >= _dead_before(settings))
        .order_by(MediaNode.id)
        .with_for_update()
    )
    return {n.id: n for n in rows.scalars()}


def _choose(live: dict[str, MediaNode], load: dict[str, int], me: str, max_sessions: int) -> str:
    """The node with the most free capacity; this node wins a tie (no round trip for the
    browser). This node is a candidate even when it is not among ``live`` (with
    ``max_sessions`` as its capacity)."""
    free = {nid: n.capacity - load.get(nid, 0) for nid, n in live.items()}
    free.setdefault(me, max_sessions - load.get(me, 0))
    return max(free, key=lambda nid: (free[nid], nid == me))


def _load_query(settings: Settings, live: list[str]) -> Select[str | None, int]:
    """Sessions counting against each live node's capacity: live ones, and ones created
    recently and not joined yet (their room will open there)."""
    pending_since = utcnow() - timedelta(hours=settings.join_link_hours)
    return (
        select(RecordingSession.node_id, func.count())
        .where(
            RecordingSession.node_id.in_(live),
            or_(
                RecordingSession.status == "live",
                and_(
                    RecordingSession.status == "created",
                    RecordingSession.created_at >= pending_since,
                ),
            ),
        )
        .group_by(RecordingSession.node_id)
    )


async def _load(s: AsyncSession, settings: Settings, live: list[str]) -> dict[str, int]:
    counts = await s.execute(_load_query(settings, live))
    # Not dict(result): a Result has keys() (its column names), so dict() misreads it.
    return {str(nid): int(n) for nid, n in counts}


async def home_for_new(ctx: AppContext) -> tuple[str, str] | None:
    """Where a new session should be created: ``None`` for this node, else the id and URL
    of the live node with the most free capacity (this node wins a tie)."""
    me = node_id(ctx.settings)

    def read(s: Session) -> tuple[dict[str, tuple[int, str]], dict[str, int]]:
        live = {
            n.id: (n.capacity, n.url)
            for n in s.scalars(
                select(MediaNode).where(MediaNode.heartbeat_at >= _dead_before(ctx.settings))
            )
        }
        if not live or set(live) == {me}:
            return live, {}
        counts = s.execute(_load_query(ctx.settings, sorted(set(live) | {me})))
        return live, {str(nid): int(n) for nid, n in counts}

    # Asked on every session creation: one hop to a reader thread (see holder()).
    live, load = await ctx.db.run_read(read)
    if not live or set(live) == {me}:
        return None
    free = {nid: capacity - load.get(nid, 0) for nid, (capacity, _url) in live.items()}
    free[me] = ctx.settings.max_sessions - load.get(me, 0)
    chosen = max(free, key=lambda nid: (free[nid], nid == me))
    return None if chosen == me else (chosen, live[chosen][1])


async def holder(ctx: AppContext, session_id: str) -> tuple[str, str] | None:
    """The id and URL of the other live node holding ``session_id``, or ``None`` when this
    node holds it, nobody does, or its holder is dead (then this node answers itself)."""
    me = node_id(ctx.settings)
    query = (
        select(MediaNode.id, MediaNode.url)
        .join(RecordingSession, RecordingSession.node_id == MediaNode.id)
        .where(
            RecordingSession.id == session_id,
            MediaNode.id != me,
            MediaNode.heartbeat_at >= _dead_before(ctx.settings),
        )
    )
    # Asked on every session-scoped request: one hop to a reader thread, not one per
    # statement through the loop (which waits behind every other client's callbacks).
    row = await ctx.db.run_read(lambda s: s.execute(query).first())
    return None if row is None else (str(row[0]), str(row[1]))


async def check_holder(ctx: AppContext, session_id: str) -> None:
    """Raise :class:`WrongNode` if another live node holds ``session_id``'s room (only the
    holder can close it: ending elsewhere would leave it recording)."""
    # One statement (the holder and its liveness read together), as holder() asks it.
    found = await holder(ctx, session_id)
    if found is not None:
        raise WrongNode(*found)


async def interrupt(ctx: AppContext, session_id: str, holder: str | None, reason: str) -> bool:
    """Mark a live session interrupted, once: only the caller whose compare-and-set
    (still live, still held by ``holder``) succeeds writes the gap and the audit entry."""
    async with ctx.db.session() as s:
        done = await s.execute(
            update(RecordingSession)
            .where(
                RecordingSession.id == session_id,
                RecordingSession.status == "live",
                held_by(holder),
            )
            .values(status="interrupted")
        )
        if getattr(done, "rowcount", 0) != 1:
            return False
    sdir = SessionDir(ctx.settings.sessions_dir / session_id)
    files: dict[str, str] = {}
    if sdir.exists():
        await sdir.mark_interrupted(reason=reason)
        files = await sdir.file_hashes()
    async with ctx.db.session() as s:
        # Anchor the kept segments now, so nothing after the crash can alter them unseen.
        detail: dict[str, object] = {"files": files}
        if reason != "server_stopped":
            detail.update(reason=reason, node=holder)
        await audit.record(s, "system", "session.interrupted", session_id, detail)
    return True


async def sweep_dead(ctx: AppContext) -> list[str]:
    """Mark interrupted the live sessions of nodes whose heartbeat stopped."""
    async with ctx.db.read() as s:
        rows = (
            await s.execute(
                select(RecordingSession.id, RecordingSession.node_id).where(
                    RecordingSession.status == "live",
                    RecordingSession.node_id.in_(dead_nodes(ctx.settings)),
                )
            )
        ).all()
    out = [sid for sid, holder in rows if await interrupt(ctx, sid, holder, "node_dead")]
    if out:
        log.warning("marked %d session(s) of dead media nodes interrupted: %s", len(out), out)
    return out
