"""The live rooms of one server (``kesu serve``): admission up to ``max_rooms``, lookup,
release. Used from the API's loop only; the rooms themselves may run on a media loop
(server/rtc/medialoop.py), which their own methods hop to."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from server.rtc import ice
from server.rtc.errors import CapacityError, OwnerLimitError, RtcError
from server.rtc.medialoop import MediaLoop
from server.rtc.room import Room, RoomEvent
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from server.session_format import SegmentInfo

log = logging.getLogger("kesu.rtc.room")

#: How long an ended session stays refused a room (see RoomManager.retire): far longer than
#: a request that read the session as live before its end can take to reach room_for.
RETIRED_S = 3600.0


class RoomManager:
    """The live rooms of this server, at most ``max_rooms`` at once."""

    def __init__(self, max_rooms: int = 10, settings: RtcSettings | None = None) -> None:
        self.max_rooms = max_rooms
        self.settings = settings or RtcSettings()
        self._rooms: dict[str, Room] = {}
        self._owners: dict[str, object] = {}  # session id -> whose session (see room_for)
        self._retired: dict[str, float] = {}  # ending or ended session id -> when (monotonic)
        self.gate: Callable[[], bool] | None = None  # handed to every room (server.fence)
        # The loop every room runs on (kesu serve starts one: server.app); None = the caller's.
        # The manager itself (this dict) is only used from the caller's loop.
        self.media_loop: MediaLoop | None = None
        if self.settings.ice_consent_interval_s is not None:
            ice.configure_consent(
                self.settings.ice_consent_interval_s, self.settings.ice_consent_failures
            )

    @classmethod
    def from_settings(cls, settings: Any) -> RoomManager:
        """From the server's Settings (``max_sessions``, ``rtc_*``, ``max_sdp_bytes``)."""
        return cls(int(getattr(settings, "max_sessions", 10)), RtcSettings.from_settings(settings))

    def __len__(self) -> int:
        return len(self._rooms)

    def get(self, session_id: str) -> Room | None:
        return self._rooms.get(session_id)

    def rooms(self) -> dict[str, Room]:
        """The open rooms by session id (a copy)."""
        return dict(self._rooms)

    def room_for(
        self,
        session_id: str,
        session_dir: SessionDir,
        on_event: Callable[[RoomEvent], None] | None = None,
        owner: object = None,
        owner_limit: int = 0,
        self_service: bool = False,
    ) -> Room:
        """The session's room, created if needed; CapacityError when all slots are taken,
        OwnerLimitError when ``owner``'s sessions hold ``owner_limit`` rooms already (0 = no
        limit): one login must not take every slot. An owner's self-service rooms are
        counted apart from its own calls (``self_service``). An open room is always returned (a
        rejoin). No await between the checks and the creation: offers at once cannot
        overshoot."""
        if session_id in self._retired:
            raise RtcError("session_ended", "this session has ended")
        room = self._rooms.get(session_id)
        if room is not None and not room.closed:
            return room
        self._forget(session_id)
        if sum(not r.closed for r in self._rooms.values()) >= self.max_rooms:
            raise CapacityError(f"{self.max_rooms} sessions are already live")
        if owner is not None:
            owner = (owner, self_service)
        if owner is not None and owner_limit > 0 and self.rooms_of(owner) >= owner_limit:
            raise OwnerLimitError(owner_limit, self_service)
        room = Room(
            session_dir, self.settings, on_event, gate=self.gate, media_loop=self.media_loop
        )
        self._rooms[session_id] = room
        if owner is not None:
            self._owners[session_id] = owner
        return room

    def retire(self, session_id: str) -> None:
        """The session is ending: it gets no room from now on. An offer that read the
        session as live before the end may still be on its way (awaiting the database);
        without this it opened a fresh room and recorded into the ended session."""
        now = time.monotonic()
        self._retired = {sid: at for sid, at in self._retired.items() if now - at < RETIRED_S}
        self._retired[session_id] = now

    def unretire(self, session_id: str) -> None:
        """The end failed and the session is live again."""
        self._retired.pop(session_id, None)

    def rooms_of(self, owner: object) -> int:
        """Open rooms of ``owner``'s sessions."""
        return sum(
            not room.closed and self._owners.get(sid) == owner for sid, room in self._rooms.items()
        )

    def _forget(self, session_id: str) -> Room | None:
        self._owners.pop(session_id, None)
        return self._rooms.pop(session_id, None)

    async def close_room(self, session_id: str) -> list[SegmentInfo]:
        """Close and forget a room; returns its segments ([] if there was none)."""
        room = self._forget(session_id)
        return [] if room is None else await room.close()

    async def abandon_room(self, session_id: str) -> bool:
        """Drop a room the cluster took away, files untouched (see :meth:`Room.abandon`);
        False if there was no open room (closed meanwhile)."""
        room = self._rooms.get(session_id)
        if room is None or room.closed:
            return False
        self._forget(session_id)
        await room.abandon()
        return True

    async def discard_if_unused(self, session_id: str) -> bool:
        """Close and forget the room if nobody ever got into it (a refused first offer);
        True if it was released."""
        room = self._rooms.get(session_id)
        if room is None or room.joins > 0 or room.empty_for() is None:
            return False
        await self.close_room(session_id)
        return True

    def idle_rooms(self, min_empty_s: float) -> list[str]:
        """Session ids of rooms that have been empty for at least ``min_empty_s``."""
        now = time.monotonic()
        out = []
        for session_id, room in list(self._rooms.items()):
            idle = room.empty_for(now)
            if room.closed or (idle is not None and idle >= min_empty_s):
                out.append(session_id)
        return out

    async def close_all(self) -> None:
        """Close every room (server shutdown)."""
        for session_id in list(self._rooms):
            try:
                await self.close_room(session_id)
            except Exception:
                log.exception("closing room %s failed", session_id)
