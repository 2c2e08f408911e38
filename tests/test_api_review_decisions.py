"""Reviewer API decisions (一审/二审: preconditions, a reject going to another reviewer,
approval sampling into 二审, reasons) and the salesperson's re-record requests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from server import audit_verify
from server.store.models import AuditEntry, RecordingSession
from tests.conftest import RunningServer
from tests.review_api import REVIEW_ONLY, audit_actions, judge_all, set_second_review_rate
from tests.review_fixtures import ID_NUMBER, MASKED_ID, build_session

# ---------------------------------------------------------------------------------------------
# Decisions


async def test_decision_preconditions(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    rev = await client_factory("rev1")
    url = f"/api/review/sessions/{built.id}/decision"
    status, body = await rev.post(url, {"decision": "approve"})
    assert status == 409 and body["error"]["code"] == "findings_open"
    assert body["error"]["details"]["open"] == sorted(built.finding_ids)
    await judge_all(rev, built.finding_ids[:1], "confirmed")
    await judge_all(rev, built.finding_ids[1:], "dismissed")
    status, body = await rev.post(url, {"decision": "approve"})
    assert status == 409 and body["error"]["code"] == "confirmed_findings"
    status, body = await rev.post(url, {"decision": "reject", "reason": "  "})
    assert status == 400 and body["error"]["code"] == "reason_required"
    status, body = await rev.post(url, {"decision": "maybe"})
    assert status == 400 and body["error"]["code"] == "invalid_fields"
    status, body = await rev.post(url, {"decision": "reject", "reason": "x" * 3000})
    assert status == 400 and body["error"]["code"] == "invalid_fields"
    status, body = await rev.post(url, "not an object")
    assert status == 400 and body["error"]["code"] == "invalid_json"


async def test_reject_goes_to_second_review_by_another_reviewer(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx)
    forbidden, missing, absent, id_card = built.finding_ids
    rev1 = await client_factory("rev1")
    rev2 = await client_factory("rev2")
    sales = await client_factory("sales1")
    await rev1.get(f"/api/review/sessions/{built.id}")  # starts the review clock
    await judge_all(rev1, [forbidden, missing], "confirmed")
    await judge_all(rev1, [absent, id_card], "dismissed")
    url = f"/api/review/sessions/{built.id}/decision"
    status, body = await rev1.post(url, {"decision": "reject", "reason": "误导销售且漏讲免责条款"})
    assert status == 200, body
    assert body["review_status"] == "second_pending"
    assert body["decision"]["level"] == 1 and body["decision"]["opened_at"]
    assert body["rerecord_request"] is None  # not final yet: the customer is not bothered
    status, body = await sales.get("/api/rerecord-requests")
    assert status == 200 and body["requests"] == []

    # The first reviewer may neither decide nor judge at the second level.
    status, body = await rev1.post(url, {"decision": "reject", "reason": "again"})
    assert status == 403 and body["error"]["code"] == "same_reviewer"
    status, body = await rev1.post(
        f"/api/review/findings/{absent}", {"state": "confirmed", "comment": ""}
    )
    assert status == 403 and body["error"]["code"] == "same_reviewer"
    status, body = await rev1.get(f"/api/review/sessions/{built.id}")
    assert body["permissions"]["blocked_reason"] == "same_reviewer"
    status, body = await rev1.get("/api/review/queue")
    item = next(s for s in body["sessions"] if s["id"] == built.id)
    assert item["level"] == 2 and item["can_act"] is False
    status, body = await rev2.get("/api/review/queue?status=second_pending")
    assert [s["id"] for s in body["sessions"]] == [built.id]
    assert body["sessions"][0]["can_act"] is True

    status, body = await rev2.get(f"/api/review/sessions/{built.id}")
    assert body["permissions"] == {**body["permissions"], "level": 2, "can_act": True}
    status, body = await rev2.post(url, {"decision": "reject", "reason": "同意一审意见"})
    assert status == 200, body
    assert body["review_status"] == "rejected"
    request = body["rerecord_request"]
    assert request["status"] == "open" and request["reason"] == "同意一审意见"
    # Only what must be redone: the two confirmed findings, not the dismissed ones.
    assert [(i["code"], i["node"]) for i in request["items"]] == [
        ("script.node_missing", "exclusions"),
        ("speech.forbidden_phrase", "coverage"),
    ]
    assert request["items"][0]["text_zh"] == "讲解「责任免除 (R8)」"
    assert "保险责任 (R7)" in request["items"][1]["text_zh"]

    status, body = await rev2.post(url, {"decision": "approve"})
    assert status == 409 and body["error"]["code"] == "not_under_review"
    status, body = await rev2.post(
        f"/api/review/findings/{absent}", {"state": "confirmed", "comment": ""}
    )
    assert status == 409 and body["error"]["code"] == "not_under_review"
    actions = await audit_actions(server, built.id)
    assert actions.count("review.decide") == 2
    assert actions.count("review.refused") == 4  # 2 by the first reviewer, 2 after closing
    async with server.ctx.db.session() as s:
        refused = (
            await s.execute(
                select(AuditEntry.actor, AuditEntry.detail).where(
                    AuditEntry.session_id == built.id, AuditEntry.action == "review.refused"
                )
            )
        ).all()
    assert [(a, d["why"]) for a, d in refused] == [
        ("user:rev1", "same_reviewer"),
        ("user:rev1", "same_reviewer"),
        ("user:rev2", "not_under_review"),
        ("user:rev2", "not_under_review"),
    ]
    async with server.ctx.db.session() as s:
        assert await audit_verify.verify_chain(s) == []


async def test_approval_sampling_into_second_review(
    server: RunningServer, client_factory: Any
) -> None:
    rev1 = await client_factory("rev1")
    rev2 = await client_factory("rev2")

    async def approve(client: Any, session_id: str, ids: list[int]) -> dict[str, Any]:
        await judge_all(client, ids, "dismissed")
        status, body = await client.post(
            f"/api/review/sessions/{session_id}/decision", {"decision": "approve", "reason": ""}
        )
        assert status == 200, body
        return dict(body)

    set_second_review_rate(server, 0.0)
    direct = await build_session(server.ctx, findings=REVIEW_ONLY)
    body = await approve(rev1, direct.id, direct.finding_ids)
    assert body["review_status"] == "approved"

    set_second_review_rate(server, 1.0)
    sampled = await build_session(server.ctx, findings=REVIEW_ONLY)
    body = await approve(rev1, sampled.id, sampled.finding_ids)
    assert body["review_status"] == "second_pending"
    status, body = await rev2.post(
        f"/api/review/sessions/{sampled.id}/decision", {"decision": "approve"}
    )
    assert status == 200 and body["review_status"] == "approved"
    assert body["decision"]["level"] == 2
    async with server.ctx.db.session() as s:
        row = await s.get(RecordingSession, sampled.id)
        assert row is not None and row.review_status == "approved"


async def test_reject_without_confirmed_findings_asks_per_reason(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx, findings=REVIEW_ONLY)
    rev1, rev2 = await client_factory("rev1"), await client_factory("rev2")
    await judge_all(rev1, built.finding_ids, "dismissed")
    url = f"/api/review/sessions/{built.id}/decision"
    assert (await rev1.post(url, {"decision": "reject", "reason": "客户回答含糊"}))[0] == 200
    status, body = await rev2.post(url, {"decision": "reject", "reason": "客户回答含糊"})
    assert status == 200
    assert [i["code"] for i in body["rerecord_request"]["items"]] == ["review.other"]


# ---------------------------------------------------------------------------------------------
# Re-recording requests (salesperson side)


async def _rejected(server: RunningServer, client_factory: Any, salesperson: str) -> str:
    built = await build_session(server.ctx, salesperson=salesperson)
    rev1, rev2 = await client_factory("rev1"), await client_factory("rev2")
    await judge_all(rev1, built.finding_ids, "confirmed")
    url = f"/api/review/sessions/{built.id}/decision"
    assert (await rev1.post(url, {"decision": "reject", "reason": "需重录"}))[0] == 200
    assert (await rev2.post(url, {"decision": "reject", "reason": "需重录"}))[0] == 200
    return built.id


async def test_salesperson_sees_and_starts_own_rerecord_request(
    server: RunningServer, client_factory: Any
) -> None:
    mine = await _rejected(server, client_factory, "sales1")
    theirs = await _rejected(server, client_factory, "sales2")
    sales1, sales2 = await client_factory("sales1"), await client_factory("sales2")
    status, body = await sales1.get("/api/rerecord-requests")
    assert status == 200
    [req] = body["requests"]
    assert req["session"]["id"] == mine and req["session"]["customer_id_number"] == MASKED_ID
    assert ID_NUMBER not in json.dumps(body, ensure_ascii=False)
    assert len(req["items"]) == 4 and req["reason"] == "需重录"
    status, body = await sales1.post(f"/api/rerecord-requests/{req['id']}/start")
    assert status == 201, body
    new = body["session"]
    assert new["rerecord_of"] == mine and new["status"] == "created"
    assert new["product_name"] == "安康定期寿险"
    assert body["request"]["status"] == "done"
    assert body["request"]["new_session_id"] == new["id"]
    status, body = await sales1.post(f"/api/rerecord-requests/{req['id']}/start")
    assert status == 409 and body["error"]["code"] == "request_closed"
    status, body = await sales1.get("/api/rerecord-requests")
    assert body["requests"] == []
    # Someone else's request: not even its existence is revealed.
    status, body = await sales2.get("/api/rerecord-requests")
    [other] = body["requests"]
    assert other["session"]["id"] == theirs
    status, body = await sales1.post(f"/api/rerecord-requests/{other['id']}/start")
    assert status == 404
    rev = await client_factory("rev1")
    status, body = await rev.get("/api/rerecord-requests")
    assert status == 403 and body["error"]["code"] == "wrong_role"
    assert "rerecord.start" in await audit_actions(server, mine)
