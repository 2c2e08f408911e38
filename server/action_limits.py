"""Bounds on how often one user may repeat an audited action on one session: finding
judgements (:data:`JUDGE`, ``review_judge_limits``) and legal hold changes (:data:`HOLD`,
``retention_hold_limits``), one :class:`ActionLimit` each.

Each such action is a write transaction and an audit entry; a login in a loop could otherwise
grow the audit chain without end. The counts are the login throttle's fixed-window counters
(``server/login_failures.py``, table ``login_failures``) under the action's scope and the key
``<user id>:<session id>``, so every server process on the database counts the same actions
and a restart forgets none. Checked and counted in the action's own transaction: a refused
one writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from server import login_failures
from server.errors import KesuError
from server.login_failures import Window

#: User-and-session pairs tracked at once per scope (per window); past it, new pairs share
#: one counter (as the login throttle: the table stays bounded).
MAX_KEYS = 100_000


@dataclass(frozen=True)
class ActionLimit:
    """One bounded action: its counters' ``scope``, the 429 ``code`` and the ``what`` its
    message names ("too many <what> on this session")."""

    scope: str
    code: str
    what: str

    def windows(self, spec: str) -> tuple[Window, ...]:
        """The limits of the action's setting (a ``ValueError`` for a malformed one)."""
        return login_failures.windows(spec)

    def refusal(self, wait: int) -> KesuError:
        return KesuError(
            f"too many {self.what} on this session; try again in {wait} s",
            code=self.code,
            status=429,
            details={"retry_after_s": wait},
        )

    def count(
        self, s: Session, limits: tuple[Window, ...], user_id: int, session_id: str, now: datetime
    ) -> None:
        """Count one action of ``user_id`` on ``session_id``, or raise a 429 ``code`` (with
        ``retry_after_s``) when a limit is reached."""
        count(s, limits, self.scope, user_id, session_id, now, self.refusal)


#: A reviewer's finding judgements: each is a ``finding.judge`` audit entry, and a login in a
#: loop (confirm, reopen, confirm...) could otherwise grow the audit chain without end.
JUDGE = ActionLimit("judge", "too_many_judgements", "judgements")
#: An admin's legal hold changes (``retention.hold`` / ``retention.release`` entries); a
#: request that changes nothing (placing a hold already in place) is not counted.
HOLD = ActionLimit("hold", "too_many_hold_changes", "legal hold changes")


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
