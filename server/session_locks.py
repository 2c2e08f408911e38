"""Per-session asyncio locks of one server process, for a request that must not run beside
the same request of the same session (a check and the write it decides). Made when first
asked for, gone once nobody holds or waits for them; one process suffices because a
session's writes all run on the node holding it (``server.sessions.local_dir``)."""

from __future__ import annotations

import asyncio
import weakref
from typing import cast

from server.context import AppContext

Locks = weakref.WeakValueDictionary[str, asyncio.Lock]


def session_lock(ctx: AppContext, kind: str, session_id: str) -> asyncio.Lock:
    """The lock of ``kind`` (what it guards) for ``session_id``."""
    locks = cast(Locks, ctx.extras.setdefault(f"session_locks:{kind}", Locks()))
    found = locks.get(session_id)
    if found is None:
        found = locks[session_id] = asyncio.Lock()
    return found
