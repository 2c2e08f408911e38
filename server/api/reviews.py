"""Reviewer API and pages: queue, session review data, judgements, decisions, statistics,
evidence export, retention (holds, deletion), and the salesperson's re-recording requests."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from inspection.policy import Policy
from server import action_limits, audit, retention, reviews
from server.api import forward, media
from server.api.auth import require_user
from server.api.errors import BadRequest
from server.api.pages import page
from server.api.schemas.reviews import (
    DecisionBody,
    HoldBody,
    JudgeBody,
    QueueQuery,
    StatsQuery,
)
from server.api.validation import parse_body, parse_query, path_id
from server.audit_export import export_session
from server.audit_trail import trail_of
from server.audit_verify import verify_archive
from server.context import CTX, AppContext
from server.errors import KesuError
from server.review_stats import MAX_DAYS, StatsPeriod, review_stats
from server.session_format import read_metadata
from server.sessions import rendered_nodes, session_json
from server.store.models import InspectionReport, User
from server.store.types import utcnow

log = logging.getLogger(__name__)

REVIEWER = "reviewer"


def _ctx(request: web.Request) -> AppContext:
    return request.app[CTX]


# ---------------------------------------------------------------------------------------------
# Queue and one session


async def queue(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request, REVIEWER)
    q = parse_query(request, QueueQuery)
    filt = reviews.QueueFilter(
        status=q.status,
        code=q.code or None,
        product=q.product or None,
        salesperson=q.salesperson or None,
        date_from=q.from_,
        date_to=q.to,
        limit=q.limit,
        offset=q.offset,
    )
    return web.json_response(await reviews.list_queue(ctx, filt, user))


def _media_json(session_id: str, metadata: dict[str, Any], sdir: Path) -> dict[str, Any]:
    tracks: dict[str, list[dict[str, Any]]] = {}
    for seg in metadata.get("segments", []):
        if not isinstance(seg, dict) or seg.get("status") == "recording":
            continue
        name = str(seg.get("file", ""))
        if not media.SEGMENT_RE.match(name) or not (sdir / name).is_file():
            continue
        tracks.setdefault(str(seg.get("participant")), []).append(
            {
                "file": name,
                "url": f"/api/media/{session_id}/{name}",
                "start_s": seg.get("start_s"),
                "end_s": seg.get("end_s"),
                "status": seg.get("status"),
            }
        )
    review = next((n for n in media.REVIEW_VIDEOS if (sdir / n).is_file()), None)
    return {
        "tracks": tracks,
        "review": {"file": review, "url": f"/api/media/{session_id}/{review}"} if review else None,
    }


def _script(row: Any) -> list[dict[str, Any]]:
    try:
        nodes = rendered_nodes(row.template_id, Policy.from_dict(row.policy))
    except (KesuError, ValueError):
        return []
    return [{"id": n.id, "title": n.title, "speaker": n.speaker} for n in nodes]


def _with_evidence_urls(session_id: str, finding: dict[str, Any]) -> dict[str, Any]:
    name = media.evidence_name(finding["evidence"].get("frame"))
    finding["thumbnail_url"] = f"/api/media/{session_id}/evidence/{name}" if name else None
    return finding


async def review_detail(ctx: AppContext, session_id: str, user: Any) -> dict[str, Any]:
    """Everything the session review page shows (ID numbers masked)."""
    state = await reviews.review_state(ctx, session_id, user)
    row = state.row
    sdir = ctx.settings.sessions_dir / row.id
    async with ctx.db.read() as s:
        stored = await s.get(InspectionReport, row.id)
    report = stored.report if stored is not None else {}
    metadata = await asyncio.to_thread(read_metadata, sdir)
    m = await asyncio.to_thread(_media_json, row.id, metadata, sdir)
    ends = [seg.get("end_s") or 0 for segs in m["tracks"].values() for seg in segs]
    duration = report.get("duration_s") or max([0.0, *ends])
    findings = [
        _with_evidence_urls(row.id, reviews.finding_json(f, state.people)) for f in state.findings
    ]
    return {
        "session": session_json(row),
        "salesperson": reviews.person_json(state.people.get(row.salesperson_id)),
        "duration_s": duration,
        "media": m,
        "events": reviews.mask_deep([e for e in metadata.get("events", []) if isinstance(e, dict)]),
        "gaps": metadata.get("gaps", []),
        "script": _script(row),
        "nodes": report.get("nodes", []),
        "transcript": reviews.mask_deep(report.get("transcript", [])),
        "faces": report.get("faces", {}),
        "findings": findings,
        "decisions": [reviews.decision_json(d, state.people) for d in state.decisions],
        "rerecord_requests": [reviews.rerecord_json(r) for r in state.requests],
        "permissions": {
            **reviews.permissions(state, user),
            "can_export": user.role == "admin",
            "user_id": user.id,
        },
    }


async def show(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request, REVIEWER)
    return web.json_response(await review_detail(ctx, request.match_info["session_id"], user))


async def judge(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request, REVIEWER)
    finding_id = path_id(request, "finding_id", "finding")
    body = await parse_body(request, JudgeBody, ctx.settings.max_body_bytes)
    finding = await reviews.judge_finding(ctx, finding_id, user, body.state, body.comment)
    return web.json_response({"finding": finding})


async def decide(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request, REVIEWER)
    body = await parse_body(request, DecisionBody, ctx.settings.max_body_bytes)
    result = await reviews.decide(
        ctx, request.match_info["session_id"], user, body.decision, body.reason
    )
    if ctx.settings.sessions_dir.is_dir():
        # Whatever the reviewer judged from is anchored now if the worker did not anchor it.
        await audit.anchor_outputs(
            ctx.db.session,
            ctx.settings.sessions_dir / result.decision.session_id,
            result.decision.session_id,
        )
    people = {user.id: user}
    return web.json_response(
        {
            "decision": reviews.decision_json(result.decision, people),
            "review_status": result.review_status,
            "rerecord_request": reviews.rerecord_json(result.request) if result.request else None,
        }
    )


# ---------------------------------------------------------------------------------------------
# Statistics


def _stats_period(query: StatsQuery) -> StatsPeriod:
    tz = query.tz
    last = query.to or (utcnow() + timedelta(minutes=tz)).date()
    first = query.from_ or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_DAYS:
        raise BadRequest(f"the period must be 1 to {MAX_DAYS} days", code="invalid_filter")
    return StatsPeriod(first, last, tz)


async def stats(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request, REVIEWER)
    period = _stats_period(parse_query(request, StatsQuery))
    scope = reviews.institution_scope(user)
    return web.json_response(await review_stats(ctx, period, scope))


# ---------------------------------------------------------------------------------------------
# Export, retention, audit


async def export(request: web.Request) -> web.StreamResponse:
    """``GET /api/review/sessions/{id}/export``: the evidence zip (admin only, audited)."""
    ctx = _ctx(request)
    user = require_user(request, "admin")
    exports = request.app[EXPORTS]
    if exports.locked():
        # Each one writes a zip of a whole session's recordings to the data disk first.
        raise KesuError(
            f"{MAX_EXPORTS} exports are being made; try again when one is done",
            code="busy",
            status=429,
            details={"retry_after_s": 10},
        )
    async with exports:
        return await _export(request, ctx, user)


async def _export(request: web.Request, ctx: AppContext, user: User) -> web.StreamResponse:
    async with ctx.db.session() as s:
        state = await reviews.load_review(s, request.match_info["session_id"])
    session_id = state.row.id
    review = reviews.review_record(state)
    # mkdtemp and rmtree on a thread: the zip holds the session's recordings, and unlinking
    # 500 MB took 43 ms here (ext4).
    tmp = await asyncio.to_thread(tempfile.mkdtemp, dir=ctx.settings.data_dir)
    try:
        out = Path(tmp) / f"{session_id}.zip"
        info = await export_session(
            ctx.db.session,
            ctx.settings.sessions_dir / session_id,
            session_id,
            out,
            reviews.actor_of(user),
            review,
        )
        # A plain StreamResponse, not FileResponse: aiohttp prepares a returned response
        # again, and FileResponse.prepare would stat the zip after this directory is gone.
        resp = web.StreamResponse(
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="{session_id}-evidence.zip"',
                "Cache-Control": "private, no-store",
                "X-Manifest-SHA256": info.manifest_sha256,
            },
        )
        resp.content_length = out.stat().st_size
        await resp.prepare(request)
        try:
            with out.open("rb") as fh:
                while chunk := await asyncio.to_thread(fh.read, EXPORT_CHUNK):
                    await resp.write(chunk)
            await resp.write_eof()
        except ConnectionResetError:
            # The admin's browser went away mid-download (closed, cancelled): nothing is
            # wrong on this side, and the export is audited already.
            log.info("export of %s: the client left before the end of the zip", session_id)
    finally:
        await asyncio.to_thread(shutil.rmtree, tmp, True)
    return resp


async def delete_session(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request)  # refusals of other roles are audited by retention
    deleted = await retention.delete_session(ctx, request.match_info["session_id"], user)
    return web.json_response({"deleted": deleted.session_id, "files": deleted.files})


async def hold(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request)
    body = await parse_body(request, HoldBody, ctx.settings.max_body_bytes)
    active = await retention.set_hold(
        ctx, request.match_info["session_id"], user, body.hold, body.reason
    )
    return web.json_response({"hold": active})


async def verify(request: web.Request) -> web.Response:
    """``GET /api/audit/verify`` (admin): the chain and every anchored file."""
    ctx = _ctx(request)
    require_user(request, "admin")
    running = request.app[VERIFYING]
    if running.locked():
        # Each one reads every file of the archive: one at a time is enough.
        raise KesuError(
            "a verification of the archive is already running; try again when it is done",
            code="busy",
            status=429,
            details={"retry_after_s": 30},
        )
    async with running:
        return await _verify(ctx)


async def _verify(ctx: AppContext) -> web.Response:
    trail = trail_of(ctx.db)
    assert trail is not None
    await trail.flush()  # the newest checkpoint is in the file before it is read
    # A read-only session: the verification hashes every file of the archive, and a write
    # session would hold SQLite's one write lock all along (logins, calls: 503 meanwhile).
    async with ctx.db.read() as s:
        report = await verify_archive(
            s,
            ctx.settings.sessions_dir,
            trail.keys,
            trail.log,
            ctx.archive.store if ctx.archive is not None else None,
        )
    return web.json_response(
        {"ok": not report.problems, "problems": report.problems, "notes": report.notes}
    )


# ---------------------------------------------------------------------------------------------
# Salesperson: re-recording requests


async def my_requests(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request, "salesperson")
    return web.json_response({"requests": await reviews.open_requests(ctx, user)})


async def start_request(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    user = require_user(request, "salesperson")
    request_id = path_id(request, "request_id", "re-recording request")
    if not forward.forwarded(request):
        # Started on the node whose disk has the original (its mode is in its metadata.json);
        # that node checks the request and the user again.
        holder = await reviews.original_holder(ctx, request_id)
        if holder is not None:
            return await forward.forward_to(request, ctx, *holder)
    req, created = await reviews.start_rerecord(ctx, request_id, user)
    return web.json_response(
        {"request": reviews.rerecord_json(req), "session": session_json(created)}, status=201
    )


VERIFYING = web.AppKey("kesu_audit_verifying", asyncio.Lock)
MAX_EXPORTS = 2  # evidence zips being made at once (per process)
EXPORT_CHUNK = 1 << 20  # bytes read and sent at a time
EXPORTS = web.AppKey("kesu_exports", asyncio.Semaphore)


def setup(app: web.Application) -> None:
    # A malformed limit stops the server at start, not a reviewer's first judgement.
    action_limits.JUDGE.windows(app[CTX].settings.review_judge_limits)
    action_limits.HOLD.windows(app[CTX].settings.retention_hold_limits)
    app[VERIFYING] = asyncio.Lock()
    app[EXPORTS] = asyncio.Semaphore(MAX_EXPORTS)
    r = app.router
    r.add_get("/api/review/queue", queue)
    r.add_get("/api/review/stats", stats)
    r.add_get("/api/review/sessions/{session_id}", show)
    r.add_post("/api/review/sessions/{session_id}/decision", decide)
    # No HEAD: it would build, audit and throw away a whole export (405, Allow: GET).
    r.add_get("/api/review/sessions/{session_id}/export", export, allow_head=False)
    r.add_post("/api/review/findings/{finding_id}", judge)
    r.add_delete("/api/sessions/{session_id}", delete_session)
    r.add_post("/api/sessions/{session_id}/hold", hold)
    r.add_get("/api/audit/verify", verify)
    r.add_get("/api/rerecord-requests", my_requests)
    r.add_post("/api/rerecord-requests/{request_id}/start", start_request)
    for path, name in (
        ("/review", "review.html"),
        ("/review/stats", "review_stats.html"),
        ("/review/session/{session_id}", "review_session.html"),
    ):
        r.add_get(path, page(name))
    media.setup(app)
