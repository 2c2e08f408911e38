"""Audit entries that a loop of the same request must not multiply: views (a media file, a
review page, a salesperson's findings) and refused attempts (deleting a session, changing a
legal hold) are recorded once per actor, action, session and facts within ``WINDOW``.

The first of a run is what the audit needs (who looked at what, or tried to, and when; the
review clock starts at the first ``review.view``); before, every repeat was another entry
and another write transaction, so a logged-in script could grow the chain that ``kesu
audit verify`` walks whole by thousands of entries a minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.store.models import AuditEntry
from server.store.types import utcnow

WINDOW = timedelta(minutes=10)
_LOOK_BACK = 100  # the actor's latest entries of this kind that are compared


async def record_once(
    s: AsyncSession,
    actor: str,
    action: str,
    session_id: str,
    detail: dict[str, Any],
    same: Sequence[str] | None = None,
) -> bool:
    """Record ``action`` unless ``actor`` recorded it for ``session_id`` with the same
    ``detail`` (only the keys in ``same``, when given) within ``WINDOW``; True if recorded.
    Runs in the caller's transaction."""
    recent = (
        await s.execute(
            select(AuditEntry.detail)
            .where(
                AuditEntry.session_id == session_id,
                AuditEntry.action == action,
                AuditEntry.actor == actor,
                AuditEntry.at >= utcnow() - WINDOW,
            )
            .order_by(AuditEntry.seq.desc())
            .limit(_LOOK_BACK)
        )
    ).scalars()
    for earlier in recent:
        if earlier == detail or (
            same is not None
            and isinstance(earlier, dict)
            and all(earlier.get(k) == detail.get(k) for k in same)
        ):
            return False
    await audit.record(s, actor, action, session_id, detail)
    return True
