"""Answer of the salesperson's findings view (``GET /api/sessions/{id}/findings``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from server.api.schemas.common import Out


class SalesFindingsOut(Out):
    session: dict[str, Any] = Field(description="the session (ID number masked)")
    findings: list[dict[str, Any]] = Field(
        description="each finding with its node title and the reviewer's judgement "
        "(review_state), ID numbers masked; no reviewer identities or comments"
    )
    decisions: list[dict[str, Any]] = Field(description="review decisions: level, decision, reason")
    rerecord_requests: list[dict[str, Any]] = Field(
        description="re-recording requests of this session, with what must be recorded again"
    )
