"""The salesperson's read-only view of their own session's findings: API and page."""

from __future__ import annotations

from aiohttp import web

from server.api.auth import require_user
from server.api.pages import page
from server.context import CTX
from server.sales_findings import own_findings


async def show(request: web.Request) -> web.Response:
    user = require_user(request, "salesperson")
    data = await own_findings(request.app[CTX], request.match_info["session_id"], user)
    return web.json_response(data)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/sessions/{session_id}/findings", show)
    app.router.add_get("/sales/session/{session_id}/findings", page("findings.html"))
