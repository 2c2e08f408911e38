"""Requests about a session held by another media node are forwarded to that node.

Media nodes on different hosts do not share a disk: a session's directory (metadata.json,
segments) and its live room are on the node that holds it (``recording_sessions.node_id``,
see server.nodes), while the reverse proxy may send any request to any node. A request
under ``/api/sessions/{session_id}/...`` or ``/api/join/{token}...`` (or the review page's
``/api/review/sessions/{session_id}...`` and ``/api/media/{session_id}/...``) reaching a node that
does not hold that session is therefore sent on, as it came (method, body, cookies, CSRF
header), to the holder's ``url`` from ``media_nodes``, and the holder's answer is returned
(streams, like Server-Sent Events and recordings, passed on as they come). The holder authenticates and authorises it
again, as if the browser had called it; this node has already checked the Origin.

Not forwarded: the offers (``.../offer`` answer 409 ``wrong_node`` and the pages move to
the holder, so the media and later requests go there directly), a session nobody holds or
whose holder is dead (answered here, as before), and a request that was forwarded once
(``X-Kesu-Forwarded-By``, a stamp with a MAC made with the cluster's ``secret_key``:
never a loop; server.node_stamp). A stamp is honoured once and only within a minute: a
stale one is refused with 403 ``forward_stale``, one already used with 403
``forward_replayed``. A forwarded request reaching a node that does not hold the session either (a
``node_url`` that names another node) gets 503 ``node_misrouted``.
A holder that does not answer within ``node_forward_timeout_s`` gives 503
``node_unreachable`` to a request that writes; a read (GET) is then answered here, from the
database (and the store), as if nobody held the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from server import node_stamp, nodes
from server.api.errors import Handler
from server.api.join_claims import claims_of
from server.context import CTX, AppContext
from server.errors import KesuError
from server.security import TokenError

log = logging.getLogger("kesu.forward")

HEADER = "X-Kesu-Forwarded-By"
CLIENT = web.AppKey("kesu_forward_client", aiohttp.ClientSession)
SEEN = web.AppKey("kesu_forward_nonces", node_stamp.SeenNonces)
# The node that forwarded this request, once its stamp was checked (stamp_middleware).
SENDER = web.RequestKey("kesu_forwarded_by", str)
# Route templates whose request concerns one session's directory or live room.
PREFIXES = (
    "/api/sessions/{session_id}",
    "/api/join/{token}",
    # After the end: the holder's disk has the metadata and segments the review page lists.
    "/api/review/sessions/{session_id}",
    "/api/media/{session_id}",
)
SAFE = frozenset({"GET", "HEAD"})
SMALL = 1 << 20  # answers up to this size are read whole (an error the client can show)
NOT_FORWARDED = frozenset(
    {
        "/api/sessions/{session_id}/offer",
        "/api/join/{token}/offer",
        "/api/sessions/{session_id}/link",  # the database only
        "/api/sessions/{session_id}/ice",
        "/api/join/{token}/ice",
        "/api/sessions/{session_id}/findings",  # after the end: the database and storage
    }
)
# Connection-level headers (RFC 9110 section 7.6.1) and those the client library sets.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class NodeUnreachable(KesuError):
    status, code = 503, "node_unreachable"


class Misrouted(KesuError):
    status, code = 503, "node_misrouted"


class StaleForward(KesuError):
    status, code = 403, "forward_stale"


def forwarded(request: web.Request) -> bool:
    """Whether another node of this cluster sent this request on (its stamp was checked by
    :func:`stamp_middleware`), so a client cannot claim it: the forwarding node checked the
    Origin already and sends it no further."""
    return SENDER in request


@web.middleware
async def stamp_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Check a forwarding node's stamp once per request: a stamp with the right MAC is
    honoured only if fresh and not seen before (403 otherwise); one with a wrong MAC is
    ignored, the request then being a client's like any other."""
    value = request.headers.get(HEADER)
    if value:
        body = await request.read() if request.body_exists else b""
        ctx = request.app[CTX]
        target = request.rel_url.raw_path_qs
        stamp = node_stamp.parse(ctx.signer, value, request.method, target, body)
        if stamp is not None:
            try:
                request.app[SEEN].accept(stamp)
            except node_stamp.StampError as exc:
                log.warning("refused a forwarded %s %s: %s", request.method, request.path, exc)
                status = 503 if exc.code == "forward_busy" else 403
                raise StaleForward(str(exc), code=exc.code, status=status) from None
            request[SENDER] = stamp.sender
    return await handler(request)


def _session_of(request: web.Request, ctx: AppContext) -> str | None:
    info = request.match_info
    if "session_id" in info:
        return info["session_id"]
    try:
        # Verified once: the join handler reuses the result (server.api.join_claims).
        return claims_of(request).session_id
    except TokenError:
        return None  # the handler here answers (404, 410)


def _bound(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    canonical = resource.canonical if resource is not None else ""
    return canonical.startswith(PREFIXES) and canonical not in NOT_FORWARDED


@web.middleware
async def forward_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _bound(request):
        return await handler(request)
    ctx = request.app[CTX]
    session_id = _session_of(request, ctx)
    target = None if session_id is None else await nodes.holder(ctx, session_id)
    if forwarded(request):
        if target is not None:
            # Sent here as the holder, and it is not (a node_url naming another node, e.g.
            # the shared public URL): answering would write on the wrong disk.
            raise Misrouted(
                "this request was forwarded to a media node that does not hold the session",
                details={"node_id": target[0]},
            )
        return await handler(request)
    if target is None:
        return await handler(request)
    try:
        return await forward_to(request, ctx, *target)
    except NodeUnreachable:
        if request.method not in SAFE:
            raise
        # A read answers from the database here meanwhile (e.g. the state a page polls
        # while the holder is being declared dead): nothing is written on the wrong disk.
        return await handler(request)


async def forward_to(
    request: web.Request, ctx: AppContext, holder_id: str, holder_url: str
) -> web.StreamResponse:
    """Send ``request`` on to the node at ``holder_url`` and return its answer."""
    headers = CIMultiDict(
        [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
    )
    if request.remote:
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {request.remote}" if prior else request.remote
    body = await request.read() if request.body_exists else None
    headers[HEADER] = node_stamp.make(
        ctx.signer,
        nodes.node_id(ctx.settings),
        request.method,
        request.rel_url.raw_path_qs,
        body or b"",
    )
    # As sent (encoded=True): the holder checks the stamp against the path and query it gets.
    url = URL(holder_url.rstrip("/") + request.rel_url.raw_path_qs, encoded=True)
    client = request.app[CLIENT]
    try:
        upstream = await client.request(
            request.method, url, headers=headers, data=body, allow_redirects=False
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "forwarding %s %s to node %s failed: %r", request.method, request.path, holder_id, exc
        )
        raise NodeUnreachable(
            "the media node holding this session does not answer; try again shortly",
            details={"node_id": holder_id},
        ) from None
    async with upstream:
        out = CIMultiDict(
            [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP]
        )
        length = upstream.headers.get("Content-Length")
        if length is not None and int(length) <= SMALL:
            try:
                data = await upstream.read()
            except (aiohttp.ClientError, TimeoutError):
                raise NodeUnreachable(
                    "the media node holding this session stopped answering",
                    details={"node_id": holder_id},
                ) from None
            return web.Response(status=upstream.status, headers=out, body=data)
        # A stream (live checks) or a recording: passed on chunk by chunk, not held in memory,
        # until either side closes (the bytes as sent: the client does not decompress).
        if length is not None:
            out["Content-Length"] = length
        resp = web.StreamResponse(status=upstream.status, headers=out)
        await resp.prepare(request)
        try:
            async for chunk in upstream.content.iter_any():
                await resp.write(chunk)
        except (aiohttp.ClientError, ConnectionResetError, TimeoutError):
            pass  # the holder or the browser went away: the page reconnects
        return resp


async def client_context(app: web.Application) -> AsyncIterator[None]:
    """The HTTP client used to reach the other nodes (one connection pool per process)."""
    settings = app[CTX].settings
    timeout = aiohttp.ClientTimeout(
        # A whole answer within the timeout; a stream only has to start within it and
        # keep sending (the live stream's heartbeat is far shorter).
        total=None,
        connect=min(5.0, settings.node_forward_timeout_s),
        sock_read=settings.node_forward_timeout_s,
    )
    client = aiohttp.ClientSession(
        timeout=timeout, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
    )
    app[CLIENT] = client
    app[SEEN] = node_stamp.SeenNonces()
    yield
    await client.close()
    await asyncio.sleep(0)  # let the connector close its transports
