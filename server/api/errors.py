"""One error contract for every response: ``{"error": {"code", "message", "details"}}``.

User faults are 4xx with a specific code; anything unexpected is a 500 that is logged with a
reference the user can quote, and never leaks internals.
"""

from __future__ import annotations

import errno
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic_core import from_json
from sqlalchemy.exc import DBAPIError, OperationalError

from server.errors import KesuError
from server.store.db import RETRY_AFTER_S, DatabaseBusy
from server.store.outage import DatabaseUnavailable, is_unreachable

log = logging.getLogger("kesu.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(KesuError):
    """An error raised by an HTTP handler."""


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Gone(ApiError):
    status, code = 410, "gone"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return web.json_response(body, status=status)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into the JSON error shape (HTML pages keep aiohttp's redirects)."""
    try:
        return await handler(request)
    except KesuError as exc:
        log.info(
            "%s %s -> %d %s: %s", request.method, request.path, exc.status, exc.code, exc.message
        )
        resp = error_response(exc.status, exc.code, exc.message, exc.details)
        retry = exc.details.get("retry_after_s")
        if exc.status in (429, 503) and isinstance(retry, int):
            resp.headers["Retry-After"] = str(retry)
        return resp
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        log.info("%s %s -> %d", request.method, request.path, exc.status)
        resp = error_response(exc.status, code, exc.reason or code)
        if "Allow" in exc.headers:
            # A 405 says which methods the resource has (RFC 9110 15.5.6): for OPTIONS
            # probes and clients that retry with the right one.
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    except OSError as exc:
        if exc.errno in DISK_UNUSABLE:
            return _disk_unavailable(request, exc)
        if exc.errno not in DISK_FULL:
            return _internal(request)
        return _storage_full(request, exc)
    except DBAPIError as exc:
        if is_unreachable(exc):
            return _database_unavailable(request, exc)
        if not isinstance(exc, OperationalError):
            return _internal(request)
        if "database or disk is full" in str(exc.orig):
            return _storage_full(request, exc)
        if "database is locked" not in str(exc.orig):
            return _internal(request)
        # Another process kept SQLite's write lock past the busy timeout: retryable, not a bug.
        busy = DatabaseBusy()
        log.warning("%s %s -> 503 database_busy: %s", request.method, request.path, exc.orig)
        resp = error_response(busy.status, busy.code, busy.message, busy.details)
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
        return resp
    except Exception:
        return _internal(request)


# No space left, or the quota of the server's user reached: the operator's to fix, not a bug.
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


# The data directory cannot be written: mounted read-only (or remounted so by the kernel
# after disk errors), failing, or no longer the server user's. Not a bug: the operator's.
DISK_UNUSABLE = frozenset({errno.EROFS, errno.EIO, errno.EACCES})
#: What a client that got ``disk_unavailable`` is told to wait before retrying.
DISK_RETRY_AFTER_S = 30


def _disk_unavailable(request: web.Request, exc: OSError) -> web.Response:
    """503: what the request would have written was not (as for a full disk)."""
    log.error("%s %s -> 503 disk_unavailable: %s", request.method, request.path, exc)
    resp = error_response(
        503,
        "disk_unavailable",
        "the server cannot write to its disk now; nothing was saved, try again later",
        {"retry_after_s": DISK_RETRY_AFTER_S},
    )
    resp.headers["Retry-After"] = str(DISK_RETRY_AFTER_S)
    return resp


def _database_unavailable(request: web.Request, exc: Exception) -> web.Response:
    """503: the database is out of reach (stopped, restarting, cut off); nothing was saved."""
    down = DatabaseUnavailable()
    log.warning("%s %s -> 503 %s: %r", request.method, request.path, down.code, exc)
    resp = error_response(down.status, down.code, down.message, down.details)
    resp.headers["Retry-After"] = str(down.details["retry_after_s"])
    return resp


def _storage_full(request: web.Request, exc: Exception) -> web.Response:
    """507: what the request would have written was not (its writer cleans up after itself)."""
    log.error("%s %s -> 507 storage_full: %s", request.method, request.path, exc)
    return error_response(
        507, "storage_full", "the server's disk is full; nothing was saved, try again later"
    )


def _internal(request: web.Request) -> web.Response:
    """Log the exception being handled under a reference the user can quote."""
    ref = secrets.token_hex(4)
    log.exception("unhandled error ref=%s on %s %s", ref, request.method, request.path)
    return error_response(500, "internal_error", f"internal error (ref {ref})")


async def read_json(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object, or a specific 4xx.

    Parsed by pydantic-core's parser, which bounds nesting depth (200) and number size,
    and refuses lone surrogates and invalid UTF-8: no input can make parsing recurse,
    overflow or yield a string the database cannot store.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
    raw = b""
    if request.content.at_eof():
        # Read whole already (server.api.forward tried another node first): the cached body.
        raw = await request.read()
    while chunk := await request.content.read(max_bytes + 1 - len(raw)):
        # read(n) returns what has arrived, so a body in several packets needs a loop.
        raw += chunk
        if len(raw) > max_bytes:
            raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"request body larger than {max_bytes} bytes")
    if not raw.strip():
        raise BadRequest("request body is empty; a JSON object is expected", code="invalid_json")
    try:
        data = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        # The parser's reason names a position, never internals; it helps a client author.
        raise BadRequest(
            "request body is not valid JSON", code="invalid_json", details={"reason": str(exc)}
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    return data
