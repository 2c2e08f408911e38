"""Recordings in S3-compatible storage, against a real SeaweedFS server (``weed mini``)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.archive import ArchiveIncomplete, Archiver, fetch_session, key_of
from server.blobs import ObjectBlobStore, store_from_settings
from server.localservers import S3Server, seaweed_s3
from server.session_dir import SessionDir
from server.settings import Settings


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweed_s3(tmp_path_factory.mktemp("weed")) as server:
        yield server


def _store(s3: S3Server, data_dir: Path, prefix: str) -> ObjectBlobStore:
    settings = Settings(
        data_dir=data_dir,
        storage_url=f"s3://{s3.bucket}/{prefix}",
        storage_endpoint=s3.endpoint,
        storage_access_key=s3.access_key,
        storage_secret_key=s3.secret_key,
        storage_allow_http=True,
    )
    assert s3.secret_key not in repr(settings)
    store = store_from_settings(settings)
    assert store is not None
    return store


async def _recorded_session(root: Path, session_id: str) -> tuple[SessionDir, bytes]:
    sdir = SessionDir.create(root, session_id, template_id="mini")
    seg = await sdir.open_segment("agent")
    payload = os.urandom(700_000)
    seg.write_bytes(payload)
    await sdir.close_segment(seg)
    return sdir, payload


async def _until_archived(sdir: SessionDir) -> dict[str, str]:
    for _ in range(300):
        archived = sdir.metadata["segments"][0].get("archived")
        if archived:
            return dict(archived)
        await asyncio.sleep(0.05)
    raise AssertionError("segment never archived")


async def test_upload_verify_metadata_and_fetch(s3: S3Server, tmp_path: Path) -> None:
    store = _store(s3, tmp_path, "t1")
    root = tmp_path / "sessions"
    root.mkdir()
    archiver = Archiver(store, root)
    await archiver.start()
    try:
        sdir, payload = await _recorded_session(root, "s3-one")
        archived = await _until_archived(sdir)
        assert archived == {
            "key": "sessions/s3-one/agent-000.mkv",
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
        assert await store.sha256(archived["key"]) == (len(payload), archived["sha256"])
        assert await store.get_range(archived["key"], 5, 9) == payload[5:9]
        meta: dict[str, Any] = {}
        for _ in range(300):  # metadata.json uploaded after the archived mark (sync's order)
            with contextlib.suppress(FileNotFoundError):  # not uploaded yet at all
                meta = json.loads(await store.get_bytes(key_of("s3-one", "metadata.json")))
            if meta and meta["segments"][0].get("archived"):
                break
            await asyncio.sleep(0.05)
        assert meta["segments"][0]["archived"] == archived
    finally:
        await archiver.stop()
    fetched = await fetch_session(store, "s3-one", tmp_path / "job")
    assert (fetched / "agent-000.mkv").read_bytes() == payload
    assert json.loads((fetched / "metadata.json").read_text())["session_id"] == "s3-one"


async def test_restart_uploads_unarchived_segments(s3: S3Server, tmp_path: Path) -> None:
    store = _store(s3, tmp_path, "t2")
    root = tmp_path / "sessions"
    root.mkdir()
    sdir, payload = await _recorded_session(root, "s3-crash")  # no archiver running: "crash"
    with pytest.raises(FileNotFoundError):
        await store.size(key_of("s3-crash", "agent-000.mkv"))
    archiver = Archiver(store, root)
    await archiver.start()
    try:
        archived = await _until_archived(sdir)
    finally:
        await archiver.stop()
    assert await store.sha256(archived["key"]) == (
        len(payload),
        hashlib.sha256(payload).hexdigest(),
    )


async def test_fetch_refuses_corrupt_object(s3: S3Server, tmp_path: Path) -> None:
    store = _store(s3, tmp_path, "t3")
    root = tmp_path / "sessions"
    root.mkdir()
    sdir, _payload = await _recorded_session(root, "s3-bad")
    await store.put_file(key_of("s3-bad", "metadata.json"), sdir.path / "metadata.json")
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"not the recording")
    await store.put_file(key_of("s3-bad", "agent-000.mkv"), bad)
    with pytest.raises(Exception, match="sha256"):
        await fetch_session(store, "s3-bad", tmp_path / "job")
    assert not (tmp_path / "job" / "s3-bad").exists()


async def test_media_range_served_from_s3_after_local_copy_deleted(
    s3: S3Server, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from server.store.models import AuditEntry
    from tests.conftest import Client, add_test_users, make_settings, start_server
    from tests.review_fixtures import build_session

    settings = make_settings(
        tmp_path,
        storage_url=f"s3://{s3.bucket}/t4",
        storage_endpoint=s3.endpoint,
        storage_access_key=s3.access_key,
        storage_secret_key=s3.secret_key,
        storage_allow_http=True,
    )
    srv = await start_server(settings)
    rev = Client(srv.url)
    try:
        await add_test_users(srv.ctx)
        built = await build_session(srv.ctx)
        sdir = SessionDir(built.dir)
        await _until_archived(sdir)
        local = built.file("salesperson-000.mkv")
        data = local.read_bytes()
        local.unlink()
        (built.dir / "metadata.json").unlink()  # the review node has no copy at all
        await rev.login("rev1")
        url = f"{rev.base}/api/media/{built.id}/salesperson-000.mkv"
        size = len(data)
        async with rev.http.get(url, headers={"Range": "bytes=100-4999"}) as r:
            assert r.status == 206
            assert r.headers["Content-Range"] == f"bytes 100-4999/{size}"
            assert await r.read() == data[100:5000]
        async with rev.http.get(url) as r:
            assert r.status == 200 and await r.read() == data
            etag = r.headers["ETag"]
        # If-Range: the range only for the stored object's current tag (RFC 9110 13.1.5).
        for if_range, status in ((etag, 206), ('"other"', 200)):
            headers = {"Range": "bytes=100-4999", "If-Range": if_range}
            async with rev.http.get(url, headers=headers) as r:
                assert r.status == status, if_range
                assert await r.read() == (data[100:5000] if status == 206 else data)
        async with rev.http.get(url, headers={"Range": f"bytes={size}-"}) as r:
            assert r.status == 416
        anon = Client(srv.url)
        async with anon.http.get(url) as r:
            assert r.status == 401
        await anon.close()
        async with srv.ctx.db.session() as s:
            views = list(
                (
                    await s.execute(
                        select(AuditEntry.actor, AuditEntry.detail).where(
                            AuditEntry.session_id == built.id, AuditEntry.action == "media.view"
                        )
                    )
                ).all()
            )
        assert [(a, dict(d)) for a, d in views] == [
            ("user:rev1", {"file": "salesperson-000.mkv", "range": [100, 4999]})
        ]
    finally:
        await rev.close()
        await srv.runner.cleanup()


async def test_worker_job_dir_fetched_from_store_then_removed(s3: S3Server, tmp_path: Path) -> None:
    """A worker machine without the session's files runs the job on a verified copy from the
    store; its outputs are uploaded and the temporary copy removed."""
    from server.app import build_context
    from server.jobs import JobInfo
    from server.worker import JobRunner
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path,
        storage_url=f"s3://{s3.bucket}/t5",
        storage_endpoint=s3.endpoint,
        storage_access_key=s3.access_key,
        storage_secret_key=s3.secret_key,
        storage_allow_http=True,
    )
    ctx = build_context(settings)
    assert ctx.archive is not None
    media_node = tmp_path / "node" / "sessions"
    media_node.mkdir(parents=True)
    sdir, payload = await _recorded_session(media_node, "s3-job")
    await sdir.finish()  # jobs run on ended sessions (the fetch waits for that)
    await Archiver(ctx.archive.store, media_node).sync("s3-job")
    runner = JobRunner(ctx)
    try:
        job = JobInfo(id=1, kind="inspect", payload={"session_id": "s3-job"}, attempts=0)
        async with runner._session_dir(job) as path:
            assert not path.is_relative_to(settings.sessions_dir)
            assert (path / "agent-000.mkv").read_bytes() == payload
            (path / "report.json").write_text('{"verdict": "pass"}')
        assert not path.exists()
        assert await ctx.archive.store.get_bytes(key_of("s3-job", "report.json")) == (
            b'{"verdict": "pass"}'
        )
    finally:
        await runner.close()
        await ctx.db.close()


async def test_fetch_waits_for_the_final_archive(s3: S3Server, tmp_path: Path) -> None:
    """A job starts as the session ends, while its node still uploads the last segment."""
    store = _store(s3, tmp_path, "t4")
    root = tmp_path / "sessions"
    root.mkdir()
    sdir, payload = await _recorded_session(root, "s3-late")
    await sdir.finish()
    # The store holds only metadata.json from before the end (nothing archived yet).
    await store.put_file(key_of("s3-late", "metadata.json"), sdir.path / "metadata.json")
    with pytest.raises(ArchiveIncomplete):
        await fetch_session(store, "s3-late", tmp_path / "early", wait_s=0.3)
    archiver = Archiver(store, root)
    fetching = asyncio.create_task(fetch_session(store, "s3-late", tmp_path / "job", wait_s=60))
    await archiver.start()  # the node catches up meanwhile
    try:
        fetched = await fetching
    finally:
        await archiver.stop()
    assert (fetched / "agent-000.mkv").read_bytes() == payload
    assert json.loads((fetched / "metadata.json").read_text())["status"] == "ended"


async def test_audit_verify_checks_files_missing_here_in_the_store(
    s3: S3Server, tmp_path: Path
) -> None:
    """A worker on another machine wrote report.json (anchored, uploaded): the media node's
    data dir has no copy, so `kesu audit verify` there reads it from the store."""
    from server import audit
    from server.audit_files import check_all_files
    from server.audit_keys import AuditKeys, CheckpointLog
    from server.audit_trail import AuditTrail, attach
    from server.store.db import Database

    store = _store(s3, tmp_path, "t6")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'kesu.db'}")
    keys = AuditKeys.load_or_create(tmp_path / "audit.key")
    attach(db, AuditTrail(keys, CheckpointLog(tmp_path / "checkpoints.jsonl")))
    await db.migrate()
    report = tmp_path / "report.json"
    report.write_text('{"verdict": "pass"}')
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    sessions_dir = tmp_path / "sessions"
    try:
        async with db.session() as s:
            await audit.record(
                s,
                "system",
                "files.anchor",
                "s-00000000000000a1",
                {"files": {"report.json": digest}},
            )
        async with db.session() as s:
            _, missing = await check_all_files(s, sessions_dir, set())
            assert [(p.file, p.problem) for p in missing] == [("report.json", "missing")]
            _, missing = await check_all_files(s, sessions_dir, set(), store)
            assert [(p.file, p.problem) for p in missing] == [("report.json", "missing")]
        await store.put_file(key_of("s-00000000000000a1", "report.json"), report)
        async with db.session() as s:
            assert (await check_all_files(s, sessions_dir, set(), store)) == ([], [])
        report.write_text('{"verdict": "fail"}')  # the stored copy altered
        await store.put_file(key_of("s-00000000000000a1", "report.json"), report)
        async with db.session() as s:
            _, found = await check_all_files(s, sessions_dir, set(), store)
        assert [(p.file, p.problem) for p in found] == [("report.json", "altered")]
    finally:
        await db.close()


async def test_retention_deletes_the_stored_copy(s3: S3Server, tmp_path: Path) -> None:
    """A session deleted after its retention term is gone from the object store too, and
    only that session: a neighbour whose id it prefixes keeps its objects."""
    store = _store(s3, tmp_path, "t6")
    root = tmp_path / "sessions"
    root.mkdir()
    archiver = Archiver(store, root)
    await archiver.start()
    try:
        gone, _ = await _recorded_session(root, "s3-del")
        kept, _ = await _recorded_session(root, "s3-del2")
        gone_key = (await _until_archived(gone))["key"]
        kept_key = (await _until_archived(kept))["key"]
        await store.put_file(key_of("s3-del", "report.json"), gone.path / "metadata.json")
        removed = await archiver.delete_session("s3-del")
        assert gone_key in removed and key_of("s3-del", "report.json") in removed
        assert all(k.startswith("sessions/s3-del/") for k in removed)
        with pytest.raises(FileNotFoundError):
            await store.size(gone_key)
        assert await store.size(kept_key) > 0
        assert await archiver.delete_session("s3-del") == []
    finally:
        await archiver.stop()
