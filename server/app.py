"""The application factory: routes, middlewares, and one cleanup context per long-lived resource."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server import fence, housekeeping, logredact, metrics, protocol_errors, readiness
from server.api import (
    auth,
    body_deadline,
    errors,
    findings,
    forward,
    headers,
    ice,
    join,
    join_revoke,
    live,
    openapi,
    pages,
    request_target,
)
from server.api import reviews as reviews_api
from server.api import selfservice as selfservice_api
from server.api import sessions as sessions_api
from server.archive import Archiver
from server.audit_metadata import MetadataAnchorer
from server.audit_trail import AuditTrail, attach, trail_of
from server.blobs import store_from_settings
from server.context import CTX, AppContext
from server.fence import Fence
from server.jobs import DbJobQueue, JobHandler, JobQueue, WorkerPool
from server.rtc.manager import RoomManager
from server.rtc.medialoop import MediaLoop
from server.security import JoinSigner, load_or_create_key
from server.settings import Settings
from server.store.db import Database, is_postgres
from server.users import bootstrap_admin
from server.worker import STOP_GRACE_S, JobRunner

log = logging.getLogger("kesu.app")


MIN_SECRET_KEY = 32  # characters of KESU_SECRET_KEY below which startup warns


def build_context(settings: Settings) -> AppContext:
    """Construct (not start) every resource the app needs."""
    key = (
        settings.secret_key.encode()
        if settings.secret_key
        else load_or_create_key(settings.data_dir / "secret.key")
    )
    if settings.secret_key and len(settings.secret_key) < MIN_SECRET_KEY:
        # It signs join links and the stamps of requests between nodes: one captured link
        # lets a short key be searched offline.
        log.warning(
            "KESU_SECRET_KEY has %d characters; use at least %d random ones "
            "(e.g. openssl rand -hex 32)",
            len(settings.secret_key),
            MIN_SECRET_KEY,
        )
    db = Database(settings.db_url)
    attach(db, AuditTrail.from_settings(settings))
    store = store_from_settings(settings)
    rooms = RoomManager.from_settings(settings)
    lease = Fence(settings)
    rooms.gate = lease.held
    return AppContext(
        settings=settings,
        db=db,
        signer=JoinSigner(key),
        queue=build_queue(db, settings),
        rooms=rooms,
        fence=lease,
        anchorer=MetadataAnchorer(db, settings.sessions_dir),
        archive=None if store is None else Archiver(store, settings.sessions_dir),
    )


def build_queue(db: Database, settings: Settings) -> JobQueue:
    """procrastinate on PostgreSQL (several machines); a table and in-process pool on SQLite."""
    if is_postgres(settings.db_url):
        # Only here: procrastinate comes with the postgres extra, not with `kesu serve` on
        # SQLite (the README's quick start installs without it).
        from server.jobs_pg import ProcrastinateQueue

        return ProcrastinateQueue(db, settings)
    return DbJobQueue(
        db, max_attempts=settings.job_max_attempts, retry_delay_s=settings.job_retry_delay_s
    )


async def _database(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX]
    await ctx.db.migrate()
    password = None
    if ctx.settings.bootstrap_admin:
        password = await bootstrap_admin(ctx.db, ctx.settings.data_dir)
    if password is not None:
        print(
            f"kesu: first start: created user 'admin' with password {password} "
            f"(also in {ctx.settings.data_dir / 'initial-admin-password.txt'})",
            flush=True,
        )
    yield
    await ctx.db.close()


async def _audit(app: web.Application) -> AsyncIterator[None]:
    """Sign the chain's head at start and stop; anchor metadata.json writes in between."""
    ctx = app[CTX]
    trail = trail_of(ctx.db)
    assert trail is not None and ctx.anchorer is not None
    await trail.checkpoint_head(ctx.db)
    ctx.anchorer.start()
    yield
    await ctx.anchorer.stop()
    await trail.checkpoint_head(ctx.db)
    await asyncio.to_thread(trail.close)


async def _node(app: web.Application) -> AsyncIterator[None]:
    """Register this media node and keep its heartbeat (and lease on media) while it runs
    (see server.nodes, server.fence)."""
    ctx = app[CTX]
    await fence.beat(ctx, starting=True)
    beat = asyncio.create_task(fence.run(ctx))
    yield
    beat.cancel()
    await asyncio.gather(beat, return_exceptions=True)


async def _archive(app: web.Application) -> AsyncIterator[None]:
    """Upload finished segments to object storage; a start first catches up on a crash."""
    archiver = app[CTX].archive
    if archiver is not None:
        await archiver.start()
    yield
    if archiver is not None:
        await archiver.stop()


async def _live(app: web.Application) -> AsyncIterator[None]:
    """Live checks: the service exists now; its process starts with the first live session."""
    from server.live.service import LiveOptions, LiveService

    ctx = app[CTX]
    if ctx.settings.live_checks:
        ctx.live = LiveService(LiveOptions.from_settings(ctx.settings))
    yield
    if ctx.live is not None:
        await ctx.live.close()
        ctx.live = None


async def _rooms(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX]
    media = None
    if ctx.settings.rtc_media_thread:
        # The rooms' own loop and thread (server/rtc/medialoop.py: why).
        media = MediaLoop()
        media.start()
        ctx.rooms.media_loop = media
    await housekeeping.recover_interrupted(ctx)
    sweeper = asyncio.create_task(housekeeping.run(ctx))
    yield
    sweeper.cancel()
    await asyncio.gather(sweeper, return_exceptions=True)
    await ctx.rooms.close_all()
    if media is not None:
        await media.stop()
        ctx.rooms.media_loop = None


async def _workers(app: web.Application) -> AsyncIterator[None]:
    ctx = app[CTX]
    if ctx.settings.workers <= 0:
        yield
        await ctx.queue.close()
        return
    runner = JobRunner(ctx)
    runner.start()
    handlers = runner.handlers()
    if metrics.METRICS in app:
        handlers = app[metrics.METRICS].instrument(handlers)
    consumer = await start_consumer(ctx.queue, handlers, ctx.settings)
    if isinstance(consumer, WorkerPool):
        ctx.pool = consumer
    yield
    await stop_consumer(consumer)
    await runner.close(grace_s=STOP_GRACE_S)
    await ctx.queue.close()


async def start_consumer(
    queue: JobQueue, handlers: dict[str, JobHandler], settings: Settings
) -> WorkerPool | asyncio.Task[None]:
    """Start consuming jobs: the in-process pool (embedded, after putting back what this
    machine's dead processes left running) or a procrastinate worker (whose stalled-job
    check recovers jobs of dead workers on any machine)."""
    if isinstance(queue, DbJobQueue):
        await queue.requeue_stale()
        pool = WorkerPool(queue, handlers, max(1, settings.workers), settings.job_poll_s)
        pool.start()
        return pool
    from server.jobs_pg import ProcrastinateQueue  # only with PostgreSQL (build_queue)

    assert isinstance(queue, ProcrastinateQueue)
    return asyncio.create_task(queue.run_worker(handlers, max(1, settings.workers)))


async def stop_consumer(consumer: WorkerPool | asyncio.Task[None]) -> None:
    if isinstance(consumer, WorkerPool):
        await consumer.stop()
        return
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)


def create_app(settings: Settings) -> web.Application:
    """The whole server as an aiohttp application (nothing starts until it runs)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logredact.install()
    protocol_errors.install()
    app = web.Application(
        middlewares=[
            metrics.middleware,
            errors.error_middleware,
            request_target.middleware,
            pages.static_names,
            body_deadline.body_deadline_middleware,
            forward.stamp_middleware,
            auth.auth_middleware,
            forward.forward_middleware,
        ],
        client_max_size=body_deadline.max_body(settings),
    )
    request_target.install(app)
    app[CTX] = build_context(settings)
    app.cleanup_ctx.extend(
        [_database, _audit, _archive, _node, forward.client_context, _live, _rooms, _workers]
    )
    for module in (
        headers,
        auth,
        sessions_api,
        join,
        ice,
        live,
        join_revoke,
        selfservice_api,
        pages,
        reviews_api,
        openapi,
        metrics,
        readiness,
        findings,
    ):
        module.setup(app)
    return app
