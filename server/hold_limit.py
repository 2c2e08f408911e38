"""How many legal holds one admin may place or lift on one session (``retention_hold_limits``).

Each change is a ``retention.hold`` / ``retention.release`` audit entry, bounded as the
finding judgements are (``server/action_limits.py``, scope ``hold``). A request that changes
nothing (placing a hold already in place) is not counted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server import action_limits, login_failures
from server.errors import KesuError
from server.login_failures import Window

SCOPE = "hold"


class TooManyHoldChanges(KesuError):
    status, code = 429, "too_many_hold_changes"


def windows(spec: str) -> tuple[Window, ...]:
    """The limits of ``retention_hold_limits`` (a ``ValueError`` for a malformed one)."""
    return login_failures.windows(spec)


def _refusal(wait: int) -> KesuError:
    return TooManyHoldChanges(
        f"too many legal hold changes on this session; try again in {wait} s",
        details={"retry_after_s": wait},
    )


def count(
    s: Session, limits: tuple[Window, ...], user_id: int, session_id: str, now: datetime
) -> None:
    """Count one hold change of ``user_id`` on ``session_id``, or raise ``TooManyHoldChanges``
    (with ``retry_after_s``) when a limit is reached."""
    action_limits.count(s, limits, SCOPE, user_id, session_id, now, _refusal)
