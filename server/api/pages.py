"""HTML pages and static assets from ``web/``. Pages are shells; data comes from the JSON API."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from server.api.auth import current_user

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"

HOME_BY_ROLE = {"salesperson": "/sales", "reviewer": "/review", "admin": "/sales"}

STATIC = "/static/"
STATIC_DIR = WEB_DIR / "static"
#: Longer than any asset's path (the longest is under 60 bytes) and than a file name can be
#: (NAME_MAX, 255 bytes on Linux).
MAX_STATIC_PATH = 512
MAX_STATIC_NAME = 255


@web.middleware
async def static_names(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The ordinary 404 (the error shape, from ``errors.error_middleware``) for a static path
    that names no regular file, before aiohttp's static handler answers it.

    A name no file can have is refused without touching the disk: past NAME_MAX,
    ``is_dir()`` raised ENAMETOOLONG in that handler, a 500 (``GET /static/`` + 5,000
    letters; aiohttp 3.14 catches only a few OSErrors there). A missing file was an empty
    404 (``FileResponse`` finds it missing only while it prepares, past every middleware)
    and a folder a 403, unlike every other unknown path. The file is still served, and a
    path out of the folder still refused, by aiohttp."""
    path = request.path
    if path.startswith(STATIC):
        raw = path.encode("utf-8", "surrogateescape")
        if len(raw) > MAX_STATIC_PATH or any(len(p) > MAX_STATIC_NAME for p in raw.split(b"/")):
            raise web.HTTPNotFound()
        name = request.match_info.get("filename")
        resource = request.match_info.route.resource
        if (
            name is not None
            and isinstance(resource, web.StaticResource)
            and not await asyncio.to_thread(_regular_file, STATIC_DIR / name)
        ):
            raise web.HTTPNotFound()
    return await handler(request)


def _regular_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _page(name: str) -> web.FileResponse:
    resp = web.FileResponse(WEB_DIR / name)
    resp.headers["Cache-Control"] = "no-store"
    # (Framing, Referer and the rest: server/api/headers.py, on every response.)
    return resp


def page(name: str, login: bool = True) -> Handler:
    """A handler serving ``web/<name>``; ``login`` pages redirect anonymous visitors to /login."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if login and current_user(request) is None:
            # Encoded as one query value; login.js only follows it to a path on this site.
            raise web.HTTPFound(URL.build(path="/login", query={"next": request.path_qs}))
        return _page(name)

    return handler


async def home(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    if user is None:
        raise web.HTTPFound("/login")
    raise web.HTTPFound(HOME_BY_ROLE.get(user.role, "/login"))


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/", home)
    r.add_get("/healthz", health)
    r.add_get("/login", page("login.html", login=False))
    r.add_get("/sales", page("sales.html"))
    r.add_get("/sales/session/{session_id}", page("call.html"))
    r.add_get("/join/{token}", page("join.html", login=False))
    r.add_get("/self/{token}", page("self.html", login=False))
    r.add_static(STATIC, STATIC_DIR, follow_symlinks=False)
