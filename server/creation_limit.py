"""How many sessions one user may create per hour (``max_sessions_per_hour``).

Counted from ``recording_sessions.created_at`` itself, so every server process on the
database sees the same count and a restart forgets nothing; no counter table is needed.
A session is a row, a directory and an audit entry: without a bound, one stolen
salesperson login could fill the disk and the audit chain. Checked before the directory is
made (a read: a refused flood costs no file I/O) and again in the creating transaction
(SQLite: under its write lock, so concurrent creations cannot pass together; PostgreSQL: a
few concurrent ones may overshoot by their number).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from server.errors import KesuError
from server.store.models import RecordingSession
from server.store.types import UTCDateTime

WINDOW = timedelta(hours=1)


class TooManySessions(KesuError):
    status, code = 429, "too_many_sessions"


def check(s: Session, user_id: int, limit: int, now: datetime) -> None:
    """Raise ``TooManySessions`` if ``user_id`` created ``limit`` sessions in the last hour
    (``limit`` 0: no limit)."""
    if limit <= 0:
        return
    since = now - WINDOW
    count, oldest = s.execute(
        select(
            func.count(), type_coerce(func.min(RecordingSession.created_at), UTCDateTime())
        ).where(RecordingSession.salesperson_id == user_id, RecordingSession.created_at > since)
    ).one()
    if count < limit:
        return
    wait = max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
    raise TooManySessions(
        f"at most {limit} new sessions an hour; try again in {wait} s",
        details={"retry_after_s": wait, "limit": limit},
    )
