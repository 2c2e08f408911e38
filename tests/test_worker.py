"""The embedded worker pool inspects a session recorded through the API and queues it for review."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.rtc.probe import probe_recording
from server.store.models import AuditEntry, FindingRow, InspectionReport, Job, RecordingSession
from tests.conftest import (
    Client,
    RunningServer,
    add_test_users,
    make_settings,
    new_session_body,
    start_server,
)
from tests.test_api_recording import start_call


async def _wait_jobs_done(
    srv: RunningServer, session_id: str, limit_s: float = 300
) -> dict[str, str]:
    states: dict[str, str] = {}
    for _ in range(int(limit_s / 0.5)):
        async with srv.ctx.db.session() as db:
            jobs = list((await db.execute(select(Job))).scalars())
        states = {j.kind: j.status for j in jobs if j.payload.get("session_id") == session_id}
        if states and all(v in ("done", "failed") for v in states.values()):
            return states
        await asyncio.sleep(0.5)
    raise TimeoutError(f"jobs not finished: {states}")


async def test_session_end_runs_inspection_in_worker(tmp_path: Path) -> None:
    srv = await start_server(make_settings(tmp_path, workers=1))
    await add_test_users(srv.ctx)
    sales, customer = Client(srv.url), Client(srv.url)
    peers = []
    try:
        await sales.login("sales1")
        sid, _token = await start_call(sales, customer, peers)
        await asyncio.sleep(3.0)
        status, _ = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 200
        states = await _wait_jobs_done(srv, sid)
        assert states == {"inspect": "done", "review_video": "done"}, states
        async with srv.ctx.db.session() as db:
            row = await db.get(RecordingSession, sid)
            report = await db.get(InspectionReport, sid)
            codes = {f.code for f in (await db.execute(select(FindingRow))).scalars()}
        # Tones and test patterns: no script read, no consent -> flagged, queued for review.
        assert row is not None and row.inspection_status == "done"
        assert row.verdict == "flagged" and row.worst_severity == "fail"
        assert row.review_status == "queued"
        assert report is not None and report.report["verdict"] == "flagged"
        assert {"consent.missing", "script.node_missing"} <= codes, codes
        on_disk: dict[str, Any] = json.loads(
            (srv.ctx.settings.sessions_dir / sid / "report.json").read_text("utf-8")
        )
        assert on_disk["verdict"] == "flagged" and len(on_disk["findings"]) == row.finding_count
        # The side-by-side review video: both pictures in one frame, both voices mixed.
        review = srv.ctx.settings.sessions_dir / sid / "review.mp4"
        probe = await asyncio.to_thread(probe_recording, review)
        assert probe.video_codec == "h264" and probe.audio_codec == "aac"
        assert probe.width > probe.height and probe.duration >= 2.5
        async with srv.ctx.db.session() as db:
            entries = [e for e in (await db.execute(select(AuditEntry))).scalars()]
        # The derived files are anchored in the audit chain as soon as the jobs write them.
        anchored: dict[str, str] = {}
        for e in entries:
            if e.action == "files.anchor":
                anchored.update(e.detail["files"])
        assert anchored["review.mp4"] == hashlib.sha256(review.read_bytes()).hexdigest()
        report_file = srv.ctx.settings.sessions_dir / sid / "report.json"
        assert anchored["report.json"] == hashlib.sha256(report_file.read_bytes()).hexdigest()
    finally:
        for p in peers:
            await p.close()
        await sales.close()
        await customer.close()
        await srv.runner.cleanup()


async def test_a_session_ended_before_anyone_joined_fails_its_inspection_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing recorded is bad input, the same on every attempt: the inspection job fails at
    once with the reason (a warning), as the review video's does. Before, it was retried to
    job_max_attempts, logging an ERROR traceback each time: a salesperson creating and
    ending sessions made three tracebacks a session."""
    srv = await start_server(make_settings(tmp_path, workers=1, job_retry_delay_s=0.1))
    await add_test_users(srv.ctx)
    sales = Client(srv.url)
    try:
        await sales.login("sales1")
        status, body = await sales.post("/api/sessions", json=new_session_body())
        assert status == 201, body
        sid = body["session"]["id"]
        status, body = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 200, body
        assert await _wait_jobs_done(srv, sid) == {"inspect": "failed", "review_video": "failed"}
        async with srv.ctx.db.session() as db:
            jobs = {j.kind: j for j in (await db.execute(select(Job))).scalars()}
            row = await db.get(RecordingSession, sid)
        assert jobs["inspect"].attempts == 1
        assert "no media" in (jobs["inspect"].last_error or "")
        assert row is not None and row.inspection_status == "failed"
        errors = [r for r in caplog.records if r.name == "kesu.jobs" and r.levelname == "ERROR"]
        assert errors == [], [r.getMessage() for r in errors]
    finally:
        await sales.close()
        await srv.runner.cleanup()
