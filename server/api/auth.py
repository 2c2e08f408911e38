"""Login, logout, the current user, and the middleware that authenticates and checks CSRF."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select

from server import audit
from server.api.errors import Forbidden, Handler, Unauthorized
from server.api.schemas.auth import LoginBody
from server.api.validation import parse_body
from server.context import CTX, AppContext
from server.security import new_token, token_digest, verify_password
from server.store.models import AuthSession, User
from server.store.types import utcnow

COOKIE = "kesu_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROLES = ("admin", "salesperson", "reviewer")

USER_KEY = web.RequestKey("kesu_user", User)
AUTH_KEY = web.RequestKey("kesu_auth", AuthSession)


def current_user(request: web.Request) -> User | None:
    return request.get(USER_KEY)


def require_user(request: web.Request, *roles: str) -> User:
    """The logged-in user, if they hold one of ``roles`` (any role when none given)."""
    user = current_user(request)
    if user is None:
        raise Unauthorized("login required")
    if roles and user.role not in roles and user.role != "admin":
        raise Forbidden(f"this needs the role {' or '.join(roles)}", code="wrong_role")
    return user


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "display_name": user.display_name or user.username,
        "institution": user.institution,
    }


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the cookie's user; refuse unsafe cookie-authenticated requests without the CSRF token."""
    ctx = request.app[CTX]
    token = request.cookies.get(COOKIE)
    if token:
        async with ctx.db.session() as s:
            auth = await s.get(AuthSession, token_digest(token))
            if auth is not None and auth.expires_at > utcnow():
                user = await s.get(User, auth.user_id)
                if user is not None and not user.disabled:
                    # Sliding expiry, renewed at most every few minutes to spare the writer.
                    renewed = utcnow() + timedelta(hours=ctx.settings.session_cookie_hours)
                    if renewed - auth.expires_at > timedelta(minutes=5):
                        auth.expires_at = renewed
                    request[USER_KEY] = user
                    request[AUTH_KEY] = auth
    # Join-link requests authenticate by the token in the URL, not the cookie: no CSRF risk.
    cookie_authenticated = USER_KEY in request and not request.path.startswith("/api/join/")
    if request.method in UNSAFE and cookie_authenticated and request.path != "/api/login":
        auth = request[AUTH_KEY]
        if request.headers.get(CSRF_HEADER) != auth.csrf_token:
            raise Forbidden("missing or wrong CSRF token", code="csrf_failed")
    return await handler(request)


async def login(request: web.Request) -> web.Response:
    ctx: AppContext = request.app[CTX]
    body = await parse_body(request, LoginBody, ctx.settings.max_body_bytes)
    username, password = body.username, body.password
    async with ctx.db.session() as s:
        user = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
        ok = (
            user is not None and not user.disabled and verify_password(user.password_hash, password)
        )
        await audit.record(s, f"user:{username}"[:64], "login" if ok else "login.failed")
        if not ok or user is None:
            raise Unauthorized("wrong username or password", code="bad_credentials")
        token, csrf = new_token(), new_token(16)
        expires = utcnow() + timedelta(hours=ctx.settings.session_cookie_hours)
        s.add(
            AuthSession(
                token_hash=token_digest(token), user_id=user.id, csrf_token=csrf, expires_at=expires
            )
        )
        data = {"user": user_json(user), "csrf_token": csrf}
    resp = web.json_response(data)
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=ctx.settings.secure_cookies,
        path="/",
    )
    return resp


async def logout(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    user = require_user(request)
    auth: AuthSession = request[AUTH_KEY]
    async with ctx.db.session() as s:
        await s.execute(delete(AuthSession).where(AuthSession.token_hash == auth.token_hash))
        await audit.record(s, f"user:{user.username}", "logout")
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    user = require_user(request)
    auth: AuthSession = request[AUTH_KEY]
    return web.json_response({"user": user_json(user), "csrf_token": auth.csrf_token})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
