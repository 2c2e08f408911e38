"""Review statistics: first-pass rate, sessions per day, review time, per-rule precision.

Per-rule precision is the share of a finding code's judged findings that reviewers
confirmed: it tells which inspection rules raise false alarms and need their thresholds
tuned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, true

from server.context import AppContext
from server.store.models import FindingRow, RecordingSession, ReviewDecision

MAX_DAYS = 366


@dataclass(frozen=True)
class StatsPeriod:
    """Whole local days ``first..last``; ``tz_minutes`` is the viewer's offset east of UTC."""

    first: date
    last: date
    tz_minutes: int = 0

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC) - self.offset

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC) - self.offset

    @property
    def offset(self) -> timedelta:
        return timedelta(minutes=self.tz_minutes)

    def local_day(self, at: datetime) -> date:
        return (at + self.offset).date()

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


async def review_stats(
    ctx: AppContext, period: StatsPeriod, institution: str | None = None
) -> dict[str, Any]:
    """Every number of the statistics page for sessions created in ``period`` (only
    ``institution``'s when given: a reviewer's scope)."""
    in_scope = RecordingSession.institution == institution if institution is not None else true()
    async with ctx.db.read() as s:
        sessions = list(
            (
                await s.execute(
                    select(
                        RecordingSession.id,
                        RecordingSession.created_at,
                        RecordingSession.ended_at,
                        RecordingSession.verdict,
                        RecordingSession.review_status,
                    ).where(
                        RecordingSession.created_at >= period.start,
                        RecordingSession.created_at < period.end,
                        in_scope,
                    )
                )
            ).all()
        )
        ids = [row.id for row in sessions]
        decisions = list(
            (
                await s.execute(
                    select(ReviewDecision)
                    .where(ReviewDecision.session_id.in_(ids))
                    .order_by(ReviewDecision.id)
                )
            ).scalars()
        )
        per_code = list(
            (
                await s.execute(
                    select(FindingRow.code, FindingRow.review_state, func.count(FindingRow.id))
                    .where(FindingRow.session_id.in_(ids))
                    .group_by(FindingRow.code, FindingRow.review_state)
                )
            ).all()
        )
    return {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "tz_minutes": period.tz_minutes,
        },
        **_session_numbers(sessions, decisions),
        "per_day": _per_day(period, sessions, decisions),
        "review_time": _review_time(decisions),
        "per_code": _per_code(per_code),
    }


def _first_decisions(decisions: list[ReviewDecision], level: int) -> dict[str, ReviewDecision]:
    out: dict[str, ReviewDecision] = {}
    for d in decisions:
        if d.level == level:
            out.setdefault(d.session_id, d)
    return out


def _session_numbers(sessions: list[Any], decisions: list[ReviewDecision]) -> dict[str, Any]:
    inspected = [r for r in sessions if r.verdict in ("pass", "flagged")]
    machine_pass = sum(1 for r in inspected if r.verdict == "pass")
    first = _first_decisions(decisions, 1)
    second = _first_decisions(decisions, 2)
    approved_first = sum(1 for d in first.values() if d.decision == "approve")
    overturned = sum(
        1 for sid, d in second.items() if sid in first and first[sid].decision != d.decision
    )
    status = Counter(r.review_status for r in sessions)
    return {
        "sessions": len(sessions),
        "inspected": len(inspected),
        "machine_pass_rate": _rate(machine_pass, len(inspected)),
        "first_reviews": len(first),
        "first_pass_rate": _rate(approved_first, len(first)),
        "second_reviews": len(second),
        "second_overturn_rate": _rate(overturned, len(second)),
        "review_status": {
            k: status.get(k, 0) for k in ("queued", "second_pending", "approved", "rejected")
        },
    }


def _per_day(
    period: StatsPeriod, sessions: list[Any], decisions: list[ReviewDecision]
) -> list[dict[str, Any]]:
    recorded = Counter(period.local_day(r.ended_at) for r in sessions if r.ended_at is not None)
    created = Counter(period.local_day(r.created_at) for r in sessions)
    reviewed = Counter(period.local_day(d.created_at) for d in decisions if d.level == 1)
    return [
        {
            "day": day.isoformat(),
            "created": created.get(day, 0),
            "recorded": recorded.get(day, 0),
            "reviewed": reviewed.get(day, 0),
        }
        for day in period.days()
    ]


def _review_time(decisions: list[ReviewDecision]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in (1, 2):
        spans = [
            (d.created_at - d.opened_at).total_seconds()
            for d in decisions
            if d.level == level and d.opened_at is not None and d.created_at >= d.opened_at
        ]
        out[f"level{level}"] = {
            "count": len(spans),
            "average_s": round(sum(spans) / len(spans), 1) if spans else None,
        }
    return out


def _per_code(rows: list[Any]) -> list[dict[str, Any]]:
    table: dict[str, Counter[str]] = {}
    for code, state, n in rows:
        table.setdefault(code, Counter())[state] += n
    out = []
    for code, c in sorted(table.items()):
        judged = c["confirmed"] + c["dismissed"]
        out.append(
            {
                "code": code,
                "findings": sum(c.values()),
                "confirmed": c["confirmed"],
                "dismissed": c["dismissed"],
                "open": c["open"],
                "precision": _rate(c["confirmed"], judged),
            }
        )
    return out
