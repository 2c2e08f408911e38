"""``POST /api/sessions/{session_id}/link/revoke``: the salesperson who owns the session (or
an admin) ends its join links before they expire, e.g. one sent to the wrong person.

The session gets a new nonce (``server.session_call.revoke_join_link``: audited as
``join_link.revoke``, the customer taken out of the call), and the customer's open live
streams end at once. Every request with an old link is then 410 ``token_revoked``; the
pages show why. ``POST .../link`` afterwards makes a new link that works.
"""

from __future__ import annotations

from aiohttp import web

from server import session_call
from server.api import live
from server.api.sessions import _own_session


async def revoke(request: web.Request) -> web.Response:
    ctx, user, row = await _own_session(request)
    await session_call.revoke_join_link(ctx, row, f"user:{user.username}")
    streams = live.cut_customer_streams(request.app, row.id)
    return web.json_response({"revoked": True, "streams_cut": streams})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/sessions/{session_id}/link/revoke", revoke)
