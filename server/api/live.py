"""Live checks pushed to the pages as Server-Sent Events (``text/event-stream``).

``GET /api/sessions/{id}/live`` (the salesperson, logged in like the rest of the API) sends
``event: live`` with the whole live state each time it changes: checklist, answers,
warnings, documents, what is still missing, and the live checks' own status and notice.
``GET /api/join/{token}/live`` (the customer, by the join link) sends only the customer's
prompts. A comment line every ``HEARTBEAT_S`` keeps proxies from closing an idle stream;
the stream ends after the state whose status is ``ended``. 409 ``live_off`` when live
checks are switched off, ``live_not_started`` before anyone joined the call (the page
retries).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from server.api.errors import ApiError, Conflict
from server.api.join import _session_for_token
from server.api.sessions import _own_session
from server.context import AppContext
from server.live.service import LiveService

HEARTBEAT_S = 15.0
#: Open streams per session and side (a page holds one; a second tab or a reconnect that
#: overlaps the old stream fit). Each stream costs the loop an encode and a write per
#: change, so one join link must not open thousands.
MAX_STREAMS = 4
STREAMS_KEY = web.AppKey("kesu_live_streams", dict[tuple[str, bool], int])


def _service(ctx: AppContext) -> LiveService:
    if ctx.live is None:
        raise Conflict("live checks are switched off on this server", code="live_off")
    return ctx.live


async def _stream(
    request: web.Request, live: LiveService, session_id: str, customer: bool
) -> web.StreamResponse:
    streams = request.app[STREAMS_KEY]
    key = (session_id, customer)
    if streams.get(key, 0) >= MAX_STREAMS:
        raise ApiError(
            f"at most {MAX_STREAMS} live streams per session",
            code="too_many_streams",
            status=429,
            details={"retry_after_s": 5},
        )
    q = live.subscribe(session_id)
    if q is None:
        raise Conflict("live checks start when the call starts", code="live_not_started")
    streams[key] = streams.get(key, 0) + 1
    try:
        return await _send(request, live, session_id, customer, q)
    finally:
        streams[key] -= 1
        if not streams[key]:
            del streams[key]


async def _send(
    request: web.Request,
    live: LiveService,
    session_id: str,
    customer: bool,
    q: asyncio.Queue[dict[str, Any]],
) -> web.StreamResponse:
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
        }
    )
    try:
        await resp.prepare(request)
        while True:
            try:
                view: dict[str, Any] = await asyncio.wait_for(q.get(), HEARTBEAT_S)
            except TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            data = live.customer_view(view) if customer else view
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            await resp.write(f"event: live\ndata: {text}\n\n".encode())
            if view.get("status") == "ended":
                break
    except (ConnectionResetError, ConnectionError):
        pass  # the page went away
    finally:
        live.unsubscribe(session_id, q)
    return resp


async def sales_live(request: web.Request) -> web.StreamResponse:
    ctx, _user, row = await _own_session(request)
    return await _stream(request, _service(ctx), row.id, customer=False)


async def customer_live(request: web.Request) -> web.StreamResponse:
    ctx, row = await _session_for_token(request)
    return await _stream(request, _service(ctx), row.id, customer=True)


def setup(app: web.Application) -> None:
    app[STREAMS_KEY] = {}
    app.router.add_get("/api/sessions/{session_id}/live", sales_live)
    app.router.add_get("/api/join/{token}/live", customer_live)
