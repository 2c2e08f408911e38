"""Login, logout, the current user, and the middleware that authenticates and checks CSRF."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server import audit
from server.api.errors import ApiError, Forbidden, Handler, Unauthorized, error_response
from server.api.forward import forwarded
from server.api.login_cache import VerifiedLogins
from server.api.origin import UNSAFE, check_origin
from server.api.schemas.auth import LoginBody
from server.api.throttle import LoginThrottle, Refusal, account_key, address_key
from server.api.validation import parse_body
from server.context import CTX, AppContext
from server.security import hash_password, new_token, token_digest, verify_password
from server.store.db import DatabaseBusy
from server.store.models import AuthSession, User
from server.store.types import utcnow

COOKIE = "kesu_session"
CSRF_HEADER = "X-CSRF-Token"
ROLES = ("admin", "salesperson", "reviewer")

log = logging.getLogger("kesu.auth")

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


# Paths that never need to know who is logged in: no database work for them at all.
ANONYMOUS_PREFIXES = ("/static/", "/api/join/", "/join/", "/healthz", "/readyz")
# The login page is the same for everyone (login.js asks /api/me itself).
ANONYMOUS_PATHS = frozenset({"/login"})
RENEW_AFTER = timedelta(minutes=5)

THROTTLE_KEY = web.AppKey("kesu_login_throttle", LoginThrottle)
VERIFIED_KEY = web.AppKey("kesu_verified_logins", VerifiedLogins)
#: The dummy hash's making, started with the app (one task; a list so the frozen app's
#: mapping is not written to at start).
DUMMY_HASH_KEY = web.AppKey("kesu_dummy_hash", list["asyncio.Task[str]"])


def _lookup(s: Session, digest: str) -> tuple[AuthSession, User] | None:
    """The unexpired login of a cookie digest and its user (one read, on a database thread)."""
    found = s.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == digest)
    ).first()
    if found is None or found[0].expires_at <= utcnow():
        return None
    return found[0], found[1]


async def _attach_user(request: web.Request, ctx: AppContext, token: str) -> None:
    """Look the cookie up in a read-only transaction; renew its expiry in a separate, rare write."""
    digest = token_digest(token)
    found = await ctx.db.run_read(lambda s: _lookup(s, digest))
    if found is None:
        return
    auth, user = found
    if user.disabled:
        return
    request[USER_KEY] = user
    request[AUTH_KEY] = auth
    # Sliding expiry, renewed at most every few minutes to spare the writer.
    renewed = utcnow() + timedelta(hours=ctx.settings.session_cookie_hours)
    if renewed - auth.expires_at > RENEW_AFTER:
        try:
            await ctx.db.run_write(
                lambda s: s.execute(
                    update(AuthSession)
                    .where(AuthSession.token_hash == digest)
                    .values(expires_at=renewed)
                )
            )
        # Best effort: the login stays valid either way.
        except (OperationalError, DatabaseBusy) as exc:
            log.warning("could not renew a login's expiry: %s", exc)
        else:
            auth.expires_at = renewed


async def login_holds(request: web.Request) -> bool:
    """Whether the login the request came with still stands (not logged out, not expired,
    password not changed, account not disabled): a long response (a live-check stream)
    asks again now and then, since the middleware looked only when it began."""
    auth = request.get(AUTH_KEY)
    if auth is None:
        return False
    digest = auth.token_hash
    found = await request.app[CTX].db.run_read(lambda s: _lookup(s, digest))
    return found is not None and not found[1].disabled and found[1].id == auth.user_id


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse cross-site unsafe requests, attach the cookie's user, check the CSRF token."""
    ctx = request.app[CTX]
    if not forwarded(request):  # (the node that forwarded it checked the Origin)
        check_origin(request, ctx.settings)
    token = request.cookies.get(COOKIE)
    if (
        token
        and not request.path.startswith(ANONYMOUS_PREFIXES)
        and request.path not in ANONYMOUS_PATHS
    ):
        await _attach_user(request, ctx, token)
    if request.method in UNSAFE and USER_KEY in request and request.path != "/api/login":
        auth = request[AUTH_KEY]
        # The header's bytes as sent: aiohttp decodes them as UTF-8 with surrogateescape,
        # and a plain encode() of a non-UTF-8 header raised (a 500). Constant time; bytes,
        # since compare_digest refuses non-ASCII str.
        sent = request.headers.get(CSRF_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(sent, auth.csrf_token.encode()):
            raise Forbidden("missing or wrong CSRF token", code="csrf_failed")
    return await handler(request)


async def _dummy_hash(app: web.Application) -> str:
    """A hash to verify against for unknown or disabled accounts, so they cost the same time
    as a wrong password: made at start (:func:`_dummy_hash_ctx`). Before, the first login
    that needed it hashed it, so the first unknown name cost two argon2 runs, later ones one.
    Shielded: a login that gives up must not cancel it for every other."""
    return await asyncio.shield(app[DUMMY_HASH_KEY][0])


async def _dummy_hash_ctx(app: web.Application) -> AsyncIterator[None]:
    """Make the dummy hash in the hashing threads as the app starts (never on the event
    loop; start-up does not wait for it, a login that comes first does), with the same
    argon2 parameters as every account's; cancelled and awaited at shutdown."""
    task = asyncio.create_task(app[THROTTLE_KEY].run(hash_password, new_token()))
    app[DUMMY_HASH_KEY].append(task)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _too_many(refusal: Refusal) -> web.Response:
    resp = error_response(
        429,
        "too_many_attempts",
        f"too many failed logins for this {refusal.scope}; try again in {refusal.retry_after_s} s",
        {"retry_after_s": refusal.retry_after_s, "scope": refusal.scope},
    )
    resp.headers["Retry-After"] = str(refusal.retry_after_s)
    return resp


async def _find_user(ctx: AppContext, username: str) -> User | None:
    return await ctx.db.run_read(
        lambda s: s.execute(select(User).where(User.username == username)).scalar_one_or_none()
    )


async def _check_password(request: web.Request, user: User | None, password: str) -> User | None:
    """The user if the password is right; argon2 runs in a thread, outside any transaction."""
    stored = user.password_hash if user is not None else await _dummy_hash(request.app)
    ok = await request.app[THROTTLE_KEY].run(verify_password, stored, password)
    if not ok or user is None or user.disabled:
        return None
    request.app[VERIFIED_KEY].remember(user.username, user.password_hash, password)
    return user


async def login(request: web.Request) -> web.Response:
    ctx: AppContext = request.app[CTX]
    if request.content_type != "application/json":
        # A form or text/plain body is what a cross-site page can send without CORS.
        raise ApiError(
            "login needs a JSON body (Content-Type: application/json)",
            code="unsupported_media_type",
            status=415,
        )
    body = await parse_body(request, LoginBody, ctx.settings.max_body_bytes)
    username, password = body.username, body.password
    throttle = request.app[THROTTLE_KEY]
    account, address = account_key(username), address_key(request.remote)
    if (refusal := await throttle.refusal(account, address)) is not None:
        return _too_many(refusal)
    # No database connection or transaction is held while the password is checked.
    user = await _find_user(ctx, username)
    if (
        user is not None
        and not user.disabled
        and request.app[VERIFIED_KEY].matches(user.username, user.password_hash, password)
    ):
        # Verified with argon2 moments ago (server/api/login_cache.py): only right
        # passwords get here, so this shortcut gives a guesser nothing.
        await throttle.succeeded(account)
    else:
        async with throttle.slot():
            # Checked again with the slot held: parallel guesses cannot all pass the first check.
            if (refusal := await throttle.refusal(account, address)) is not None:
                return _too_many(refusal)
            # Read again: a password change or disable while this waited for a slot counts.
            user = await _find_user(ctx, username)
            user = await _check_password(request, user, password)
            if user is None:
                await throttle.failed(account, address)
            else:
                await throttle.succeeded(account)
    actor = f"user:{username}"[:64]
    if user is None:
        # Its own transaction: the 401 below must not roll the record of the attempt back.
        await ctx.db.run_write(
            lambda s: audit.record_sync(s, actor, "login.failed", None, {"address": address})
        )
        raise Unauthorized("wrong username or password", code="bad_credentials")
    token, csrf = new_token(), new_token(16)
    expires = utcnow() + timedelta(hours=ctx.settings.session_cookie_hours)
    login_row = AuthSession(
        token_hash=token_digest(token), user_id=user.id, csrf_token=csrf, expires_at=expires
    )

    # The login this browser held until now (another account's on a shared machine, or a
    # cookie planted before) ends here: the new cookie replaces it, it must not stay valid
    # behind it for the rest of its lifetime.
    previous = request.cookies.get(COOKIE)

    def store(s: Session) -> None:
        if previous:
            s.execute(delete(AuthSession).where(AuthSession.token_hash == token_digest(previous)))
        s.add(login_row)
        audit.record_sync(s, actor, "login", None, {"address": address})

    await ctx.db.run_write(store)
    resp = web.json_response({"user": user_json(user), "csrf_token": csrf})
    resp.set_cookie(COOKIE, token, **_cookie_flags(ctx))
    return resp


def _cookie_flags(ctx: AppContext) -> dict[str, Any]:
    """The login cookie's flags, the same when it is set and when it is cleared (a browser
    keeps a Secure cookie that a non-Secure Set-Cookie tries to remove)."""
    return {
        "httponly": True,
        "samesite": "Strict",
        "secure": ctx.settings.https,
        "path": "/",
    }


async def logout(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    user = require_user(request)
    auth: AuthSession = request[AUTH_KEY]

    def end(s: Session) -> None:
        s.execute(delete(AuthSession).where(AuthSession.token_hash == auth.token_hash))
        audit.record_sync(s, f"user:{user.username}", "logout")

    await ctx.db.run_write(end)
    resp = web.json_response({"ok": True})
    resp.del_cookie(COOKIE, **_cookie_flags(ctx))
    return resp


async def me(request: web.Request) -> web.Response:
    user = require_user(request)
    auth: AuthSession = request[AUTH_KEY]
    return web.json_response({"user": user_json(user), "csrf_token": auth.csrf_token})


async def _close_throttle(app: web.Application) -> None:
    app[THROTTLE_KEY].close()


def setup(app: web.Application) -> None:
    app[THROTTLE_KEY] = LoginThrottle.from_settings(app[CTX].settings, app[CTX].db)
    app[VERIFIED_KEY] = VerifiedLogins(app[CTX].settings.login_verified_cache_s)
    app.on_cleanup.append(_close_throttle)
    app[DUMMY_HASH_KEY] = []
    app.cleanup_ctx.append(_dummy_hash_ctx)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
