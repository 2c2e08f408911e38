"""Bounds on how often one user may repeat an audited action on one session (finding
judgements: ``server/reviews/judge_limit.py``; legal holds: ``server/hold_limit.py``).

Each such action is a write transaction and an audit entry; a login in a loop could otherwise
grow the audit chain without end. The counts are the login throttle's fixed-window counters
(``server/login_failures.py``, table ``login_failures``) under the action's scope and the key
``<user id>:<session id>``, so every server process on the database counts the same actions
and a restart forgets none. Checked and counted in the action's own transaction: a refused
one writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from server import login_failures
from server.errors import KesuError
from server.login_failures import Window

#: User-and-session pairs tracked at once per scope (per window); past it, new pairs share
#: one counter (as the login throttle: the table stays bounded).
MAX_KEYS = 100_000


def count(
    s: Session,
    limits: tuple[Window, ...],
    scope: str,
    user_id: int,
    session_id: str,
    now: datetime,
    refusal: Callable[[int], KesuError],
) -> None:
    """Count one action of ``user_id`` on ``session_id`` under ``scope``, or raise
    ``refusal(retry_after_s)`` when a limit is reached. Expired rows (of every scope) go
    first."""
    if not limits:
        return
    scoped = {scope: limits}
    idents = {scope: f"{user_id}:{session_id}"}
    refused = login_failures.refusal(s, scoped, idents, MAX_KEYS, now)
    if refused is not None:
        raise refusal(refused.retry_after_s)
    # ``failed`` counts one event in each window (its name is the login throttle's).
    login_failures.failed(s, scoped, idents, MAX_KEYS, now, purge=True)
