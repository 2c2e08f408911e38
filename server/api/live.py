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
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server.api.auth import login_holds
from server.api.errors import ApiError, Conflict
from server.api.join import _session_for_token, customer_holds
from server.api.sessions import _own_session
from server.context import AppContext
from server.live.service import LiveService

log = logging.getLogger("kesu.live")

HEARTBEAT_S = 15.0
#: How often an open stream asks again whether its login or join link still stands: a
#: stream is checked once when it opens, and would otherwise go on after a logout, a
#: password change, a disabled account or the link's expiry until the session ends.
RECHECK_S = 15.0
#: How long one write may wait for the client to take it. A client that stops reading
#: (its receive window shut) would otherwise hold the handler in that write for ever: the
#: recheck above never runs, and the stream outlives a logout, a revoked link or the
#: session's end, keeping one of the session's MAX_STREAMS places.
WRITE_TIMEOUT_S = 30.0
#: Open streams per session and side (a page holds one; a second tab or a reconnect that
#: overlaps the old stream fit). Each stream costs the loop an encode and a write per
#: change, so one join link must not open thousands.
MAX_STREAMS = 4
STREAM_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
}
STREAMS_KEY = web.AppKey("kesu_live_streams", dict[tuple[str, bool], int])
# The customer's open streams per session, each with the event that cuts it at once (a
# revoked join link) instead of at its next recheck.
CUTS_KEY = web.AppKey(
    "kesu_live_customer_cuts",
    dict[str, set[tuple[asyncio.Event, "asyncio.Queue[dict[str, Any]]"]]],
)


def cut_customer_streams(app: web.Application, session_id: str) -> int:
    """End the customer's open live streams of ``session_id`` now; returns how many."""
    open_streams = app[CUTS_KEY].get(session_id, set())
    for cut, q in open_streams:
        cut.set()
        if q.empty():  # wake the stream; a full queue wakes it anyway
            q.put_nowait({})
    return len(open_streams)


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
    still = login_holds if not customer else customer_holds
    q = live.subscribe(session_id)
    if q is None:
        raise Conflict("live checks start when the call starts", code="live_not_started")
    if request.method == "HEAD":
        # No body: the headers a GET would get, and no stream held. A stream answered to
        # a HEAD wrote its events after the headers into a connection whose client took
        # the response as complete, and kept one of the session's places until it closed.
        live.unsubscribe(session_id, q)
        return web.Response(headers=STREAM_HEADERS)
    streams[key] = streams.get(key, 0) + 1
    cut = asyncio.Event()
    cuts = request.app[CUTS_KEY]
    if customer:
        cuts.setdefault(session_id, set()).add((cut, q))
    try:
        return await _send(request, live, session_id, customer, q, still, cut)
    finally:
        streams[key] -= 1
        if not streams[key]:
            del streams[key]
        if customer:
            cuts[session_id].discard((cut, q))
            if not cuts[session_id]:
                del cuts[session_id]


async def _send(
    request: web.Request,
    live: LiveService,
    session_id: str,
    customer: bool,
    q: asyncio.Queue[dict[str, Any]],
    still: Callable[[web.Request], Awaitable[bool]],
    cut: asyncio.Event,
) -> web.StreamResponse:
    resp = web.StreamResponse(headers=STREAM_HEADERS)
    try:
        await resp.prepare(request)
        checked = time.monotonic()
        while True:
            wait_s = max(0.0, min(HEARTBEAT_S, checked + RECHECK_S - time.monotonic()))
            view: dict[str, Any] | None = None
            try:
                view = await asyncio.wait_for(q.get(), wait_s)
            except TimeoutError:
                pass
            if cut.is_set():
                break  # the join link was revoked: the page's next request gets the 410
            if time.monotonic() - checked >= RECHECK_S:
                try:
                    holds = await still(request)
                except Exception:  # a database hiccup: the page reconnects and is checked
                    log.warning("live stream of %s: could not check its login", session_id)
                    holds = False
                if not holds:
                    break  # the page's next request gets the 401 / 410 and says why
                checked = time.monotonic()
            if view is None:
                chunk = b": keep-alive\n\n"
            else:
                data = live.customer_view(view) if customer else view
                text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
                chunk = f"event: live\ndata: {text}\n\n".encode()
            try:
                await asyncio.wait_for(resp.write(chunk), WRITE_TIMEOUT_S)
            except TimeoutError:
                log.info("live stream of %s: the client stopped reading; closed", session_id)
                if request.transport is not None:
                    request.transport.abort()  # what is buffered for it goes too
                break
            if view is not None and view.get("status") == "ended":
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
    app[CUTS_KEY] = {}
    app.router.add_get("/api/sessions/{session_id}/live", sales_live)
    app.router.add_get("/api/join/{token}/live", customer_live)
