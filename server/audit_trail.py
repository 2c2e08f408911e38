"""The audit key at run time: attached to a ``Database`` so that ``audit.record`` stamps every
entry with its MAC, and every commit that appended entries leaves a signed checkpoint.

Checkpoints are written after the commit (a rolled-back entry must never be checkpointed),
on one background thread so file I/O stays off the event loop; a burst of commits is
coalesced into one checkpoint of the newest head.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.audit_keys import AuditKeys, Checkpoint, CheckpointLog, make_checkpoint
from server.settings import Settings
from server.store.db import Database
from server.store.models import AuditEntry

TRAIL_KEY = "kesu_audit_trail"
log = logging.getLogger("kesu.audit")


class AuditTrail:
    """Keys, the checkpoint file and the checkpoint writer of one process."""

    def __init__(self, keys: AuditKeys, log: CheckpointLog) -> None:
        self.keys = keys
        self.log = log
        #: First entry that carries a MAC (older ones were written before the key existed).
        self.keyed_from: int | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="kesu-checkpoint")
        self._lock = threading.Lock()
        self._pending: tuple[int, str] | None = None
        self._scheduled = False
        self._last: Future[Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditTrail:
        """Load the key (creating it on first use) and open the checkpoint file."""
        return cls(
            AuditKeys.load_or_create(settings.audit_key_path),
            CheckpointLog(settings.audit_checkpoint_path),
        )

    async def ensure_keyed_from(self, s: AsyncSession, next_seq: int) -> int:
        """The first keyed entry: the oldest with a MAC, else ``next_seq`` (about to be one)."""
        return await s.run_sync(self.keyed_from_in, next_seq)

    def keyed_from_in(self, s: Session, next_seq: int) -> int:
        """:meth:`ensure_keyed_from` for a synchronous session."""
        if self.keyed_from is None:
            first = s.execute(
                select(func.min(AuditEntry.seq)).where(AuditEntry.mac.is_not(None))
            ).scalar_one_or_none()
            self.keyed_from = first if first is not None else next_seq
        return self.keyed_from

    def committed(self, seq: int, entry_hash: str) -> None:
        """Called after a commit that appended entries (on the event loop: must not block)."""
        with self._lock:
            if self._pending is None or seq > self._pending[0]:
                self._pending = (seq, entry_hash)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            self._last = self._executor.submit(self._drain)
        except RuntimeError:  # closed at shutdown: the next start checkpoints the head
            log.warning("audit entry %d committed after shutdown: not checkpointed", seq)

    def _drain(self) -> None:
        with self._lock:
            pending, self._pending, self._scheduled = self._pending, None, False
        if pending is not None and self.keyed_from is not None:
            self.log.append(make_checkpoint(self.keys, pending[0], pending[1], self.keyed_from))

    async def flush(self) -> None:
        """Wait until every checkpoint asked for so far is in the file."""
        await asyncio.wrap_future(self._executor.submit(lambda: None))

    async def checkpoint_head(self, db: Database) -> Checkpoint | None:
        """Sign the current head now (start, shutdown, exports); None for an empty chain."""
        async with db.session() as s:
            head = (
                await s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
            ).scalar_one_or_none()
            if head is None:
                return None
            keyed_from = await self.ensure_keyed_from(s, head.seq + 1)
            seq, entry_hash = head.seq, head.hash
        await self.flush()
        cp = make_checkpoint(self.keys, seq, entry_hash, keyed_from)
        await asyncio.wrap_future(self._executor.submit(self.log.append, cp))
        return cp

    def close(self) -> None:
        """Write what is pending and stop the writer thread (blocking)."""
        self._executor.shutdown(wait=True)


def attach(db: Database, trail: AuditTrail) -> AuditTrail:
    """Make every session of ``db`` write keyed entries through ``trail``."""
    db.configure_info({TRAIL_KEY: trail})
    return trail


def trail_of(db: Database) -> AuditTrail | None:
    info = db.sessionmaker.kw.get("info") or {}
    trail = info.get(TRAIL_KEY)
    return trail if isinstance(trail, AuditTrail) else None
