"""HTML pages and static assets from ``web/``. Pages are shells; data comes from the JSON API."""

from __future__ import annotations

import asyncio
import mimetypes
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
#: The types aiohttp's FileResponse gives (a MimeTypes of Python's own table, not the
#: system's /etc/mime.types), so a file served whole has the type it has otherwise.
_TYPES = mimetypes.MimeTypes()


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
        resp = await handler(request)
        if name is not None and isinstance(resp, web.FileResponse) and _if_range(request):
            # aiohttp took the path (inside the folder, no symlink): the same file, whole.
            return await _whole(STATIC_DIR / name)
        return resp
    return await handler(request)


def _if_range(request: web.BaseRequest) -> bool:
    """A Range sent with an If-Range, which aiohttp's FileResponse misjudges: it reads only a
    date there (an entity tag counts as no If-Range, and a date matches when it is later
    than the file, not only when it equals its Last-Modified), so it sent the range of a
    file the client's copy may not be. RFC 9110 lets a server ignore Range: such a request
    gets the whole file (14.2, 13.1.5). Pages and assets are a few KB."""
    return "Range" in request.headers and "If-Range" in request.headers


async def _whole(path: Path) -> web.Response:
    body = await asyncio.to_thread(path.read_bytes)
    content_type = _TYPES.guess_type(path.name)[0] or "application/octet-stream"
    return web.Response(body=body, content_type=content_type)


def _regular_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


async def _page(request: web.Request, name: str) -> web.StreamResponse:
    resp: web.StreamResponse = (
        await _whole(WEB_DIR / name) if _if_range(request) else web.FileResponse(WEB_DIR / name)
    )
    resp.headers["Cache-Control"] = "no-store"
    # (Framing, Referer and the rest: server/api/headers.py, on every response.)
    return resp


def page(name: str, login: bool = True) -> Handler:
    """A handler serving ``web/<name>``; ``login`` pages redirect anonymous visitors to /login."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if login and current_user(request) is None:
            # Encoded as one query value; login.js only follows it to a path on this site.
            raise web.HTTPFound(URL.build(path="/login", query={"next": request.path_qs}))
        return await _page(request, name)

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
