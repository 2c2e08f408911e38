"""`kesu worker` serves /metrics on its own port (worker_metrics_port): job durations,
failures and queue depth of the jobs it ran, and no media-room series (it has no rooms)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from server.audit_keys import AuditKeys
from server.jobs import DbJobQueue, JobInfo, PermanentJobError, ProgressFn
from server.standalone_worker import run_worker
from server.store.db import Database
from tests.conftest import free_port, make_settings


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_worker_serves_its_job_metrics(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(tmp_path, workers=1, job_poll_s=0.1, worker_metrics_port=port)
    AuditKeys.load_or_create(settings.audit_key_path)
    db = Database(settings.db_url)
    await db.migrate()
    queue = DbJobQueue(db, max_attempts=1, retry_delay_s=0)
    await queue.enqueue("demo", {"session_id": "s-1"})
    await queue.enqueue("broken", {"session_id": "s-2"})

    async def demo(job: JobInfo, progress: ProgressFn) -> None:
        await progress("demo", 0.5)

    async def broken(job: JobInfo, progress: ProgressFn) -> None:
        raise PermanentJobError("bad input")

    worker = asyncio.create_task(run_worker(settings, {"demo": demo, "broken": broken}))
    ok = ("kesu_job_duration_seconds_count", (("kind", "demo"), ("outcome", "ok")))
    failed = ("kesu_job_failures_total", (("kind", "broken"),))
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                assert not worker.done(), worker
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                        assert r.status == 200
                        samples = _samples(await r.text())
                if samples.get(ok) == 1 and samples.get(failed) == 1:
                    break
                await asyncio.sleep(0.1)
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        await db.close()
    assert samples.get(ok) == 1 and samples.get(failed) == 1, samples
    assert samples[("kesu_jobs_query_ok", ())] == 1
    assert not [name for name, _ in samples if name.startswith(("kesu_live", "kesu_rtc"))]
