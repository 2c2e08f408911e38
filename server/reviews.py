"""QC review: the queue of flagged sessions, finding judgements, decisions (一审/二审) and
re-recording requests. HTTP handlers in ``server/api/reviews.py`` stay thin and call this.

State of a session's review (``RecordingSession.review_status``):
``none`` -(inspection flags it, or samples a pass)-> ``queued`` -(level 1)-> ``approved``, or
``second_pending`` (every rejection, a sampled share of approvals) -(level 2, by a different
reviewer)-> ``approved`` | ``rejected``. A rejection becomes a re-recording request only
when it is final, so a customer is never asked to record again for a rejection that the
second review overturns.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inspection.idnumber import mask_id
from inspection.policy import PRODUCT_TYPES, Policy
from server import audit, sessions
from server.audit_reviews import decision_state, judge_detail, request_state
from server.context import AppContext
from server.errors import KesuError
from server.sessions import SESSION_ID_RE, rendered_nodes, session_json
from server.store.models import (
    MESSAGE_EN_KEY,
    AuditEntry,
    FindingRow,
    RecordingSession,
    RerecordRequest,
    ReviewDecision,
    User,
)
from server.store.types import iso, utcnow

REVIEW_STATES = ("queued", "second_pending", "approved", "rejected")
STATUS_FILTERS = {
    "open": ("queued", "second_pending"),
    "all": REVIEW_STATES,
    **{s: (s,) for s in REVIEW_STATES},
}
FINDING_STATES = ("open", "confirmed", "dismissed")
MAX_COMMENT = 2000
MAX_REASON = 2000
QUEUE_LIMIT = 500

# An ID number (18 or 15 digits) anywhere in free text: transcripts, OCR, messages.
_ID_IN_TEXT = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9Xx])")


class ReviewError(KesuError):
    """A refused review action (the user's fault), with its HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, status=status, details=details)


def actor_of(user: User) -> str:
    return f"user:{user.username}"


# ---------------------------------------------------------------------------------------------
# Masking


def mask_text(text: str) -> str:
    """Replace every ID number inside ``text`` by its masked form."""
    return _ID_IN_TEXT.sub(lambda m: mask_id(m.group(0)), text)


def mask_deep(value: Any) -> Any:
    """``mask_text`` over every string in a JSON-like structure."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [mask_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_deep(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# Queue


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer narrowed the queue to; every field optional."""

    status: str = "open"
    code: str | None = None
    product: str | None = None
    salesperson: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 200
    offset: int = 0

    @classmethod
    def parse(cls, query: dict[str, str]) -> QueueFilter:
        """From URL query parameters; bad values are a 400 naming the parameter."""
        status = query.get("status") or "open"
        if status not in STATUS_FILTERS:
            raise ReviewError(
                400, "invalid_filter", f"status must be one of {', '.join(STATUS_FILTERS)}"
            )
        return cls(
            status=status,
            code=query.get("code") or None,
            product=query.get("product") or None,
            salesperson=query.get("salesperson") or None,
            date_from=_parse_date(query.get("from"), "from"),
            date_to=_parse_date(query.get("to"), "to"),
            limit=_parse_int(query.get("limit"), "limit", 200, 1, QUEUE_LIMIT),
            offset=_parse_int(query.get("offset"), "offset", 0, 0, 10**9),
        )


def _parse_date(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ReviewError(400, "invalid_filter", f"{name} must be a date YYYY-MM-DD") from None


def _parse_int(raw: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ReviewError(400, "invalid_filter", f"{name} must be a whole number") from None
    return max(lo, min(hi, value))


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _filtered(query: Select[Any], filt: QueueFilter, with_status: bool) -> Select[Any]:
    """Apply every filter but (optionally) the status one."""
    query = query.where(RecordingSession.deleted_at.is_(None))
    if with_status:
        query = query.where(RecordingSession.review_status.in_(STATUS_FILTERS[filt.status]))
    else:
        query = query.where(RecordingSession.review_status.in_(REVIEW_STATES))
    if filt.code:
        query = query.where(
            RecordingSession.id.in_(
                select(FindingRow.session_id).where(FindingRow.code == filt.code)
            )
        )
    if filt.product:
        if filt.product in PRODUCT_TYPES:
            query = query.where(RecordingSession.product_type == filt.product)
        else:
            query = query.where(RecordingSession.product_name.contains(filt.product))
    if filt.salesperson:
        sp = filt.salesperson
        cond = User.username == sp
        # ASCII digits only ('²' passes isdigit) and only what a 64-bit id column can hold.
        if sp.isascii() and sp.isdigit() and int(sp) < 2**63:
            cond = cond | (User.id == int(sp))
        query = query.where(RecordingSession.salesperson_id.in_(select(User.id).where(cond)))
    if filt.date_from:
        query = query.where(RecordingSession.created_at >= _day_start(filt.date_from))
    if filt.date_to:
        query = query.where(
            RecordingSession.created_at < _day_start(filt.date_to + timedelta(days=1))
        )
    return query


_SEVERITY_ORDER = case(
    (RecordingSession.worst_severity == "fail", 0),
    (RecordingSession.worst_severity == "review", 1),
    else_=2,
)
_WAITING_SINCE = func.coalesce(RecordingSession.ended_at, RecordingSession.created_at)


async def list_queue(ctx: AppContext, filt: QueueFilter, user: User) -> dict[str, Any]:
    """Sessions under review matching ``filt``: most severe first, then oldest; with counts."""
    async with ctx.db.read() as s:
        rows = list(
            (
                await s.execute(
                    _filtered(select(RecordingSession), filt, True)
                    .order_by(_SEVERITY_ORDER, _WAITING_SINCE, RecordingSession.id)
                    .limit(filt.limit)
                    .offset(filt.offset)
                )
            ).scalars()
        )
        ids = [r.id for r in rows]
        total = (
            await s.execute(_filtered(select(func.count(RecordingSession.id)), filt, True))
        ).scalar_one()
        status_query: Select[Any] = select(  # type: ignore[assignment]
            RecordingSession.review_status, func.count(RecordingSession.id)
        )
        by_status: dict[str, int] = {
            str(st): int(n)
            for st, n in (
                await s.execute(
                    _filtered(status_query, filt, False).group_by(RecordingSession.review_status)
                )
            ).all()
        }
        code_sessions = _filtered(select(RecordingSession.id), filt, True).subquery()
        by_code: dict[str, int] = {
            str(code): int(n)
            for code, n in (
                await s.execute(
                    select(FindingRow.code, func.count(func.distinct(FindingRow.session_id)))
                    .where(FindingRow.session_id.in_(select(code_sessions.c.id)))
                    .group_by(FindingRow.code)
                )
            ).all()
        }
        codes = await _codes_of(s, ids)
        people = await _users_of(s, {r.salesperson_id for r in rows})
        first = await _first_reviewers(s, ids)
    items = [_queue_item(r, codes.get(r.id, []), people, first.get(r.id), user) for r in rows]
    return {
        "sessions": items,
        "total": total,
        "counts": {
            "by_status": {st: int(by_status.get(st, 0)) for st in REVIEW_STATES},
            "by_code": {k: int(v) for k, v in sorted(by_code.items())},
        },
    }


async def _codes_of(s: AsyncSession, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not ids:
        return out
    result = await s.execute(
        select(FindingRow.session_id, FindingRow.code).where(FindingRow.session_id.in_(ids))
    )
    for sid, code in result.all():
        if code not in out.setdefault(sid, []):
            out[sid].append(code)
    return out


async def _users_of(s: AsyncSession, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in (await s.execute(select(User).where(User.id.in_(ids)))).scalars()}


async def _first_reviewers(s: AsyncSession, ids: list[str]) -> dict[str, ReviewDecision]:
    if not ids:
        return {}
    rows = (
        await s.execute(
            select(ReviewDecision)
            .where(ReviewDecision.session_id.in_(ids), ReviewDecision.level == 1)
            .order_by(ReviewDecision.id)
        )
    ).scalars()
    return {d.session_id: d for d in rows}  # the latest level-1 decision wins


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "name": user.display_name or user.username}


def _queue_item(
    row: RecordingSession,
    codes: list[str],
    people: dict[int, User],
    first: ReviewDecision | None,
    user: User,
) -> dict[str, Any]:
    out = session_json(row)
    out.pop("policy", None)  # the queue needs no policy details
    out.update(
        worst_severity=row.worst_severity,
        codes=codes,
        salesperson=_person(people.get(row.salesperson_id)),
        waiting_since=iso(row.ended_at or row.created_at),
        first_decision=(
            {"decision": first.decision, "reviewer_id": first.reviewer_id} if first else None
        ),
        level=2 if row.review_status == "second_pending" else 1,
        can_act=_can_act(row, first, user),
    )
    return out


def _can_act(row: RecordingSession, first: ReviewDecision | None, user: User) -> bool:
    if row.review_status == "queued":
        return True
    if row.review_status == "second_pending":
        return first is None or first.reviewer_id != user.id
    return False


# ---------------------------------------------------------------------------------------------
# One session


async def load_session(s: AsyncSession, session_id: str) -> RecordingSession:
    """The session row, or 404 (also for malformed ids and deleted sessions)."""
    if not SESSION_ID_RE.match(session_id):
        raise ReviewError(404, "not_found", "no such session")
    row = await s.get(RecordingSession, session_id)
    if row is None or row.deleted_at is not None:
        raise ReviewError(404, "not_found", "no such session")
    return row


def finding_json(f: FindingRow, people: dict[int, User]) -> dict[str, Any]:
    """A finding with the reviewer's judgement; ID numbers masked in every text."""
    return {
        "id": f.id,
        "code": f.code,
        "severity": f.severity,
        "node": f.node,
        "participant": f.participant,
        "start_s": f.start_s,
        "end_s": f.end_s,
        "message": mask_text(f.message),
        "message_en": mask_text(str(f.evidence[MESSAGE_EN_KEY]))
        if MESSAGE_EN_KEY in f.evidence
        else None,
        "evidence": mask_deep({k: v for k, v in f.evidence.items() if k != MESSAGE_EN_KEY}),
        "review_state": f.review_state,
        "review_comment": f.review_comment,
        "reviewed_by": _person(people.get(f.reviewed_by)) if f.reviewed_by else None,
        "reviewed_at": iso(f.reviewed_at),
    }


def decision_json(d: ReviewDecision, people: dict[int, User]) -> dict[str, Any]:
    return {
        "id": d.id,
        "level": d.level,
        "decision": d.decision,
        "reason": d.reason,
        "reviewer": _person(people.get(d.reviewer_id)),
        "opened_at": iso(d.opened_at),
        "created_at": iso(d.created_at),
    }


def rerecord_json(r: RerecordRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "session_id": r.session_id,
        "items": r.items,
        "reason": r.reason,
        "status": r.status,
        "new_session_id": r.new_session_id,
        "created_at": iso(r.created_at),
    }


@dataclass
class ReviewState:
    """Everything the review page needs from the database for one session."""

    row: RecordingSession
    findings: list[FindingRow]
    decisions: list[ReviewDecision]
    requests: list[RerecordRequest]
    people: dict[int, User] = field(default_factory=dict)


async def load_review(s: AsyncSession, session_id: str) -> ReviewState:
    """One session's review data (no audit: callers audit what they do with it)."""
    row = await load_session(s, session_id)
    findings = list(
        (
            await s.execute(
                select(FindingRow)
                .where(FindingRow.session_id == session_id)
                .order_by(
                    case((FindingRow.severity == "fail", 0), else_=1),
                    func.coalesce(FindingRow.start_s, -1.0),
                    FindingRow.id,
                )
            )
        ).scalars()
    )
    decisions = list(
        (
            await s.execute(
                select(ReviewDecision)
                .where(ReviewDecision.session_id == session_id)
                .order_by(ReviewDecision.id)
            )
        ).scalars()
    )
    requests = list(
        (
            await s.execute(
                select(RerecordRequest)
                .where(RerecordRequest.session_id == session_id)
                .order_by(RerecordRequest.id)
            )
        ).scalars()
    )
    ids = {row.salesperson_id} | {d.reviewer_id for d in decisions}
    ids |= {f.reviewed_by for f in findings if f.reviewed_by}
    return ReviewState(row, findings, decisions, requests, await _users_of(s, ids))


async def review_state(ctx: AppContext, session_id: str, viewer: User) -> ReviewState:
    """Load one session's review data and audit the view (it also starts the review clock)."""
    async with ctx.db.session() as s:
        state = await load_review(s, session_id)
        if state.row.review_status == "none" and viewer.role != "admin":
            # Not in the queue: nothing for a reviewer to see (R18, need to know).
            raise ReviewError(404, "not_found", "this session is not under review")
        await audit.record(
            s, actor_of(viewer), "review.view", session_id, {"status": state.row.review_status}
        )
    return state


def review_record(state: ReviewState) -> dict[str, Any]:
    """The review as an evidence document (``review.json`` of an export); IDs masked."""
    return {
        "session": session_json(state.row),
        "salesperson": _person(state.people.get(state.row.salesperson_id)),
        "findings": [finding_json(f, state.people) for f in state.findings],
        "decisions": [decision_json(d, state.people) for d in state.decisions],
        "rerecord_requests": [rerecord_json(r) for r in state.requests],
    }


def permissions(state: ReviewState, user: User) -> dict[str, Any]:
    """What ``user`` may do now, and why not, so the page can show it before a click fails."""
    row = state.row
    level = 2 if row.review_status == "second_pending" else 1
    first = _latest(state.decisions, 1)
    reason = None
    if row.review_status not in ("queued", "second_pending"):
        reason = "not_under_review"
    elif level == 2 and first is not None and first.reviewer_id == user.id:
        reason = "same_reviewer"
    return {"level": level, "can_act": reason is None, "blocked_reason": reason}


def _latest(decisions: list[ReviewDecision], level: int) -> ReviewDecision | None:
    found = [d for d in decisions if d.level == level]
    return found[-1] if found else None


# ---------------------------------------------------------------------------------------------
# Findings


async def _audit_refusal(
    ctx: AppContext, user: User, session_id: str | None, action: str, exc: ReviewError
) -> None:
    """A refused attempt (wrong reviewer, closed review) is logged in its own transaction,
    since the attempt's transaction is rolled back."""
    if exc.status in (403, 409) and session_id:
        async with ctx.db.session() as s:
            await audit.record(
                s, actor_of(user), "review.refused", session_id, {"action": action, "why": exc.code}
            )


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
        row = await load_session(s, f.session_id)
        seen.append(row.id)
        await _check_can_act(s, row, user)
        if state == "dismissed" and not comment.strip():
            raise ReviewError(
                400, "comment_required", "say why the finding is dismissed", {"field": "comment"}
            )
        before = f.review_state
        f.review_state = state
        f.review_comment = comment.strip()
        f.reviewed_by = None if state == "open" else user.id
        f.reviewed_at = None if state == "open" else utcnow()
        await audit.record(s, actor_of(user), "finding.judge", row.id, judge_detail(f, before))
        people = await _users_of(s, {user.id})
        return finding_json(f, people)


async def _check_can_act(s: AsyncSession, row: RecordingSession, user: User) -> int:
    """The review level ``user`` would act at; refuses closed reviews and the 一审 reviewer at 二审."""
    if row.review_status not in ("queued", "second_pending"):
        raise ReviewError(
            409,
            "not_under_review",
            "this session is not awaiting review",
            {"review_status": row.review_status},
        )
    if row.review_status == "queued":
        return 1
    first = (
        await s.execute(
            select(ReviewDecision)
            .where(ReviewDecision.session_id == row.id, ReviewDecision.level == 1)
            .order_by(ReviewDecision.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if first is not None and first.reviewer_id == user.id:
        raise ReviewError(
            403,
            "same_reviewer",
            "the second review must be done by a different reviewer than the first",
        )
    return 2


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
    if decision not in ("approve", "reject"):
        raise ReviewError(400, "invalid_fields", "decision must be approve or reject")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ReviewError(400, "invalid_fields", f"reason must be text up to {MAX_REASON} chars")
    reason = reason.strip()
    if decision == "reject" and not reason:
        raise ReviewError(400, "reason_required", "a rejection needs a reason", {"field": "reason"})
    rng = rng or random.Random()
    async with ctx.db.session() as s:
        row = await load_session(s, session_id)
        level = await _check_can_act(s, row, user)
        findings = list(
            (
                await s.execute(select(FindingRow).where(FindingRow.session_id == session_id))
            ).scalars()
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
        if level == 1:
            sampled = (
                decision == "approve" and rng.random() < ctx.settings.second_review_sample_rate
            )
            final = decision == "approve" and not sampled
            row.review_status = "approved" if final else "second_pending"
        else:
            row.review_status = "approved" if decision == "approve" else "rejected"
        request = None
        if row.review_status == "rejected":
            items = rerecord_items(row, [f for f in findings if f.review_state == "confirmed"])
            request = RerecordRequest(
                session_id=row.id,
                salesperson_id=row.salesperson_id,
                items=items,
                reason=reason,
                status="open",
                created_at=utcnow(),
            )
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


# ---------------------------------------------------------------------------------------------
# Re-recording requests

#: What the salesperson must do again, per finding code: (Chinese, English).
REDO: dict[str, tuple[str, str]] = {
    "consent.missing": (
        "重新征求客户对录音录像的同意，并得到明确同意",
        "Ask the customer's consent to recording again and get a clear yes",
    ),
    "reminder.missing": ("完整宣读录音录像提示语", "Read the recording reminder in full"),
    "script.node_missing": ("讲解「{node}」", "Explain \u201c{node}\u201d"),
    "script.out_of_order": (
        "按规定顺序进行「{node}」",
        "Do \u201c{node}\u201d in the required order",
    ),
    "answer.not_affirmative": (
        "就「{node}」再次询问，客户须明确回答",
        "Ask \u201c{node}\u201d again; the customer must answer clearly",
    ),
    "speech.forbidden_phrase": (
        "重新讲解「{node}」，不得使用误导或禁用用语",
        "Explain \u201c{node}\u201d again without misleading or forbidden wording",
    ),
    "speech.number_mismatch": (
        "按保单数据准确说明「{node}」中的金额、期限或天数",
        "State the amounts, periods or days of \u201c{node}\u201d exactly as in the policy",
    ),
    "face.absent": (
        "讲解与确认期间双方全程出现在各自画面中",
        "Both parties stay in their own picture while duties are explained and answered",
    ),
    "face.extra_person": ("确保画面中没有无关人员", "Make sure no one else is in the picture"),
    "face.identity_mismatch": (
        "本人出镜并清晰展示与本人一致的身份证件",
        "Appear in person and show an ID that matches you",
    ),
    "document.id_card_missing": (
        "清晰展示身份证件或执业证",
        "Show the ID card or practice certificate clearly",
    ),
    "document.id_card_mismatch": (
        "展示与投保信息一致的有效身份证件",
        "Show a valid ID that matches the policy data",
    ),
    "document.signature_missing": ("清晰展示客户签名", "Show the customer's signature clearly"),
    "document.signature_mismatch": (
        "展示客户本人的签名（与投保人姓名一致）",
        "Show the customer's own signature (matching the applicant's name)",
    ),
    "document.risk_sentence_missing": (
        "清晰展示客户手抄的风险提示语句",
        "Show the customer's hand-copied risk sentence clearly",
    ),
    "document.risk_sentence_mismatch": (
        "客户重新完整、准确抄写风险提示语句并展示",
        "The customer copies the risk sentence again, complete and exact, and shows it",
    ),
    "media.quality": (
        "在光线充足、安静的环境中重新录制相关片段",
        "Record the affected part again in good light and quiet",
    ),
    "media.gap": ("重新录制中断的片段", "Record the interrupted part again"),
}


def _node_titles(row: RecordingSession) -> dict[str, str]:
    try:
        return {
            n.id: n.title for n in rendered_nodes(row.template_id, Policy.from_dict(row.policy))
        }
    except (KesuError, ValueError):
        return {}


def rerecord_items(row: RecordingSession, confirmed: list[FindingRow]) -> list[dict[str, Any]]:
    """Only what must be redone: one item per (code, node) of the confirmed findings."""
    titles = _node_titles(row)
    items: dict[tuple[str, str | None], dict[str, Any]] = {}
    for f in sorted(confirmed, key=lambda f: (f.start_s if f.start_s is not None else -1.0, f.id)):
        key = (f.code, f.node)
        if key in items:
            items[key]["finding_ids"].append(f.id)
            continue
        title = titles.get(f.node or "", f.node or "")
        zh, en = REDO.get(f.code, ("重新录制相关内容", "Record the affected part again"))
        if "{node}" in zh and not title:
            zh, en = REDO["media.quality"]
        items[key] = {
            "code": f.code,
            "node": f.node,
            "node_title": title or None,
            "participant": f.participant,
            "text_zh": zh.format(node=title),
            "text_en": en.format(node=title),
            "start_s": f.start_s,
            "end_s": f.end_s,
            "finding_ids": [f.id],
        }
    if not items:
        # Rejected for a reason the machine did not flag: the reviewer's reason says what.
        items[("review.other", None)] = {
            "code": "review.other",
            "node": None,
            "node_title": None,
            "participant": None,
            "text_zh": "按审核意见重新录制",
            "text_en": "Record again as the reviewer explains",
            "start_s": None,
            "end_s": None,
            "finding_ids": [],
        }
    return list(items.values())


async def open_requests(ctx: AppContext, user: User) -> list[dict[str, Any]]:
    """The salesperson's open re-recording requests, with the original session's summary."""
    async with ctx.db.read() as s:
        query = select(RerecordRequest, RecordingSession).join(
            RecordingSession, RecordingSession.id == RerecordRequest.session_id
        )
        query = query.where(RerecordRequest.status == "open")
        if user.role != "admin":
            query = query.where(RerecordRequest.salesperson_id == user.id)
        rows = (await s.execute(query.order_by(RerecordRequest.created_at.desc()))).all()
    return [_request_for_salesperson(req, sess) for req, sess in rows]


def _request_for_salesperson(req: RerecordRequest, sess: RecordingSession) -> dict[str, Any]:
    out = rerecord_json(req)
    out["session"] = {
        "id": sess.id,
        "customer_name": sess.customer_name,
        "customer_id_number": mask_id(sess.customer_id_number),
        "product_name": sess.product_name,
        "created_at": iso(sess.created_at),
    }
    return out


async def start_rerecord(
    ctx: AppContext, request_id: int, user: User
) -> tuple[RerecordRequest, RecordingSession]:
    """Create the new session for an open request (same sale, linked by ``rerecord_of``)."""
    async with ctx.db.session() as s:
        req = await s.get(RerecordRequest, request_id)
        if req is None or (user.role != "admin" and req.salesperson_id != user.id):
            raise ReviewError(404, "not_found", "no such re-recording request")
        if req.status != "open":
            raise ReviewError(409, "request_closed", "this re-recording request is already handled")
        original = await load_session(s, req.session_id)
        owner = await s.get(User, original.salesperson_id) or user
        req.status = "done"  # claimed in this transaction: a second click gets 409
    new = sessions.NewSession(Policy.from_dict(original.policy), original.template_id)
    try:
        created = await sessions.create_session(ctx, owner, new, rerecord_of=original.id)
    except BaseException:
        async with ctx.db.session() as s:
            back = await s.get(RerecordRequest, request_id)
            if back is not None:
                back.status = "open"
        raise
    async with ctx.db.session() as s:
        done = await s.get(RerecordRequest, request_id)
        assert done is not None
        done.new_session_id = created.id
        await audit.record(
            s,
            actor_of(user),
            "rerecord.start",
            original.id,
            {"request": done.id, "new_session": created.id},
        )
    return done, created
