"""Every request body arrives within ``body_timeout_s``, or 408 ``request_timeout``.

aiohttp bounds a body's size (``client_max_size``) but not the time it takes: a client that
sends its headers and then the body a byte now and then holds a connection and a handler
task for as long as it likes (the idle-connection timeout does not run while a handler
does), and a few hundred such clients use up the process's file descriptors. Every body of
this API is a small JSON document, so it is read whole here, before any other middleware,
under one deadline; the handlers (and the forwarding to another node) then get it from
aiohttp's cache.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from server.api.errors import Handler, error_response
from server.context import CTX
from server.settings import Settings

log = logging.getLogger("kesu.api")


def max_body(settings: Settings) -> int:
    """The largest body any route takes (the app's ``client_max_size``): a JSON body, or an
    SDP offer in its JSON envelope."""
    return max(settings.max_body_bytes, settings.max_sdp_bytes + 4096)


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.body_exists:
        settings = request.app[CTX].settings
        limit = max_body(settings)
        if request.content_length is not None and request.content_length > limit:
            # Refused on its declared length, before a byte of it is read.
            resp = error_response(
                413, "payload_too_large", f"request body larger than {limit} bytes"
            )
            resp.force_close()
            return resp
        timeout = settings.body_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await request.read()  # too large: HTTPRequestEntityTooLarge, a 413
        except web.RequestPayloadError as exc:
            # A body aiohttp could not decode (a Content-Encoding that does not inflate, a
            # chunk that does not parse): the sender's fault, not a 500 with a traceback.
            log.info("%s %s -> 400 invalid_body: %s", request.method, request.path, exc)
            resp = error_response(
                400,
                "invalid_body",
                "the request body could not be read (its encoding or chunking is broken)",
            )
            resp.force_close()
            return resp
        except ConnectionResetError:
            # The client went away in the middle of its body: nobody to answer, nothing to
            # log as an error (each such request was an "unhandled error" traceback).
            log.info("%s %s: the client left before its body arrived", request.method, request.path)
            raise web.HTTPBadRequest() from None
        except TimeoutError:
            log.info(
                "%s %s -> 408: body not received in %s s", request.method, request.path, timeout
            )
            resp = error_response(
                408,
                "request_timeout",
                f"the request body did not arrive within {timeout:g} s",
                {"timeout_s": timeout},
            )
            resp.force_close()  # the rest of the body may still come: not on this connection
            return resp
    return await handler(request)
