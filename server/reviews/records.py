"""One session's review as stored (findings, decisions, re-recording requests, the people
named) and its JSON form, ID numbers masked in every text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inspection.policy import Policy
from server import audit_repeats
from server.context import AppContext
from server.errors import KesuError
from server.reviews.access import actor_of, load_session
from server.reviews.masking import mask_deep, mask_text
from server.sessions import rendered_nodes, session_json
from server.store.models import (
    FindingRow,
    RecordingSession,
    RerecordRequest,
    ReviewDecision,
    User,
)
from server.store.types import iso


def person_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "name": user.display_name or user.username}


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
        "message_en": mask_text(f.message_en) if f.message_en is not None else None,
        "evidence": mask_deep(f.evidence),
        "review_state": f.review_state,
        "review_comment": f.review_comment,
        "reviewed_by": person_json(people.get(f.reviewed_by)) if f.reviewed_by else None,
        "reviewed_at": iso(f.reviewed_at),
    }


def decision_json(d: ReviewDecision, people: dict[int, User]) -> dict[str, Any]:
    return {
        "id": d.id,
        "level": d.level,
        "decision": d.decision,
        "reason": d.reason,
        "reviewer": person_json(people.get(d.reviewer_id)),
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


def node_titles(row: RecordingSession) -> dict[str, str]:
    """Node id → title of the session's rendered script; empty for a template since removed
    (findings then show their node ids)."""
    try:
        nodes = rendered_nodes(row.template_id, Policy.from_dict(row.policy))
    except (KesuError, ValueError):
        return {}
    return {n.id: n.title for n in nodes}


async def users_of(s: AsyncSession, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    return {u.id: u for u in await s.scalars(select(User).where(User.id.in_(ids)))}


@dataclass
class ReviewState:
    """Everything the review page needs from the database for one session."""

    row: RecordingSession
    findings: list[FindingRow]
    decisions: list[ReviewDecision]
    requests: list[RerecordRequest]
    people: dict[int, User] = field(default_factory=dict)


async def load_review(s: AsyncSession, session_id: str, viewer: User | None = None) -> ReviewState:
    """One session's review data (no audit: callers audit what they do with it); 404 for a
    session outside ``viewer``'s institution."""
    row = await load_session(s, session_id, viewer=viewer)
    findings = list(
        await s.scalars(
            select(FindingRow)
            .where(FindingRow.session_id == session_id)
            .order_by(
                case((FindingRow.severity == "fail", 0), else_=1),
                func.coalesce(FindingRow.start_s, -1.0),
                FindingRow.id,
            )
        )
    )
    decisions = list(
        await s.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.session_id == session_id)
            .order_by(ReviewDecision.id)
        )
    )
    requests = list(
        await s.scalars(
            select(RerecordRequest)
            .where(RerecordRequest.session_id == session_id)
            .order_by(RerecordRequest.id)
        )
    )
    ids = {row.salesperson_id} | {d.reviewer_id for d in decisions}
    ids |= {f.reviewed_by for f in findings if f.reviewed_by}
    return ReviewState(row, findings, decisions, requests, await users_of(s, ids))


async def review_state(ctx: AppContext, session_id: str, viewer: User) -> ReviewState:
    """Load one session's review data and audit the view (it also starts the review clock)."""
    async with ctx.db.session() as s:
        # A session not in review is 404 for a reviewer here (access.check_scope).
        state = await load_review(s, session_id, viewer)
        await audit_repeats.record_once(
            s, actor_of(viewer), "review.view", session_id, {"status": state.row.review_status}
        )
    return state


def review_record(state: ReviewState) -> dict[str, Any]:
    """The review as an evidence document (``review.json`` of an export); IDs masked."""
    return {
        "session": session_json(state.row),
        "salesperson": person_json(state.people.get(state.row.salesperson_id)),
        "findings": [finding_json(f, state.people) for f in state.findings],
        "decisions": [decision_json(d, state.people) for d in state.decisions],
        "rerecord_requests": [rerecord_json(r) for r in state.requests],
    }
