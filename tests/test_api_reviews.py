"""Reviewer API: queue, session data, judgements and statistics, and their refusals (wrong
role, CSRF); decisions and re-record requests: tests/test_api_review_decisions.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.store.models import RecordingSession
from tests.conftest import RunningServer
from tests.review_api import REVIEW_ONLY, audit_actions, judge_all, set_second_review_rate
from tests.review_fixtures import FLAGGED, ID_NUMBER, MASKED_ID, build_session

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
    # The day a was created (UTC, as the filter reads dates): date.today() is another day
    # when midnight passes during the test, and east of UTC for hours each day.
    async with ctx.db.read() as s:
        created = await s.scalar(
            select(RecordingSession.created_at).where(RecordingSession.id == a.id)
        )
    assert created is not None
    today = created.date()
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
    assert "review.view" in await audit_actions(server, built.id)


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
    assert (await audit_actions(server, built.id)).count("finding.judge") == 3


# ---------------------------------------------------------------------------------------------
# Statistics


async def test_stats(server: RunningServer, client_factory: Any) -> None:
    set_second_review_rate(server, 0.0)
    rev1, rev2 = await client_factory("rev1"), await client_factory("rev2")
    a = await build_session(server.ctx)
    b = await build_session(server.ctx, findings=REVIEW_ONLY)
    await rev1.get(f"/api/review/sessions/{a.id}")
    forbidden, missing, absent, id_card = a.finding_ids
    await judge_all(rev1, [forbidden, missing, absent], "confirmed")
    await judge_all(rev1, [id_card], "dismissed")
    url = f"/api/review/sessions/{a.id}/decision"
    assert (await rev1.post(url, {"decision": "reject", "reason": "r"}))[0] == 200
    assert (await rev2.post(url, {"decision": "approve", "reason": ""}))[0] == 409  # confirmed
    await judge_all(rev2, [absent], "dismissed")
    assert (await rev2.post(url, {"decision": "reject", "reason": "r"}))[0] == 200
    await judge_all(rev1, b.finding_ids, "dismissed")
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
