"""A session's media room: two participants, each packet forwarded to the other and recorded.

``Room.join(role, offer_sdp)`` answers a browser's offer. The server is the answerer; it
pre-creates one audio and one video transceiver per connection so it can pin codecs
(Opus; the room's one video codec, fixed by the first offer) with ``setCodecPreferences``
and so both legs carry the same codec and packets can be forwarded as they are
(server/rtc/negotiation.py). Every connection of a role records into its own
``<role>-NNN.mkv`` segment; a drop (leave, failed connection, no media for
``media_timeout_s``) closes it, and a rejoin opens the next one and records the gap
(server/rtc/room_segments.py). The per-packet path (recorder, live tap, the other
participant) and keyframe requests are server/rtc/forwarding.py. Every task a room starts
is owned and awaited in :meth:`Room.close` (server/rtc/owned_tasks.py). ``RoomManager``
(server/rtc/manager.py) bounds the number of concurrent rooms.

With a :class:`~server.rtc.medialoop.MediaLoop` (``kesu serve``), rooms live on that loop's
thread: their coroutine methods hop there (``on_media_loop``), whoever awaits them, and the
manager's bookkeeping stays on the caller's (API) loop. The synchronous readers (``stats``,
``connected``, ``empty_for``...) may be called from the API thread: they copy before
iterating.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from server.rtc.errors import RtcError
from server.rtc.forwarding import Forwarder, MediaTap
from server.rtc.medialoop import MediaLoop, on_media_loop
from server.rtc.negotiation import choose_video_codec, negotiate, new_participant
from server.rtc.offer import parse_offer
from server.rtc.owned_tasks import OwnedTasks, cancel_and_wait
from server.rtc.participant import ROLES, Participant, other_role
from server.rtc.playback import Player
from server.rtc.relay import PacketRelayTrack
from server.rtc.resume import last_connection
from server.rtc.room_segments import RoomSegments
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from server.session_format import SegmentInfo

log = logging.getLogger("kesu.rtc.room")

WATCHDOG_INTERVAL_S = 0.5
PC_CLOSE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RoomEvent:
    """Reported to ``on_event``: join, leave, segment_started, segment_closed, gap, closed."""

    type: str
    participant: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Room:
    """The media of one recording session."""

    def __init__(
        self,
        session_dir: SessionDir,
        settings: RtcSettings | None = None,
        on_event: Callable[[RoomEvent], None] | None = None,
        gate: Callable[[], bool] | None = None,
        media_loop: MediaLoop | None = None,
    ) -> None:
        self.session_dir = session_dir
        self.media_loop = media_loop
        self.settings = settings or RtcSettings()
        self.on_event = on_event
        self.video_codec: str | None = None
        self._participants: dict[str, Participant] = {}
        self._locks = {role: asyncio.Lock() for role in ROLES}
        self._tasks = OwnedTasks()
        self._media = Forwarder(self._participants, self._tasks, gate)
        self._watchdog: asyncio.Task[None] | None = None
        self._recording = RoomSegments(session_dir, self.settings, self._emit)
        self._history: list[dict[str, Any]] = []
        # The sessions directory had less than min_free_mb free at the last join (set by
        # session_call.join_media): the salesperson's /state says so.
        self.storage_low = False
        # A room made again for the same session (after a restart, or after an empty room
        # was released) goes on with the connection numbering of metadata.json.
        self._serial = last_connection(session_dir)
        self._joins = 0
        self._joining = 0  # offers being negotiated: the room must not be released under them
        self._empty_since: float | None = time.monotonic()
        self._closed = False
        self._close_lock = asyncio.Lock()
        # Voice playback of script nodes into every participant's audio (rtc/playback.py).
        self.player = Player(
            session_dir, self._audio_outputs, self.settings.cluster_time_limit_ms, media_loop
        )

    # ------------------------------------------------------------------ public

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def tap(self) -> MediaTap | None:
        """The live checks' view of every packet (None: none); detached if it fails."""
        return self._media.tap

    @tap.setter
    def tap(self, tap: MediaTap | None) -> None:
        self._media.tap = tap

    def connected(self) -> dict[str, bool]:
        """Which roles have a live connection."""
        return {role: role in self._participants for role in ROLES}

    def recording_failed(self) -> list[str]:
        """Roles whose recording lost media it could not write (a full or failing disk),
        in any segment of any connection in this room: the call goes on, but the
        salesperson must know it is not being saved."""
        now = {role for role, p in list(self._participants.items()) if p.write_errors()}
        return [role for role in ROLES if role in now or role in self._recording.failed]

    def stats(self) -> dict[str, Any]:
        """Counters per connected participant (packets received, forwarded, recorded)."""
        # A copy first: the media thread may add or remove a participant meanwhile.
        return {role: p.stats() for role, p in list(self._participants.items())}

    @property
    def joins(self) -> int:
        """Connections this room has accepted (0: nobody ever got in)."""
        return self._joins

    def empty_for(self, now: float | None = None) -> float | None:
        """Seconds (monotonic) since the last participant left or the room was made; None
        while someone is connected."""
        if self._participants or self._joining or self._empty_since is None:
            return None
        return (time.monotonic() if now is None else now) - self._empty_since

    @property
    def history(self) -> list[dict[str, Any]]:
        """Final counters of every connection that has ended, in order."""
        return list(self._history)

    @property
    def segments(self) -> list[SegmentInfo]:
        """Segments finalised so far."""
        return self._recording.finished

    async def join(self, role: str, offer_sdp: str) -> str:
        """Connect ``role`` with its SDP offer; returns the SDP answer (ICE candidates
        included). Raises RtcError for bad roles, SDP or codecs, or a role already here."""
        if role not in ROLES:
            raise RtcError("role_invalid", f"role must be one of {', '.join(ROLES)}")
        present = self._participants.get(role)
        if present is not None and not present.closing:
            # Also checked under the role's lock; here (a read, on the caller's loop) the
            # offer is refused before the media loop every room shares parses it (tens of
            # ms for a 64 KB one), however often a participant sends one. One closing (its
            # connection failed) is gone once its drop has the lock: a rejoin waits for that.
            raise RtcError("role_taken", f"a {role} is already connected to this session")
        # Counted on the caller's side, before the hop: the room must not look empty (and
        # be released by the housekeeping) while the offer waits for the media loop.
        self._joining += 1
        try:
            return await self._join(role, offer_sdp)
        finally:
            self._joining -= 1

    @on_media_loop
    async def _join(self, role: str, offer_sdp: str) -> str:
        parsed = parse_offer(offer_sdp, self.settings.max_sdp_bytes)
        codec = choose_video_codec(parsed, self.video_codec, self.settings.video_codecs)
        async with self._locks[role]:
            if self._closed:
                raise RtcError("room_closed", "this session's media room is closed")
            if role in self._participants:
                raise RtcError("role_taken", f"a {role} is already connected to this session")
            self._serial += 1
            participant = new_participant(
                role, self._serial, self.settings, self._media.request_keyframe
            )
            try:
                answer = await negotiate(
                    participant,
                    offer_sdp,
                    codec,
                    self.settings,
                    self._on_state,
                    self._media.sender_report,
                )
            except BaseException:
                await self._close_pc(participant)
                raise
            self.video_codec = codec
            self._participants[role] = participant
            self._joins += 1
            self._empty_since = None
            await self._start_media(participant)
        await self.session_dir.add_event(
            "join",
            participant=role,
            detail={"connection": participant.serial, "video_codec": codec},
        )
        self._emit("join", role, connection=participant.serial)
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch())
        self._media.request_keyframe(other_role(role))  # the newcomer needs a picture now
        return answer

    @on_media_loop
    async def leave(self, role: str, reason: str = "leave") -> SegmentInfo | None:
        """Disconnect ``role`` (idempotent) and finalise its segment."""
        if role not in ROLES:
            raise RtcError("role_invalid", f"role must be one of {', '.join(ROLES)}")
        async with self._locks[role]:
            participant = self._participants.pop(role, None)
            if participant is None:
                return None
            return await self._finish(participant, reason)

    @on_media_loop
    async def close(self) -> list[SegmentInfo]:
        """Disconnect everyone, finalise every segment, stop every task; returns all
        segments of this room. Idempotent."""
        async with self._close_lock:
            if not self._closed:
                self._closed = True
                await self.player.close()
                for role in ROLES:
                    await self.leave(role, reason="end")
                await cancel_and_wait(self._watchdog)
                await self._tasks.drain()
                self._emit("closed", None, segments=[s.file for s in self.segments])
        return self.segments

    def _audio_outputs(self) -> list[PacketRelayTrack]:
        return [p.out["audio"] for p in self._participants.values() if not p.closing]

    @on_media_loop
    async def abandon(self) -> None:
        """The cluster took this session away (it declared this node dead and marked the
        session interrupted, hashing its segments as they were): disconnect everyone and
        stop the recorders, leaving every file and metadata.json as the cluster recorded
        them. Closing a recorder appends the container's index, so each segment's bytes are
        copied first and put back after. Idempotent."""
        async with self._close_lock:
            if self._closed:
                return
            self._closed = True
            # A playback running here must not outlive the room (its task owns a file).
            await self.player.close()
            await cancel_and_wait(self._watchdog)
            for role in ROLES:
                async with self._locks[role]:
                    p = self._participants.pop(role, None)
                    if p is not None:
                        await self._abandon(p)
            await self._tasks.drain()
            self._emit("abandoned", None)

    async def _abandon(self, p: Participant) -> None:
        p.closing = True
        for task in p.pumps:
            await cancel_and_wait(task)
        await self._recording.abandon(p)
        await self._close_pc(p)
        if p.start_task is not None:
            await asyncio.gather(p.start_task, return_exceptions=True)
        self._history.append({**p.stats(), "reason": "abandoned"})

    # ------------------------------------------------------------------ joining

    async def _start_media(self, p: Participant) -> None:
        await self._start_recorder(p)
        for kind, receiver in p.receivers.items():
            pump = self._media.pump(p, kind, receiver.track, self.video_codec)
            p.pumps.append(asyncio.create_task(pump))

    async def _start_recorder(self, p: Participant) -> None:
        """A new segment for ``p`` and the recorder that writes it."""
        assert self.video_codec is not None
        await self._recording.open(
            p,
            self.video_codec,
            request_keyframe=partial(self._media.request_keyframe, p.role),
            on_started=partial(self._on_recording_started, p),
            on_video=partial(self._on_video_late, p),
        )

    def _on_video_late(self, p: Participant) -> None:
        self._tasks.spawn(self._roll(p))

    async def _roll(self, p: Participant) -> None:
        """``p``'s segment holds audio only (its camera sent nothing at first) and video has
        now come: close that segment and go on in a new one with the picture. The moment in
        between (until the next keyframe) is recorded as a gap, reason ``video_started``."""
        async with self._locks[p.role]:
            if self._participants.get(p.role) is not p or p.closing or self._closed:
                return
            info = await self._close_recording(p, "video_started")
            await self._start_recorder(p)
            self._media.request_keyframe(p.role)
        self._emit("video_started", p.role, closed=info.file if info else None)

    def _on_recording_started(self, p: Participant, started_at: datetime) -> None:
        p.start_task = self._tasks.spawn(self._recording.started(p, started_at))

    # ------------------------------------------------------------------ leaving

    def _on_state(self, p: Participant) -> None:
        state = p.pc.connectionState
        if state in ("failed", "closed") and not p.closing:
            p.closing = True  # stop forwarding to it at once
            self._tasks.spawn(self._drop(p, f"connection_{state}"))

    async def _drop(self, p: Participant, reason: str) -> None:
        async with self._locks[p.role]:
            if self._participants.get(p.role) is not p:
                return  # already gone, or replaced by a newer connection
            del self._participants[p.role]
            await self._finish(p, reason)

    def _note_left(self) -> None:
        if not self._participants and self._empty_since is None:
            self._empty_since = time.monotonic()

    async def _finish(self, p: Participant, reason: str) -> SegmentInfo | None:
        p.closing = True
        for task in p.pumps:
            await cancel_and_wait(task)
        info = await self._close_recording(p, reason, close_pc=True)
        await self.session_dir.add_event(
            "leave",
            participant=p.role,
            detail={
                "reason": reason,
                "connection": p.serial,
                "segment": info.file if info else None,
            },
        )
        self._emit("leave", p.role, reason=reason, connection=p.serial)
        self._history.append({**p.stats(), "reason": reason})
        self._note_left()
        log.info("%s left %s (%s): %s", p.role, self.session_dir.session_id, reason, p.stats())
        return info

    async def _close_recording(
        self, p: Participant, reason: str, close_pc: bool = False
    ) -> SegmentInfo | None:
        """Stop ``p``'s recorder (then, if asked, its connection) and finish its segment
        (None if nothing was written)."""
        stats = await p.recorder.stop() if p.recorder else None
        p.recorder_stats = stats
        if close_pc:
            await self._close_pc(p)
        if p.start_task is not None:
            await asyncio.gather(p.start_task, return_exceptions=True)
        return await self._recording.close(p, stats, reason)

    async def _close_pc(self, p: Participant) -> None:
        for track in p.out.values():
            track.stop()
        try:
            await asyncio.wait_for(p.pc.close(), PC_CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.error("closing the %s peer connection timed out", p.role)
        except Exception:
            # aiortc's close() of a connection refused halfway through negotiation can trip
            # over a transport it never made; the refusal, not this, is what the caller sees.
            log.exception("closing the %s peer connection failed", p.role)

    # ------------------------------------------------------------------ housekeeping

    async def _watch(self) -> None:
        """Drop participants whose media stopped; ask for keyframes periodically."""
        s = self.settings
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL_S)
            now = time.time()
            interval = self._media.keyframe_interval(s.keyframe_interval_s)
            for p in list(self._participants.values()):
                if p.closing:
                    continue
                if p.last_media is None and now - p.joined_at > s.connect_timeout_s:
                    p.closing = True
                    self._tasks.spawn(self._drop(p, "connect_timeout"))
                elif p.last_media is not None and now - p.last_media > s.media_timeout_s:
                    p.closing = True
                    self._tasks.spawn(self._drop(p, "media_timeout"))
                elif now - p.last_periodic_keyframe >= interval:
                    p.last_periodic_keyframe = now
                    self._media.request_keyframe(p.role)

    def _emit(self, type: str, participant: str | None, **detail: Any) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(RoomEvent(type, participant, detail))
        except Exception:
            log.exception("on_event callback failed for %s", type)
