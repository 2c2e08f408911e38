"""Retention (R17): recordings are kept until ``retain_until`` (set at creation from the
policy term + ``retention_years_after_term``), longer under a legal hold (a dispute).

Deletion is an admin action allowed only after that date and without a hold; every attempt,
refused or not, goes into the audit chain. Holds live in the chain too (``retention.hold`` /
``retention.release`` entries), so nobody can lift one without leaving a trace.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inspection.policy import Policy
from server import action_limits, audit, audit_repeats
from server.context import AppContext
from server.errors import KesuError
from server.sessions import SESSION_ID_RE, retain_until
from server.settings import Settings
from server.store.models import AuditEntry, RecordingSession, User
from server.store.types import utcnow
from server.text_rules import MAX_NOTE

HOLD, RELEASE = "retention.hold", "retention.release"

log = logging.getLogger("kesu.retention")


class RetentionError(KesuError):
    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, status=status, details=details)


def _admin_only_delete() -> RetentionError:
    return RetentionError(403, "wrong_role", "only an admin can delete recordings")


def retain_until_for(policy: Policy, created: date, settings: Settings) -> date:
    """The date before which a session's files may not be deleted."""
    return retain_until(policy, created, settings.retention_years_after_term)


async def legal_hold(s: AsyncSession, session_id: str) -> dict[str, Any] | None:
    """The active hold's audit detail (with who and when), or None."""
    last = (
        await s.execute(
            select(AuditEntry)
            .where(AuditEntry.session_id == session_id, AuditEntry.action.in_((HOLD, RELEASE)))
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if last is None or last.action == RELEASE:
        return None
    return {**last.detail, "by": last.actor, "seq": last.seq}


async def lock_session(s: AsyncSession, session_id: str) -> RecordingSession:
    """The session's row, locked until the transaction ends, read before the state it guards
    (404 once it is deleted, or claimed for deletion by :func:`delete_session`).

    The hold is the newest hold entry in the audit chain, so a change reads it and appends the
    next one. On PostgreSQL (READ COMMITTED) two changes would both read the old state and
    both append; the row lock makes the second wait, and its next statement sees the first's
    entry. SQLite needs none: a writer's BEGIN IMMEDIATE already serialises the whole
    transaction (``FOR UPDATE`` is left out there)."""
    row = await s.get(RecordingSession, session_id, with_for_update=True, populate_existing=True)
    if row is None or row.deleted_at is not None:
        raise RetentionError(404, "not_found", "no such session")
    return row


async def _row(s: AsyncSession, session_id: str) -> RecordingSession:
    row = await s.get(RecordingSession, session_id) if SESSION_ID_RE.match(session_id) else None
    if row is None or row.deleted_at is not None:
        raise RetentionError(404, "not_found", "no such session")
    return row


async def _row_for(s: AsyncSession, session_id: str, user: User) -> RecordingSession | None:
    """The session for an admin (404 if there is none); for anyone else the session or None,
    so that their refusal (403, audited when the session exists) tells them nothing about
    which sessions exist or when their retention ends."""
    if user.role == "admin":
        return await _row(s, session_id)
    try:
        return await _row(s, session_id)
    except RetentionError:
        return None


async def set_hold(
    ctx: AppContext, session_id: str, user: User, hold: bool, reason: str
) -> dict[str, Any] | None:
    """Place or lift a legal hold (admin only, a reason is required to place one)."""
    reason = (reason or "").strip()[:MAX_NOTE]
    async with ctx.db.session() as s:
        row = await _row_for(s, session_id, user)
        if row is not None and user.role != "admin":
            # Logged in this transaction, refused after it commits.
            await audit_repeats.record_once(
                s, f"user:{user.username}", "retention.hold.refused", session_id, {"hold": hold}
            )
    if user.role != "admin":
        raise RetentionError(403, "wrong_role", "only an admin can change a legal hold")
    if hold and not reason:
        raise RetentionError(400, "reason_required", "a legal hold needs a reason")
    limits = action_limits.HOLD.windows(ctx.settings.retention_hold_limits)
    async with ctx.db.session() as s:
        await lock_session(s, session_id)  # and a deletion claimed since: 404
        current = await legal_hold(s, session_id)
        if bool(current) != hold:
            # Only a change is counted: asking again for the hold in place writes nothing.
            now, uid = utcnow(), user.id
            await s.run_sync(
                lambda sync: action_limits.HOLD.count(sync, limits, uid, session_id, now)
            )
            await audit.record(
                s,
                f"user:{user.username}",
                HOLD if hold else RELEASE,
                session_id,
                {"reason": reason},
            )
        return await legal_hold(s, session_id)


@dataclass(frozen=True)
class Deleted:
    session_id: str
    files: list[str]
    stored: list[str]  # object-store keys removed (empty without an archive)


async def delete_session(
    ctx: AppContext, session_id: str, user: User, today: date | None = None
) -> Deleted:
    """Delete a session's files after its retention date; refusals are audited and raised.

    A deletion claimed before (its request failed, or its process died, after the claim)
    is finished instead: an admin's retry completes it rather than finding the session
    gone (404)."""
    today = today or utcnow().date()
    actor = f"user:{user.username}"
    async with ctx.db.session() as s:
        claimed_at = await _unfinished_claim(s, session_id) if user.role == "admin" else None
        if claimed_at is None:
            found = await _row_for(s, session_id, user)
            if found is None:
                raise _admin_only_delete()
            row = await lock_session(s, session_id)
            why = await _refusal(s, row, user, today)
            if why is None:
                # Claimed in the transaction that found no hold: a hold (or another
                # deletion) asked for from now on finds the session gone, instead of landing
                # between this check and the files' removal. The claim is final: whatever
                # fails after it, the deletion is finished later, never undone.
                row.deleted_at = utcnow()
            else:
                await audit_repeats.record_once(
                    s,
                    actor,
                    "session.delete.refused",
                    session_id,
                    {
                        "why": why[1],
                        "retain_until": row.retain_until.isoformat() if row.retain_until else None,
                    },
                )
    if claimed_at is not None:
        return await _finish(ctx, session_id, actor, today, claimed_at)
    if why is not None and user.role != "admin":
        raise _admin_only_delete()  # nothing about the session (not even that it exists)
    if why is not None:
        status, code, message = why
        raise RetentionError(
            status,
            code,
            message,
            {"retain_until": row.retain_until.isoformat() if row.retain_until else None},
        )
    return await _finish(ctx, session_id, actor, today, None)


async def finish_claimed(ctx: AppContext, older_than_s: float = 0.0) -> list[str]:
    """Finish the deletions a crash or a failure left claimed but unfinished (``deleted_at``
    set, no ``session.delete`` entry): their files, stored objects and personal data are
    still there. Only claims made more than ``older_than_s`` ago. Run by housekeeping (at
    start-up, then now and then), as ``system``; returns their ids."""
    done = select(AuditEntry.seq).where(
        AuditEntry.session_id == RecordingSession.id, AuditEntry.action == audit.DELETE_ACTION
    )
    query = select(RecordingSession.id, RecordingSession.deleted_at).where(
        RecordingSession.deleted_at.is_not(None),
        RecordingSession.deleted_at <= utcnow() - timedelta(seconds=older_than_s),
        ~done.exists(),
    )
    claims = await ctx.db.run_read(lambda s: list(s.execute(query)))
    finished = []
    for session_id, claimed_at in claims:
        assert claimed_at is not None
        try:
            await _finish(ctx, session_id, "system", utcnow().date(), claimed_at)
        except Exception:
            log.exception("session %s: finishing its claimed deletion failed", session_id)
            continue
        finished.append(session_id)
    if finished:
        log.warning(
            "finished %d deletion(s) a failure or an unclean stop had cut short: %s",
            len(finished),
            ", ".join(finished),
        )
    return finished


async def _unfinished_claim(s: AsyncSession, session_id: str) -> datetime | None:
    """When the session was claimed for a deletion that has not been recorded as done."""
    if not SESSION_ID_RE.match(session_id):
        return None
    row = await s.get(RecordingSession, session_id)
    if row is None or row.deleted_at is None or await _deletion_recorded(s, session_id):
        return None
    return row.deleted_at


async def _deletion_recorded(s: AsyncSession, session_id: str) -> bool:
    query = select(AuditEntry.seq).where(
        AuditEntry.session_id == session_id, AuditEntry.action == audit.DELETE_ACTION
    )
    return (await s.execute(query.limit(1))).first() is not None


async def _finish(
    ctx: AppContext, session_id: str, actor: str, today: date, resumed: datetime | None
) -> Deleted:
    """Remove the claimed session's files, stored objects and personal data, and record
    the deletion once. Every step may run again after a crash: what is already gone is
    skipped, and a deletion already recorded (by a concurrent retry) is not recorded twice.
    ``resumed``: when an earlier attempt claimed it (None for the attempt that claims)."""
    files = await asyncio.to_thread(_remove_dir, ctx.settings.sessions_dir / session_id)
    # The archive holds the same recordings (and the report): retention ends them there
    # too, or the personal data outlives its term in the object store.
    stored = [] if ctx.archive is None else await ctx.archive.delete_session(session_id)
    async with ctx.db.session() as s:
        row = await s.get(
            RecordingSession, session_id, with_for_update=True, populate_existing=True
        )
        if row is None or row.deleted_at is None:
            raise RetentionError(404, "not_found", "no such session")
        if await _deletion_recorded(s, session_id):
            return Deleted(session_id, files, stored)
        row.deleted_at = utcnow()
        # Personal data goes with the files; product and dates stay for statistics.
        row.customer_name = ""
        row.customer_id_number = ""
        row.policy = {"product_name": row.product_name, "product_type": row.product_type}
        detail: dict[str, Any] = {
            "retain_until": row.retain_until.isoformat() if row.retain_until else None,
            "on": today.isoformat(),
            "files": files,
            "stored": stored,
        }
        if resumed is not None:
            # Finished after a failure or a crash: the claim (the decision) came earlier,
            # and what that attempt had removed already is not listed here.
            detail["claimed_at"] = resumed.isoformat()
        await audit.record(s, actor, audit.DELETE_ACTION, session_id, detail)
    return Deleted(session_id, files, stored)


async def _refusal(
    s: AsyncSession, row: RecordingSession, user: User, today: date
) -> tuple[int, str, str] | None:
    if user.role != "admin":
        return 403, "wrong_role", "only an admin can delete recordings"
    if row.status in ("created", "live"):
        return 409, "session_active", "a session that is not finished cannot be deleted"
    if row.retain_until is None:
        return 409, "retention_unknown", "this session has no retention date; it is kept"
    if today <= row.retain_until:
        return (
            409,
            "retention_active",
            f"recordings must be kept until {row.retain_until.isoformat()}",
        )
    if await legal_hold(s, row.id) is not None:
        return 409, "legal_hold", "this session is under a legal hold"
    return None


def _remove_dir(path: Path) -> list[str]:
    """The files removed (relative names); what is gone already is skipped, so a retry, or
    one running beside another, finishes the removal instead of failing on it."""
    if not path.is_dir():
        return []
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    shutil.rmtree(path, onerror=_gone_is_fine)
    return files


def _gone_is_fine(
    function: Callable[..., object],
    path: str,
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None],
) -> None:
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]
