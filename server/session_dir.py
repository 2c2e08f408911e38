"""The per-session directory: ``metadata.json`` (schema ``kesu.session/1``) beside the media.

See docs/session-format.md; the format itself (records, timestamps, ids) is
``server.session_format``. One ``SessionDir`` object exists per directory per process
(constructing it twice returns the same object), so there is exactly one writer of each
``metadata.json``. Mutations update memory at once (in call order) and are then written
atomically (temp file, fsync, ``os.replace``) on a worker thread; the ``async`` methods
return once the change is on disk. Absolute times are the source of truth; every ``*_s``
value is derived from ``started_at`` at write time, so moving ``started_at`` earlier (a
segment whose media began before the first reported one) keeps everything consistent.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from models.durable_write import atomic_write
from server.durable_files import hash_if_present
from server.session_events import admit_event, append_event, take_back
from server.session_format import (
    METADATA,
    PARTICIPANT_RE,
    SCHEMA,
    SEGMENT_FINISHED,
    SEGMENT_INTERRUPTED,
    SEGMENT_RECORDING,
    SegmentInfo,
    derived,
    iso_z,
    new_metadata,
    new_segment,
    parse_iso,
    segment_info,
    utc_now,
    validate_session_id,
)
from server.session_interrupt import interrupt

#: ``hook(session_id, sha256 of the bytes written)``, called after each metadata.json write.
WriteHook = Callable[[str, str], None]


class SessionDir:
    """One recording session's directory and its ``metadata.json``."""

    _instances: ClassVar[weakref.WeakValueDictionary[Path, SessionDir]] = (
        weakref.WeakValueDictionary()
    )
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()
    # Per sessions root, like _instances: the server anchors every write in the audit chain.
    # (root, name): the audit anchorer and the archiver each watch the same root.
    _hooks: ClassVar[dict[tuple[Path, str], WriteHook]] = {}

    @classmethod
    def on_written(cls, root: Path | str, hook: WriteHook | None, name: str = "audit") -> None:
        """Call ``hook`` (from the writing thread, in write order; it must not block) after
        every write of a ``metadata.json`` under ``root``; None removes it."""
        key = (Path(root).absolute(), name)
        with cls._instances_lock:
            if hook is None:
                cls._hooks.pop(key, None)
            else:
                cls._hooks[key] = hook

    def __new__(cls, path: Path | str) -> SessionDir:
        key = Path(path).absolute()
        validate_session_id(key.name)
        with cls._instances_lock:
            existing = cls._instances.get(key)
            if existing is not None:
                return existing
            obj = super().__new__(cls)
            obj._init(key)
            cls._instances[key] = obj
            return obj

    @classmethod
    def forget(cls, path: Path | str) -> None:
        """Drop this process's copy: the next ``SessionDir(path)`` reads metadata.json
        again (another process changed it; see server.fence)."""
        with cls._instances_lock:
            cls._instances.pop(Path(path).absolute(), None)

    def _init(self, path: Path) -> None:
        self.path = path
        self.session_id = path.name
        self._lock = threading.Lock()  # guards self._meta and the version counters
        self._write_lock = threading.Lock()  # the single writer of metadata.json
        self._version = 0
        self._written = 0
        self._meta = self._load()

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, root: Path | str, session_id: str, **fields: Any) -> SessionDir:
        """Create ``root/session_id`` with a fresh ``metadata.json`` (blocking; small write)."""
        sdir = cls(Path(root) / validate_session_id(session_id))
        with sdir._lock:
            sdir._meta.update(copy.deepcopy(fields))
            version = sdir._bump()
        sdir._write_upto(version)
        return sdir

    def _load(self) -> dict[str, Any]:
        meta_path = self.path / METADATA
        if meta_path.exists():
            meta: dict[str, Any] = json.loads(meta_path.read_text("utf-8"))
            if meta.get("schema") != SCHEMA:
                raise ValueError(f"{meta_path}: unknown schema {meta.get('schema')!r}")
            return meta
        return new_metadata(self.session_id)

    def exists(self) -> bool:
        """Whether ``metadata.json`` is on disk."""
        return (self.path / METADATA).exists()

    # ------------------------------------------------------------------ reading

    @property
    def metadata(self) -> dict[str, Any]:
        """A deep copy of the current metadata (with derived ``*_s`` values)."""
        with self._lock:
            return self._derived()

    @property
    def status(self) -> str:
        with self._lock:
            return str(self._meta["status"])

    @property
    def started_at(self) -> datetime | None:
        with self._lock:
            return parse_iso(self._meta.get("started_at"))

    def segments(self) -> list[SegmentInfo]:
        """Every segment, in the order they were opened."""
        with self._lock:
            started = parse_iso(self._meta.get("started_at"))
            return [self._segment_info(seg, started) for seg in self._meta["segments"]]

    def t_s(self, at: datetime) -> float | None:
        """Seconds from ``started_at`` to ``at`` (None before any media started)."""
        started = self.started_at
        return None if started is None else round((at - started).total_seconds(), 3)

    # ------------------------------------------------------------------ writing

    async def update(self, **fields: Any) -> None:
        """Set top-level fields (``template_id``, ``policy``...)."""
        for reserved in ("schema", "session_id", "segments", "events", "gaps"):
            if reserved in fields:
                raise ValueError(f"{reserved} cannot be set with update()")
        with self._lock:
            self._meta.update(copy.deepcopy(fields))
            version = self._bump()
        await self._persist(version)

    async def add_event(
        self,
        type: str,
        participant: str | None = None,
        node: str | None = None,
        detail: dict[str, Any] | None = None,
        at: datetime | None = None,
        budget: int = 0,
        live_only: bool = False,
    ) -> dict[str, Any]:
        """Append an event stamped with the server clock; returns it as written.

        ``budget`` (> 0) is for events a client's request makes: refused with
        :class:`~server.session_events.EventBudgetSpent`, and nothing written, when the session already has that
        many events. Every event rewrites metadata.json whole, so without it a loop of
        requests would make each write slower than the last. ``live_only`` events (a
        participant's) are refused with :class:`~server.session_events.SessionEnded` once :meth:`finish` ran: a
        request that checked the session before its end (an answer heard for seconds)
        must not write after the ``end`` event and the hashes taken at the end."""
        event, _written = await self._add_event(
            type, participant, node, detail, at, budget, live_only, once=False
        )
        return event

    async def add_first_event(
        self, type: str, participant: str | None = None, *, live_only: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """The session's first event of ``type``, appended now unless there is one already:
        (the event, whether this call wrote it). For what happens once however often it is
        sent (the customer's consent: a double click wrote two consent events with two
        times, and the database kept whichever request committed last)."""
        return await self._add_event(type, participant, None, None, None, 0, live_only, once=True)

    async def _add_event(
        self,
        type: str,
        participant: str | None,
        node: str | None,
        detail: dict[str, Any] | None,
        at: datetime | None,
        budget: int,
        live_only: bool,
        *,
        once: bool,
    ) -> tuple[dict[str, Any], bool]:
        with self._lock:
            event, stored = admit_event(
                self._meta, type, participant, node, detail, at, budget, live_only, once=once
            )
            if stored is None:
                return event, False
            version = self._bump()
        try:
            await self._persist(version)
        except OSError:
            if budget > 0:
                # A client's event that could not be written (a full disk) is taken back:
                # the client was told it failed, so a later write must not put it on disk.
                with self._lock:
                    take_back(self._meta, stored)
                    self._bump()
            raise
        return event, True

    def last_event(self, type: str) -> dict[str, Any] | None:
        """A copy of the newest event of ``type``, or ``None``."""
        with self._lock:
            found = next((e for e in reversed(self._meta["events"]) if e["type"] == type), None)
            return dict(found) if found is not None else None

    def event_count(self) -> int:
        with self._lock:
            return len(self._meta["events"])

    async def open_segment(self, participant: str) -> Path:
        """Allocate ``<participant>-NNN.mkv`` (status ``recording``; the session becomes
        ``live``) and return its path. The file itself is created by the recorder."""
        if not PARTICIPANT_RE.fullmatch(participant):
            raise ValueError(f"invalid participant {participant!r}")
        with self._lock:
            index = 1 + max(
                (s["index"] for s in self._meta["segments"] if s["participant"] == participant),
                default=-1,
            )
            segment = new_segment(participant, index)
            name: str = segment["file"]
            self._meta["segments"].append(segment)
            if self._meta["status"] in ("created", "interrupted"):
                self._meta["status"] = "live"  # interrupted: a participant came back
            version = self._bump()
        await self._persist(version)
        return self.path / name

    async def start_segment(self, path: Path, started_at: datetime) -> None:
        """Record when a segment's media began (server clock); may move ``started_at`` earlier."""
        with self._lock:
            seg = self._find_segment(path)
            seg["started_at"] = iso_z(started_at)
            current = parse_iso(self._meta.get("started_at"))
            if current is None or started_at < current:
                self._meta["started_at"] = iso_z(started_at)
            version = self._bump()
        await self._persist(version)

    async def close_segment(
        self, path: Path, ended_at: datetime | None = None, status: str = SEGMENT_FINISHED
    ) -> SegmentInfo | None:
        """Finish a segment: size and sha256 computed on a thread. A segment whose file was
        never written (no media arrived) is dropped and None returned."""
        if status not in (SEGMENT_FINISHED, SEGMENT_INTERRUPTED):
            raise ValueError(f"invalid segment status {status!r}")
        ended_at = ended_at or utc_now()
        digest = await asyncio.to_thread(hash_if_present, path)
        with self._lock:
            seg = self._find_segment(path)
            if digest is None:
                self._meta["segments"].remove(seg)
                info = None
            else:
                seg.update(ended_at=iso_z(ended_at), status=status)
                seg["bytes"], seg["sha256"] = digest
                info = self._segment_info(seg, parse_iso(self._meta.get("started_at")))
            version = self._bump()
        await self._persist(version)
        return info

    async def add_gap(
        self, participant: str, start: datetime, end: datetime, reason: str | None = None
    ) -> None:
        """Record that ``participant``'s media was missing between two server times;
        ``reason`` says why the recording before it stopped (a leave reason, or
        ``server_interrupted``)."""
        gap: dict[str, Any] = {
            "participant": participant,
            "started_at": iso_z(start),
            "ended_at": iso_z(end),
        }
        detail: dict[str, Any] = {"duration_s": round((end - start).total_seconds(), 3)}
        if reason is not None:
            gap["reason"] = detail["reason"] = reason
        with self._lock:
            self._meta["gaps"].append(gap)
            append_event(self._meta, "gap", participant, None, detail, end)
            version = self._bump()
        await self._persist(version)

    async def finish(
        self, at: datetime | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        """The session ended normally: status ``ended``, ``ended_at`` and an ``end`` event.
        Segments still recording (there should be none once the room is closed) are
        finalised as interrupted."""
        at = at or utc_now()
        for seg in [s for s in self.segments() if s.status == SEGMENT_RECORDING]:
            await self.close_segment(seg.path, at, SEGMENT_INTERRUPTED)
        with self._lock:
            self._meta.update(status="ended", ended_at=iso_z(at))
            append_event(self._meta, "end", None, None, detail, at)
            version = self._bump()
        await self._persist(version)

    async def mark_archived(self, file: str, key: str, sha256: str) -> None:
        """A finished segment's copy in object storage was read back with this SHA-256."""
        with self._lock:
            seg = self._find_segment(self.path / file)
            seg["archived"] = {"key": key, "sha256": sha256}
            version = self._bump()
        await self._persist(version)

    async def file_hashes(self) -> dict[str, str]:
        """``{file: sha256}`` of every finalised segment."""
        return {s.file: s.sha256 for s in self.segments() if s.sha256}

    async def mark_interrupted(self, reason: str = "server_stopped") -> list[SegmentInfo]:
        """Recovery after a crash: segments still ``recording`` are hashed and kept as
        ``interrupted`` (ended at the file's last write), and the session is marked
        ``interrupted``. Returns the segments it finalised."""
        return await asyncio.to_thread(self.mark_interrupted_sync, reason)

    def mark_interrupted_sync(self, reason: str = "server_stopped") -> list[SegmentInfo]:
        """Blocking form of :meth:`mark_interrupted` (startup, scripts); the change itself is
        ``server.session_interrupt.interrupt``."""
        recovered_at = utc_now()
        with self._lock:
            done = interrupt(self._meta, self.path, reason, recovered_at)
            version = self._bump()
        self._write_upto(version)
        return done

    # ------------------------------------------------------------------ internals

    def _bump(self) -> int:
        self._version += 1
        return self._version

    def _find_segment(self, path: Path) -> dict[str, Any]:
        for seg in self._meta["segments"]:
            if seg["file"] == Path(path).name:
                return seg  # type: ignore[no-any-return]
        raise KeyError(f"no segment {Path(path).name} in session {self.session_id}")

    def _segment_info(self, seg: dict[str, Any], started: datetime | None) -> SegmentInfo:
        return segment_info(self.path, seg, started)

    def _derived(self) -> dict[str, Any]:
        """The metadata as written: absolute times plus ``*_s`` relative to ``started_at``."""
        return derived(self._meta)

    async def _persist(self, version: int) -> None:
        await asyncio.to_thread(self._write_upto, version)

    def _write_upto(self, version: int) -> None:
        """Write the newest snapshot unless one at least as new as ``version`` is on disk."""
        with self._write_lock:
            if self._written >= version:
                return
            with self._lock:
                snapshot = self._derived()
                current = self._version
            self.path.mkdir(parents=True, exist_ok=True)
            data = json.dumps(snapshot, ensure_ascii=False, indent=1).encode("utf-8")
            atomic_write(self.path / METADATA, data)
            self._written = current
            with SessionDir._instances_lock:
                hooks = [h for (r, _), h in SessionDir._hooks.items() if r == self.path.parent]
            for hook in hooks:
                hook(self.session_id, hashlib.sha256(data).hexdigest())
