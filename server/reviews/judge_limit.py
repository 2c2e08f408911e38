"""How many finding judgements one reviewer may make on one session (``review_judge_limits``).

Each judgement is a write transaction and a ``finding.judge`` audit entry; a reviewer's login
in a loop (confirm, reopen, confirm...) could otherwise grow the audit chain without end.
The counts are the login throttle's fixed-window counters (``server/login_failures.py``,
table ``login_failures``) under the scope ``judge`` and the key ``<user id>:<session id>``,
so every server process on the database counts the same judgements and a restart forgets
none. Checked and counted in the judgement's own transaction: a refused one writes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server import login_failures
from server.errors import KesuError
from server.login_failures import Window

SCOPE = "judge"
#: Reviewer-and-session pairs tracked at once (per window); past it, new pairs share one
#: counter (as the login throttle: the table stays bounded). Each real judgement counts once.
MAX_KEYS = 100_000


class TooManyJudgements(KesuError):
    status, code = 429, "too_many_judgements"


def windows(spec: str) -> tuple[Window, ...]:
    """The limits of ``review_judge_limits`` (a ``ValueError`` for a malformed one)."""
    return login_failures.windows(spec)


def count(
    s: Session, limits: tuple[Window, ...], user_id: int, session_id: str, now: datetime
) -> None:
    """Count one judgement of ``user_id`` on ``session_id``, or raise ``TooManyJudgements``
    (with ``retry_after_s``) when a limit is reached. Expired rows (of every scope) go first."""
    if not limits:
        return
    scoped = {SCOPE: limits}
    idents = {SCOPE: f"{user_id}:{session_id}"}
    refused = login_failures.refusal(s, scoped, idents, MAX_KEYS, now)
    if refused is not None:
        wait = refused.retry_after_s
        raise TooManyJudgements(
            f"too many judgements on this session; try again in {wait} s",
            details={"retry_after_s": wait},
        )
    # ``failed`` counts one event in each window (its name is the login throttle's).
    login_failures.failed(s, scoped, idents, MAX_KEYS, now, purge=True)
