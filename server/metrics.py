"""Prometheus metrics at ``GET /metrics``: one registry per app, live state read at scrape time.

Rooms, participants, packets and recorder lag are read from the RoomManager by a custom
collector when Prometheus scrapes (nothing is counted on the media path). Queue depth and
age come from one grouped query on the jobs table just before each scrape (a collector's
``collect`` is synchronous, so the handler refreshes it first). Job durations, failures and
the inspection real-time factor are observed as jobs finish in this process; HTTP latencies
by a middleware labelled with the route's canonical path (``/api/join/{token}``), never the
raw URL: bounded label values and no token in any label.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from server.context import CTX, AppContext
from server.jobs import JobHandler, JobInfo, ProgressFn
from server.nodes import node_id
from server.rtc.manager import RoomManager
from server.rtc.room import Room
from server.store.db import Database
from server.store.models import InspectionReport, Job
from server.store.types import utcnow

log = logging.getLogger("kesu.metrics")

KINDS = ("audio", "video")
# Counters of Participant.stats(): (metric, label value, stats key).
PACKET_STAGES = (
    ("packets", "received", "packets_received"),
    ("packets", "relayed", "forwarded_to_me"),
    ("packets", "recorded", "recorded"),
    ("dropped", "relay", "relay_dropped"),
    ("dropped", "recorder", "recorder_dropped"),
)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 2400, 3600)
RTF_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)


def node_name(settings: Any) -> str:
    """This server's label: its media node id (KESU_NODE_ID, else host name and port), as in
    the media_nodes table (nodes behind one proxy share the public URL, so not that)."""
    return node_id(settings)


def _room_totals(room: Room) -> dict[tuple[str, str, str], int]:
    """Counters of every connection the room has had (ended ones from its history)."""
    out: dict[tuple[str, str, str], int] = {}
    for stats in [*room.history, *room.stats().values()]:
        for metric, stage, key in PACKET_STAGES:
            counts = stats.get(key) or {}
            for kind in KINDS:
                k = (metric, stage, kind)
                out[k] = out.get(k, 0) + int(counts.get(kind, 0))
    return out


class LiveCollector(Collector):
    """Rooms, participants, packet counters and recorder lag of this node, read at scrape.

    Counters must not go down when a room closes: rooms seen at one scrape are remembered
    and, once closed (all their connections are then in ``history``), folded into totals.
    A room opened and closed between two scrapes is not counted.
    """

    def __init__(self, rooms: RoomManager, node: str) -> None:
        self.rooms = rooms
        self.node = node
        self._seen: dict[int, Room] = {}
        self._closed: dict[tuple[str, str, str], int] = {}

    def collect(self) -> Iterator[Metric]:
        live = {sid: room for sid, room in self.rooms.rooms().items() if not room.closed}
        live_ids = {id(room) for room in live.values()}
        for key, room in list(self._seen.items()):
            if key not in live_ids:
                for k, v in _room_totals(room).items():
                    self._closed[k] = self._closed.get(k, 0) + v
                del self._seen[key]
        totals = dict(self._closed)
        participants = 0
        backlog, lag = 0, 0.0
        for room in live.values():
            self._seen[id(room)] = room
            for k, v in _room_totals(room).items():
                totals[k] = totals.get(k, 0) + v
            participants += sum(room.connected().values())
            for stats in room.stats().values():
                items, waited = stats.get("recorder_backlog") or (0, 0.0)
                backlog += int(items)
                lag = max(lag, float(waited))
        yield self._gauge("kesu_live_rooms", "Open media rooms on this node.", len(live))
        yield self._gauge(
            "kesu_live_participants", "Connected participants on this node.", participants
        )
        packets = CounterMetricFamily(
            "kesu_rtc_packets",
            "Media packets: received from browsers, relayed to the other party, recorded.",
            labels=["node", "stage", "kind"],
        )
        dropped = CounterMetricFamily(
            "kesu_rtc_dropped_packets",
            "Media packets dropped: relay queue overflow or recorder queue overflow.",
            labels=["node", "where", "kind"],
        )
        for metric, stage, _key in PACKET_STAGES:
            family = packets if metric == "packets" else dropped
            for kind in KINDS:
                family.add_metric([self.node, stage, kind], totals.get((metric, stage, kind), 0))
        yield packets
        yield dropped
        yield self._gauge(
            "kesu_recorder_backlog", "Items queued for the recorders' mux threads.", backlog
        )
        yield self._gauge(
            "kesu_recorder_lag_seconds",
            "How long the oldest queued packet of any recorder has waited.",
            lag,
        )

    def _gauge(self, name: str, documentation: str, value: float) -> GaugeMetricFamily:
        """A gauge of this node: one sample labelled with its name."""
        g = GaugeMetricFamily(name, documentation, labels=["node"])
        g.add_metric([self.node], value)
        return g


class QueueCollector(Collector):
    """Job queue depth and age by status and kind (the whole database: every node sees it)."""

    STATUSES = ("queued", "running")

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: list[tuple[str, str, int, float]] = []
        self._ok = 0.0

    async def refresh(self) -> None:
        now = utcnow()
        try:
            async with self.db.read() as s:
                result = await s.execute(
                    select(Job.status, Job.kind, func.count(), func.min(Job.created_at))
                    .where(Job.status.in_(self.STATUSES))
                    .group_by(Job.status, Job.kind)
                )
                rows = result.all()
        except Exception as exc:  # a scrape must still answer; readiness reports the DB
            log.warning("metrics: job queue query failed: %s", type(exc).__name__)
            self._ok = 0.0
            return
        self._ok = 1.0
        self._rows = [
            (status, kind, int(count), max(0.0, (now - _aware(oldest)).total_seconds()))
            for status, kind, count, oldest in rows
        ]

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "kesu_jobs", "Jobs by status and kind.", labels=["status", "kind"]
        )
        age = GaugeMetricFamily(
            "kesu_job_oldest_age_seconds",
            "Age of the oldest job by status and kind (since it was queued).",
            labels=["status", "kind"],
        )
        for status, kind, count, oldest in self._rows:
            depth.add_metric([status, kind], count)
            age.add_metric([status, kind], oldest)
        up = GaugeMetricFamily("kesu_jobs_query_ok", "1 if the last queue query succeeded.")
        up.add_metric([], self._ok)
        return [depth, age, up]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (written as UTC).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Metrics:
    """The app's registry and the instruments updated as things happen."""

    def __init__(self, ctx: AppContext, live: bool = True) -> None:
        """``live``: this process holds media rooms (``kesu serve``); a ``kesu worker``
        has none, so it exports no room series rather than zeros under a node name."""
        self.ctx = ctx
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_seconds = Histogram(
            "kesu_http_request_duration_seconds",
            "HTTP request latency by route template (not the raw URL).",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.job_seconds = Histogram(
            "kesu_job_duration_seconds",
            "Job run time by kind and outcome (ok, failed, cancelled), in this process.",
            ["kind", "outcome"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.job_failures = Counter(
            "kesu_job_failures", "Job attempts that raised, by kind.", ["kind"], registry=r
        )
        self.inspection_rtf = Histogram(
            "kesu_inspection_realtime_factor",
            "Inspection wall time divided by recording duration (report timings).",
            buckets=RTF_BUCKETS,
            registry=r,
        )
        self.queue = QueueCollector(ctx.db)
        r.register(self.queue)
        if live:
            r.register(LiveCollector(ctx.rooms, node_name(ctx.settings)))

    async def exposition(self) -> bytes:
        await self.queue.refresh()
        return generate_latest(self.registry)

    def instrument(self, handlers: dict[str, JobHandler]) -> dict[str, JobHandler]:
        """The same handlers, timed; failures counted; inspections' real-time factor kept."""
        return {kind: self._timed(kind, h) for kind, h in handlers.items()}

    def _timed(self, kind: str, handler: JobHandler) -> JobHandler:
        async def run(job: JobInfo, progress: ProgressFn) -> None:
            t0 = time.perf_counter()
            outcome = "failed"
            try:
                await handler(job, progress)
                outcome = "ok"
            except BaseException as exc:
                if not isinstance(exc, Exception):
                    outcome = "cancelled"
                else:
                    self.job_failures.labels(kind).inc()
                raise
            finally:
                self.job_seconds.labels(kind, outcome).observe(time.perf_counter() - t0)
            if kind == "inspect":
                await self._observe_rtf(str(job.payload.get("session_id", "")))

        return run

    async def _observe_rtf(self, session_id: str) -> None:
        async with self.ctx.db.read() as s:
            report = (
                await s.execute(
                    select(InspectionReport.report).where(InspectionReport.session_id == session_id)
                )
            ).scalar_one_or_none()
        if not isinstance(report, dict):
            return
        total = (report.get("timings") or {}).get("total")
        duration = report.get("duration_s")
        if isinstance(total, int | float) and isinstance(duration, int | float) and duration > 0:
            self.inspection_rtf.observe(float(total) / float(duration))


METRICS = web.AppKey("kesu_metrics", Metrics)
TOKEN = web.AppKey("kesu_metrics_token", str)  # "" = no token needed


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request by method, route template and status (outermost middleware)."""
    metrics = request.app.get(METRICS)
    if metrics is None:  # metrics turned off
        return await handler(request)
    t0 = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.http_seconds.labels(request.method, _route(request), str(status)).observe(
            time.perf_counter() - t0
        )


async def handle_metrics(request: web.Request) -> web.Response:
    token = request.app.get(TOKEN, "")
    if token:
        # The header's bytes as sent (a non-UTF-8 header arrives with surrogate escapes, which
        # a plain encode() refused: a 500). Constant time; bytes, since compare_digest
        # refuses non-ASCII str.
        sent = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(sent, f"Bearer {token}".encode()):
            body = b'{"error": {"code": "unauthorized", "message": "metrics need the token", '
            body += b'"details": {}}}'
            return web.Response(
                status=401,
                body=body,
                content_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    body = await request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def serve_worker_metrics(
    metrics: Metrics, host: str, port: int, token: str = ""
) -> web.AppRunner:
    """``kesu worker``'s own small HTTP server: ``/metrics`` (behind ``token`` if given) and
    ``/healthz`` only. The caller owns the returned runner (``await runner.cleanup()``)."""
    app = web.Application()
    app[METRICS] = metrics
    app[TOKEN] = token
    app.router.add_get("/metrics", handle_metrics)
    app.router.add_get("/healthz", _healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def setup(app: web.Application) -> None:
    """``/metrics`` and the instruments, unless the ``metrics`` setting is off (then
    ``middleware`` passes requests through untimed)."""
    ctx = app[CTX]
    if ctx.settings.metrics:
        app[METRICS] = Metrics(ctx)
        app[TOKEN] = ctx.settings.metrics_token
        app.router.add_get("/metrics", handle_metrics)
