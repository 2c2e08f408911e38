"""Rooms on their own loop and thread (server/rtc/medialoop.py): calls hop there, cancelling
the caller cancels the call, and media keeps flowing while the caller's loop is blocked."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.manager import RoomManager
from server.rtc.medialoop import MediaLoop, on_media_loop
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from tests.conftest import wait_for

T = TypeVar("T")
SETTINGS = RtcSettings(loopback_only=True, keyframe_interval_s=2.0, sync_wait_s=1.5)


class Where:
    def __init__(self, media: MediaLoop | None) -> None:
        self.media_loop = media

    @on_media_loop
    async def thread(self) -> str:
        return threading.current_thread().name


async def test_calls_hop_to_the_media_thread_and_cancel_there() -> None:
    media = MediaLoop("test-media")
    media.start()
    try:
        assert await Where(media).thread() == "test-media"
        assert await Where(None).thread() == threading.current_thread().name
        started, cancelled = threading.Event(), threading.Event()

        async def long() -> None:
            started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        task = asyncio.create_task(media.run(long()))
        assert await asyncio.to_thread(started.wait, 30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(cancelled.wait, 30)  # the owner cancelled it there
    finally:
        await media.stop()
    assert not media.running


async def _client(role: str) -> ClientPeer:
    timeline = MediaTimeline()
    return ClientPeer([PatternVideoTrack(role, timeline, fps=15), ToneAudioTrack(timeline)])


def _counts(room: Room) -> tuple[int, int]:
    """Video packets the room received from the salesperson, and relayed to the customer."""
    stats = room.stats()
    received = stats.get("salesperson", {}).get("packets_received", {}).get("video", 0)
    relayed = stats.get("customer", {}).get("forwarded_to_me", {}).get("video", 0)
    return int(received), int(relayed)


async def _here(coro: Coroutine[Any, Any, T]) -> T:
    return await coro


async def _join_both(
    room: Room,
    clients: list[ClientPeer],
    run: Callable[[Coroutine[Any, Any, Any]], Awaitable[Any]] = _here,
) -> None:
    """Connect a salesperson and a customer peer to ``room``, their calls made through
    ``run`` (a loop of their own, or this one), kept in ``clients`` for the caller to close,
    and wait until the room relays video."""
    for role in ("salesperson", "customer"):
        client = await run(_client(role))
        clients.append(client)
        answer = await room.join(role, await run(client.offer()))
        await run(client.accept(answer))
    await wait_for(lambda: min(_counts(room)) > 5, 30)


async def test_media_flows_while_the_callers_loop_is_blocked(tmp_path: Path) -> None:
    # In kesu serve the caller is the API's loop: under load it runs HTTP callbacks for long
    # stretches. The peers run on a loop of their own too, as browsers would.
    media, peers = MediaLoop("test-media"), MediaLoop("test-peers")
    media.start()
    peers.start()
    rooms = RoomManager(2, SETTINGS)
    rooms.media_loop = media
    clients: list[ClientPeer] = []
    try:
        room = rooms.room_for("s-block", SessionDir.create(tmp_path, "s-block"))
        await _join_both(room, clients, peers.run)
        before = _counts(room)
        time.sleep(2.0)  # noqa: ASYNC251 (on purpose: this loop is blocked, as by API load)
        after = _counts(room)
        assert after[0] > before[0], (before, after)  # received and
        assert after[1] > before[1], (before, after)  # relayed without this loop
    finally:
        for client in clients:
            await peers.run(client.close())
        await rooms.close_all()
        await media.stop()
        await peers.stop()


async def test_stop_leaves_no_task_pending_when_a_room_was_left_open(tmp_path: Path) -> None:
    # MediaLoop.stop is the last resort for a room its owner did not close. Cancelling the
    # room's connected peer connections makes aiortc close each in a new task (and the room
    # drop each participant); those were left pending when the loop closed and were destroyed
    # during a later test in CI ("coroutine 'Event.wait' was never awaited").
    media = MediaLoop("test-media")
    media.start()
    loop = media.loop
    assert loop is not None
    rooms = RoomManager(2, SETTINGS)
    rooms.media_loop = media
    clients: list[ClientPeer] = []
    try:
        room = rooms.room_for("s-open", SessionDir.create(tmp_path, "s-open"))
        await _join_both(room, clients)
        await media.stop()  # the room is never closed
        assert loop.is_closed()
        assert not asyncio.all_tasks(loop)
    finally:
        for client in clients:
            await client.close()
        await media.stop()
