"""``kesu worker``: the job worker alone, for running inspection on other machines."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from server.app import build_context, start_consumer, stop_consumer
from server.audit_keys import AuditKeys
from server.jobs import JobHandler
from server.metrics import Metrics, serve_worker_metrics
from server.settings import Settings, masked_db_url
from server.worker import JobRunner


async def run_worker(settings: Settings, handlers: dict[str, JobHandler] | None = None) -> int:
    """Consume jobs until SIGINT/SIGTERM, then finish cleanly. ``handlers`` replaces the real
    ones (inspection, review video) in tests."""
    if AuditKeys.load(settings.audit_key_path) is None:
        # A key of its own would stamp its audit entries with MACs that verify as forged.
        print(
            f"kesu worker: no audit key at {settings.audit_key_path}: copy the server's "
            "audit key there or point KESU_AUDIT_KEY_FILE at it (docs/audit.md)",
            file=sys.stderr,
            flush=True,
        )
        return 2
    ctx = build_context(settings)
    await ctx.db.migrate()
    metrics = Metrics(ctx, live=False) if settings.worker_metrics_port else None
    http = None
    if metrics is not None:
        try:
            http = await serve_worker_metrics(
                metrics, settings.host, settings.worker_metrics_port, settings.metrics_token
            )
        except BaseException:
            await ctx.db.close()
            raise
    runner = JobRunner(ctx) if handlers is None else None
    if runner is not None:
        runner.start()
        handlers = runner.handlers()
    assert handlers is not None
    if metrics is not None:
        handlers = metrics.instrument(handlers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    consumer = await start_consumer(ctx.queue, handlers, settings)
    engine = "procrastinate" if isinstance(consumer, asyncio.Task) else "embedded pool"
    served = (
        f", metrics on http://{settings.host}:{settings.worker_metrics_port}/metrics"
        if http is not None
        else ""
    )
    print(
        f"kesu worker: {max(1, settings.workers)} worker(s) ({engine}) on "
        f"{masked_db_url(settings.db_url)}{served}",
        flush=True,
    )
    try:
        done = asyncio.ensure_future(stop.wait())
        watch = [done] + ([consumer] if isinstance(consumer, asyncio.Task) else [])
        await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
        done.cancel()
    finally:
        await stop_consumer(consumer)
        if http is not None:
            await http.cleanup()
        if runner is not None:
            await runner.close()
        await ctx.queue.close()
        await ctx.db.close()
    if isinstance(consumer, asyncio.Task) and consumer.done() and not consumer.cancelled():
        exc = consumer.exception()
        if exc is not None:
            raise exc
    return 0
