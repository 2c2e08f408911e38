"""Validation at the edge: request bodies, query strings and numeric path parts become
pydantic models or a 4xx in the documented error shape, before any handler logic runs."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from server.api.errors import BadRequest, NotFound, read_json
from server.api.schemas.common import MAX_ID

M = TypeVar("M", bound=BaseModel)

_DIGITS = re.compile(r"[0-9]{1,19}")


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors without the offending input (it may be huge or personal)."""
    out = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        out.append(
            {
                "field": ".".join(str(p) for p in err["loc"]) or "(body)",
                "message": err["msg"],
                "type": err["type"],
            }
        )
    return out


def _refusal(exc: ValidationError, code: str, what: str) -> BadRequest:
    errors = field_errors(exc)
    first = errors[0]
    return BadRequest(
        f"{what} {first['field']}: {first['message']}",
        code=code,
        details={"field": first["field"], "errors": errors},
    )


async def parse_body(request: web.Request, model: type[M], max_bytes: int) -> M:
    """The JSON body as ``model``, or 400 ``invalid_json`` / ``invalid_fields`` / 413."""
    data = await read_json(request, max_bytes)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _refusal(exc, "invalid_fields", "field") from None


def parse_query(request: web.Request, model: type[M], code: str = "invalid_filter") -> M:
    """The query string as ``model`` (a repeated parameter counts by its first value)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise _refusal(exc, code, "query parameter") from None


def path_id(request: web.Request, name: str, what: str) -> int:
    """A numeric id from the path; anything that cannot be a stored id is 404 ``not_found``."""
    raw = request.match_info[name]
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_ID:
        raise NotFound(f"no such {what}")
    return int(raw)
