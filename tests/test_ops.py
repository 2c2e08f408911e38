"""Operations: Prometheus metrics, readiness, JSON logs without secrets."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from server.jobs import DbJobQueue, JobInfo, PermanentJobError, ProgressFn, WorkerPool
from server.localservers import fresh_database, postgres_server
from server.logs import configure_logging
from server.metrics import METRICS, LiveCollector
from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.manager import RoomManager
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from server.settings import load_settings
from server.store.models import InspectionReport
from server.store.types import utcnow
from tests.conftest import (
    Client,
    RunningServer,
    free_port,
    make_settings,
    new_session_body,
    serving,
    start_server,
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total, found = 0.0, False
    for (n, lbls), v in samples(text).items():
        if n == name and set(labels.items()) <= set(lbls):
            total, found = total + v, True
    assert found, f"{name} {labels} not exposed"
    return total


async def scrape(client: Any) -> str:
    status, body = await client.get("/metrics")
    assert status == 200
    return body.decode() if isinstance(body, bytes) else str(body)


async def test_metrics_after_requests_and_jobs(server: RunningServer, client_factory: Any) -> None:
    sales = await client_factory("sales1")
    _, created = await sales.post("/api/sessions", json=new_session_body())
    sid = created["session"]["id"]
    _, link = await sales.post(f"/api/sessions/{sid}/link")
    customer = await client_factory()
    assert (await customer.get(f"/api/join/{link['token']}"))[0] == 200
    assert (await customer.get("/no/such/page"))[0] == 404
    # Queued jobs (no worker runs in this server): depth and age by kind.
    queue: DbJobQueue = server.ctx.queue
    for kind in ("demo_ok", "demo_ok", "demo_fail", "inspect"):
        await queue.enqueue(kind, {"session_id": sid})
    text = await scrape(customer)
    assert value(text, "kesu_jobs", status="queued", kind="demo_ok") == 2
    assert value(text, "kesu_job_oldest_age_seconds", status="queued", kind="demo_ok") >= 0
    assert value(text, "kesu_jobs_query_ok") == 1
    # Route templates, never the URL: the token appears nowhere in the exposition.
    assert value(text, "kesu_http_request_duration_seconds_count", route="/api/join/{token}") == 1
    assert (
        value(text, "kesu_http_request_duration_seconds_count", route="unmatched", status="404")
        == 1
    )
    assert (
        value(
            text,
            "kesu_http_request_duration_seconds_count",
            route="/api/sessions",
            method="POST",
            status="201",
        )
        == 1
    )
    assert link["token"] not in text and link["token"].split(".")[1] not in text
    assert value(text, "kesu_live_rooms") == 0

    # Run them through a real pool with instrumented handlers.
    async def ok(job: JobInfo, progress: ProgressFn) -> None:
        await progress("demo", 0.5)

    async def fail(job: JobInfo, progress: ProgressFn) -> None:
        raise PermanentJobError("bad input")

    async def inspect(job: JobInfo, progress: ProgressFn) -> None:
        # What JobRunner.inspect leaves behind: a report with timings and the duration.
        async with server.ctx.db.session() as s:
            report = {"duration_s": 40.0, "timings": {"total": 12.0}, "findings": []}
            s.add(InspectionReport(session_id=sid, report=report, created_at=utcnow()))

    metrics = server.runner.app[METRICS]
    handlers = metrics.instrument({"demo_ok": ok, "demo_fail": fail, "inspect": inspect})
    pool = WorkerPool(queue, handlers, 1, 0.05)
    pool.start()
    try:
        for _ in range(200):
            text = await scrape(customer)
            # Queued or running jobs are listed; done and failed ones are not.
            if not any(n == "kesu_jobs" for (n, _lb) in samples(text)):
                break
            await asyncio.sleep(0.05)
    finally:
        await pool.stop()
    text = await scrape(customer)
    assert value(text, "kesu_job_duration_seconds_count", kind="demo_ok", outcome="ok") == 2
    assert value(text, "kesu_job_duration_seconds_count", kind="demo_fail", outcome="failed") == 1
    assert value(text, "kesu_job_failures_total", kind="demo_fail") == 1
    assert value(text, "kesu_inspection_realtime_factor_count") == 1
    assert abs(value(text, "kesu_inspection_realtime_factor_sum") - 0.3) < 1e-9


async def test_live_collector_counts_rooms_and_keeps_counters_after_close(tmp_path: Path) -> None:
    rooms = RoomManager(4, RtcSettings(loopback_only=True, sync_wait_s=0.5))
    collector = LiveCollector(rooms, "node-a")

    def read() -> dict[str, float]:
        out: dict[str, float] = {}
        for family in collector.collect():
            for s in family.samples:
                key = s.name + "".join(f",{v}" for k, v in sorted(s.labels.items()) if k != "node")
                out[key] = s.value
        return out

    room = rooms.room_for("s-live", SessionDir.create(tmp_path, "s-live"))
    clients = []
    try:
        for role in ("salesperson", "customer"):
            timeline = MediaTimeline()
            c = ClientPeer([PatternVideoTrack(role, timeline, fps=10), ToneAudioTrack(timeline)])
            clients.append(c)
            await c.accept(await room.join(role, await c.offer()))
        for _ in range(300):
            live = read()
            if live.get("kesu_rtc_packets_total,video,recorded", 0) > 20:
                break
            await asyncio.sleep(0.05)
        assert live["kesu_live_rooms"] == 1 and live["kesu_live_participants"] == 2
        assert live["kesu_rtc_packets_total,video,received"] > 20
        assert live["kesu_rtc_packets_total,video,relayed"] > 0
        assert live["kesu_rtc_packets_total,video,recorded"] > 20
        assert "kesu_rtc_dropped_packets_total,video,relay" in live
        assert live["kesu_recorder_lag_seconds"] >= 0
    finally:
        for c in clients:
            await c.close()
        await rooms.close_room("s-live")
    after = read()
    assert after["kesu_live_rooms"] == 0 and after["kesu_live_participants"] == 0
    for key in ("kesu_rtc_packets_total,video,received", "kesu_rtc_packets_total,video,recorded"):
        assert after[key] >= live[key], key  # a counter never goes down
    assert read() == after  # folded once


async def test_readyz(server: RunningServer, client_factory: Any) -> None:
    anon = await client_factory()
    status, body = await anon.get("/readyz")
    assert status == 200, body
    assert body["ready"] is True
    assert set(body["checks"]) == {"database", "storage", "models"}
    assert all(c["ok"] for c in body["checks"].values())
    # Recordings can no longer be written: the sessions directory is now a file.
    sessions_dir = server.ctx.settings.sessions_dir
    shutil.rmtree(sessions_dir, ignore_errors=True)
    sessions_dir.write_text("not a directory")
    status, body = await anon.get("/readyz")
    assert status == 503 and body["ready"] is False
    assert body["checks"]["storage"]["ok"] is False and body["checks"]["database"]["ok"] is True
    # Anyone may ask: the answer says what failed, not where (no path of the server).
    assert body["checks"]["storage"]["error"] == "FileExistsError: File exists", body
    assert str(server.ctx.settings.data_dir) not in json.dumps(body)
    assert (await anon.get("/healthz"))[0] == 200  # liveness is not readiness


async def test_readyz_database_gone(tmp_path: Path) -> None:
    stack = ExitStack()
    admin = stack.enter_context(postgres_server(free_port()))
    client: Client | None = None
    srv: RunningServer | None = None
    try:
        url = await fresh_database(admin)
        srv = await start_server(make_settings(tmp_path, database_url=url))
        client = Client(srv.url)
        status, body = await client.get("/readyz")
        assert status == 200, body
        stack.close()  # the PostgreSQL server stops (immediate shutdown)
        status, body = await client.get("/readyz")
        assert status == 503, body
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["storage"]["ok"] is True
    finally:
        if client is not None:
            await client.close()
        if srv is not None:
            # Shutdown signs the audit head in the (gone) database: that error is expected.
            with contextlib.suppress(Exception):
                await srv.runner.cleanup()
        stack.close()


def test_json_logs_parse_and_hold_no_secret(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "data_dir": tmp_path,
            "log_format": "json",
            "secret_key": "sk-very-secret-key-0042",
            "ice_turn_secret": "turn-shared-secret-77",
            "database_url": "postgresql+asyncpg://kesu:db-pass-9931@db.internal/kesu",
        },
        env={},
    )
    stream = io.StringIO()
    handler = configure_logging(settings, stream)
    try:
        log = logging.getLogger("kesu.test")
        token = "s-abc123.n0nce.1900000000.mac-part"
        log.info("GET /api/join/%s/state 200", token)
        log.warning("connecting to %s", settings.database_url)
        log.info("config %r", settings)
        log.info("turn secret is %s", settings.ice_turn_secret, extra={"key": settings.secret_key})
        try:
            raise RuntimeError(
                f"cannot reach s3://AKIA:aws-secret-55@store/bucket {settings.secret_key}"
            )
        except RuntimeError:
            log.exception("upload failed 中文")
        logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /join/%s HTTP/1.1" 200', token)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 6
    for line in lines:
        record = json.loads(line)
        assert {"timestamp", "level", "logger", "message"} <= set(record)
        for secret in ("sk-very-secret-key-0042", "turn-shared-secret-77", "db-pass-9931",
                       "aws-secret-55", "n0nce", "mac-part"):  # fmt: skip
            assert secret not in line, (secret, line)
    first, second = (json.loads(x) for x in lines[:2])
    assert first["level"] == "INFO" and first["logger"] == "kesu.test"
    assert "/api/join/s-abc123" in first["message"]
    assert "kesu:***@db.internal" in second["message"]
    assert "中文" in lines[4]


async def test_json_access_log_of_a_real_request_holds_no_token(
    server: RunningServer, client_factory: Any
) -> None:
    stream = io.StringIO()
    handler = configure_logging(load_settings({"log_format": "json"}, env={}), stream)
    try:
        sales = await client_factory("sales1")
        _, created = await sales.post("/api/sessions", json=new_session_body())
        _, link = await sales.post(f"/api/sessions/{created['session']['id']}/link")
        customer = await client_factory()
        referer = {"Referer": f"{server.url}/join/{link['token']}"}
        assert (await customer.get(f"/api/join/{link['token']}/state", headers=referer))[0] == 200
    finally:
        logging.getLogger().removeHandler(handler)
    access = [json.loads(x) for x in stream.getvalue().splitlines() if "aiohttp.access" in x]
    assert any("/api/join/" in rec["message"] for rec in access), access
    secret_part = link["token"].split(".", 1)[1]
    assert secret_part not in stream.getvalue()


async def test_models_check_verifies_once_then_uses_the_cache(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from server.readiness import _ModelsCache, check_models

    ctx: Any = SimpleNamespace(settings=make_settings(tmp_path, workers=1))
    cache = _ModelsCache()
    first = await check_models(ctx, cache)
    assert first == {"ok": True}, first  # the packaged models verify (kesu models check)
    stamp = cache.checked_at
    assert await check_models(ctx, cache) == first
    assert cache.checked_at == stamp and cache.task is None


async def test_metrics_behind_a_token(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path, metrics_token="s3cret-scrape"), users=False) as srv:
        async with aiohttp.ClientSession() as http:
            url = f"{srv.url}/metrics"
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": "s3cret-scrape"},
            ):
                async with http.get(url, headers=headers) as r:
                    assert r.status == 401, headers
                    assert r.headers["WWW-Authenticate"].startswith("Bearer")
                    assert "kesu_" not in await r.text()
            async with http.get(url, headers={"Authorization": "Bearer s3cret-scrape"}) as r:
                assert r.status == 200
                assert "kesu_live_rooms" in await r.text()
