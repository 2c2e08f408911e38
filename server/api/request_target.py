"""A request target aiohttp can parse but not make a request of is a ``400`` that closes the
connection.

aiohttp 3.14.5 accepts a request line in absolute form (``GET http://xn--zz/ HTTP/1.1``) or
authority form (``CONNECT xn--zz:443 HTTP/1.1``) whose host is an ``xn--`` label that is
not punycode; building the request then reads the URL's decoded host, which raises
``UnicodeError``. That happens in ``RequestHandler.start`` outside the ``try`` that answers
a handler's failure, so the connection's task ended with nothing sent, nothing logged, and
the connection open for ever (a client could hold file descriptors until they ran out).

No public hook builds the request: ``web.Server`` takes a ``request_factory``, but the
``Application`` passes its own (``Application._make_request``, private) and ``web.run_app``
never shows the server it makes. So this wraps that method on the one application: when it
fails on the target, the request is made again from the same request line in origin form
(path and query only, ``Connection: close``) and marked, and :func:`middleware` answers the
marked request with the usual ``400 bad_request`` (the wrapping: ``server/private_method.py``).
``tests/test_request_target.py`` fails if aiohttp stops building requests through that method.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_parser import RawRequestMessage
from yarl import URL

from server.api.errors import BadRequest, Handler
from server.private_method import Method, wrap_once

log = logging.getLogger("kesu.api")

_BAD_TARGET = web.RequestKey("kesu_bad_target", str)
_SHOWN = 200  # characters of the target in the log line


def _origin_form(message: RawRequestMessage) -> RawRequestMessage:
    """The same request with its target cut to path and query (no host to decode), asking
    for the connection to be closed after the answer."""
    url = message.url  # raw parts only: they never decode the host
    origin = URL.build(path=url.raw_path or "/", query_string=url.raw_query_string, encoded=True)
    return message._replace(path=str(origin), url=origin, should_close=True)


def install(app: web.Application) -> None:
    """Make ``app`` answer a target it cannot make a request of (before it runs; idempotent)."""
    wrap_once(app, "_make_request", ("message",), guarded, more=True)


def guarded(original: Method) -> Method:
    """``Application._make_request`` that makes a marked origin-form request of a target
    whose host does not decode."""

    def make_request(message: RawRequestMessage, *args: Any, **kwargs: Any) -> web.Request:
        try:
            request: web.Request = original(message, *args, **kwargs)
            return request
        except ValueError:  # UnicodeError is one: the target's host does not decode
            target = message.path
        log.info("malformed request target: %r", target[:_SHOWN])
        request = original(_origin_form(message), *args, **kwargs)
        request[_BAD_TARGET] = target
        return request

    return make_request


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _BAD_TARGET in request:
        raise BadRequest("The request target's host is not a valid host name.")
    return await handler(request)
