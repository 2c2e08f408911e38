"""Customer's side, authenticated by the signed join link alone (no account, no cookie)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from inspection.policy import Policy
from inspection.templates import estimate_duration
from server import owner_standing, playback, session_call, sessions
from server.api.errors import ApiError, BadRequest
from server.api.join_claims import claims_of
from server.api.schemas.sessions import ConsentBody
from server.api.sessions import (
    connected_of,
    elapsed_of,
    node_json,
    recording_failed_of,
    sdp_from_request,
)
from server.api.validation import parse_body
from server.context import CTX, AppContext
from server.security import TokenError
from server.store.models import RecordingSession, User
from server.store.types import iso


async def _session_for_token(
    request: web.Request, *, owner_checked: bool = True
) -> tuple[AppContext, RecordingSession]:
    """The session the request's join link opens; with ``owner_checked`` (all but leaving),
    also refused (403) while its salesperson is disabled or not qualified (R20)."""
    ctx, row, _owner = await _link_and_owner(request, owner_checked=owner_checked)
    return ctx, row


async def _link_and_owner(
    request: web.Request, *, owner_checked: bool = True
) -> tuple[AppContext, RecordingSession, User | None]:
    """:func:`_session_for_token`, and the salesperson's account, read with the session."""
    ctx = request.app[CTX]
    try:
        claims = claims_of(request)  # verified once per request, also for the forwarding
    except TokenError as exc:
        status = 410 if exc.code == "token_expired" else 404 if exc.code == "token_invalid" else 400
        raise ApiError(str(exc), code=exc.code, status=status) from None
    try:
        row, owner = await sessions.get_session_and_owner(ctx, claims.session_id)
    except sessions.SessionError:
        raise ApiError("the join link is not valid", code="token_invalid", status=404) from None
    if claims.nonce != row.join_nonce:
        raise ApiError("this join link was revoked", code="token_revoked", status=410)
    if owner_checked:
        # Before, a link went on opening the call (and a self-service customer went on
        # recording alone) after the salesperson was disabled or lost the R20 qualification.
        refusal = owner_standing.refusal_of(owner)
        if refusal is not None:
            raise ApiError(refusal.message, code=refusal.code, status=refusal.status)
    return ctx, row, owner


async def link_holds(request: web.Request) -> bool:
    """Whether the request's join link still opens its session (unexpired, its nonce the
    session's, the session not deleted): a long response (a live-check stream) asks again
    now and then, since the link was checked only when it began."""
    return await _link_row(request) is not None


async def customer_holds(request: web.Request) -> bool:
    """:func:`link_holds`, and the session's salesperson still enabled and qualified: asked
    again now and then by the customer's live-check stream."""
    found = await _link_row(request)
    return found is not None and owner_standing.refusal_of(found[1]) is None


async def _link_row(request: web.Request) -> tuple[RecordingSession, User | None] | None:
    """The session the link still opens and its salesperson's account, or None."""
    ctx = request.app[CTX]
    try:
        claims = ctx.signer.verify(request.match_info["token"])
        row, owner = await sessions.get_session_and_owner(ctx, claims.session_id)
    except (TokenError, sessions.SessionError):
        return None
    return (row, owner) if claims.nonce == row.join_nonce else None


async def live_session_for_token(request: web.Request) -> tuple[AppContext, RecordingSession]:
    """As :func:`_session_for_token`, for what only a call still to come or under way needs
    (who is calling and why, TURN credentials): once the session has ended its link, though
    unexpired for up to a day, gives out neither the customer's personal data nor a relay.
    410 ``session_ended``; the pages show their "ended" view on it."""
    ctx, row, _owner = await _live_link_and_owner(request)
    return ctx, row


async def _live_link_and_owner(
    request: web.Request,
) -> tuple[AppContext, RecordingSession, User | None]:
    ctx, row, owner = await _link_and_owner(request)
    if row.status not in session_call.LIVE_STATES:
        raise ApiError("this session has ended", code="session_ended", status=410)
    return ctx, row, owner


async def info(request: web.Request) -> web.Response:
    """Who is calling and why: shown before the customer consents."""
    ctx, row, sales = await _live_link_and_owner(request)  # (standing checked there)
    policy = Policy.from_dict(row.policy)
    nodes = sessions.rendered_nodes(row.template_id, policy)
    played = await playback.durations(nodes)
    body: dict[str, Any] = {
        "session_id": row.id,
        "status": row.status,
        "salesperson": {
            "name": (sales.display_name or sales.username) if sales else "",
            "institution": sales.institution if sales else "",
        },
        "customer_name": row.customer_name,
        "product_name": row.product_name,
        # A combined sale: the customer sees every product before consenting, not only the main one.
        "product_names": [p.product_name for p in policy.products],
        "consent_at": iso(row.consent_at),
        "current_node": row.current_node,
        "script": [node_json(n, played) for n in nodes],
        "connected": connected_of(ctx, row.id),
        "mode": sessions.session_mode(ctx, row.id),
        "live_checks": ctx.live is not None,
    }
    if body["mode"] == "self_service":
        body["answer_attempts"] = ctx.settings.self_service_answer_attempts
        body["listen_s"] = ctx.settings.self_service_listen_s
        body["estimated_s"] = round(
            estimate_duration(
                sessions.builtin_template(row.template_id), policy, played_s=played
            ).total_s,
            1,
        )
    return web.json_response(body)


async def consent(request: web.Request) -> web.Response:
    ctx, row = await _session_for_token(request)
    try:
        await parse_body(request, ConsentBody, ctx.settings.max_body_bytes)
    except BadRequest as exc:
        if exc.code != "invalid_fields":
            raise
        raise BadRequest(
            'consent must be given explicitly: {"consent": true}', code="consent_required"
        ) from None
    row = await session_call.record_consent(ctx, row)
    return web.json_response({"consent_at": iso(row.consent_at)})


async def offer(request: web.Request) -> web.Response:
    ctx, row = await _session_for_token(request)
    sdp = await sdp_from_request(request, ctx)
    answer = await session_call.join_media(ctx, row, "customer", sdp)
    if not await link_holds(request):
        # Revoked while the offer was answered: the revocation's own leave may have come
        # before this join, so the customer would stay in the call on a revoked link.
        await session_call.drop_revoked_customer(ctx, row.id)
        raise ApiError("this join link was revoked", code="token_revoked", status=410)
    return web.json_response({"type": "answer", "sdp": answer})


async def leave(request: web.Request) -> web.Response:
    # Leaving is never refused for the salesperson's standing: it only ends recording.
    ctx, row = await _session_for_token(request, owner_checked=False)
    await session_call.leave_media(ctx, row, "customer")
    return web.json_response({"ok": True})


async def state(request: web.Request) -> web.Response:
    ctx, row = await _session_for_token(request)
    return web.json_response(
        {
            "status": row.status,
            "current_node": row.current_node,
            "connected": connected_of(ctx, row.id),
            "elapsed_s": elapsed_of(row),
            "playback": playback.playback_state(ctx, row.id),
            # The customer's page says calmly that the salesperson will end the session.
            "recording_failed": recording_failed_of(ctx, row.id),
        }
    )


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/join/{token}", info)
    r.add_post("/api/join/{token}/consent", consent)
    r.add_post("/api/join/{token}/offer", offer)
    r.add_post("/api/join/{token}/leave", leave)
    r.add_get("/api/join/{token}/state", state)
