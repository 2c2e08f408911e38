"""``kesu worker``: the job worker alone, for running inspection on other machines."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from server.app import build_context
from server.jobs import WorkerPool
from server.settings import Settings, masked_db_url
from server.worker import JobRunner


async def run_worker(settings: Settings) -> int:
    """Consume jobs until SIGINT/SIGTERM, then finish cleanly."""
    ctx = build_context(settings)
    await ctx.db.migrate()
    runner = JobRunner(ctx)
    runner.start()
    pool = WorkerPool(ctx.queue, runner.handlers(), max(1, settings.workers), settings.job_poll_s)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    pool.start()
    print(
        f"kesu worker: {pool.size} worker(s) polling {masked_db_url(settings.db_url)}", flush=True
    )
    try:
        await stop.wait()
    finally:
        await pool.stop()
        await runner.close()
        await ctx.db.close()
    return 0
