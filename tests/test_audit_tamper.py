"""Tampering that the unkeyed chain missed, each caught by `kesu audit verify` now: deleting
the newest entries, rewriting the chain after replacing a recording, a forged or disallowed
``session.delete``, an edited metadata.json, and edited review rows (docs/audit.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

from server import audit
from server.durable_files import sha256_file
from server.settings import Settings
from server.store.models import (
    AuditEntry,
    FindingRow,
    RecordingSession,
    RerecordRequest,
    ReviewDecision,
)
from server.store.types import utcnow
from tests.audit_cli import settle, verify
from tests.conftest import RunningServer, add_test_users, serving, start_server
from tests.review_fixtures import build_session, reject_twice


async def _intact(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = await verify(server, capsys)
    assert code == 0, out
    assert "intact" in out


async def _rehash_from(server: RunningServer, seq: int) -> None:
    """What an insider without the key does after editing entry ``seq``: recompute every
    SHA-256 link from there to the head, so the plain hash chain is whole again."""
    async with server.ctx.db.session() as s:
        prev = (
            await s.execute(select(AuditEntry.hash).where(AuditEntry.seq == seq - 1))
        ).scalar_one()
        rows = (
            await s.execute(
                select(AuditEntry).where(AuditEntry.seq >= seq).order_by(AuditEntry.seq)
            )
        ).scalars()
        for e in rows:
            e.prev_hash = prev
            e.hash = audit.entry_hash(e.seq, e.at, e.actor, e.action, e.session_id, e.detail, prev)
            prev = e.hash


async def test_deleting_the_newest_entries_is_caught(
    server: RunningServer, client_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    await build_session(server.ctx)
    admin = await client_factory("admin")  # logged in first: a login is an entry too
    await _intact(server, capsys)
    async with server.ctx.db.session() as s:
        head = (await s.execute(select(func.max(AuditEntry.seq)))).scalar_one()
        await s.execute(delete(AuditEntry).where(AuditEntry.seq > head - 3))
    code, out = await verify(server, capsys)
    assert code == 1, out
    assert f"the chain ends at entry {head - 3} but a checkpoint" in out
    assert f"entries {head - 2}..{head} were deleted" in out
    status, body = await admin.get("/api/audit/verify")  # the same verification, for admins
    assert status == 200 and body["ok"] is False
    assert any(f"entries {head - 2}..{head} were deleted" in p for p in body["problems"])


async def test_rewriting_the_chain_after_replacing_a_recording_is_caught(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx)
    await _intact(server, capsys)
    forged = b"another recording"
    built.file("customer-000.mkv").write_bytes(forged)
    async with server.ctx.db.session() as s:
        end = (
            await s.execute(
                select(AuditEntry).where(
                    AuditEntry.session_id == built.id, AuditEntry.action == "session.end"
                )
            )
        ).scalar_one()
        files = dict(end.detail["files"])
        files["customer-000.mkv"] = sha256_file(built.file("customer-000.mkv"))
        end.detail = {**end.detail, "files": files}
        seq = end.seq
    await _rehash_from(server, seq)
    code, out = await verify(server, capsys)
    assert code == 1, out
    assert "customer-000.mkv was altered" not in out  # the forged anchor matches the file...
    assert f"entries {seq}.." in out and "MAC does not match the audit key" in out  # ...but
    assert "differs from the checkpoint signed at" in out and "the chain was rewritten" in out


async def test_a_forged_session_delete_does_not_excuse_missing_files(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx)
    await _intact(server, capsys)
    for path in sorted(built.dir.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    built.dir.rmdir()
    async with server.ctx.db.session() as s:
        last = (
            await s.execute(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        ).scalar_one()
        at = utcnow().replace(microsecond=0)
        detail: dict[str, Any] = {"retain_until": "2000-01-01", "files": []}
        s.add(
            AuditEntry(
                seq=last.seq + 1,
                at=at,
                actor="user:admin",
                action="session.delete",
                session_id=built.id,
                detail=detail,
                prev_hash=last.hash,
                hash=audit.entry_hash(
                    last.seq + 1, at, "user:admin", "session.delete", built.id, detail, last.hash
                ),
            )
        )
        await s.execute(
            update(RecordingSession)
            .where(RecordingSession.id == built.id)
            .values(deleted_at=utcnow())
        )
    code, out = await verify(server, capsys)
    assert code == 1, out
    assert f"entry {last.seq + 1}: no MAC, though written after the audit key existed" in out
    assert f"session.delete entry {last.seq + 1} not honoured" in out
    assert f"session {built.id}: customer-000.mkv is missing" in out


async def test_a_deletion_the_retention_rules_did_not_allow_is_not_honoured(
    server: RunningServer, client_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx)
    # The retention date moved in the database so that the server's own check lets it pass.
    async with server.ctx.db.session() as s:
        row = await s.get(RecordingSession, built.id)
        assert row is not None and row.retain_until is not None
        kept_until = row.retain_until
        row.retain_until = utcnow().date() - timedelta(days=1)
    admin = await client_factory("admin")
    status, body = await admin.request("DELETE", f"/api/sessions/{built.id}")
    assert status == 200, body
    code, out = await verify(server, capsys)
    assert code == 1, out
    assert f"the retention date was changed from {kept_until}" in out
    assert f"session {built.id}: salesperson-000.mkv is missing" in out


async def test_metadata_is_anchored_at_each_change_and_an_edit_is_caught(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx)
    await settle(server)
    meta_path = built.file("metadata.json")
    async with server.ctx.db.session() as s:
        anchors = list(
            (
                await s.execute(
                    select(AuditEntry.detail)
                    .where(
                        AuditEntry.session_id == built.id, AuditEntry.action == "metadata.anchor"
                    )
                    .order_by(AuditEntry.seq)
                )
            ).scalars()
        )
    # Creation, segments, node events, consent, end: several writes, several anchors.
    assert len(anchors) >= 3
    assert anchors[-1]["files"]["metadata.json"] == sha256_file(meta_path)
    await _intact(server, capsys)

    meta = json.loads(meta_path.read_text("utf-8"))
    consent = next(e for e in meta["events"] if e["type"] == "consent")
    consent["at"] = "2020-01-01T00:00:00.000Z"  # consent given "earlier"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
    code, out = await verify(server, capsys)
    assert code == 1, out
    assert f"file: session {built.id}: metadata.json was altered" in out


async def test_review_actions_are_anchored_with_their_text(
    server: RunningServer, client_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    session_id, finding_ids = await reject_twice(server.ctx, client_factory)
    async with server.ctx.db.session() as s:
        judged = [
            d
            for d in (
                await s.execute(
                    select(AuditEntry.detail)
                    .where(AuditEntry.action == "finding.judge")
                    .order_by(AuditEntry.seq)
                )
            ).scalars()
            if d["finding"] == finding_ids[0]
        ]
    # Re-judging keeps the first comment in the chain (it used to record only from/to).
    assert [(d["from"], d["to"], d["comment"]) for d in judged] == [
        ("open", "confirmed", ""),
        ("confirmed", "dismissed", "系统误报"),
        ("dismissed", "dismissed", "复核后仍为误报，已与录像核对"),
    ]
    await _intact(server, capsys)


@pytest.mark.parametrize(
    "tamper",
    ["comment", "judgement", "decision", "decision_removed", "request", "review_status"],
)
async def test_edited_review_rows_are_caught(
    server: RunningServer, client_factory: Any, capsys: pytest.CaptureFixture[str], tamper: str
) -> None:
    session_id, finding_ids = await reject_twice(server.ctx, client_factory)
    await _intact(server, capsys)
    f0, f1 = finding_ids[0], finding_ids[1]
    async with server.ctx.db.session() as s:
        if tamper == "comment":
            await s.execute(
                update(FindingRow).where(FindingRow.id == f0).values(review_comment="无问题")
            )
            expect = f"finding {f0}: changed after entry"
        elif tamper == "judgement":
            await s.execute(
                update(FindingRow).where(FindingRow.id == f1).values(review_state="dismissed")
            )
            expect = f"finding {f1}: changed after entry"
        elif tamper == "decision":
            await s.execute(
                update(ReviewDecision)
                .where(ReviewDecision.session_id == session_id, ReviewDecision.level == 2)
                .values(decision="approve", reason="")
            )
            expect = "decision 'approve' (anchored 'reject')"
        elif tamper == "decision_removed":
            await s.execute(
                delete(ReviewDecision).where(
                    ReviewDecision.session_id == session_id, ReviewDecision.level == 2
                )
            )
            expect = "1 review decision(s) in the database, 2 in the audit chain"
        elif tamper == "request":
            await s.execute(
                update(RerecordRequest)
                .where(RerecordRequest.session_id == session_id)
                .values(items=[], reason="")
            )
            expect = "reason '' (anchored '误导')"
        else:
            await s.execute(
                update(RecordingSession)
                .where(RecordingSession.id == session_id)
                .values(review_status="approved")
            )
            expect = "review status is 'approved' but the chain says 'rejected'"
    code, out = await verify(server, capsys)
    assert code == 1, out
    lines = [line for line in out.splitlines() if line.startswith("review: ")]
    assert lines and all(session_id in line for line in lines), out
    assert any(expect in line for line in lines), out


async def test_legacy_entries_before_the_key_are_reported_as_such(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A data dir from before keying: its entries verify as legacy up to the first checkpoint;
    a MAC stripped from a later entry does not pass as legacy."""
    srv = await start_server(settings)
    await add_test_users(srv.ctx)
    await build_session(srv.ctx)
    await settle(srv)
    async with srv.ctx.db.session() as s:
        await s.execute(update(AuditEntry).values(mac=None))
        legacy_head = (await s.execute(select(func.max(AuditEntry.seq)))).scalar_one()
    await srv.runner.cleanup()
    settings.audit_key_path.unlink()
    settings.audit_checkpoint_path.unlink()

    # The upgraded server: a new key, first checkpoint.
    async with serving(settings, users=False) as srv:
        await build_session(srv.ctx)
        code, out = await verify(srv, capsys)
        assert code == 0, out
        assert f"note: chain: entries 1..{legacy_head}: legacy, written before the audit key" in out
        async with srv.ctx.db.session() as s:
            await s.execute(
                update(AuditEntry).where(AuditEntry.seq == legacy_head + 2).values(mac=None)
            )
        code, out = await verify(srv, capsys)
        assert code == 1, out
        assert f"entry {legacy_head + 2}: no MAC, though written after the audit key" in out
