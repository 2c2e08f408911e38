"""Who may act on which review, and the refusal they get otherwise: the states a review can
be in, the session lookup (404 for anything not reviewable) and the one rule for acting
(open review; at 二审 not the 一审 reviewer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import KesuError
from server.sessions import SESSION_ID_RE
from server.store.models import RecordingSession, ReviewDecision, User

REVIEW_STATES = ("queued", "second_pending", "approved", "rejected")
#: The states in which a reviewer still has something to do.
UNDER_REVIEW = ("queued", "second_pending")


class ReviewError(KesuError):
    """A refused review action (the user's fault), with its HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, status=status, details=details)


def actor_of(user: User) -> str:
    return f"user:{user.username}"


def institution_scope(user: User) -> str | None:
    """The one institution whose sessions ``user`` may review, or None for every one: a
    reviewer with an institution reviews only sessions made by that institution's
    salespeople; a reviewer without one (head-office QC, and every reviewer made before
    institutions scoped anything) and an admin review all."""
    if user.role == "reviewer" and user.institution:
        return user.institution
    return None


def check_scope(row: RecordingSession, user: User) -> None:
    """404 (as if it did not exist) for a session ``user`` may not review: outside their
    institution, or, for a reviewer, never put in review (``review_status`` none: still
    being recorded or passed without sampling; R18, need to know). The answer is the one an
    unknown id gets, so a reviewer cannot tell such a session from none: before, the review
    page, the media routes and a decision each answered it with their own message."""
    if user.role == "admin":
        return
    scope = institution_scope(user)
    if (scope is not None and row.institution != scope) or row.review_status == "none":
        raise ReviewError(404, "not_found", "no such session")


async def load_session(
    s: AsyncSession, session_id: str, for_update: bool = False, viewer: User | None = None
) -> RecordingSession:
    """The session row, or 404 (also for malformed ids, deleted sessions and, with
    ``viewer``, sessions outside the viewer's institution: ``check_scope``).

    ``for_update``: locked until the transaction ends, for a review action that checks the
    review state and then moves it on. On PostgreSQL two such transactions run at once and
    would both pass the check (two reviewers: an approval and a rejection both recorded);
    SQLite's one writer serialises them anyway."""
    if not SESSION_ID_RE.match(session_id):
        raise ReviewError(404, "not_found", "no such session")
    row = await s.get(RecordingSession, session_id, with_for_update=for_update)
    if row is None or row.deleted_at is not None:
        raise ReviewError(404, "not_found", "no such session")
    if viewer is not None:
        check_scope(row, viewer)
    return row


def review_level(review_status: str) -> int:
    """The level (1 = 一审, 2 = 二审) a decision on a session in this state is made at."""
    return 2 if review_status == "second_pending" else 1


def blocked_reason(review_status: str, first: ReviewDecision | None, user: User) -> str | None:
    """Why ``user`` may not act now (``None``: they may), given the latest level-1 decision."""
    if review_status not in UNDER_REVIEW:
        return "not_under_review"
    if review_status == "second_pending" and first is not None and first.reviewer_id == user.id:
        return "same_reviewer"
    return None
