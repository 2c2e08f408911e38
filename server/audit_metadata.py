"""``metadata.json`` anchored in the audit chain after each change.

``kesu inspect`` and the review page rely on metadata.json (consent time, joins and leaves,
teleprompter nodes, gaps), so its SHA-256 goes into a ``metadata.anchor`` entry whenever it
is rewritten, and verification compares the file with the newest anchor.

``SessionDir`` reports each write from its writer thread; the anchoring itself runs on the
event loop, one task per session that always anchors the newest hash (a burst of writes
during a call becomes one or two entries, never an anchor older than the file).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from pathlib import Path

from sqlalchemy.orm import Session

from server import audit
from server.session_dir import SessionDir
from server.store.db import Database

log = logging.getLogger("kesu.audit")

METADATA = "metadata.json"


class MetadataAnchorer:
    """Anchors every ``metadata.json`` write under one sessions root."""

    def __init__(self, db: Database, root: Path) -> None:
        self._db = db
        self._root = root
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._latest: dict[str, str] = {}
        self._anchored: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._claimed: set[str] = set()

    def start(self) -> None:
        """Begin anchoring (call on the event loop)."""
        self._loop = asyncio.get_running_loop()
        SessionDir.on_written(self._root, self.written)

    async def stop(self) -> None:
        """Stop listening, then anchor whatever is still pending."""
        SessionDir.on_written(self._root, None)
        await self.flush()
        self._loop = None

    def written(self, session_id: str, sha256: str) -> None:
        """A metadata.json was written (any thread; must not block)."""
        with self._lock:
            self._latest[session_id] = sha256
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._kick, session_id)
        except RuntimeError:  # the loop is closed: the process is stopping
            log.warning("metadata.json of %s written after shutdown: not anchored", session_id)

    def claim(self, session_id: str) -> None:
        """The caller anchors this session's next metadata.json write in its own transaction
        (session creation: one write transaction instead of two); call ``settle`` after it."""
        self._claimed.add(session_id)

    def settle(self, session_id: str, anchored: str | None) -> None:
        """End a claim: ``anchored`` is the hash the caller's committed transaction anchored,
        None when it failed (the session and its directory are gone: nothing to anchor)."""
        self._claimed.discard(session_id)
        if anchored is None:
            with self._lock:
                self._latest.pop(session_id, None)
            return
        self._anchored[session_id] = anchored
        self._kick(session_id)  # anchors a write newer than the caller's, if one came meanwhile

    def _kick(self, session_id: str) -> None:
        if session_id in self._claimed:
            return
        if session_id not in self._tasks:
            self._tasks[session_id] = asyncio.create_task(self._run(session_id))

    async def _run(self, session_id: str) -> None:
        try:
            while True:
                with self._lock:
                    sha = self._latest.get(session_id)
                if sha is None or sha == self._anchored.get(session_id):
                    return
                # One call on the writer thread: a live session rewrites metadata.json often,
                # and an AsyncSession would hold the write lock across several loop hops.
                await self._db.run_write(
                    functools.partial(self._anchor, session_id, sha, self._anchored.get(session_id))
                )
                self._anchored[session_id] = sha
        except Exception:
            # Not fatal for the call; verification will show the unanchored change.
            log.exception("anchoring metadata.json of %s failed", session_id)
        finally:
            self._tasks.pop(session_id, None)

    @staticmethod
    def _anchor(session_id: str, sha: str, anchored: str | None, s: Session) -> None:
        """Anchor ``sha`` unless the chain holds it already (``anchored``: None = not known)."""
        if anchored is None:
            anchored = audit.anchors_of(audit.session_entries_sync(s, session_id)).get(METADATA)
        if sha != anchored:
            audit.record_sync(
                s, "system", audit.METADATA_ACTION, session_id, {"files": {METADATA: sha}}
            )

    async def flush(self, session_id: str | None = None) -> None:
        """Wait until the newest write of one session (or of all) is anchored."""
        await asyncio.sleep(0)  # let pending _kick callbacks from writer threads run
        while True:
            if session_id is None:
                pending = list(self._tasks.values())
            else:
                task = self._tasks.get(session_id)
                pending = [task] if task is not None else []
            if not pending:
                return
            await asyncio.gather(*(asyncio.shield(t) for t in pending), return_exceptions=True)
