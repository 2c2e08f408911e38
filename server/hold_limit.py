"""How many legal holds one admin may place or lift on one session (``retention_hold_limits``).

Each change is a write transaction and a ``retention.hold`` / ``retention.release`` audit
entry; an admin's login in a loop (hold, release, hold...) could otherwise grow the audit
chain without end. Counted as the finding judgements are (``server/reviews/judge_limit.py``):
the login throttle's fixed-window counters (``server/login_failures.py``, table
``login_failures``) under the scope ``hold`` and the key ``<user id>:<session id>``, so every
server process on the database counts the same changes and a restart forgets none. Checked
and counted in the change's own transaction: a refused one writes nothing, and a request
that changes nothing (placing a hold already in place) is not counted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server import login_failures
from server.errors import KesuError
from server.login_failures import Window

SCOPE = "hold"
#: Admin-and-session pairs tracked at once (per window); past it, new pairs share one counter.
MAX_KEYS = 100_000


class TooManyHoldChanges(KesuError):
    status, code = 429, "too_many_hold_changes"


def windows(spec: str) -> tuple[Window, ...]:
    """The limits of ``retention_hold_limits`` (a ``ValueError`` for a malformed one)."""
    return login_failures.windows(spec)


def count(
    s: Session, limits: tuple[Window, ...], user_id: int, session_id: str, now: datetime
) -> None:
    """Count one hold change of ``user_id`` on ``session_id``, or raise ``TooManyHoldChanges``
    (with ``retry_after_s``) when a limit is reached. Expired rows (of every scope) go first."""
    if not limits:
        return
    scoped = {SCOPE: limits}
    idents = {SCOPE: f"{user_id}:{session_id}"}
    refused = login_failures.refusal(s, scoped, idents, MAX_KEYS, now)
    if refused is not None:
        wait = refused.retry_after_s
        raise TooManyHoldChanges(
            f"too many legal hold changes on this session; try again in {wait} s",
            details={"retry_after_s": wait},
        )
    # ``failed`` counts one event in each window (its name is the login throttle's).
    login_failures.failed(s, scoped, idents, MAX_KEYS, now, purge=True)
