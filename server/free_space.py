"""Room on the sessions directory's disk for a new recording (``min_free_mb``).

A recording that has started must never be lost, yet a live call whose disk fills drops
the media it cannot write (``server.rtc.recorder``). So a new session is refused while
the sessions directory's filesystem has less than ``min_free_mb`` free: ``507
storage_full`` before its row or directory exist, so nothing is left behind. Sessions
already under way are not touched: their recordings go on as long as there is room.
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


async def ensure_room(path: Path, min_free_mb: int) -> None:
    """Raise ``StorageFull`` when ``path``'s filesystem has less than ``min_free_mb`` MiB
    free (``min_free_mb`` 0: no check)."""
    if min_free_mb <= 0:
        return
    free = await asyncio.to_thread(free_bytes, path)
    if free >= min_free_mb * MB:
        return
    log.error(
        "new session refused: %s has %d MiB free, below min_free_mb %d",
        path,
        free // MB,
        min_free_mb,
    )
    raise StorageFull("the server's disk is full; nothing was saved, try again later")
