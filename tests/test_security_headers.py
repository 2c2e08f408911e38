"""Security headers on every kind of response, and the login cookie's flags (set and
cleared), plain and behind TLS (``secure_cookies``)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp

from tests.conftest import PASSWORD, RunningServer, make_settings, serving

#: One of each: page, login page, join page (anonymous), static module, API answer, API
#: refusal, unknown route, JSON document, probe.
PATHS = (
    "/sales",
    "/login",
    "/join/s-0000000000000000.x.y.z",
    "/static/js/api.js",
    "/api/me",
    "/api/sessions",
    "/api/no-such-thing",
    "/api/openapi.json",
    "/healthz",
)


def _cookie(resp: aiohttp.ClientResponse) -> str:
    values = resp.headers.getall("Set-Cookie")
    assert len(values) == 1, values
    return values[0]


async def _check(url: str, tls: bool) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{url}/api/login", json={"username": "sales1", "password": PASSWORD}
        ) as r:
            assert r.status == 200
            set_cookie = _cookie(r)
            csrf = (await r.json())["csrf_token"]
        morsel = SimpleCookie(set_cookie)["kesu_session"]
        assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
        assert bool(morsel["secure"]) is tls, set_cookie
        # (aiohttp's jar keeps a Secure cookie only for https; send it by hand.)
        cookie = {"Cookie": f"kesu_session={morsel.value}"}
        for path in PATHS:
            async with http.get(f"{url}{path}", headers=cookie, allow_redirects=False) as r:
                h = r.headers
                assert "frame-ancestors 'none'" in h.get("Content-Security-Policy", ""), path
                assert "script-src 'self'" in h["Content-Security-Policy"], path
                assert h.get("X-Content-Type-Options") == "nosniff", path
                assert h.get("X-Frame-Options") == "DENY", path
                assert h.get("Referrer-Policy") == "no-referrer", path
                assert ("Strict-Transport-Security" in h) is tls, path
                if path.startswith("/api/"):
                    assert "no-store" in h.get("Cache-Control", ""), path
        async with http.post(f"{url}/api/logout", headers={**cookie, "X-CSRF-Token": csrf}) as r:
            assert r.status == 200
            cleared = SimpleCookie(_cookie(r))["kesu_session"]
        assert cleared.value == "" and cleared["max-age"] == "0"
        assert cleared["httponly"] and cleared["samesite"] == "Strict"
        assert bool(cleared["secure"]) is tls


async def test_headers_and_cookie_flags(server: RunningServer) -> None:
    await _check(server.url, tls=False)


async def test_headers_and_cookie_flags_behind_tls(tmp_path: Path) -> None:
    async with serving(make_settings(tmp_path, secure_cookies=True)) as srv:
        await _check(srv.url, tls=True)


async def test_an_https_public_url_makes_the_cookie_secure(tmp_path: Path) -> None:
    """Join links and QR codes send browsers to ``public_url``: when that is https, the
    cookie is Secure and HSTS is sent even if ``secure_cookies`` was forgotten."""
    async with serving(make_settings(tmp_path, public_url="https://kesu.example.com")) as srv:
        assert not srv.ctx.settings.secure_cookies
        await _check(srv.url, tls=True)
