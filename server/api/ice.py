"""ICE servers for the browsers: ``GET {base}/ice`` next to each page's ``{base}/offer``.

The page fetches this before each new RTCPeerConnection (a rejoin gets fresh TURN
credentials). Only someone who may send the offer gets credentials: the session's own
salesperson (login cookie, while qualified for remote recording: else ``403 not_qualified``,
as the offer itself) or the holder of a valid join link, and only until the session ends
(then 409 / 410 ``session_ended``, as the offer itself).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from server.api import join
from server.api import sessions as sessions_api
from server.api.schemas.common import Out
from server.context import AppContext
from server.session_call import LIVE_STATES
from server.sessions import SessionError


class IceServerOut(BaseModel):
    urls: list[str] = Field(description="stun:, turn: or turns: URLs")
    username: str | None = Field(None, description="TURN only: '<expiry unix time>:<user>'")
    credential: str | None = Field(None, description="TURN only: base64 HMAC-SHA1")


class IceServersOut(Out):
    """``RTCConfiguration.iceServers`` for the page (empty: connect directly)."""

    ice_servers: list[IceServerOut]


def _response(ctx: AppContext, role: str, session_id: str) -> web.Response:
    servers = ctx.rooms.settings.ice.browser_config(f"{role}.{session_id}")
    return web.json_response(
        {"ice_servers": servers}, headers={"Cache-Control": "private, no-store"}
    )


async def for_salesperson(request: web.Request) -> web.Response:
    """``GET /api/sessions/{session_id}/ice``."""
    ctx, _user, row = await sessions_api.own_call(request)
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has ended")
    return _response(ctx, "salesperson", row.id)


async def for_customer(request: web.Request) -> web.Response:
    """``GET /api/join/{token}/ice``."""
    ctx, row = await join.live_session_for_token(request)
    return _response(ctx, "customer", row.id)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/sessions/{session_id}/ice", for_salesperson)
    app.router.add_get("/api/join/{token}/ice", for_customer)
