"""Append-only audit log, hash-chained: each entry stores the SHA-256 of the previous entry."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.store.models import AuditEntry
from server.store.types import iso, utcnow

GENESIS = "0" * 64


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
    """Append one entry inside the caller's transaction (SQLite: BEGIN IMMEDIATE serialises writers)."""
    last = (
        await db.execute(
            select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1).with_for_update()
        )
    ).scalar_one_or_none()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    now = utcnow()
    # Milliseconds only, so the stored time and the hashed ISO form are the same instant.
    at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    detail = detail or {}
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        session_id=session_id,
        detail=detail,
        prev_hash=prev,
        hash=entry_hash(seq, at, actor, action, session_id, detail, prev),
    )
    db.add(entry)
    await db.flush()
    return entry


async def verify_chain(db: AsyncSession) -> list[str]:
    """Every break in the chain, as readable lines (empty when intact)."""
    problems: list[str] = []
    prev = GENESIS
    expected_seq = 1
    for entry in (await db.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars():
        if entry.seq != expected_seq:
            problems.append(f"entry {expected_seq}..{entry.seq - 1} missing (removed?)")
        if entry.prev_hash != prev:
            problems.append(f"entry {entry.seq}: prev_hash does not match entry {entry.seq - 1}")
        actual = entry_hash(
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.session_id,
            entry.detail,
            entry.prev_hash,
        )
        if actual != entry.hash:
            problems.append(f"entry {entry.seq} ({entry.action}): content was altered")
        prev = entry.hash
        expected_seq = entry.seq + 1
    return problems
