"""A deletion whose process dies after the claim (kill -9 between the transaction that
found no hold and the one that records the deletion) is finished later: by an admin's
retry, or by housekeeping when a server starts. Before, the session looked deleted
(``deleted_at`` set: a retry was 404) while its files, archived objects and the customer's
name and ID number stayed, and no ``session.delete`` entry said anything was deleted.
A deletion cut short while the server keeps running (a disk error after the claim) is
finished by a later housekeeping pass too. A start beside another live node leaves young
claims to the later passes: they may be that node's deletions, still under way."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import textwrap
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from server import audit_verify, housekeeping, retention
from server.context import AppContext
from server.localservers import fresh_database
from server.settings import Settings
from server.store.models import AuditEntry, MediaNode, RecordingSession
from tests.conftest import RunningServer, make_settings, serving
from tests.review_fixtures import ID_NUMBER, BuiltSession, build_session, user_named

REPO = Path(__file__).resolve().parents[1]

# The admin's request in its own process, which dies (SIGKILL: no except, no finally, no
# rollback) inside the file removal: the claim is committed, one recording is gone, the
# rest of the directory, the archived objects and the personal data are still there.
CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from datetime import date
    from pathlib import Path
    from server import retention
    from server.app import build_context
    from tests.conftest import make_settings
    from tests.review_fixtures import user_named

    removed = retention._remove_dir

    def die_midway(path):
        (path / "customer-000.mkv").unlink()
        os.kill(os.getpid(), signal.SIGKILL)
        return removed(path)

    async def main(tmp, database_url, storage_url, session_id, today):
        extra = {"database_url": database_url} if database_url else {}
        settings = make_settings(Path(tmp), storage_url=storage_url, **extra)
        ctx = build_context(settings)
        retention._remove_dir = die_midway
        admin = await user_named(ctx, "admin")
        await retention.delete_session(ctx, session_id, admin, date.fromisoformat(today))

    asyncio.run(main(*sys.argv[1:]))
    """
)


def _settings(tmp_path: Path, database_url: str) -> Settings:
    archive = tmp_path / "archive"
    archive.mkdir(exist_ok=True)
    extra = {"database_url": database_url} if database_url else {}
    return make_settings(tmp_path, storage_url=archive.as_uri(), **extra)


async def _archived_session(srv: RunningServer) -> tuple[BuiltSession, date]:
    """A session in the archive too, and a day after its retention date."""
    assert srv.ctx.archive is not None
    built = await build_session(srv.ctx)
    await srv.ctx.archive.sync(built.id)
    async with srv.ctx.db.read() as s:
        row = await s.get(RecordingSession, built.id)
        assert row is not None and row.retain_until is not None
        # Time passes (the retention date is anchored in the chain: it cannot be moved).
        return built, row.retain_until + timedelta(days=1)


async def _crash_while_deleting(
    tmp_path: Path, database_url: str, built: BuiltSession, today: date
) -> None:
    settings = _settings(tmp_path, database_url)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(tmp_path),
        database_url,
        settings.storage_url,
        built.id,
        today.isoformat(),
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert await proc.wait() == -signal.SIGKILL
    # What the crash left: the claim, and the personal data it was to remove.
    assert not built.file("customer-000.mkv").exists()
    assert built.file("salesperson-000.mkv").is_file()


def _stored(tmp_path: Path, session_id: str) -> list[Path]:
    return [p for p in (tmp_path / "archive" / "sessions" / session_id).rglob("*") if p.is_file()]


async def _deletions(srv: RunningServer, session_id: str) -> list[AuditEntry]:
    async with srv.ctx.db.read() as s:
        query = select(AuditEntry).where(
            AuditEntry.session_id == session_id, AuditEntry.action == "session.delete"
        )
        return list((await s.execute(query)).scalars())


async def _left_behind(srv: RunningServer, tmp_path: Path, built: BuiltSession) -> list[str]:
    """Personal data of the session still anywhere (empty once the deletion is finished)."""
    left = (
        [f"disk:{p.name}" for p in built.dir.rglob("*") if p.is_file()]
        if built.dir.exists()
        else []
    )
    left += [f"archive:{p.name}" for p in _stored(tmp_path, built.id)]
    async with srv.ctx.db.read() as s:
        row = await s.get(RecordingSession, built.id)
        assert row is not None and row.deleted_at is not None
        if row.customer_id_number or row.customer_name:
            left.append("database:customer")
        if ID_NUMBER in str(row.policy):
            left.append("database:policy")
    return left


async def _finished_once(srv: RunningServer, tmp_path: Path, built: BuiltSession) -> AuditEntry:
    assert await _left_behind(srv, tmp_path, built) == []
    [entry] = await _deletions(srv, built.id)
    assert entry.detail["claimed_at"]  # finished after the claim of an earlier attempt
    assert "salesperson-000.mkv" in entry.detail["files"]
    assert f"sessions/{built.id}/customer-000.mkv" in entry.detail["stored"]
    return entry


async def _housekeeping_finishes(srv: RunningServer, tmp_path: Path, built: BuiltSession) -> None:
    for _ in range(300):  # bounds a failing test only (the sweeper runs as a task)
        if await _deletions(srv, built.id):
            break
        await asyncio.sleep(0.05)
    entry = await _finished_once(srv, tmp_path, built)
    # On the day it was finished (a real clock is past the retention date).
    assert (entry.actor, entry.detail["on"]) == ("system", date.today().isoformat())


async def _retry_finishes(tmp_path: Path, database_url: str) -> None:
    async with serving(_settings(tmp_path, database_url)) as srv:
        built, after = await _archived_session(srv)
        await _crash_while_deleting(tmp_path, database_url, built, after)
        assert await _deletions(srv, built.id) == []
        assert "database:customer" in await _left_behind(srv, tmp_path, built)

        admin = await user_named(srv.ctx, "admin")
        # Was RetentionError 404: the claim made the session look deleted.
        deleted = await retention.delete_session(srv.ctx, built.id, admin, today=after)
        assert "salesperson-000.mkv" in deleted.files
        entry = await _finished_once(srv, tmp_path, built)
        assert (entry.actor, entry.detail["on"]) == ("user:admin", after.isoformat())
        async with srv.ctx.db.session() as s:
            # The chain excuses the missing files: the deletion is proven, not tampering.
            assert await audit_verify.verify_chain(s) == []
            assert await audit_verify.verify_files(s, srv.ctx.settings.sessions_dir) == []
        with pytest.raises(retention.RetentionError) as gone:
            await retention.delete_session(srv.ctx, built.id, admin, today=after)
        assert gone.value.status == 404  # now it is deleted, and recorded once
        assert len(await _deletions(srv, built.id)) == 1


async def _start_finishes(tmp_path: Path, database_url: str) -> None:
    async with serving(_settings(tmp_path, database_url)) as srv:
        built, after = await _archived_session(srv)
    await _crash_while_deleting(tmp_path, database_url, built, after)
    # The server starts again (nobody retries): housekeeping finishes the deletion.
    async with serving(_settings(tmp_path, database_url), users=False) as srv:
        await _housekeeping_finishes(srv, tmp_path, built)


async def _delete_cut_short(
    srv: RunningServer, built: BuiltSession, today: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin's deletion of ``built`` that claims it, then fails on a disk error while the
    server keeps running."""
    admin = await user_named(srv.ctx, "admin")
    removed = retention._remove_dir

    def fail_midway(path: Path) -> list[str]:
        (path / "customer-000.mkv").unlink(missing_ok=True)
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(retention, "_remove_dir", fail_midway)
    with pytest.raises(OSError):
        await retention.delete_session(srv.ctx, built.id, admin, today=today)
    monkeypatch.setattr(retention, "_remove_dir", removed)  # the disk works again


async def _start_beside_another_node(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tmp_path, database_url)
    async with serving(settings) as srv:
        built, after = await _archived_session(srv)
        await _delete_cut_short(srv, built, after, monkeypatch)
        # Another node is alive: the claim may as well be its deletion, still under way.
        async with srv.ctx.db.session() as s:
            s.add(MediaNode(id="node-b", url="http://127.0.0.1:9", capacity=1))

    passes: list[list[str]] = []
    finish_claimed = retention.finish_claimed

    async def watched(ctx: AppContext, older_than_s: float = 0.0) -> list[str]:
        finished = await finish_claimed(ctx, older_than_s)
        passes.append(finished)
        return finished

    monkeypatch.setattr(retention, "finish_claimed", watched)
    async with serving(settings, users=False) as srv:
        for _ in range(300):  # bounds a failing test only (the sweeper runs as a task)
            if passes:
                break
            await asyncio.sleep(0.05)
        # Was [[built.id]]: the start finished every claim, however young, as if the
        # node were alone.
        assert passes == [[]]
        assert await _deletions(srv, built.id) == []
        assert "database:customer" in await _left_behind(srv, tmp_path, built)

        async with srv.ctx.db.session() as s:  # node-b has gone
            await s.delete(await s.get(MediaNode, "node-b"))
        assert await housekeeping.finish_on_start(srv.ctx) == [built.id]
        await _finished_once(srv, tmp_path, built)


async def _later_pass_finishes(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(housekeeping, "FINISH_CLAIMED_EVERY_S", 0.0)  # at every sweep
    # A sweep every 0.2 s (the period follows the rejoin window).
    settings = replace(_settings(tmp_path, database_url), rejoin_window_s=1.0)
    async with serving(settings) as srv:
        built, after = await _archived_session(srv)
        await _delete_cut_short(srv, built, after, monkeypatch)
        assert "database:customer" in await _left_behind(srv, tmp_path, built)
        # A claim this young may be a deletion still under way: the sweeps leave it alone.
        assert await retention.finish_claimed(srv.ctx, housekeeping.CLAIM_GRACE_S) == []
        assert await _deletions(srv, built.id) == []

        monkeypatch.setattr(housekeeping, "CLAIM_GRACE_S", 0.0)  # as if time had passed
        await _housekeeping_finishes(srv, tmp_path, built)


async def test_retry_finishes_a_deletion_killed_after_its_claim_sqlite(tmp_path: Path) -> None:
    await _retry_finishes(tmp_path, "")


async def test_retry_finishes_a_deletion_killed_after_its_claim_postgres(
    pg_admin: str, tmp_path: Path
) -> None:
    await _retry_finishes(tmp_path, await fresh_database(pg_admin))


async def test_start_finishes_a_deletion_killed_after_its_claim_sqlite(tmp_path: Path) -> None:
    await _start_finishes(tmp_path, "")


async def test_start_finishes_a_deletion_killed_after_its_claim_postgres(
    pg_admin: str, tmp_path: Path
) -> None:
    await _start_finishes(tmp_path, await fresh_database(pg_admin))


async def test_a_later_sweep_finishes_a_deletion_cut_short_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, a deletion cut short while the server kept running (here a disk error after
    the claim) was finished only at the next start or by an admin's retry."""
    await _later_pass_finishes(tmp_path, "", monkeypatch)


async def test_a_later_sweep_finishes_a_deletion_cut_short_postgres(
    pg_admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _later_pass_finishes(tmp_path, await fresh_database(pg_admin), monkeypatch)


async def test_a_start_beside_another_node_leaves_young_claims_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _start_beside_another_node(tmp_path, "", monkeypatch)


async def test_a_start_beside_another_node_leaves_young_claims_postgres(
    pg_admin: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _start_beside_another_node(tmp_path, await fresh_database(pg_admin), monkeypatch)
