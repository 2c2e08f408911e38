"""The customer's self-service API (自助双录), authenticated by the join link like join.py.

Only for sessions created with ``mode: self_service``: the customer's page plays or shows
each node, asks the server to hear each answer and to read each shown document, then
finishes the session itself. See docs/self-service.md.
"""

from __future__ import annotations

from aiohttp import web

from server import playback, selfservice, session_call, session_end, sessions
from server.api.join import _session_for_token, live_session_for_token
from server.api.schemas.sessions import AnswerBody, DocumentBody, NodeBody
from server.api.sessions import connected_of
from server.api.validation import parse_body


async def play(request: web.Request) -> web.Response:
    ctx, row = await _session_for_token(request)
    body = await parse_body(request, NodeBody, ctx.settings.max_body_bytes)
    selfservice.require_self_service(ctx, row)
    return web.json_response({"playback": await playback.play_node(ctx, row, body.node)})


async def node(request: web.Request) -> web.Response:
    """A node shown on screen (not played): stored like the teleprompter's advance."""
    ctx, row = await _session_for_token(request)
    body = await parse_body(request, NodeBody, ctx.settings.max_body_bytes)
    selfservice.require_self_service(ctx, row)
    row = await session_call.set_node(ctx, row, body.node)
    return web.json_response(
        {
            "status": row.status,
            "current_node": row.current_node,
            "connected": connected_of(ctx, row.id),
        }
    )


async def answer(request: web.Request) -> web.Response:
    ctx, row = await _session_for_token(request)
    body = await parse_body(request, AnswerBody, ctx.settings.max_body_bytes)
    return web.json_response(await selfservice.answer(ctx, row, body.node, body.attempt))


async def document(request: web.Request) -> web.Response:
    ctx, row = await _session_for_token(request)
    body = await parse_body(request, DocumentBody, ctx.settings.max_body_bytes)
    return web.json_response(await selfservice.document(ctx, row, body.node, body.image))


async def summary(request: web.Request) -> web.Response:
    # Once the session has ended, 410 like who-is-calling: the link lives a day, and the
    # customer's answers node by node are theirs, not for whoever finds the link later.
    ctx, row = await live_session_for_token(request)
    if sessions.session_mode(ctx, row.id) != selfservice.MODE:
        raise sessions.SessionError(409, "not_self_service", "this is not a self-service session")
    return web.json_response({"status": row.status, "nodes": selfservice.summary(ctx, row)})


async def finish(request: web.Request) -> web.Response:
    """The customer ends the self-service recording; the inspection is queued as usual."""
    ctx, row = await _session_for_token(request)
    selfservice.require_self_service(ctx, row)
    selfservice.require_customer_recording(ctx, row)
    nodes = selfservice.summary(ctx, row)
    row = await session_end.end_session(ctx, row, f"customer:{row.id}")
    return web.json_response({"status": row.status, "nodes": nodes})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/join/{token}/playback", play)
    r.add_post("/api/join/{token}/node", node)
    r.add_post("/api/join/{token}/answer", answer)
    r.add_post("/api/join/{token}/document", document)
    r.add_get("/api/join/{token}/summary", summary)
    r.add_post("/api/join/{token}/finish", finish)
