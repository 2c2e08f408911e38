"""``kesu audit verify``, files: every anchored file (recordings, derived files,
``metadata.json``) against the hash the chain holds for it, here or in object storage, and
every ``session.delete`` entry against the retention rules that would excuse missing files.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.archive import key_of
from server.audit import ANCHOR_ACTIONS, DELETE_ACTION, anchors_of
from server.blobs import ObjectBlobStore
from server.durable_files import sha256_file
from server.store.models import AuditEntry, RecordingSession

HOLD, RELEASE = "retention.hold", "retention.release"
LIVE = ("created", "live")


@dataclass(frozen=True)
class FileProblem:
    """A recording (or derived file) that no longer matches its anchored hash."""

    session_id: str
    file: str
    problem: str  # "missing" | "altered"
    expected: str
    actual: str | None = None

    def __str__(self) -> str:
        if self.problem == "missing":
            return f"session {self.session_id}: {self.file} is missing (anchored {self.expected[:16]}…)"
        return (
            f"session {self.session_id}: {self.file} was altered "
            f"(sha256 {str(self.actual)[:16]}… ≠ anchored {self.expected[:16]}…)"
        )


def check_files(session_id: str, session_dir: Path, anchors: dict[str, str]) -> list[FileProblem]:
    """Compare files on disk with their anchored hashes (blocking: call from a thread)."""
    problems = []
    root = session_dir.resolve()
    for name, expected in sorted(anchors.items()):
        path = (session_dir / name).resolve()
        if root not in path.parents or not path.is_file():
            problems.append(FileProblem(session_id, name, "missing", expected))
            continue
        actual = sha256_file(path)
        if actual != expected:
            problems.append(FileProblem(session_id, name, "altered", expected, actual))
    return problems


def _retained(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def deletion_refusal(
    entries: list[AuditEntry], delete: AuditEntry, row: RecordingSession | None, untrusted: set[int]
) -> str | None:
    """Why a ``session.delete`` entry must not excuse missing files (None: it was allowed)."""
    if delete.seq in untrusted:
        return "the entry fails its hash or MAC (forged?)"
    if row is None or row.deleted_at is None:
        return "the session is not marked deleted in the database"
    create = next((e for e in entries if e.action == "session.create"), None)
    anchored = _retained(create.detail.get("retain_until")) if create else None
    recorded = _retained(delete.detail.get("retain_until"))
    if anchored is not None and recorded is not None and anchored != recorded:
        return f"the retention date was changed from {anchored} to {recorded}"
    until = anchored or recorded or row.retain_until
    if until is None:
        return "the session has no retention date"
    on = _retained(delete.detail.get("on")) or delete.at.date()
    if on < delete.at.date() or on <= until:
        return f"deleted on {on}, before its retention date {until}"
    holds = [
        e
        for e in entries
        if e.action in (HOLD, RELEASE) and e.seq < delete.seq and e.seq not in untrusted
    ]
    if holds and holds[-1].action == HOLD:
        return f"a legal hold (entry {holds[-1].seq}) was in force"
    return None


async def check_all_files(
    db: AsyncSession, sessions_dir: Path, untrusted: set[int], store: ObjectBlobStore | None = None
) -> tuple[list[str], list[FileProblem]]:
    """Every anchored file of every session not deleted under the retention rules; also
    every ``session.delete`` entry that does not excuse missing files. With ``store``
    (object storage), a file missing locally is checked there."""
    by_session: dict[str, list[AuditEntry]] = {}
    actions = (*ANCHOR_ACTIONS, DELETE_ACTION, HOLD, RELEASE, "session.create")
    query = select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.seq)
    for entry in (await db.execute(query)).scalars():
        if entry.session_id:
            by_session.setdefault(entry.session_id, []).append(entry)
    rows = {
        r.id: r
        for r in (
            await db.execute(
                select(RecordingSession).where(RecordingSession.id.in_(list(by_session)))
            )
        ).scalars()
    }
    refused: list[str] = []
    problems: list[FileProblem] = []
    for session_id, entries in sorted(by_session.items()):
        row = rows.get(session_id)
        deletes = [e for e in entries if e.action == DELETE_ACTION]
        if deletes:
            why = deletion_refusal(entries, deletes[-1], row, untrusted)
            if why is None:
                continue  # deleted after its retention term, and the deletion is in the chain
            refused.append(
                f"session {session_id}: session.delete entry {deletes[-1].seq} not honoured "
                f"({why}); its files are checked"
            )
        anchors = anchors_of([e for e in entries if e.action in ANCHOR_ACTIONS])
        if row is not None and row.status in LIVE and not deletes:
            anchors.pop("metadata.json", None)  # being written by the live call right now
        if anchors:
            found = await asyncio.to_thread(
                check_files, session_id, sessions_dir / session_id, anchors
            )
            if store is not None:
                rechecked = [await _recheck_in_store(store, p) for p in found]
                found = [p for p in rechecked if p is not None]
            problems += found
    return refused, problems


async def _recheck_in_store(store: ObjectBlobStore, problem: FileProblem) -> FileProblem | None:
    """A file missing here checked in object storage (a worker's report written on another
    machine; a recording whose local copy is gone): None if the copy there has the anchored
    hash, ``altered`` if another."""
    if problem.problem != "missing":
        return problem
    try:
        _size, digest = await store.sha256(key_of(problem.session_id, problem.file))
    except FileNotFoundError:
        return problem
    if digest == problem.expected:
        return None
    return replace(problem, problem="altered", actual=digest)
