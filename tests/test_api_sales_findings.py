"""The salesperson's read-only findings view (``GET /api/sessions/{id}/findings``): the owner
sees their findings, the review's outcome and the re-recording request; another salesperson
gets 404 (not even existence is revealed), a reviewer 403, an admin everything; ID numbers
masked, no reviewer identity or comment, every view audited."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from server.store.models import AuditEntry, FindingRow
from tests.conftest import RunningServer
from tests.review_fixtures import FLAGGED, ID_NUMBER, MASKED_ID, build_session


async def _reject(client_factory: Any, session_id: str, finding_ids: list[int]) -> None:
    rev1, rev2 = await client_factory("rev1"), await client_factory("rev2")
    for fid in finding_ids:
        status, body = await rev1.post(
            f"/api/review/findings/{fid}", {"state": "confirmed", "comment": "内部备注-勿外传"}
        )
        assert status == 200, body
    url = f"/api/review/sessions/{session_id}/decision"
    for rev in (rev1, rev2):
        status, body = await rev.post(url, {"decision": "reject", "reason": "请按要求重录"})
        assert status == 200, body


async def test_owner_sees_findings_review_and_rerecord_request(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx, salesperson="sales1")
    await _reject(client_factory, built.id, built.finding_ids)
    sales1 = await client_factory("sales1")
    status, body = await sales1.get(f"/api/sessions/{built.id}/findings")
    assert status == 200, body
    assert body["session"]["id"] == built.id
    assert body["session"]["customer_id_number"] == MASKED_ID
    assert body["session"]["review_status"] == "rejected"
    codes = [f["code"] for f in body["findings"]]
    assert sorted(codes) == sorted(f["code"] for f in FLAGGED)
    forbidden = next(f for f in body["findings"] if f["code"] == "speech.forbidden_phrase")
    assert forbidden["node_title"] and forbidden["review_state"] == "confirmed"
    assert forbidden["evidence"]["phrase"] == "保本保息"
    absent = next(f for f in body["findings"] if f["code"] == "face.absent")
    assert "frame" not in absent["evidence"]  # thumbnails are QC-only files
    mismatch = next(f for f in body["findings"] if f["code"] == "document.id_card_mismatch")
    assert mismatch["message_en"] == f"ID number {MASKED_ID} does not match the policy"
    assert mismatch["evidence"] == {
        **FLAGGED[3]["evidence"],
        "ocr_text": f"公民身份号码 {MASKED_ID}",
    }
    assert absent["message_en"] is None  # a report without one
    assert [d["decision"] for d in body["decisions"]] == ["reject", "reject"]
    assert body["decisions"][0]["reason"] == "请按要求重录"
    [req] = body["rerecord_requests"]
    assert req["status"] == "open" and req["reason"] == "请按要求重录"
    assert len(req["items"]) == len(FLAGGED)
    text = json.dumps(body, ensure_ascii=False)
    assert ID_NUMBER not in text  # also inside messages and OCR evidence
    assert "内部备注" not in text and "rev1" not in text  # QC's comments and names stay there
    async with server.ctx.db.session() as s:
        actions = (
            await s.execute(select(AuditEntry.action).where(AuditEntry.session_id == built.id))
        ).scalars()
        assert "findings.view" in list(actions)
        stored = (
            await s.execute(
                select(FindingRow).where(
                    FindingRow.session_id == built.id,
                    FindingRow.code == "document.id_card_mismatch",
                )
            )
        ).scalar_one()
    # The English message has its own column; the evidence is the report's, nothing added.
    assert stored.message_en == f"ID number {ID_NUMBER} does not match the policy"
    assert stored.evidence == FLAGGED[3]["evidence"]


async def test_other_salesperson_and_reviewer_are_refused(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx, salesperson="sales1")
    sales2 = await client_factory("sales2")
    status, body = await sales2.get(f"/api/sessions/{built.id}/findings")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert "speech" not in json.dumps(body)
    # Same answer as for a session that does not exist.
    status, missing = await sales2.get("/api/sessions/s-0000000000000000/findings")
    assert status == 404 and missing["error"]["code"] == body["error"]["code"]
    status, body = await sales2.get("/api/sessions/../findings")
    assert status == 404
    rev = await client_factory("rev1")
    status, body = await rev.get(f"/api/sessions/{built.id}/findings")
    assert status == 403 and body["error"]["code"] == "wrong_role"
    anon = await client_factory()
    status, body = await anon.get(f"/api/sessions/{built.id}/findings")
    assert status == 401
    admin = await client_factory("admin")
    status, body = await admin.get(f"/api/sessions/{built.id}/findings")
    assert status == 200 and len(body["findings"]) == len(FLAGGED)


async def test_page_needs_login_and_is_served_to_the_owner(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx, salesperson="sales1", findings=[])
    anon = await client_factory()
    status, _ = await anon.get(f"/sales/session/{built.id}/findings")
    assert status == 302
    sales1 = await client_factory("sales1")
    status, page = await sales1.get(f"/sales/session/{built.id}/findings")
    assert status == 200 and b"findings.js" in page
    status, body = await sales1.get(f"/api/sessions/{built.id}/findings")
    assert status == 200 and body["findings"] == [] and body["rerecord_requests"] == []
