"""Append-only audit log, hash-chained: each entry stores the SHA-256 of the previous entry,
and a MAC of its own hash under the audit key (server/audit_trail.py, docs/audit.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from server.audit_trail import TRAIL_KEY, AuditTrail
from server.durable_files import sha256_file
from server.store.models import AuditEntry
from server.store.types import iso, utcnow

GENESIS = "0" * 64
_CHAIN_LOCK = 0x6B657375  # "kesu": advisory lock id serialising appends on PostgreSQL


def entry_hash(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    session_id: str | None,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON form of the entry's content and its predecessor's hash."""
    body = json.dumps(
        {
            "seq": seq,
            "at": iso(at),
            "actor": actor,
            "action": action,
            "session_id": session_id,
            "detail": detail,
            "prev": prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def record(
    db: AsyncSession,
    actor: str,
    action: str,
    session_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (see :func:`record_sync`)."""
    return await db.run_sync(record_sync, actor, action, session_id, detail)


def record_sync(
    db: Session,
    actor: str,
    action: str,
    session_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (SQLite: BEGIN IMMEDIATE serialises writers).

    The database must have the audit trail attached (``audit_trail.attach``): an entry
    without its MAC would look forged to ``kesu audit verify``.
    """
    trail = db.info.get(TRAIL_KEY)
    if not isinstance(trail, AuditTrail):
        raise RuntimeError("audit.record: no audit key attached to this database")
    if db.get_bind().dialect.name == "postgresql":
        # Row locks cannot serialise appends (an empty table has no row to lock, and a
        # waiter would not re-read the newest entry): take one transaction-scoped lock.
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = db.execute(
        select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)
    ).scalar_one_or_none()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    now = utcnow()
    # Milliseconds only, so the stored time and the hashed ISO form are the same instant.
    at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    detail = detail or {}
    digest = entry_hash(seq, at, actor, action, session_id, detail, prev)
    trail.keyed_from_in(db, seq)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        session_id=session_id,
        detail=detail,
        prev_hash=prev,
        hash=digest,
        mac=trail.keys.mac(digest),
    )
    db.add(entry)
    db.flush()
    _checkpoint_after_commit(db, trail, seq, digest)
    return entry


_HEAD, _HOOKED = "kesu_audit_head", "kesu_audit_hooked"


def _checkpoint_after_commit(db: Session, trail: AuditTrail, seq: int, digest: str) -> None:
    """Checkpoint the newest entry once the transaction commits (never a rolled-back one)."""
    db.info[_HEAD] = (seq, digest)
    if db.info.get(_HOOKED):
        return
    db.info[_HOOKED] = True

    def committed(session: Session) -> None:
        head = session.info.pop(_HEAD, None)
        if head is not None:
            trail.committed(*head)

    def rolled_back(session: Session) -> None:
        session.info.pop(_HEAD, None)

    event.listen(db, "after_commit", committed)
    event.listen(db, "after_rollback", rolled_back)


# ---------------------------------------------------------------------------------------------
# Files anchored in the chain (R16): a recording's SHA-256 is written into an entry when the
# file is final, so a later edit of the file (or of its metadata) shows up in verification.

#: Entries whose ``detail["files"]`` anchors ``{relative file name: sha256}``.
ANCHOR_ACTIONS = ("session.end", "session.interrupted", "files.anchor", "metadata.anchor")
#: Anchors ``metadata.json`` after each change (server/audit_metadata.py).
METADATA_ACTION = "metadata.anchor"
DELETE_ACTION = "session.delete"


def anchors_of(entries: Iterable[AuditEntry]) -> dict[str, str]:
    """``{file: sha256}`` anchored by ``entries`` (one session's, in chain order; later wins)."""
    out: dict[str, str] = {}
    for entry in entries:
        files = entry.detail.get("files") if entry.action in ANCHOR_ACTIONS else None
        if isinstance(files, dict):
            out.update({str(k): str(v) for k, v in files.items()})
    return out


async def session_entries(db: AsyncSession, session_id: str) -> list[AuditEntry]:
    """Every entry about one session, in chain order."""
    return await db.run_sync(session_entries_sync, session_id)


def session_entries_sync(db: Session, session_id: str) -> list[AuditEntry]:
    """:func:`session_entries` for a synchronous session."""
    query = select(AuditEntry).where(AuditEntry.session_id == session_id).order_by(AuditEntry.seq)
    return list(db.execute(query).scalars())


async def anchored_files(db: AsyncSession, session_id: str) -> dict[str, str]:
    """The files of a session whose hashes the chain holds."""
    return anchors_of(await session_entries(db, session_id))


async def anchor_files(
    db: AsyncSession, actor: str, session_id: str, files: dict[str, str]
) -> AuditEntry | None:
    """Anchor ``{relative name: sha256}`` unless every one is anchored with that hash already."""
    known = await anchored_files(db, session_id)
    new = {k: v for k, v in sorted(files.items()) if known.get(k) != v}
    if not new:
        return None
    return await record(db, actor, "files.anchor", session_id, {"files": new})


def output_files(session_dir: Path) -> dict[str, str]:
    """Hashes of what is made after recording: review video, report, evidence thumbnails."""
    out: dict[str, str] = {}
    for name in ("review.mp4", "review.webm", "report.json"):
        path = session_dir / name
        if path.is_file():
            out[name] = sha256_file(path)
    evidence = session_dir / "evidence"
    if evidence.is_dir():
        for path in sorted(evidence.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                out[f"evidence/{path.name}"] = sha256_file(path)
    return out


async def anchor_outputs(
    db_factory: Any, session_dir: Path, session_id: str, actor: str = "system"
) -> dict[str, str]:
    """Hash the session's derived files (on a thread) and anchor any not anchored yet.

    ``db_factory`` is ``Database.session`` (a unit-of-work factory). Call it right after a
    worker writes the review video or the report; returns what it anchored.
    """
    files = await asyncio.to_thread(output_files, session_dir)
    async with db_factory() as s:
        known = await anchored_files(s, session_id)
        # Files already anchored are never re-anchored here: a changed one must show up in
        # verification, not be silently accepted.
        new = {k: v for k, v in files.items() if k not in known}
        if new:
            await record(s, actor, "files.anchor", session_id, {"files": new})
    return new
