"""Tamper evidence: the chain, anchored recordings, `kesu audit verify`, evidence export."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from server import audit
from server.api import reviews as reviews_api
from server.audit_export_verify import verify_export
from server.cli import main
from server.durable_files import sha256_file
from server.store.models import AuditEntry
from tests.audit_cli import run_cli
from tests.conftest import RunningServer
from tests.review_fixtures import ID_NUMBER, build_session


async def _verify(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    return await run_cli(capsys, "audit", "verify", "--data-dir", str(server.ctx.settings.data_dir))


def _flip_byte(path: Path, offset: int = 200) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


async def test_verify_catches_an_edited_entry_and_an_altered_recording(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx)
    code, out = await _verify(server, capsys)
    assert code == 0, out
    assert "audit chain, recordings and reviews intact" in out

    # An insider edits the inspection result in the log, and re-cuts a recording.
    async with server.ctx.db.session() as s:
        entry = (
            await s.execute(
                select(AuditEntry).where(
                    AuditEntry.session_id == built.id, AuditEntry.action == "inspection.done"
                )
            )
        ).scalar_one()
        seq = entry.seq
        await s.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == seq)
            .values(detail={"verdict": "pass", "findings": 0, "sampled": False})
        )
    _flip_byte(built.file("customer-000.mkv"))

    code, out = await _verify(server, capsys)
    assert code == 1
    assert f"chain: entry {seq} (inspection.done): content was altered" in out
    assert f"file: session {built.id}: customer-000.mkv was altered" in out
    assert "salesperson-000.mkv" not in out  # the untouched one is fine
    assert "2 problem(s) found" in out


async def test_verify_catches_a_removed_entry_and_a_missing_file(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx)
    async with server.ctx.db.session() as s:
        seq = (
            await s.execute(
                select(AuditEntry.seq).where(
                    AuditEntry.session_id == built.id, AuditEntry.action == "session.create"
                )
            )
        ).scalar_one()
        await s.execute(delete(AuditEntry).where(AuditEntry.seq == seq))
    built.file("salesperson-000.mkv").unlink()
    code, out = await _verify(server, capsys)
    assert code == 1
    assert f"entry {seq}..{seq} missing (removed?)" in out
    assert f"entry {seq + 1}: prev_hash does not match" in out
    assert f"session {built.id}: salesperson-000.mkv is missing" in out


async def test_derived_files_are_anchored_at_decision(
    server: RunningServer, client_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    built = await build_session(server.ctx, review_video=True)
    rev = await client_factory("rev1")
    for fid in built.finding_ids:
        await rev.post(f"/api/review/findings/{fid}", {"state": "confirmed"})
    status, body = await rev.post(
        f"/api/review/sessions/{built.id}/decision", {"decision": "reject", "reason": "r"}
    )
    assert status == 200, body
    async with server.ctx.db.session() as s:
        anchors = await audit.anchored_files(s, built.id)
    assert set(anchors) == {
        "salesperson-000.mkv",
        "customer-000.mkv",
        "metadata.json",
        "review.mp4",
        "report.json",
        "evidence/002-face.absent-customer-3.0s.jpg",
    }
    assert anchors["review.mp4"] == sha256_file(built.file("review.mp4"))
    # anchor_outputs never re-anchors a changed file: the change must be reported instead.
    _flip_byte(built.file("review.mp4"), 100)
    new = await audit.anchor_outputs(server.ctx.db.session, built.dir, built.id)
    assert new == {}
    code, out = await _verify(server, capsys)
    assert code == 1 and f"session {built.id}: review.mp4 was altered" in out


# ---------------------------------------------------------------------------------------------
# Evidence export


async def _export_via_api(client: Any, session_id: str, out: Path) -> None:
    async with client.http.get(f"{client.base}/api/review/sessions/{session_id}/export") as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"] == "application/zip"
        data = await r.read()
    await asyncio.to_thread(out.write_bytes, data)


def _rewrite_zip(src: Path, dst: Path, change: dict[str, bytes | None]) -> None:
    """Copy a zip, replacing (bytes) or dropping (None) some members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename in change:
                if change[item.filename] is not None:
                    zout.writestr(item.filename, change[item.filename])  # type: ignore[arg-type]
                continue
            zout.writestr(item, zin.read(item.filename))


async def test_export_round_trip_and_tampering(
    server: RunningServer,
    client_factory: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    built = await build_session(server.ctx, review_video=True)
    await build_session(server.ctx)  # another session's entries interleave in the chain
    rev = await client_factory("rev1")
    await rev.get(f"/api/review/sessions/{built.id}")
    for fid in built.finding_ids:
        await rev.post(f"/api/review/findings/{fid}", {"state": "confirmed"})
    await rev.post(
        f"/api/review/sessions/{built.id}/decision", {"decision": "reject", "reason": "误导"}
    )
    status, body = await rev.get(f"/api/review/sessions/{built.id}/export")
    assert status == 403 and body["error"]["code"] == "wrong_role"

    admin = await client_factory("admin")
    out = tmp_path / "evidence.zip"
    await _export_via_api(admin, built.id, out)
    assert verify_export(out) == []
    code, text = await run_cli(capsys, "audit", "verify", "--export", str(out))
    assert code == 0 and "export intact" in text

    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        entries = [json.loads(x) for x in zf.read("audit/entries.jsonl").splitlines()]
        chain = [json.loads(x) for x in zf.read("audit/chain.jsonl").splitlines()]
        review = json.loads(zf.read("review.json"))
        assert zf.read("session/customer-000.mkv") == built.file("customer-000.mkv").read_bytes()
    assert {
        "session/salesperson-000.mkv",
        "session/customer-000.mkv",
        "session/review.mp4",
        "session/report.json",
        "session/metadata.json",
        "session/evidence/002-face.absent-customer-3.0s.jpg",
        "review.json",
        "audit/entries.jsonl",
        "audit/chain.jsonl",
        "manifest.json",
    } <= names
    assert manifest["session_id"] == built.id and manifest["exported_by"] == "user:admin"
    assert {e["session_id"] for e in entries} == {built.id}
    actions = [e["action"] for e in entries if e["action"] != "metadata.anchor"]
    assert actions[:3] == ["session.create", "session.end", "inspection.done"]
    assert "metadata.anchor" in {e["action"] for e in entries}
    assert "review.decide" in actions and "media.view" not in actions
    assert len(chain) > len(entries)  # skeleton spans the other session's entries too
    assert ID_NUMBER not in json.dumps(review, ensure_ascii=False)
    assert [d["decision"] for d in review["decisions"]] == ["reject"]
    async with server.ctx.db.session() as s:
        exports = (
            await s.execute(
                select(AuditEntry.detail).where(
                    AuditEntry.session_id == built.id, AuditEntry.action == "session.export"
                )
            )
        ).scalars()
        [detail] = list(exports)
    assert detail["files"] == len(manifest["files"])

    # 1. A recording replaced inside the zip (manifest untouched).
    bad = tmp_path / "bad1.zip"
    _rewrite_zip(out, bad, {"session/customer-000.mkv": b"another recording"})
    problems = verify_export(bad)
    assert (
        "session/customer-000.mkv: content differs from the manifest's sha256 (altered)" in problems
    )
    assert (
        "session/customer-000.mkv: differs from the hash anchored in the audit chain (altered)"
        in problems
    )
    code, text = await run_cli(capsys, "audit", "verify", "--export", str(bad))
    assert code == 1 and "customer-000.mkv" in text

    # 2. An audit entry edited, even with the manifest hash recomputed to match.
    edited = [dict(e) for e in entries]
    decide = next(e for e in edited if e["action"] == "review.decide")
    decide["detail"] = {**decide["detail"], "decision": "approve"}
    raw = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in edited).encode()
    manifest2 = dict(manifest)
    manifest2["files"] = [
        {**f, "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
        if f["name"] == "audit/entries.jsonl"
        else f
        for f in manifest["files"]
    ]
    bad = tmp_path / "bad2.zip"
    _rewrite_zip(
        out,
        bad,
        {"audit/entries.jsonl": raw, "manifest.json": json.dumps(manifest2).encode()},
    )
    problems = verify_export(bad)
    assert problems == [f"audit entry {decide['seq']} (review.decide): content was altered"]

    # 3. An entry removed from the session's log and the chain skeleton.
    gone = next(e["seq"] for e in entries if e["action"] == "session.end")
    raw_e = "".join(json.dumps(e) + "\n" for e in entries if e["seq"] != gone).encode()
    raw_c = "".join(json.dumps(c) + "\n" for c in chain if c["seq"] != gone).encode()
    bad = tmp_path / "bad3.zip"
    _rewrite_zip(out, bad, {"audit/entries.jsonl": raw_e, "audit/chain.jsonl": raw_c})
    problems = verify_export(bad)
    assert f"chain: entries {gone}..{gone} missing" in problems
    assert "manifest: anchored hashes differ from those in the audit entries" in problems

    # 4. A file dropped, and one smuggled in.
    bad = tmp_path / "bad4.zip"
    _rewrite_zip(out, bad, {"session/review.mp4": None})
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("session/extra.mkv", b"x")
    problems = verify_export(bad)
    assert "session/extra.mkv: in the zip but not in the manifest (added?)" in problems
    assert "session/review.mp4: listed in the manifest but missing from the zip" in problems
    assert "session/review.mp4: anchored in the audit chain but missing from the zip" in problems

    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    assert "not a readable zip" in verify_export(tmp_path / "junk.zip")[0]


async def test_cli_export(
    server: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    built = await build_session(server.ctx)
    out = tmp_path / "cli.zip"
    data_dir = str(server.ctx.settings.data_dir)
    code, text = await run_cli(
        capsys, "audit", "export", built.id, "-o", str(out), "--data-dir", data_dir
    )
    assert code == 0, text
    assert "manifest sha256" in text
    assert verify_export(out) == []
    argv = ["audit", "export", "s-0000000000000000", "-o", str(tmp_path / "x.zip")]
    code = await asyncio.to_thread(main, [*argv, "--data-dir", data_dir])
    # An id naming no session is a usage error (exit 2, one line on stderr), no zip made.
    said = capsys.readouterr()
    assert code == 2, said
    assert "kesu audit: cannot export 's-0000000000000000': no such session" in said.err
    assert not (tmp_path / "x.zip").exists()
    code, text = await _verify(server, capsys)
    assert code == 0, text
    async with server.ctx.db.session() as s:
        actors = (
            await s.execute(select(AuditEntry.actor).where(AuditEntry.action == "session.export"))
        ).scalars()
        assert list(actors) == ["cli"]


async def test_export_leaves_no_server_error(
    server: RunningServer, client_factory: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The zip lives in a temporary directory: once the handler returns, nothing may try to
    reopen it (a returned FileResponse was prepared again after the directory was gone)."""
    built = await build_session(server.ctx)
    admin = await client_factory("admin")
    with caplog.at_level(logging.ERROR):
        await _export_via_api(admin, built.id, tmp_path / "evidence.zip")
        await asyncio.sleep(0.2)  # let the server finish the request's handling
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert verify_export(tmp_path / "evidence.zip") == []


async def test_export_cut_short_by_the_client_or_asked_by_head(
    server: RunningServer,
    client_factory: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A download the admin cancels is not a server error (it was a 500 with a traceback),
    its export slot is free again, and a HEAD builds no export (it built and audited one)."""
    monkeypatch.setattr(reviews_api, "EXPORT_CHUNK", 512)  # many writes: the cut lands mid-zip
    built = await build_session(server.ctx, review_video=True)
    admin = await client_factory("admin")
    url = f"{admin.base}/api/review/sessions/{built.id}/export"
    with caplog.at_level(logging.INFO):
        for _ in range(reviews_api.MAX_EXPORTS + 1):
            async with admin.http.get(url) as r:
                assert r.status == 200
                await r.content.readexactly(512)
                r.close()  # drop the connection with most of the zip unsent
        await asyncio.sleep(0.5)  # let the server notice
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    await _export_via_api(admin, built.id, tmp_path / "evidence.zip")  # a slot is free
    assert verify_export(tmp_path / "evidence.zip") == []

    async with admin.http.head(url) as r:
        assert r.status == 405 and r.headers["Allow"] == "GET"
    async with server.ctx.db.session() as s:
        exports = (
            await s.execute(select(AuditEntry.actor).where(AuditEntry.action == "session.export"))
        ).scalars()
        assert len(list(exports)) == reviews_api.MAX_EXPORTS + 2
