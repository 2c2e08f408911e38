"""Room on the sessions directory's disk for a new recording (``min_free_mb``).

A recording that has started must never be lost, yet a live call whose disk fills drops
the media it cannot write (``server.rtc.recorder``). So a new session is refused while
the sessions directory's filesystem has less than ``min_free_mb`` free: ``507
storage_full`` before its row or directory exist, so nothing is left behind. Sessions
already under way are not touched: their recordings go on as long as there is room.

The disk can also fill between a session's creation and its call, so each offer checks
again (``server.session_call.join_media``): one that would start the session's first
recording is refused the same way (nothing allocated); once anything is recorded, a join
goes on (a started recording is never cut off) and the room is marked ``storage_low`` for
the salesperson's page.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from server.errors import KesuError

log = logging.getLogger(__name__)

MB = 1024 * 1024


class StorageFull(KesuError):
    """The same answer as a write that failed for want of space (``server.api.errors``)."""

    status, code = 507, "storage_full"


def free_bytes(path: Path) -> int:
    """Bytes the server's (unprivileged) user may still write on ``path``'s filesystem.
    Blocking: ``statvfs`` of a network filesystem can wait on its server."""
    while not path.exists() and path != path.parent:
        path = path.parent  # not made yet (its first session makes it): where it will be
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


async def is_low(path: Path, min_free_mb: int) -> bool:
    """Whether ``path``'s filesystem has less than ``min_free_mb`` MiB free (logged as an
    error for the operator); ``min_free_mb`` 0: never."""
    if min_free_mb <= 0:
        return False
    free = await asyncio.to_thread(free_bytes, path)
    if free >= min_free_mb * MB:
        return False
    log.error("%s has %d MiB free, below min_free_mb %d", path, free // MB, min_free_mb)
    return True


async def ensure_room(path: Path, min_free_mb: int) -> None:
    """Raise ``StorageFull`` when ``path``'s filesystem has less than ``min_free_mb`` MiB
    free (``min_free_mb`` 0: no check)."""
    if await is_low(path, min_free_mb):
        raise StorageFull("the server's disk is full; nothing was saved, try again later")
