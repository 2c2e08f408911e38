"""Archive finished recordings to object storage (``storage_url``), and read them back.

Recorders write crash-safe segments to local disk. After every ``metadata.json`` write the
session is queued here; a background task uploads each finished segment not yet archived,
reads the object back to check its SHA-256 against the one in the metadata, records
``archived: {key, sha256}`` on the segment, and uploads ``metadata.json``. At start every
local session is queued, so segments left un-archived by a crash are uploaded then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from server.blobs import ObjectBlobStore
from server.session_dir import SessionDir
from server.session_format import METADATA, SEGMENT_RECORDING, validate_session_id

log = logging.getLogger("kesu.archive")

QUEUE_MAX = 1024
DEBOUNCE_S = 0.2
RETRIES = 5
#: First wait between attempts, doubled each time (capped at 30 s).
BACKOFF_S = 0.5
#: After RETRIES failed attempts, the session is queued again this much later, until done.
RETRY_LATER_S = 60.0
DERIVED = ("report.json", "review.mp4", "review.webm")


class ArchiveMismatch(Exception):
    """The object read back does not have the SHA-256 the metadata records."""


def prefix_of(session_id: str) -> str:
    """The store's folder of one session: every object of it is below."""
    return f"sessions/{validate_session_id(session_id)}"


def key_of(session_id: str, name: str) -> str:
    return f"{prefix_of(session_id)}/{name}"


class Archiver:
    """Owns the upload task; started and stopped by the app (cleanup context)."""

    def __init__(self, store: ObjectBlobStore, sessions_dir: Path) -> None:
        self.store = store
        self.sessions_dir = sessions_dir
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_MAX)
        self._pending: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        #: Sessions whose archiving failed for now, each with its timer to try again.
        self._later: dict[str, asyncio.TimerHandle] = {}
        self.idle = asyncio.Event()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        SessionDir.on_written(self.sessions_dir, self._written, name="archive")
        ids = await asyncio.to_thread(
            lambda: sorted(p.parent.name for p in self.sessions_dir.glob(f"*/{METADATA}"))
        )
        for session_id in ids:
            self.notify(session_id)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Unfinished work is picked up by the scan at the next start."""
        SessionDir.on_written(self.sessions_dir, None, name="archive")
        for timer in self._later.values():
            timer.cancel()
        self._later.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _written(self, session_id: str, _sha256: str) -> None:
        # Called on the metadata writer's thread.
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.notify, session_id)

    def notify(self, session_id: str) -> None:
        if session_id in self._pending:
            return
        try:
            self._queue.put_nowait(session_id)
        except asyncio.QueueFull:
            log.warning("archive queue full; %s waits for the next start", session_id)
            return
        self._pending.add(session_id)
        self.idle.clear()

    async def _run(self) -> None:
        while True:
            session_id = await self._queue.get()
            await asyncio.sleep(DEBOUNCE_S)  # let a burst of metadata writes settle
            self._pending.discard(session_id)
            for attempt in range(RETRIES):
                try:
                    await self.sync(session_id)
                    break
                except Exception:
                    log.exception("archiving %s failed (attempt %d)", session_id, attempt + 1)
                    await asyncio.sleep(min(30.0, BACKOFF_S * 2**attempt))
            else:
                # The store stayed away: before, the session waited for the next start of
                # the server (its segments on local disk only, its jobs failing on other
                # nodes). Local files stay until their upload is verified.
                log.warning("archiving %s: trying again in %g s", session_id, RETRY_LATER_S)
                self._retry_later(session_id)
            if self._queue.empty():
                self.idle.set()

    def _retry_later(self, session_id: str) -> None:
        assert self._loop is not None
        old = self._later.pop(session_id, None)
        if old is not None:
            old.cancel()

        def again() -> None:
            self._later.pop(session_id, None)
            self.notify(session_id)

        self._later[session_id] = self._loop.call_later(RETRY_LATER_S, again)

    async def sync(self, session_id: str) -> None:
        """Upload the session's finished, un-archived segments (verified), then metadata.json."""
        path = self.sessions_dir / validate_session_id(session_id)
        if not (path / METADATA).is_file():
            return  # deleted after its retention term (or never this node's)
        sdir = await asyncio.to_thread(SessionDir, path)
        for seg in sdir.metadata["segments"]:
            if seg["status"] == SEGMENT_RECORDING or not seg.get("sha256") or seg.get("archived"):
                continue
            local = path / seg["file"]
            if not local.is_file():
                continue
            key = key_of(session_id, seg["file"])
            await self.store.put_file(key, local)
            _size, remote = await self.store.sha256(key)
            if remote != seg["sha256"]:
                raise ArchiveMismatch(f"{key}: stored sha256 {remote} != {seg['sha256']}")
            await sdir.mark_archived(seg["file"], key, remote)
        await self.store.put_file(key_of(session_id, METADATA), path / METADATA)

    async def delete_session(self, session_id: str) -> list[str]:
        """Remove the session's every stored object (recordings, metadata, derived files)."""
        return await self.store.delete_prefix(prefix_of(session_id))

    async def upload_derived(self, session_dir: Path, session_id: str) -> None:
        """Worker outputs (report, review video, evidence thumbnails) join the archive."""
        names = [n for n in DERIVED if (session_dir / n).is_file()]
        evidence = session_dir / "evidence"
        if evidence.is_dir():
            names += [f"evidence/{p.name}" for p in sorted(evidence.iterdir()) if p.is_file()]
        for name in names:
            await self.store.put_file(key_of(session_id, name), session_dir / name)


class ArchiveIncomplete(Exception):
    """The session's copy in the store is not final yet (its node is still uploading)."""


def _final(meta: dict[str, object]) -> bool:
    """Ended, and every segment archived: what a job may read."""
    segments = meta.get("segments")
    return (
        meta.get("status") == "ended"
        and isinstance(segments, list)
        and all(isinstance(seg, dict) and seg.get("archived") for seg in segments)
    )


async def stored_final(store: ObjectBlobStore, session_id: str) -> bool:
    """Whether the store holds the session ended with every segment archived: what a job on
    any node can inspect (``False`` if it holds nothing of it)."""
    return await stored_final_metadata(store, session_id) is not None


async def stored_final_metadata(store: ObjectBlobStore, session_id: str) -> dict[str, Any] | None:
    """The session's metadata.json in the store if it is final (see ``stored_final``)."""
    try:
        raw = await store.get_bytes(key_of(session_id, METADATA))
    except FileNotFoundError:
        return None
    meta = json.loads(raw)
    return meta if isinstance(meta, dict) and _final(meta) else None


async def _final_metadata(store: ObjectBlobStore, session_id: str, wait_s: float) -> bytes:
    """metadata.json once final: a job is queued when the session ends, while its node is
    still uploading the last segments (seconds), so wait up to ``wait_s`` for them."""

    deadline = time.monotonic() + wait_s
    while True:
        raw = await store.get_bytes(key_of(session_id, METADATA))
        if wait_s <= 0 or _final(json.loads(raw)):
            return raw
        if time.monotonic() >= deadline:
            raise ArchiveIncomplete(
                f"session {session_id}: not every segment is archived yet (or not ended)"
            )
        await asyncio.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


async def fetch_session(
    store: ObjectBlobStore, session_id: str, dest: Path, wait_s: float = 0.0
) -> Path:
    """Download a session's metadata.json and segments to ``dest/<session_id>``, checking
    every segment's SHA-256 against the metadata; returns that directory. With ``wait_s``,
    first waits that long for the session to be ended and every segment archived
    (:class:`ArchiveIncomplete` past it)."""
    import json

    raw = await _final_metadata(store, session_id, wait_s)
    out = dest / validate_session_id(session_id)
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    try:
        await asyncio.to_thread((out / METADATA).write_bytes, raw)
        for seg in json.loads(raw)["segments"]:
            if not seg.get("sha256"):
                continue
            _size, digest = await store.download(key_of(session_id, seg["file"]), out / seg["file"])
            if digest != seg["sha256"]:
                raise ArchiveMismatch(f"{seg['file']}: fetched sha256 {digest} != {seg['sha256']}")
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, out, ignore_errors=True)
        raise
    return out
