"""The reviewers' queue: sessions awaiting (or done with) review, filtered, most severe and
oldest first, with counts per state and per finding code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inspection.policy import PRODUCT_TYPES
from server.context import AppContext
from server.reviews.access import (
    REVIEW_STATES,
    UNDER_REVIEW,
    blocked_reason,
    institution_scope,
    review_level,
)
from server.reviews.records import person_json, users_of
from server.sessions import session_json
from server.store.models import FindingRow, RecordingSession, ReviewDecision, User
from server.store.types import iso

STATUS_FILTERS = {
    "open": UNDER_REVIEW,
    "all": REVIEW_STATES,
    **{s: (s,) for s in REVIEW_STATES},
}
QUEUE_LIMIT = 500


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer narrowed the queue to (validated at the HTTP edge); every field
    optional."""

    status: str = "open"
    code: str | None = None
    product: str | None = None
    salesperson: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 200
    offset: int = 0
    institution: str | None = None
    """Only this institution's sessions (set from the reviewer, never from the request)."""


def _day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, tzinfo=UTC)


def _filtered(query: Select[Any], filt: QueueFilter, with_status: bool) -> Select[Any]:
    """Apply every filter but (optionally) the status one."""
    query = query.where(RecordingSession.deleted_at.is_(None))
    if filt.institution is not None:
        query = query.where(RecordingSession.institution == filt.institution)
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
            # autoescape: "%" or "_" in the filter are characters, not LIKE wildcards.
            query = query.where(
                RecordingSession.product_name.contains(filt.product, autoescape=True)
            )
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
    """Sessions under review matching ``filt``: most severe first, then oldest; with counts.
    Only ``user``'s institution's (``institution_scope``)."""
    filt = replace(filt, institution=institution_scope(user))
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
        by_status = await _count_by_status(s, filt)
        by_code = await _count_by_code(s, filt)
        codes = await _codes_of(s, ids)
        people = await users_of(s, {r.salesperson_id for r in rows})
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


async def _count_by_status(s: AsyncSession, filt: QueueFilter) -> dict[str, int]:
    """Sessions per review state, under every filter but the status one."""
    query: Select[Any] = select(  # type: ignore[assignment]
        RecordingSession.review_status, func.count(RecordingSession.id)
    )
    result = await s.execute(_filtered(query, filt, False).group_by(RecordingSession.review_status))
    return {str(st): int(n) for st, n in result.all()}


async def _count_by_code(s: AsyncSession, filt: QueueFilter) -> dict[str, int]:
    """Sessions of the filtered queue per finding code."""
    code_sessions = _filtered(select(RecordingSession.id), filt, True).subquery()
    result = await s.execute(
        select(FindingRow.code, func.count(func.distinct(FindingRow.session_id)))
        .where(FindingRow.session_id.in_(select(code_sessions.c.id)))
        .group_by(FindingRow.code)
    )
    return {str(code): int(n) for code, n in result.all()}


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
        salesperson=person_json(people.get(row.salesperson_id)),
        waiting_since=iso(row.ended_at or row.created_at),
        first_decision=(
            {"decision": first.decision, "reviewer_id": first.reviewer_id} if first else None
        ),
        level=review_level(row.review_status),
        can_act=blocked_reason(row.review_status, first, user) is None,
    )
    return out
