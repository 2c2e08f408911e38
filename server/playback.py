"""Playing a script node's recorded audio in a live session (the API calls this).

The node's audio file comes from the session's template (``playback:``); it is encoded to
Opus once on a thread (cached) and handed to the room's :class:`server.rtc.playback.Player`.
Playing a node also moves the script to it (a ``node`` event), as the teleprompter does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from inspection.playback import PlaybackError, encode_opus
from inspection.templates import RenderedNode
from server import session_call, sessions
from server.context import AppContext
from server.rtc.errors import RtcError
from server.rtc.playback import Clip
from server.store.models import RecordingSession


async def durations(nodes: list[RenderedNode]) -> dict[str, float]:
    """Seconds of audio of each played node (encoded on a thread once, then cached);
    a node whose file cannot be read is left out (playing it reports why)."""

    def work() -> dict[str, float]:
        out = {}
        for n in nodes:
            if n.playback is not None:
                try:
                    out[n.id] = encode_opus(n.playback).duration_s
                except PlaybackError:
                    continue
        return out

    if not any(n.playback for n in nodes):
        return {}
    return await asyncio.to_thread(work)


def playback_state(ctx: AppContext, session_id: str) -> dict[str, Any]:
    """The room's current or last playback ({"playing": false} without a room)."""
    room = ctx.rooms.get(session_id)
    return room.player.state() if room is not None else {"playing": False}


async def play_node(ctx: AppContext, row: RecordingSession, node_id: str) -> dict[str, Any]:
    """Start playing ``node_id`` into the session's room; returns the playback state."""
    if row.status not in session_call.LIVE_STATES:
        raise sessions.SessionError(409, "session_ended", "this session has ended")
    node = sessions.node_of(row, node_id)
    if node.playback is None:
        raise sessions.SessionError(400, "no_playback", f"node {node_id!r} has no recorded audio")
    room = ctx.rooms.get(row.id)
    if room is None or not any(room.connected().values()):
        raise sessions.SessionError(409, "not_connected", "nobody is connected to this session")
    try:
        audio = await asyncio.to_thread(encode_opus, node.playback)
    except PlaybackError as exc:
        raise sessions.SessionError(500, "playback_unavailable", str(exc)) from None
    clip = Clip(node.id, audio.packets, audio.source_sha256, audio.packets_sha256)
    await session_call.set_node(ctx, row, node.id)
    try:
        return await room.player.play(clip)
    except RtcError as exc:
        raise sessions.SessionError(exc.status, exc.code, exc.message) from None
