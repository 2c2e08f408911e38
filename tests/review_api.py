"""Driving the reviewer API in tests: judge findings, read a session's audit actions, set
the 二审 sampling rate (tests/test_api_reviews.py, tests/test_api_review_decisions.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from server.store.models import AuditEntry
from tests.conftest import RunningServer
from tests.review_fixtures import FLAGGED

REVIEW_ONLY = [f for f in FLAGGED if f["severity"] == "review"]


def set_second_review_rate(server: RunningServer, rate: float) -> None:
    server.ctx.settings = replace(server.ctx.settings, second_review_sample_rate=rate)


async def judge_all(client: Any, finding_ids: list[int], state: str = "confirmed") -> None:
    for fid in finding_ids:
        status, body = await client.post(
            f"/api/review/findings/{fid}", {"state": state, "comment": "看过录像"}
        )
        assert status == 200, body
        assert body["finding"]["review_state"] == state


async def audit_actions(server: RunningServer, session_id: str) -> list[str]:
    async with server.ctx.db.session() as s:
        rows = await s.execute(
            select(AuditEntry.action)
            .where(AuditEntry.session_id == session_id)
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())
