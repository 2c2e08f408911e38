"""How many finding judgements one reviewer may make on one session (``review_judge_limits``).

Each judgement is a ``finding.judge`` audit entry; a reviewer's login in a loop (confirm,
reopen, confirm...) could otherwise grow the audit chain without end. Bounded by
``server/action_limits.py`` under the scope ``judge``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server import action_limits, login_failures
from server.errors import KesuError
from server.login_failures import Window

SCOPE = "judge"


class TooManyJudgements(KesuError):
    status, code = 429, "too_many_judgements"


def windows(spec: str) -> tuple[Window, ...]:
    """The limits of ``review_judge_limits`` (a ``ValueError`` for a malformed one)."""
    return login_failures.windows(spec)


def _refusal(wait: int) -> KesuError:
    return TooManyJudgements(
        f"too many judgements on this session; try again in {wait} s",
        details={"retry_after_s": wait},
    )


def count(
    s: Session, limits: tuple[Window, ...], user_id: int, session_id: str, now: datetime
) -> None:
    """Count one judgement of ``user_id`` on ``session_id``, or raise ``TooManyJudgements``
    (with ``retry_after_s``) when a limit is reached."""
    action_limits.count(s, limits, SCOPE, user_id, session_id, now, _refusal)
