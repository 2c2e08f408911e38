"""Quality-control review, statistics, retention and re-recording requests."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from server.api.schemas.common import (
    NOT_BOOL,
    PROSE,
    SAFE,
    Body,
    Flag,
    OneOf,
    OptionalDay,
    Out,
    Query,
)
from server.reviews import FINDING_STATES, MAX_COMMENT, MAX_REASON, QUEUE_LIMIT, STATUS_FILTERS
from server.text_rules import MAX_NOTE

QueryText = Annotated[str | None, Field(max_length=128), SAFE]


class QueueQuery(Query):
    status: Annotated[str, SAFE, OneOf(STATUS_FILTERS)] = "open"
    code: QueryText = None
    product: QueryText = None
    salesperson: QueryText = Field(None, description="username or user id")
    from_: OptionalDay = Field(None, alias="from", description="first day (YYYY-MM-DD), UTC")
    to: OptionalDay = Field(None, description="last day (YYYY-MM-DD), UTC")
    limit: Annotated[int, Field(ge=1, le=QUEUE_LIMIT), NOT_BOOL] = 200
    offset: Annotated[int, Field(ge=0, le=10**9), NOT_BOOL] = 0


class StatsQuery(Query):
    from_: OptionalDay = Field(None, alias="from", description="first day; default to - 29 days")
    to: OptionalDay = Field(None, description="last day; default today")
    tz: Annotated[int, Field(ge=-840, le=840, description="minutes east of UTC"), NOT_BOOL] = 0


class JudgeBody(Body):
    state: Annotated[str, SAFE, OneOf(FINDING_STATES)]
    comment: Annotated[str, Field(max_length=MAX_COMMENT), SAFE, PROSE] = ""


class DecisionBody(Body):
    decision: Annotated[str, SAFE, OneOf(("approve", "reject"))]
    reason: Annotated[str, Field(max_length=MAX_REASON), SAFE, PROSE] = ""


class HoldBody(Body):
    hold: Flag
    reason: Annotated[str, Field(max_length=MAX_NOTE), SAFE, PROSE] = ""


class QueueOut(Out):
    sessions: list[dict[str, Any]]
    total: int
    counts: dict[str, dict[str, int]]


class ReviewDetailOut(Out):
    session: dict[str, Any]
    findings: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    permissions: dict[str, Any]


class FindingOut(Out):
    finding: dict[str, Any]


class DecisionOut(Out):
    decision: dict[str, Any]
    review_status: str
    rerecord_request: dict[str, Any] | None


class StatsOut(Out):
    pass


class DeletedOut(Out):
    deleted: str
    files: list[str]


class HoldOut(Out):
    hold: dict[str, Any] | None


class VerifyOut(Out):
    ok: bool = Field(description="true when nothing was found wrong")
    problems: list[str] = Field(description="each tampering or inconsistency found")
    notes: list[str] = Field(description="facts worth knowing that are not problems")


class RerecordListOut(Out):
    requests: list[dict[str, Any]]


class RerecordStartOut(Out):
    request: dict[str, Any]
    session: dict[str, Any]
