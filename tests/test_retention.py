"""Retention (R17): retain-until from the policy term, deletion refused and audited before it,
legal holds, and deletion afterwards (files gone, personal data scrubbed, chain intact)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server import audit_verify, retention
from server.settings import load_settings
from server.store.models import AuditEntry, RecordingSession
from server.store.types import utcnow
from tests.conftest import RunningServer, make_settings, serving
from tests.review_fixtures import build_session, policy, user_named


@pytest.mark.parametrize(
    ("insurance_years", "years_after", "expected_year"),
    [(20, 10, 2026 + 30), (1, 5, 2026 + 6), (None, 10, 1949 + 105 + 10)],
)
def test_retain_until_from_policy_term(
    insurance_years: int | None, years_after: int, expected_year: int
) -> None:
    settings = load_settings({"retention_years_after_term": years_after}, env={})
    got = retention.retain_until_for(
        policy(insurance_years=insurance_years), date(2026, 3, 31), settings
    )
    assert got == date(expected_year, 3, 28)


async def _attempts(server: RunningServer, session_id: str) -> list[tuple[str, str, Any]]:
    async with server.ctx.db.session() as s:
        rows = await s.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail)
            .where(
                AuditEntry.session_id == session_id,
                AuditEntry.action.like("session.delete%") | AuditEntry.action.like("retention.%"),
            )
            .order_by(AuditEntry.seq)
        )
        return [(a, b, c) for a, b, c in rows.all()]


async def _expire(server: RunningServer, session_id: str) -> None:
    async with server.ctx.db.session() as s:
        row = await s.get(RecordingSession, session_id)
        assert row is not None
        # The server's day (UTC), as retention compares: the local date is a day ahead of it
        # for hours east of UTC, which left the session retained.
        row.retain_until = utcnow().date() - timedelta(days=1)


async def test_session_gets_retain_until_at_creation(server: RunningServer) -> None:
    built = await build_session(server.ctx)
    async with server.ctx.db.session() as s:
        row = await s.get(RecordingSession, built.id)
    assert row is not None and row.retain_until is not None
    # From the day it was created (UTC), not today's date: they differ across midnight and,
    # east of UTC, for hours each day.
    created = row.created_at.year
    assert row.retain_until.year == created + 20 + server.ctx.settings.retention_years_after_term


async def test_deletion_before_retention_is_refused_and_audited(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx)
    admin = await client_factory("admin")
    rev = await client_factory("rev1")
    status, body = await admin.request("DELETE", f"/api/sessions/{built.id}")
    assert status == 409 and body["error"]["code"] == "retention_active"
    assert body["error"]["details"]["retain_until"]
    status, body = await rev.request("DELETE", f"/api/sessions/{built.id}")
    assert status == 403 and body["error"]["code"] == "wrong_role"
    assert built.file("customer-000.mkv").is_file()
    assert [(a, b, c["why"]) for a, b, c in await _attempts(server, built.id)] == [
        ("user:admin", "session.delete.refused", "retention_active"),
        ("user:rev1", "session.delete.refused", "wrong_role"),
    ]
    status, body = await admin.request("DELETE", "/api/sessions/s-0000000000000000")
    assert status == 404
    status, body = await admin.request("DELETE", f"/api/sessions/{built.id}", csrf=False)
    assert status == 403 and body["error"]["code"] == "csrf_failed"


async def test_legal_hold_blocks_deletion_after_retention(
    server: RunningServer, client_factory: Any
) -> None:
    built = await build_session(server.ctx)
    await _expire(server, built.id)
    admin = await client_factory("admin")
    rev = await client_factory("rev1")
    url = f"/api/sessions/{built.id}/hold"
    status, body = await rev.post(url, {"hold": True, "reason": "投诉"})
    assert status == 403
    status, body = await admin.post(url, {"hold": True, "reason": ""})
    assert status == 400 and body["error"]["code"] == "reason_required"
    status, body = await admin.post(url, {"hold": True, "reason": "客户投诉 2026-001"})
    assert status == 200 and body["hold"]["reason"] == "客户投诉 2026-001"
    assert body["hold"]["by"] == "user:admin"
    status, body = await admin.request("DELETE", f"/api/sessions/{built.id}")
    assert status == 409 and body["error"]["code"] == "legal_hold"
    status, body = await admin.post(url, {"hold": False})
    assert status == 200 and body["hold"] is None
    status, body = await admin.request("DELETE", f"/api/sessions/{built.id}")
    assert status == 200, body
    assert [b for _, b, _ in await _attempts(server, built.id)] == [
        "retention.hold.refused",
        "retention.hold",
        "session.delete.refused",
        "retention.release",
        "session.delete",
    ]


async def test_deletion_after_retention(
    server: RunningServer, client_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx)
    kept = await build_session(server.ctx)
    async with server.ctx.db.session() as s:
        row = await s.get(RecordingSession, built.id)
        assert row is not None and row.retain_until is not None
        after = row.retain_until + timedelta(days=1)
    # Time passes (not the retention date moved in the database: verify would catch that).
    deleted = await retention.delete_session(
        server.ctx, built.id, await user_named(server.ctx, "admin"), today=after
    )
    assert {"salesperson-000.mkv", "customer-000.mkv", "metadata.json"} <= set(deleted.files)
    assert not built.dir.exists()
    assert kept.dir.is_dir()
    async with server.ctx.db.session() as s:
        row = await s.get(RecordingSession, built.id)
        assert row is not None and row.deleted_at is not None
        assert row.customer_id_number == "" and row.customer_name == ""
        assert "customer_id_number" not in row.policy
        # The deletion is in the chain, so the missing files are not reported as tampering.
        assert await audit_verify.verify_chain(s) == []
        assert await audit_verify.verify_files(s, server.ctx.settings.sessions_dir) == []
    [(_, action, detail)] = [a for a in await _attempts(server, built.id)]
    assert action == "session.delete" and "customer-000.mkv" in detail["files"]
    admin = await client_factory("admin")
    status, body = await admin.request("DELETE", f"/api/sessions/{built.id}")
    assert status == 404
    rev = await client_factory("rev1")
    status, body = await rev.get("/api/review/queue?status=all")
    assert [s["id"] for s in body["sessions"]] == [kept.id]


async def test_deletion_removes_the_archived_copy(tmp_path: Path) -> None:
    """With an archive (here a local object store; S3 in test_storage_s3) the deletion ends
    the stored recordings too, and the chain lists the keys it removed."""
    archive = tmp_path / "archive"
    archive.mkdir()
    async with serving(make_settings(tmp_path, storage_url=archive.as_uri())) as srv:
        assert srv.ctx.archive is not None
        built = await build_session(srv.ctx)
        await srv.ctx.archive.sync(built.id)
        stored = archive / "sessions" / built.id
        assert (stored / "salesperson-000.mkv").is_file()
        async with srv.ctx.db.session() as s:
            row = await s.get(RecordingSession, built.id)
            assert row is not None and row.retain_until is not None
            after = row.retain_until + timedelta(days=1)
        deleted = await retention.delete_session(
            srv.ctx, built.id, await user_named(srv.ctx, "admin"), today=after
        )
        assert f"sessions/{built.id}/salesperson-000.mkv" in deleted.stored
        assert not any(p.is_file() for p in stored.rglob("*"))
        [(_, action, detail)] = await _attempts(srv, built.id)
        assert action == "session.delete" and detail["stored"] == deleted.stored
