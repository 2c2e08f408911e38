"""Fencing: a media node the others may have declared dead stops taking media at once.

Other nodes declare a node dead when its ``media_nodes`` heartbeat is older than
``node_dead_after_s``; they then mark its live sessions interrupted and hash their segments
as they are (``server.nodes.sweep_dead``). A node that was only paused (SIGSTOP, a stalled
VM, swapping) or cut off from the database is still alive and must not go on writing those
files or relaying that media: the cluster has decided.

- **Lease.** A node takes media only until ``LEASE_FRACTION`` × ``node_dead_after_s`` after
  the start of its last successful heartbeat (monotonic clock). Past it, its rooms drop
  incoming packets (neither recorded nor relayed; ``Room`` asks ``Fence.held``) until a beat
  succeeds again. The lease ends before the others may call the node dead, so nothing is
  written after they hash the files. A node that saw no other live node at its last beat
  is alone (the embedded default): nobody can declare it dead, so its lease never lapses
  and a stalled database never costs a recording (a new node started while this one is
  stalled is the case this leaves open). Across machines this assumes clocks agree to well
  within the remaining quarter of ``node_dead_after_s`` (NTP).
- **Abandon.** After each successful beat, and before the lease is renewed, the rooms whose
  sessions were live on this node at the previous beat and no longer are (interrupted,
  ended or placed elsewhere by the cluster) are abandoned: peers disconnected, recorders
  stopped, every file and metadata.json left as the cluster recorded them (the browsers
  rejoin and are placed anew). If no node could reach the session directory (nodes on
  separate disks), this node marks the segments interrupted itself.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select

from server import nodes
from server.aio import raise_if_cancelling
from server.context import AppContext
from server.session_dir import SessionDir
from server.session_format import SEGMENT_RECORDING
from server.settings import Settings
from server.store.models import RecordingSession

log = logging.getLogger("kesu.fence")

LEASE_FRACTION = 0.75


class Fence:
    """This node's lease on media, and the sessions it held live at the last check."""

    def __init__(self, settings: Settings) -> None:
        self.length_s = LEASE_FRACTION * settings.node_dead_after_s
        self._until = 0.0
        self.alone = False  # no other live node at the last successful beat
        self.watched: set[str] = set()
        if settings.node_heartbeat_s * 2 > self.length_s:
            log.warning(
                "node_heartbeat_s (%.1f s) is not well under node_dead_after_s (%.1f s): "
                "this node's lease on media will lapse between beats",
                settings.node_heartbeat_s,
                settings.node_dead_after_s,
            )

    def held(self) -> bool:
        return self.alone or time.monotonic() < self._until

    def renew(self, beat_started: float) -> None:
        self._until = max(self._until, beat_started + self.length_s)


async def beat(ctx: AppContext, starting: bool = False) -> list[str]:
    """Heartbeat, abandon the rooms the cluster took away, then renew the lease; returns
    the abandoned session ids."""
    started = time.monotonic()
    await nodes.heartbeat(ctx, starting=starting)
    lost = await abandon_lost(ctx)
    if ctx.fence is not None:
        ctx.fence.alone = await nodes.others_alive(ctx) == 0
        ctx.fence.renew(started)
    return lost


async def run(ctx: AppContext) -> None:
    """Beat until cancelled; a failed beat is logged and retried at the next period (the
    lease then runs out, and the rooms stop taking media until a beat succeeds)."""
    while True:
        await asyncio.sleep(ctx.settings.node_heartbeat_s)
        try:
            await beat(ctx)
        except Exception:
            log.exception("media node heartbeat failed")
        raise_if_cancelling()


async def abandon_lost(ctx: AppContext) -> list[str]:
    """Abandon the open rooms whose sessions were live here at the previous check and are no
    longer (a room still joining is not live yet, so it is never taken for lost)."""
    fence = ctx.fence
    if fence is None:
        return []
    me = nodes.node_id(ctx.settings)
    open_ids = [sid for sid, room in ctx.rooms.rooms().items() if not room.closed]
    mine: set[str] = set()
    if open_ids:
        async with ctx.db.read() as s:
            rows = await s.execute(
                select(RecordingSession.id).where(
                    RecordingSession.id.in_(open_ids),
                    RecordingSession.status == "live",
                    RecordingSession.node_id == me,
                )
            )
            mine = set(rows.scalars())
    lost = [sid for sid in open_ids if sid in fence.watched and sid not in mine]
    fence.watched = mine
    abandoned = []
    for session_id in lost:
        # A room closed meanwhile (ended here: it closes before the status changes) is
        # not abandoned, nor are its files touched.
        if not await ctx.rooms.abandon_room(session_id):
            continue
        log.warning(
            "session %s was taken from this node (declared dead while alive?): abandoned "
            "its room, files left as the cluster recorded them",
            session_id,
        )
        abandoned.append(session_id)
        await _interrupt_if_unreached(ctx, session_id)
    return abandoned


async def _interrupt_if_unreached(ctx: AppContext, session_id: str) -> None:
    """Nodes on separate disks: nobody else could mark this directory, so do it here."""
    path = ctx.settings.sessions_dir / session_id
    SessionDir.forget(path)  # this process's copy is stale: read the directory again
    sdir = await asyncio.to_thread(SessionDir, path)
    if sdir.exists() and any(s.status == SEGMENT_RECORDING for s in sdir.segments()):
        await sdir.mark_interrupted(reason="node_fenced")
