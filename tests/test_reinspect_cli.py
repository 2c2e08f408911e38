"""``kesu reinspect``: an operator runs an ended session's inspection again (after a failure,
once its files are back) without editing the database; refused, with one line and exit 2,
for a session that does not exist or has not ended."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, update

from server import housekeeping
from server.cli import main
from server.store.models import AuditEntry, Job, RecordingSession
from tests.conftest import Client, RunningServer, make_settings, serving
from tests.test_api_recording import open_session
from tests.worker_jobs import ended_session, swept_twice


async def _failed_inspection(srv: RunningServer) -> str:
    """An ended session whose inspection failed for good, as a worker leaves it."""
    sid = await ended_session(srv.url)
    async with srv.ctx.db.session() as s:
        await s.execute(update(Job).values(status="failed"))
        await s.execute(
            update(RecordingSession)
            .where(RecordingSession.id == sid)
            .values(inspection_status="failed")
        )
    return sid


async def test_reinspect_queues_a_failed_inspection_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(housekeeping, "END_GRACE_S", 0.0)
    settings = make_settings(tmp_path)
    data = ["--data-dir", str(settings.data_dir)]
    async with serving(settings) as srv:
        sid = await _failed_inspection(srv)
        code = await asyncio.to_thread(main, ["reinspect", *data, sid, "--note", "files back"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "queued" in out and "failed" in out

        row, jobs, entries = await swept_twice(srv, sid, "inspection.requeued")
        assert row.inspection_status == "queued"
        async with srv.ctx.db.read() as s:
            inspect_jobs = (await s.execute(select(Job.status).where(Job.kind == "inspect"))).all()
        assert sorted(j for (j,) in inspect_jobs) == ["failed", "queued"]
        cli = [e for e in entries if e.actor == "cli"]
        assert [e.detail for e in cli] == [
            {"reason": "operator", "was": "failed", "note": "files back"}
        ]

        # Asked again while queued: nothing more is queued.
        code = await asyncio.to_thread(main, ["reinspect", *data, sid])
        out, _ = capsys.readouterr()
        assert code == 0 and "already queued" in out
        async with srv.ctx.db.read() as s:
            requeued = select(AuditEntry).where(
                AuditEntry.session_id == sid, AuditEntry.actor == "cli"
            )
            assert len((await s.execute(requeued)).all()) == 1


async def test_reinspect_refuses_unknown_and_unended_sessions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path)
    data = ["--data-dir", str(settings.data_dir)]
    async with serving(settings) as srv:
        sales = Client(srv.url)
        try:
            await sales.login("sales1")
            live, _token = await open_session(sales)
        finally:
            await sales.close()
        for sid, words in (("s-nope", "no session"), (live, "has not ended")):
            code = await asyncio.to_thread(main, ["reinspect", *data, sid])
            out, err = capsys.readouterr()
            assert code == 2 and out == ""
            assert words in err and "Traceback" not in err
        async with srv.ctx.db.read() as s:
            row = await s.get(RecordingSession, live)
            assert row is not None and row.inspection_status != "queued"


async def test_reinspect_refuses_hostile_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An id or a note that is not UTF-8 (a terminal or script in another encoding: Python
    makes lone surrogates of its bytes) is exit 2 with one line, and a note that would not
    read as what it is (an escape sequence, a right-to-left override) or is too long is
    refused as a hold's reason is; nothing is written. Before, the id was a traceback from
    the database driver."""
    monkeypatch.setattr(housekeeping, "END_GRACE_S", 0.0)
    settings = make_settings(tmp_path)
    data = ["--data-dir", str(settings.data_dir)]
    async with serving(settings) as srv:
        sid = await _failed_inspection(srv)
        for args in (
            ["s-\udcff\udcfe"],
            [sid + "\n"],
            [sid, "--note", "files \udcff back"],
            [sid, "--note", "files \x1b[31mback"],
            [sid, "--note", "files \u202eback"],
            [sid, "--note", "x" * 1001],
        ):
            code = await asyncio.to_thread(main, ["reinspect", *data, *args])
            out, err = capsys.readouterr()
            assert code == 2 and out == "", (args, err)
            assert "Traceback" not in err and len(err.strip().splitlines()) == 2, err
        async with srv.ctx.db.read() as s:
            row = await s.get(RecordingSession, sid)
            assert row is not None and row.inspection_status == "failed"
            by_cli = select(AuditEntry).where(AuditEntry.actor == "cli")
            assert (await s.execute(by_cli)).all() == []


def test_a_note_is_as_long_as_a_holds_reason_at_most() -> None:
    """``kesu reinspect --note`` and a legal hold's reason (``HoldBody``, ``set_hold``) take
    the same length at most: one constant (before, two copies of 1000 that could part)."""
    from pydantic import ValidationError

    from server.api.schemas.reviews import HoldBody
    from server.cli_common import CliError
    from server.reinspect_cli import check_arguments
    from server.text_rules import MAX_NOTE

    check_arguments("s-0123456789abcdef", "x" * MAX_NOTE)
    HoldBody.model_validate({"hold": True, "reason": "x" * MAX_NOTE})
    with pytest.raises(CliError, match=f"at most {MAX_NOTE} characters"):
        check_arguments("s-0123456789abcdef", "x" * (MAX_NOTE + 1))
    with pytest.raises(ValidationError):
        HoldBody.model_validate({"hold": True, "reason": "x" * (MAX_NOTE + 1)})
