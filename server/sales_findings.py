"""What the salesperson may see of their own session's inspection and review: the findings
(read-only), the review's outcome and the re-recording requests, so that "14 项问题" in the
list can be opened and acted on.

Need to know (R18): only the session's owner (or an admin) sees it, as a 404 for anyone else
so that other people's session ids are not confirmed; ID numbers are masked everywhere; the
reviewers' identities and their per-finding comments stay with QC (the salesperson gets the
judgement, and the decision's reason, which is written for them). Every view is audited.
"""

from __future__ import annotations

from typing import Any

from server import audit_repeats, reviews, sessions
from server.context import AppContext
from server.store.models import FindingRow, ReviewDecision, User
from server.store.types import iso

#: Evidence keys that point at QC-only files (thumbnails are served to reviewers only).
_QC_ONLY_EVIDENCE = ("frame",)


def _finding(f: FindingRow, titles: dict[str, str]) -> dict[str, Any]:
    full = reviews.finding_json(f, {})
    evidence = {k: v for k, v in full["evidence"].items() if k not in _QC_ONLY_EVIDENCE}
    return {
        "id": f.id,
        "code": f.code,
        "severity": f.severity,
        "node": f.node,
        "node_title": titles.get(f.node or "") or None,
        "participant": f.participant,
        "start_s": f.start_s,
        "end_s": f.end_s,
        "message": full["message"],
        "message_en": full["message_en"],
        "evidence": evidence,
        "review_state": f.review_state,
    }


def _decision(d: ReviewDecision) -> dict[str, Any]:
    return {
        "level": d.level,
        "decision": d.decision,
        "reason": d.reason,
        "created_at": iso(d.created_at),
    }


async def own_findings(ctx: AppContext, session_id: str, user: User) -> dict[str, Any]:
    """The owner's read-only view of one session's findings and review (404 if not theirs)."""
    async with ctx.db.session() as s:
        state = await reviews.load_review(s, session_id)
        sessions.check_owner(state.row, user)
        await audit_repeats.record_once(
            s,
            reviews.actor_of(user),
            "findings.view",
            session_id,
            {"findings": len(state.findings), "review_status": state.row.review_status},
        )
    row = state.row
    titles = reviews.node_titles(row)
    return {
        "session": sessions.session_json(row),
        "findings": [_finding(f, titles) for f in state.findings],
        "decisions": [_decision(d) for d in state.decisions],
        "rerecord_requests": [reviews.rerecord_json(r) for r in state.requests],
    }
