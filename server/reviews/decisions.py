"""The review's state machine: judging findings and the level-1 / level-2 decisions that move
a session's ``review_status`` on, every step (and every refused attempt) audited.

``none`` -(inspection flags it, or samples a pass)-> ``queued`` -(level 1)-> ``approved``, or
``second_pending`` (every rejection, a sampled share of approvals) -(level 2, by a different
reviewer)-> ``approved`` | ``rejected``. A rejection becomes a re-recording request only
when it is final, so a customer is never asked to record again for a rejection that the
second review overturns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import action_limits, audit, audit_repeats
from server.audit_reviews import decision_state, judge_detail, request_state
from server.context import AppContext
from server.reviews.access import (
    ReviewError,
    actor_of,
    blocked_reason,
    load_session,
    review_level,
)
from server.reviews.records import ReviewState, finding_json, users_of
from server.reviews.rerecord import rerecord_items
from server.sessions import SESSION_ID_RE
from server.store.models import (
    AuditEntry,
    FindingRow,
    RecordingSession,
    RerecordRequest,
    ReviewDecision,
    User,
)
from server.store.types import utcnow

FINDING_STATES = ("open", "confirmed", "dismissed")
MAX_COMMENT = 2000
MAX_REASON = 2000


def permissions(state: ReviewState, user: User) -> dict[str, Any]:
    """What ``user`` may do now, and why not, so the page can show it before a click fails."""
    row = state.row
    level_one = [d for d in state.decisions if d.level == 1]
    reason = blocked_reason(row.review_status, level_one[-1] if level_one else None, user)
    return {
        "level": review_level(row.review_status),
        "can_act": reason is None,
        "blocked_reason": reason,
    }


async def _check_can_act(s: AsyncSession, row: RecordingSession, user: User) -> int:
    """The review level ``user`` would act at; refuses closed reviews and the 一审 reviewer at 二审."""
    first = None
    if row.review_status == "second_pending":
        first = (
            await s.execute(
                select(ReviewDecision)
                .where(ReviewDecision.session_id == row.id, ReviewDecision.level == 1)
                .order_by(ReviewDecision.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    reason = blocked_reason(row.review_status, first, user)
    if reason == "not_under_review":
        raise ReviewError(
            409,
            "not_under_review",
            "this session is not awaiting review",
            {"review_status": row.review_status},
        )
    if reason == "same_reviewer":
        raise ReviewError(
            403,
            "same_reviewer",
            "the second review must be done by a different reviewer than the first",
        )
    return review_level(row.review_status)


async def _audit_refusal(
    ctx: AppContext, user: User, session_id: str | None, action: str, exc: ReviewError
) -> None:
    """A refused attempt (wrong reviewer, closed review) is logged in its own transaction,
    since the attempt's transaction is rolled back; once per reviewer, session, action and
    reason within ``audit_repeats.WINDOW``, so a loop of refused clicks cannot grow the
    audit chain without bound."""
    if exc.status in (403, 409) and session_id:
        detail = {"action": action, "why": exc.code}
        async with ctx.db.session() as s:
            await audit_repeats.record_once(s, actor_of(user), "review.refused", session_id, detail)


# ---------------------------------------------------------------------------------------------
# Findings


async def judge_finding(
    ctx: AppContext, finding_id: int, user: User, state: str, comment: str
) -> dict[str, Any]:
    """Confirm (the machine was right), dismiss (false alarm) or reopen one finding."""
    session_id: list[str] = []
    try:
        return await _judge(ctx, finding_id, user, state, comment, session_id)
    except ReviewError as exc:
        await _audit_refusal(ctx, user, session_id[0] if session_id else None, "judge", exc)
        raise


async def _judge(
    ctx: AppContext,
    finding_id: int,
    user: User,
    state: str,
    comment: str,
    seen: list[str],
) -> dict[str, Any]:
    if state not in FINDING_STATES:
        raise ReviewError(
            400, "invalid_fields", f"state must be one of {', '.join(FINDING_STATES)}"
        )
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise ReviewError(400, "invalid_fields", f"comment must be text up to {MAX_COMMENT} chars")
    async with ctx.db.session() as s:
        f = await s.get(FindingRow, finding_id)
        if f is None:
            raise ReviewError(404, "not_found", "no such finding")
        try:
            row = await load_session(s, f.session_id, for_update=True, viewer=user)
        except ReviewError:
            # Another institution's (or a deleted) session's finding gets the answer an id
            # that never existed gets: "no such session" told that the finding exists.
            raise ReviewError(404, "not_found", "no such finding") from None
        # Read again under the session's row lock: on PostgreSQL another judgement may have
        # committed while this one waited, and the audit entry must name the state it changes.
        f = await s.get(FindingRow, finding_id, populate_existing=True)
        if f is None:
            raise ReviewError(404, "not_found", "no such finding")
        seen.append(row.id)
        await _check_can_act(s, row, user)
        if state == "dismissed" and not comment.strip():
            raise ReviewError(
                400, "comment_required", "say why the finding is dismissed", {"field": "comment"}
            )
        limits = action_limits.JUDGE.windows(ctx.settings.review_judge_limits)
        now = utcnow()
        await s.run_sync(lambda sync: action_limits.JUDGE.count(sync, limits, user.id, row.id, now))
        before = f.review_state
        f.review_state = state
        f.review_comment = comment.strip()
        f.reviewed_by = None if state == "open" else user.id
        f.reviewed_at = None if state == "open" else utcnow()
        await audit.record(s, actor_of(user), "finding.judge", row.id, judge_detail(f, before))
        people = await users_of(s, {user.id})
        return finding_json(f, people)


# ---------------------------------------------------------------------------------------------
# Decisions


@dataclass(frozen=True)
class DecisionResult:
    decision: ReviewDecision
    review_status: str
    request: RerecordRequest | None


async def decide(
    ctx: AppContext,
    session_id: str,
    user: User,
    decision: str,
    reason: str,
    rng: random.Random | None = None,
) -> DecisionResult:
    """Record a level-1 or level-2 decision and move the session's review state on."""
    try:
        return await _decide(ctx, session_id, user, decision, reason, rng)
    except ReviewError as exc:
        if SESSION_ID_RE.match(session_id) and exc.code != "not_found":
            await _audit_refusal(ctx, user, session_id, "decide", exc)
        raise


async def _decide(
    ctx: AppContext,
    session_id: str,
    user: User,
    decision: str,
    reason: str,
    rng: random.Random | None,
) -> DecisionResult:
    reason = _checked_reason(decision, reason)
    rng = rng or random.Random()
    async with ctx.db.session() as s:
        row = await load_session(s, session_id, for_update=True, viewer=user)
        level = await _check_can_act(s, row, user)
        findings = list(
            await s.scalars(select(FindingRow).where(FindingRow.session_id == session_id))
        )
        _check_findings_judged(findings, decision)
        opened = await _opened_at(s, row.id, user)
        made = ReviewDecision(
            session_id=row.id,
            level=level,
            reviewer_id=user.id,
            decision=decision,
            reason=reason,
            opened_at=opened,
            created_at=utcnow(),
        )
        s.add(made)
        before = row.review_status
        row.review_status = _status_after(
            level, decision, rng, ctx.settings.second_review_sample_rate
        )
        request = None
        if row.review_status == "rejected":
            request = _rerecord_request(row, findings, reason)
            s.add(request)
        await s.flush()
        await audit.record(
            s,
            actor_of(user),
            "review.decide",
            row.id,
            {
                **decision_state(made),
                "from": before,
                "to": row.review_status,
                "confirmed": sorted(f.id for f in findings if f.review_state == "confirmed"),
                "dismissed": sorted(f.id for f in findings if f.review_state == "dismissed"),
                "rerecord_request": request.id if request else None,
                # The request in full, so a later edit of its row shows in verification.
                "rerecord": request_state(request) if request else None,
            },
        )
    return DecisionResult(made, row.review_status, request)


def _checked_reason(decision: str, reason: str) -> str:
    """The decision's reason, stripped; 400 for an unknown decision, a reason that is not
    text or too long, or a rejection without one."""
    if decision not in ("approve", "reject"):
        raise ReviewError(400, "invalid_fields", "decision must be approve or reject")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ReviewError(400, "invalid_fields", f"reason must be text up to {MAX_REASON} chars")
    reason = reason.strip()
    if decision == "reject" and not reason:
        raise ReviewError(400, "reason_required", "a rejection needs a reason", {"field": "reason"})
    return reason


def _status_after(level: int, decision: str, rng: random.Random, sample_rate: float) -> str:
    """The session's review status after this decision: a first review's approval goes to a
    second review with probability ``sample_rate`` (its rejection always does)."""
    if level == 1:
        sampled = decision == "approve" and rng.random() < sample_rate
        final = decision == "approve" and not sampled
        return "approved" if final else "second_pending"
    return "approved" if decision == "approve" else "rejected"


def _rerecord_request(
    row: RecordingSession, findings: list[FindingRow], reason: str
) -> RerecordRequest:
    """The re-recording request a final rejection opens: what to record again (from the
    confirmed findings) and why."""
    return RerecordRequest(
        session_id=row.id,
        salesperson_id=row.salesperson_id,
        items=rerecord_items(row, [f for f in findings if f.review_state == "confirmed"]),
        reason=reason,
        status="open",
        created_at=utcnow(),
    )


def _check_findings_judged(findings: list[FindingRow], decision: str) -> None:
    open_ids = [f.id for f in findings if f.review_state == "open"]
    if open_ids:
        raise ReviewError(
            409,
            "findings_open",
            "confirm or dismiss every finding before deciding",
            {"open": sorted(open_ids)},
        )
    confirmed = [f.id for f in findings if f.review_state == "confirmed"]
    if decision == "approve" and confirmed:
        raise ReviewError(
            409,
            "confirmed_findings",
            "a session with confirmed findings cannot be approved; dismiss them or reject",
            {"confirmed": sorted(confirmed)},
        )


async def _opened_at(s: AsyncSession, session_id: str, user: User) -> datetime | None:
    """When ``user`` first opened the session since its previous decision (review time)."""
    since = (
        await s.execute(
            select(func.max(ReviewDecision.created_at)).where(
                ReviewDecision.session_id == session_id
            )
        )
    ).scalar_one_or_none()
    query = select(func.min(AuditEntry.at)).where(
        AuditEntry.session_id == session_id,
        AuditEntry.action == "review.view",
        AuditEntry.actor == actor_of(user),
    )
    if since is not None:
        query = query.where(
            AuditEntry.at >= since.replace(microsecond=since.microsecond // 1000 * 1000)
        )
    at: datetime | None = (await s.execute(query)).scalar_one_or_none()
    return at
