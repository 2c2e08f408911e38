"""Reviewers' and admins' free text (a finding's comment, a decision's reason, a legal
hold's reason) keeps its line breaks and tabs but refuses other controls and the invisible
characters that change how text reads (right-to-left overrides and isolates, zero-width
spaces): 400 ``invalid_fields``, nothing stored. The text is shown to the salesperson (the
reason of a re-recording), in the evidence export and the audit chain; before, a reason
with U+202E displayed reversed there and one with an escape sequence was stored as given."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.store.models import FindingRow
from tests.conftest import RunningServer
from tests.review_fixtures import build_session
from tests.test_api_auth import assert_error

HOSTILE = {
    "rlo": "已核实\u202e过通不",
    "isolate": "原因\u2067隐藏\u2069",
    "zero-width": "客户\u200b确认",
    "escape": "ok\x1b[2J",
    "bell": "ok\x07",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_review_text_is_refused(
    server: RunningServer, client_factory: Any, case: str
) -> None:
    built = await build_session(server.ctx)
    rev, admin = await client_factory("rev1"), await client_factory("admin")
    text = HOSTILE[case]
    fid = built.finding_ids[0]
    status, body = await rev.post(
        f"/api/review/findings/{fid}", {"state": "confirmed", "comment": text}
    )
    assert status == 400, body
    assert_error(body, "invalid_fields")
    status, body = await rev.post(
        f"/api/review/sessions/{built.id}/decision", {"decision": "reject", "reason": text}
    )
    assert status == 400, body
    status, body = await admin.post(
        f"/api/sessions/{built.id}/hold", {"hold": True, "reason": text}
    )
    assert status == 400, body
    async with server.ctx.db.read() as s:
        row = (await s.execute(select(FindingRow).where(FindingRow.id == fid))).scalar_one()
    assert row.review_state == "open" and not row.review_comment


async def test_line_breaks_and_tabs_stay(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    rev = await client_factory("rev1")
    comment = "第一段：客户未读风险提示。\n\t第二段：已复核录像 02:15。\r\n👩‍💼 签字"
    status, body = await rev.post(
        f"/api/review/findings/{built.finding_ids[0]}", {"state": "confirmed", "comment": comment}
    )
    assert status == 200, body
    assert body["finding"]["review_comment"] == comment
