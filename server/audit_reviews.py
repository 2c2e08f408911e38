"""Review actions in the audit chain with their full text, and the cross-check of the review
tables against it.

Every judgement (state, comment, who, when), every decision (level, decision, reason, who,
when) and every re-recording request (items, reason; later its new session) is written into
the keyed chain in the same transaction as the row. ``check_review`` compares what the
tables (or an export's ``review.json``) say now with the latest anchored values, so a row
changed, added or removed in the database shows up in ``kesu audit verify``.

Everything here works on plain dicts, so the same check runs on database rows and on an
evidence export without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.store.models import FindingRow, RerecordRequest, ReviewDecision
from server.store.types import iso

REVIEW_ACTIONS = ("inspection.done", "finding.judge", "review.decide", "rerecord.start")


# ---------------------------------------------------------------------------------------------
# What goes into the chain (and the same shape read back from the tables)


def finding_state(f: FindingRow) -> dict[str, Any]:
    return {
        "review_state": f.review_state,
        "review_comment": f.review_comment,
        "reviewed_by": f.reviewed_by,
        "reviewed_at": iso(f.reviewed_at),
    }


def judge_detail(f: FindingRow, before: str) -> dict[str, Any]:
    """``finding.judge``: the judgement with its comment (a re-judgement keeps the old text
    in the older entry)."""
    state = finding_state(f)
    return {
        "finding": f.id,
        "code": f.code,
        "from": before,
        "to": f.review_state,
        "comment": state["review_comment"],
        "reviewed_by": state["reviewed_by"],
        "reviewed_at": state["reviewed_at"],
    }


def decision_state(d: ReviewDecision) -> dict[str, Any]:
    return {
        "decision_id": d.id,
        "level": d.level,
        "decision": d.decision,
        "reason": d.reason,
        "reviewer_id": d.reviewer_id,
        "created_at": iso(d.created_at),
    }


def request_state(r: RerecordRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "salesperson_id": r.salesperson_id,
        "items": r.items,
        "reason": r.reason,
        "status": r.status,
        "new_session_id": r.new_session_id,
    }


# ---------------------------------------------------------------------------------------------
# The check


@dataclass
class _Expected:
    """The review of one session as the chain tells it."""

    judged: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    decisions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    requests: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    started: dict[int, str | None] = field(default_factory=dict)
    queued: bool = False
    inspected: bool = False


def _expected(entries: list[tuple[int, str, dict[str, Any]]]) -> _Expected:
    out = _Expected()
    for seq, action, detail in sorted(entries, key=lambda e: e[0]):
        if action == "inspection.done":
            # A new inspection replaces the findings (new ids): older judgements are void.
            out.judged.clear()
            out.inspected = True
            out.queued = out.queued or bool(detail.get("findings")) or bool(detail.get("sampled"))
        elif action == "finding.judge" and isinstance(detail.get("finding"), int):
            out.judged[detail["finding"]] = (seq, detail)
        elif action == "review.decide":
            out.decisions.append((seq, detail))
            req = detail.get("rerecord")
            if isinstance(req, dict) and isinstance(req.get("id"), int):
                out.requests[req["id"]] = (seq, req)
            elif isinstance(detail.get("rerecord_request"), int):
                out.requests[detail["rerecord_request"]] = (seq, {"id": detail["rerecord_request"]})
        elif action == "rerecord.start" and isinstance(detail.get("request"), int):
            out.started[detail["request"]] = detail.get("new_session")
    return out


def _diff(what: str, anchored: dict[str, Any], current: dict[str, Any], seq: int) -> list[str]:
    """Fields present in both that differ (older entries anchor fewer fields)."""
    changed = sorted(k for k in anchored.keys() & current.keys() if anchored[k] != current[k])
    if not changed:
        return []
    shown = ", ".join(f"{k} {current[k]!r} (anchored {anchored[k]!r})" for k in changed)
    return [f"{what}: changed after entry {seq}: {shown}"]


def check_review(
    session_id: str,
    entries: list[tuple[int, str, dict[str, Any]]],
    findings: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    requests: list[dict[str, Any]],
    review_status: str | None = None,
) -> list[str]:
    """Differences between the review as stored now and as the chain anchored it.

    ``entries`` are ``(seq, action, detail)`` of the session; ``findings`` carry ``id`` and
    the keys of :func:`finding_state`, ``decisions`` those of :func:`decision_state`,
    ``requests`` those of :func:`request_state` (missing keys are not compared).
    """
    exp = _expected(entries)
    where = f"session {session_id}"
    problems: list[str] = []
    problems += _check_findings(where, exp, findings)
    problems += _check_decisions(where, exp, decisions)
    problems += _check_requests(where, exp, requests)
    if review_status is not None and (exp.decisions or exp.inspected):
        want = exp.decisions[-1][1].get("to") if exp.decisions else None
        want = want or ("queued" if exp.queued else "none")
        if review_status != want:
            problems.append(
                f"{where}: review status is {review_status!r} but the chain says {want!r}"
            )
    return problems


def _check_findings(where: str, exp: _Expected, findings: list[dict[str, Any]]) -> list[str]:
    problems = []
    seen = set()
    for f in findings:
        fid = f["id"]
        seen.add(fid)
        judged = exp.judged.get(fid)
        if judged is None:
            if f.get("review_state", "open") != "open" or f.get("review_comment"):
                problems.append(
                    f"{where}: finding {fid} is {f.get('review_state')!r} in the database "
                    "but was never judged in the audit chain"
                )
            continue
        seq, detail = judged
        anchored = {"review_state": detail.get("to")}
        if "comment" in detail:  # entries before keying anchored only the state
            anchored.update(
                review_comment=detail["comment"],
                reviewed_by=detail.get("reviewed_by"),
                reviewed_at=detail.get("reviewed_at"),
            )
        problems += _diff(f"{where}: finding {fid}", anchored, f, seq)
    for fid, (seq, _) in sorted(exp.judged.items()):
        if fid not in seen:
            problems.append(
                f"{where}: finding {fid} judged in entry {seq} is missing from the database"
            )
    return problems


def _check_decisions(where: str, exp: _Expected, decisions: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(decisions) != len(exp.decisions):
        problems.append(
            f"{where}: {len(decisions)} review decision(s) in the database, "
            f"{len(exp.decisions)} in the audit chain (added or removed?)"
        )
    for current, (seq, detail) in zip(decisions, exp.decisions, strict=False):
        keys = ("level", "decision", "reason", "decision_id", "reviewer_id", "created_at")
        anchored: dict[str, Any] = {k: detail[k] for k in keys if k in detail}
        label = current.get("decision_id", "?")
        problems += _diff(f"{where}: review decision {label}", anchored, current, seq)
    return problems


def _check_requests(where: str, exp: _Expected, requests: list[dict[str, Any]]) -> list[str]:
    problems = []
    seen = set()
    for r in requests:
        rid = r["id"]
        seen.add(rid)
        made = exp.requests.get(rid)
        if made is None:
            problems.append(
                f"{where}: re-recording request {rid} is not in the audit chain (inserted?)"
            )
            continue
        seq, detail = made
        anchored: dict[str, Any] = {
            k: detail[k] for k in ("salesperson_id", "items", "reason") if k in detail
        }
        if rid in exp.started:
            anchored.update(status="done", new_session_id=exp.started[rid])
        else:
            anchored.update(status="open", new_session_id=None)
        problems += _diff(f"{where}: re-recording request {rid}", anchored, r, seq)
    for rid, (seq, _) in sorted(exp.requests.items()):
        if rid not in seen:
            problems.append(
                f"{where}: re-recording request {rid} made in entry {seq} "
                "is missing from the database"
            )
    return problems


def review_from_export(review: dict[str, Any]) -> dict[str, Any]:
    """An export's ``review.json`` in the shapes :func:`check_review` takes."""

    def person_id(p: Any) -> Any:
        return p.get("id") if isinstance(p, dict) else None

    findings = [
        {
            "id": f["id"],
            "review_state": f.get("review_state"),
            "review_comment": f.get("review_comment"),
            "reviewed_by": person_id(f.get("reviewed_by")),
            "reviewed_at": f.get("reviewed_at"),
        }
        for f in review.get("findings", [])
    ]
    decisions = [
        {
            "decision_id": d["id"],
            "level": d.get("level"),
            "decision": d.get("decision"),
            "reason": d.get("reason"),
            "reviewer_id": person_id(d.get("reviewer")),
            "created_at": d.get("created_at"),
        }
        for d in review.get("decisions", [])
    ]
    requests = [
        {k: r.get(k) for k in ("id", "items", "reason", "status", "new_session_id")}
        for r in review.get("rerecord_requests", [])
    ]
    session = review.get("session") or {}
    return {
        "findings": findings,
        "decisions": decisions,
        "requests": requests,
        "review_status": session.get("review_status"),
    }
