"""Reviewer API: queue, session data, judgements, decisions (一审/二审), re-record requests,
statistics, and every refusal (wrong role, CSRF, same reviewer at 二审, closed reviews)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from server import audit_verify
from server.store.models import AuditEntry, RecordingSession
from tests.conftest import RunningServer
from tests.review_fixtures import FLAGGED, ID_NUMBER, MASKED_ID, build_session

REVIEW_ONLY = [f for f in FLAGGED if f["severity"] == "review"]


def _set_rate(server: RunningServer, rate: float) -> None:
    server.ctx.settings = replace(server.ctx.settings, second_review_sample_rate=rate)


async def _judge_all(client: Any, finding_ids: list[int], state: str = "confirmed") -> None:
    for fid in finding_ids:
        status, body = await client.post(
            f"/api/review/findings/{fid}", {"state": state, "comment": "看过录像"}
        )
        assert status == 200, body
        assert body["finding"]["review_state"] == state


async def _actions(server: RunningServer, session_id: str) -> list[str]:
    async with server.ctx.db.session() as s:
        rows = await s.execute(
            select(AuditEntry.action)
            .where(AuditEntry.session_id == session_id)
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


# ---------------------------------------------------------------------------------------------
# Queue


async def test_queue_orders_most_severe_then_oldest_with_counts(
    server: RunningServer, client_factory: Any
) -> None:
    ctx = server.ctx
    new_fail = await build_session(ctx, age=timedelta(hours=1))
    old_fail = await build_session(ctx, age=timedelta(days=2))
    old_review = await build_session(ctx, findings=REVIEW_ONLY, age=timedelta(days=5))
    server.ctx.settings = replace(ctx.settings, review_sample_rate=1.0)
    sampled_pass = await build_session(ctx, findings=[], age=timedelta(days=9))
    server.ctx.settings = replace(ctx.settings, review_sample_rate=0.0)
    unsampled_pass = await build_session(ctx, findings=[], salesperson="sales2")

    rev = await client_factory("rev1")
    status, body = await rev.get("/api/review/queue")
    assert status == 200, body
    order = [s["id"] for s in body["sessions"]]
    assert order == [old_fail.id, new_fail.id, old_review.id, sampled_pass.id]
    assert unsampled_pass.id not in order
    assert body["total"] == 4
    assert body["counts"]["by_status"] == {
        "queued": 4,
        "second_pending": 0,
        "approved": 0,
        "rejected": 0,
    }
    assert body["counts"]["by_code"]["face.absent"] == 2
    assert body["counts"]["by_code"]["document.id_card_mismatch"] == 3
    first = body["sessions"][0]
    assert first["worst_severity"] == "fail"
    assert first["customer_id_number"] == MASKED_ID
    assert ID_NUMBER not in json.dumps(body, ensure_ascii=False)
    assert set(first["codes"]) == {f["code"] for f in FLAGGED}
    assert first["salesperson"]["username"] == "sales1"
    assert first["can_act"] is True


async def test_queue_filters(server: RunningServer, client_factory: Any) -> None:
    ctx = server.ctx
    a = await build_session(ctx, findings=REVIEW_ONLY, salesperson="sales1")
    b = await build_session(ctx, salesperson="sales2", age=timedelta(days=3))
    rev = await client_factory("rev1")

    async def ids(query: str) -> list[str]:
        status, body = await rev.get(f"/api/review/queue?{query}")
        assert status == 200, body
        return [s["id"] for s in body["sessions"]]

    assert await ids("code=face.absent") == [b.id]
    assert await ids("code=document.id_card_mismatch") == [b.id, a.id]
    assert await ids("salesperson=sales1") == [a.id]
    assert await ids("salesperson=nobody") == []
    assert await ids("product=traditional") == [b.id, a.id]
    assert await ids("product=%E5%AE%89%E5%BA%B7") == [b.id, a.id]  # 安康: name contains
    assert await ids("product=universal") == []
    # The name is text, not a LIKE pattern: % and _ match themselves only (before: all).
    assert await ids("product=%25") == []
    assert await ids("product=_") == []
    today = date.today()
    assert await ids(f"from={today.isoformat()}") == [a.id]
    assert await ids(f"to={(today - timedelta(days=1)).isoformat()}") == [b.id]
    assert await ids("status=approved") == []
    assert await ids("status=all") == [b.id, a.id]
    status, body = await rev.get("/api/review/queue?status=bogus")
    assert status == 400 and body["error"]["code"] == "invalid_filter"
    status, body = await rev.get("/api/review/queue?from=yesterday")
    assert status == 400 and body["error"]["code"] == "invalid_filter"


async def test_queue_and_session_refuse_wrong_roles(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx)
    anon = await client_factory()
    status, body = await anon.get("/api/review/queue")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    sales = await client_factory("sales1")
    for path in (
        "/api/review/queue",
        f"/api/review/sessions/{built.id}",
        "/api/review/stats",
    ):
        status, body = await sales.get(path)
        assert status == 403 and body["error"]["code"] == "wrong_role", path
    status, body = await sales.post(
        f"/api/review/findings/{built.finding_ids[0]}", {"state": "confirmed", "comment": ""}
    )
    assert status == 403 and body["error"]["code"] == "wrong_role"
    status, body = await sales.post(
        f"/api/review/sessions/{built.id}/decision", {"decision": "approve"}
    )
    assert status == 403 and body["error"]["code"] == "wrong_role"


# ---------------------------------------------------------------------------------------------
# The session page's data


async def test_session_detail_masks_ids_and_lists_media(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx, review_video=True)
    rev = await client_factory("rev1")
    status, body = await rev.get(f"/api/review/sessions/{built.id}")
    assert status == 200, body
    text = json.dumps(body, ensure_ascii=False)
    assert ID_NUMBER not in text  # masked in session, policy, transcript, findings, evidence
    assert MASKED_ID in body["transcript"][3]["text"]
    assert body["session"]["policy"]["customer_id_number"] == MASKED_ID
    tracks = body["media"]["tracks"]
    assert [s["file"] for s in tracks["salesperson"]] == ["salesperson-000.mkv"]
    assert [s["file"] for s in tracks["customer"]] == ["customer-000.mkv"]
    assert tracks["customer"][0]["start_s"] == 0.5
    assert body["media"]["review"]["url"] == f"/api/media/{built.id}/review.mp4"
    assert body["duration_s"] == 4.0
    assert [e["node"] for e in body["events"] if e["type"] == "node"] == [
        "consent",
        "coverage",
        "id_card",
    ]
    assert body["script"][0]["id"] == "consent"
    assert body["faces"]["customer"][1]["faces"] == 0
    by_code = {f["code"]: f for f in body["findings"]}
    assert by_code["face.absent"]["thumbnail_url"] == (
        f"/api/media/{built.id}/evidence/002-face.absent-customer-3.0s.jpg"
    )
    assert by_code["speech.forbidden_phrase"]["thumbnail_url"] is None
    assert [f["severity"] for f in body["findings"]][-1] == "review"  # fail first
    assert body["permissions"] == {
        "level": 1,
        "can_act": True,
        "blocked_reason": None,
        "can_export": False,
        "user_id": body["permissions"]["user_id"],
    }
    assert "review.view" in await _actions(server, built.id)


async def test_session_not_in_review_is_hidden_from_reviewers(
    server: RunningServer, client_factory: Any
) -> None:
    server.ctx.settings = replace(server.ctx.settings, review_sample_rate=0.0)
    passed = await build_session(server.ctx, findings=[])
    rev = await client_factory("rev1")
    status, body = await rev.get(f"/api/review/sessions/{passed.id}")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await rev.get("/api/review/sessions/s-0000000000000000")
    assert status == 404
    status, body = await rev.get("/api/review/sessions/..%2Fetc")
    assert status == 404
    admin = await client_factory("admin")
    status, body = await admin.get(f"/api/review/sessions/{passed.id}")
    assert status == 200 and body["findings"] == []
    assert body["permissions"]["can_act"] is False
    assert body["permissions"]["blocked_reason"] == "not_under_review"


# ---------------------------------------------------------------------------------------------
# Judgements


async def test_judge_findings_and_refusals(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    rev = await client_factory("rev1")
    fid = built.finding_ids[0]
    status, body = await rev.post(f"/api/review/findings/{fid}", {"state": "confirmed"})
    assert status == 200, body
    f = body["finding"]
    assert f["review_state"] == "confirmed" and f["reviewed_by"]["username"] == "rev1"
    assert f["reviewed_at"]
    status, body = await rev.post(f"/api/review/findings/{fid}", {"state": "dismissed"})
    assert status == 400 and body["error"]["code"] == "comment_required"
    status, body = await rev.post(
        f"/api/review/findings/{fid}", {"state": "dismissed", "comment": "客户只是低头签字"}
    )
    assert status == 200 and body["finding"]["review_comment"] == "客户只是低头签字"
    status, body = await rev.post(f"/api/review/findings/{fid}", {"state": "open"})
    assert status == 200 and body["finding"]["reviewed_by"] is None
    status, body = await rev.post(f"/api/review/findings/{fid}", {"state": "maybe"})
    assert status == 400 and body["error"]["code"] == "invalid_fields"
    status, body = await rev.post(
        f"/api/review/findings/{fid}", {"state": "confirmed", "comment": 5}
    )
    assert status == 400 and body["error"]["code"] == "invalid_fields"
    status, body = await rev.post("/api/review/findings/999999", {"state": "confirmed"})
    assert status == 404
    status, body = await rev.post("/api/review/findings/abc", {"state": "confirmed"})
    assert status == 404
    status, body = await rev.post(f"/api/review/findings/{fid}", {"state": "confirmed"}, csrf=False)
    assert status == 403 and body["error"]["code"] == "csrf_failed"
    assert (await _actions(server, built.id)).count("finding.judge") == 3


# ---------------------------------------------------------------------------------------------
# Decisions


async def test_decision_preconditions(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    rev = await client_factory("rev1")
    url = f"/api/review/sessions/{built.id}/decision"
    status, body = await rev.post(url, {"decision": "approve"})
    assert status == 409 and body["error"]["code"] == "findings_open"
    assert body["error"]["details"]["open"] == sorted(built.finding_ids)
    await _judge_all(rev, built.finding_ids[:1], "confirmed")
    await _judge_all(rev, built.finding_ids[1:], "dismissed")
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
    await _judge_all(rev1, [forbidden, missing], "confirmed")
    await _judge_all(rev1, [absent, id_card], "dismissed")
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
    actions = await _actions(server, built.id)
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
        await _judge_all(client, ids, "dismissed")
        status, body = await client.post(
            f"/api/review/sessions/{session_id}/decision", {"decision": "approve", "reason": ""}
        )
        assert status == 200, body
        return dict(body)

    _set_rate(server, 0.0)
    direct = await build_session(server.ctx, findings=REVIEW_ONLY)
    body = await approve(rev1, direct.id, direct.finding_ids)
    assert body["review_status"] == "approved"

    _set_rate(server, 1.0)
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
    await _judge_all(rev1, built.finding_ids, "dismissed")
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
    await _judge_all(rev1, built.finding_ids, "confirmed")
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
    assert "rerecord.start" in await _actions(server, mine)


# ---------------------------------------------------------------------------------------------
# Statistics


async def test_stats(server: RunningServer, client_factory: Any) -> None:
    _set_rate(server, 0.0)
    rev1, rev2 = await client_factory("rev1"), await client_factory("rev2")
    a = await build_session(server.ctx)
    b = await build_session(server.ctx, findings=REVIEW_ONLY)
    await rev1.get(f"/api/review/sessions/{a.id}")
    forbidden, missing, absent, id_card = a.finding_ids
    await _judge_all(rev1, [forbidden, missing, absent], "confirmed")
    await _judge_all(rev1, [id_card], "dismissed")
    url = f"/api/review/sessions/{a.id}/decision"
    assert (await rev1.post(url, {"decision": "reject", "reason": "r"}))[0] == 200
    assert (await rev2.post(url, {"decision": "approve", "reason": ""}))[0] == 409  # confirmed
    await _judge_all(rev2, [absent], "dismissed")
    assert (await rev2.post(url, {"decision": "reject", "reason": "r"}))[0] == 200
    await _judge_all(rev1, b.finding_ids, "dismissed")
    url_b = f"/api/review/sessions/{b.id}/decision"
    assert (await rev1.post(url_b, {"decision": "approve"}))[0] == 200

    status, body = await rev1.get("/api/review/stats?tz=480")
    assert status == 200, body
    assert body["sessions"] == 2 and body["inspected"] == 2
    assert body["machine_pass_rate"] == 0.0
    assert body["first_reviews"] == 2 and body["first_pass_rate"] == 0.5
    assert body["second_reviews"] == 1 and body["second_overturn_rate"] == 0.0
    assert body["review_status"]["rejected"] == 1 and body["review_status"]["approved"] == 1
    per_code = {c["code"]: c for c in body["per_code"]}
    assert per_code["document.id_card_mismatch"] == {
        "code": "document.id_card_mismatch",
        "findings": 2,
        "confirmed": 0,
        "dismissed": 2,
        "open": 0,
        "precision": 0.0,
    }
    assert per_code["speech.forbidden_phrase"]["precision"] == 1.0
    assert per_code["face.absent"]["precision"] == 0.0  # rev2 dismissed it at 二审
    assert len(body["per_day"]) == 30
    assert sum(d["recorded"] for d in body["per_day"]) == 2
    assert sum(d["reviewed"] for d in body["per_day"]) == 2
    assert body["review_time"]["level1"]["count"] >= 1
    assert body["review_time"]["level1"]["average_s"] >= 0
    status, body = await rev1.get("/api/review/stats?from=2026-02-01&to=2026-01-01")
    assert status == 400 and body["error"]["code"] == "invalid_filter"
    status, body = await rev1.get("/api/review/stats?tz=9999")
    assert status == 400
