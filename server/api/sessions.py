"""Salesperson's session API: create, list, join link + QR, media offer, script node, end."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import qrcode
import qrcode.image.svg
from aiohttp import web

from inspection.policy import Policy
from inspection.templates import Template, TemplateError, estimate_duration, template_ids
from server import nodes, playback, session_call, session_end, sessions
from server.api import forward
from server.api.auth import require_user
from server.api.errors import BadRequest
from server.api.schemas.sessions import EndBody, NewSessionBody, NodeBody, OfferBody
from server.api.validation import parse_body
from server.context import CTX, AppContext
from server.store.models import RecordingSession
from server.store.types import iso, utcnow


def _ctx(request: web.Request) -> AppContext:
    return request.app[CTX]


async def _own_session(request: web.Request) -> tuple[AppContext, Any, Any]:
    ctx = _ctx(request)
    user = require_user(request, "salesperson")
    row = await sessions.get_session(ctx, request.match_info["session_id"])
    sessions.check_owner(row, user)
    return ctx, user, row


def _not_qualified() -> sessions.SessionError:
    """R20: refused to a salesperson not qualified for remote recording."""
    return sessions.SessionError(
        403, "not_qualified", "this salesperson is not qualified for remote recording"
    )


async def own_call(request: web.Request) -> tuple[AppContext, Any, Any]:
    """:func:`_own_session` for a request that opens the call (offer, TURN credentials, a
    join link): R20, a qualification withdrawn after the session was made refuses them at
    the source (leaving, ending and revoking links stay open)."""
    ctx, user, row = await _own_session(request)
    if user.role != "admin" and not user.qualified_remote:
        raise _not_qualified()
    return ctx, user, row


def connected_of(ctx: AppContext, session_id: str) -> dict[str, bool]:
    room = ctx.rooms.get(session_id)
    return room.connected() if room is not None else {}


def recording_failed_of(ctx: AppContext, session_id: str) -> list[str]:
    room = ctx.rooms.get(session_id)
    return room.recording_failed() if room is not None else []


def storage_low_of(ctx: AppContext, session_id: str) -> bool:
    room = ctx.rooms.get(session_id)
    return room.storage_low if room is not None else False


def elapsed_of(row: RecordingSession) -> float | None:
    """Seconds since the session's media started (server clock), for the pages' recording
    indicator; None before anyone joined and once it has ended."""
    if row.started_at is None or row.status == "ended":
        return None
    return round(max(0.0, (utcnow() - row.started_at).total_seconds()), 1)


async def list_templates(request: web.Request) -> web.Response:
    require_user(request)
    out = []
    for tpl in await asyncio.to_thread(usable_templates):
        out.append(
            {
                "id": tpl.id,
                "title": tpl.title,
                "version": tpl.version,
                "product_types": list(tpl.product_types),
            }
        )
    return web.json_response({"templates": out})


def usable_templates() -> list[Template]:
    """Every built-in and installed template that loads (blocking: reads the templates
    directory). Each is parsed once per process, as for a new session
    (``sessions.builtin_template``): before, every ``GET /api/templates`` parsed every YAML
    file again on the event loop, about 40 ms for the three built-ins, more per installed
    template, so any login listing them in a loop stalled every other request."""
    out = []
    for tid in template_ids():
        try:
            out.append(sessions.builtin_template(tid))
        except TemplateError:
            continue  # a broken installed file is skipped, as before
    return out


async def create(request: web.Request) -> web.StreamResponse:
    ctx = _ctx(request)
    user = require_user(request, "salesperson")
    if not user.qualified_remote:
        raise _not_qualified()
    if not forward.forwarded(request):
        # Created where its room will be: the node with the most free capacity keeps its
        # directory (several nodes, maybe on separate disks; server.nodes). It checks the
        # body itself.
        home = await nodes.home_for_new(ctx)
        if home is not None:
            try:
                return await forward.forward_to(request, ctx, *home)
            except forward.NodeUnreachable:
                pass  # (not declared dead yet): this node takes the session instead
    body = await parse_body(request, NewSessionBody, ctx.settings.max_body_bytes)
    new = sessions.parse_new_session(body, user)
    row = await sessions.create_session(ctx, user, new)
    return web.json_response({"session": sessions.session_json(row)}, status=201)


async def list_mine(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    user = require_user(request, "salesperson")
    rows = await sessions.list_sessions(ctx, user)
    return web.json_response(
        {"sessions": [sessions.session_json(r, connected_of(ctx, r.id)) for r in rows]}
    )


async def show(request: web.Request) -> web.Response:
    ctx, _user, row = await _own_session(request)
    policy = Policy.from_dict(row.policy)
    nodes = sessions.rendered_nodes(row.template_id, policy)
    played = await playback.durations(nodes)
    estimate = estimate_duration(
        sessions.builtin_template(row.template_id), policy, played_s=played
    )
    return web.json_response(
        {
            "session": {
                **sessions.session_json(row, connected_of(ctx, row.id)),
                "mode": sessions.session_mode(ctx, row.id),
            },
            "script": [node_json(n, played) for n in nodes],
            "estimated_s": round(estimate.total_s, 1),
            "estimated_products": [
                {"key": p.key, "product_name": p.product_name, "estimated_s": round(p.total_s, 1)}
                for p in estimate.products
            ],
            "live_checks": ctx.live is not None,
        }
    )


def node_json(node: Any, played: dict[str, float] | None = None) -> dict[str, Any]:
    out = {
        "id": node.id,
        "title": node.title,
        "speaker": node.speaker,
        "text": node.text,
        "requires_answer": node.requires_answer,
        "expected_answer": node.expected_answer,
        "document": node.document,
        "product": getattr(node, "product", None),
        "playback": node.playback is not None,
    }
    if played and node.id in played:
        out["playback_s"] = round(played[node.id], 2)
    return out


#: A host name (labels of letters, digits and hyphens; a browser sends an IDN as punycode),
#: an IPv4 address or a bracketed IPv6 one, and an optional port. Underscores are allowed: not
#: valid in DNS names, but Docker service names (kesu_web) reach a server through proxies.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]{{2,45}}\])(?::[0-9]{{1,5}})?")


def _origin(request: web.Request, ctx: AppContext) -> str:
    if ctx.settings.public_url:
        return ctx.settings.public_url.rstrip("/")
    # The link (and its QR code) is made from the request's Host header: a client could
    # send any text there, and one over 2,300 bytes made the QR code fail (a 500).
    host = request.host
    if len(host) > 260 or not _HOST.fullmatch(host):
        raise BadRequest(
            "the request's Host header is not a host name (set KESU_PUBLIC_URL)",
            details={"header": "Host"},
        )
    return f"{request.scheme}://{host}"


async def join_link(request: web.Request) -> web.Response:
    # Refused here, not only when the customer uses it (server/owner_standing.py).
    ctx, _user, row = await own_call(request)
    if row.status not in session_call.LIVE_STATES:
        raise sessions.SessionError(409, "session_ended", "this session has ended")
    ttl = ctx.settings.join_link_hours * 3600
    token = ctx.signer.sign(row.id, row.join_nonce, ttl)
    url = f"{_origin(request, ctx)}/join/{token}"
    # On a thread: a QR code of a link took about 70 ms of CPU, and a login asking for
    # links in a loop held the event loop (every other request waited) that long each.
    svg = await asyncio.to_thread(qr_svg, url)
    claims = ctx.signer.verify(token)
    return web.json_response(
        {"url": url, "token": token, "qr_svg": svg, "expires_at": claims.expires_at}
    )


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as SVG (blocking: pure-Python encoding)."""
    img = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode()


async def sdp_from_request(request: web.Request, ctx: AppContext) -> str:
    try:
        body = await parse_body(request, OfferBody, ctx.settings.max_sdp_bytes + 4096)
    except BadRequest as exc:
        if exc.code != "invalid_fields":
            raise
        raise BadRequest(
            'expected {"type": "offer", "sdp": "..."}', code="invalid_sdp", details=exc.details
        ) from None
    return body.sdp


async def offer(request: web.Request) -> web.Response:
    ctx, _user, row = await own_call(request)
    sdp = await sdp_from_request(request, ctx)
    answer = await session_call.join_media(ctx, row, "salesperson", sdp)
    return web.json_response({"type": "answer", "sdp": answer})


async def leave(request: web.Request) -> web.Response:
    ctx, _user, row = await _own_session(request)
    await session_call.leave_media(ctx, row, "salesperson")
    return web.json_response({"ok": True})


async def node(request: web.Request) -> web.Response:
    ctx, _user, row = await _own_session(request)
    body = await parse_body(request, NodeBody, ctx.settings.max_body_bytes)
    row = await session_call.set_node(ctx, row, body.node)
    return web.json_response({"session": sessions.session_json(row, connected_of(ctx, row.id))})


async def end(request: web.Request) -> web.Response:
    ctx, user, row = await _own_session(request)
    body = EndBody()
    if request.body_exists:
        body = await parse_body(request, EndBody, ctx.settings.max_body_bytes)
    missing = ctx.live.missing(row.id) if ctx.live is not None else None
    if missing and not body.confirm_missing and row.status in session_call.LIVE_STATES:
        # Ending is allowed, but only knowingly: the page shows the list and asks.
        raise sessions.SessionError(
            409,
            "missing_items",
            f"{len(missing)} required items were not seen done by the live checks",
            {"missing": missing},
        )
    row = await session_end.end_session(
        ctx, row, f"user:{user.username}", confirmed_missing=bool(missing)
    )
    return web.json_response({"session": sessions.session_json(row)})


async def state(request: web.Request) -> web.Response:
    ctx, _user, row = await _own_session(request)
    return web.json_response(
        {
            "status": row.status,
            "current_node": row.current_node,
            "consent_at": iso(row.consent_at),
            "connected": connected_of(ctx, row.id),
            "elapsed_s": elapsed_of(row),
            "playback": playback.playback_state(ctx, row.id),
            "recording_failed": recording_failed_of(ctx, row.id),
            "storage_low": storage_low_of(ctx, row.id),
        }
    )


async def play(request: web.Request) -> web.Response:
    """Play a node's recorded audio to both parties (and record it as the system track)."""
    ctx, _user, row = await _own_session(request)
    body = await parse_body(request, NodeBody, ctx.settings.max_body_bytes)
    return web.json_response({"playback": await playback.play_node(ctx, row, body.node)})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/templates", list_templates)
    r.add_post("/api/sessions", create)
    r.add_get("/api/sessions", list_mine)
    r.add_get("/api/sessions/{session_id}", show)
    r.add_post("/api/sessions/{session_id}/link", join_link)
    r.add_post("/api/sessions/{session_id}/offer", offer)
    r.add_post("/api/sessions/{session_id}/leave", leave)
    r.add_post("/api/sessions/{session_id}/node", node)
    r.add_post("/api/sessions/{session_id}/playback", play)
    r.add_post("/api/sessions/{session_id}/end", end)
    r.add_get("/api/sessions/{session_id}/state", state)
