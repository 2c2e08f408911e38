"""Every route of the app's router, by who may use it: anonymous visitors, the wrong role and
another salesperson are refused on each one, and cookie requests that change state need the
CSRF token. A route added without a line in ``ACCESS`` fails the first test, so none is
left out of the others."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.app import create_app
from server.settings import Settings
from tests.conftest import RunningServer, new_session_body
from tests.test_api_auth import assert_error

PUBLIC = "public"  # no login (the join routes check their signed token instead)
ANY = "any"  # any logged-in user
SALES = "salesperson"  # salesperson or admin; one session's routes only for its owner
REVIEW = "reviewer"  # reviewer or admin
ADMIN = "admin"
PAGE = "page"  # an HTML shell for any logged-in user (its data comes from the API above)

ACCESS: dict[tuple[str, str], str] = {
    ("POST", "/api/login"): PUBLIC,
    ("POST", "/api/logout"): ANY,
    ("GET", "/api/me"): ANY,
    ("GET", "/api/templates"): ANY,
    ("POST", "/api/sessions"): SALES,
    ("GET", "/api/sessions"): SALES,
    ("GET", "/api/sessions/{session_id}"): SALES,
    ("POST", "/api/sessions/{session_id}/link"): SALES,
    ("POST", "/api/sessions/{session_id}/link/revoke"): SALES,
    ("POST", "/api/sessions/{session_id}/offer"): SALES,
    ("POST", "/api/sessions/{session_id}/leave"): SALES,
    ("POST", "/api/sessions/{session_id}/node"): SALES,
    ("POST", "/api/sessions/{session_id}/playback"): SALES,
    ("POST", "/api/sessions/{session_id}/end"): SALES,
    ("GET", "/api/sessions/{session_id}/state"): SALES,
    ("GET", "/api/sessions/{session_id}/ice"): SALES,
    ("GET", "/api/sessions/{session_id}/live"): SALES,
    ("GET", "/api/sessions/{session_id}/findings"): SALES,
    ("GET", "/api/rerecord-requests"): SALES,
    ("POST", "/api/rerecord-requests/{request_id}/start"): SALES,
    ("GET", "/api/join/{token}"): PUBLIC,
    ("POST", "/api/join/{token}/consent"): PUBLIC,
    ("POST", "/api/join/{token}/offer"): PUBLIC,
    ("POST", "/api/join/{token}/leave"): PUBLIC,
    ("GET", "/api/join/{token}/state"): PUBLIC,
    ("GET", "/api/join/{token}/ice"): PUBLIC,
    ("GET", "/api/join/{token}/live"): PUBLIC,
    ("POST", "/api/join/{token}/playback"): PUBLIC,
    ("POST", "/api/join/{token}/node"): PUBLIC,
    ("POST", "/api/join/{token}/answer"): PUBLIC,
    ("POST", "/api/join/{token}/document"): PUBLIC,
    ("GET", "/api/join/{token}/summary"): PUBLIC,
    ("POST", "/api/join/{token}/finish"): PUBLIC,
    ("GET", "/api/review/queue"): REVIEW,
    ("GET", "/api/review/stats"): REVIEW,
    ("GET", "/api/review/sessions/{session_id}"): REVIEW,
    ("POST", "/api/review/sessions/{session_id}/decision"): REVIEW,
    ("GET", "/api/review/sessions/{session_id}/export"): ADMIN,
    ("POST", "/api/review/findings/{finding_id}"): REVIEW,
    ("GET", "/api/media/{session_id}/evidence/{name}"): REVIEW,
    ("GET", "/api/media/{session_id}/{name}"): REVIEW,
    ("DELETE", "/api/sessions/{session_id}"): ADMIN,
    ("POST", "/api/sessions/{session_id}/hold"): ADMIN,
    ("GET", "/api/audit/verify"): ADMIN,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # docs/operations.md: limit it at the reverse proxy
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/"): PUBLIC,  # a redirect to /login or the role's home
    ("GET", "/login"): PUBLIC,
    ("GET", "/join/{token}"): PUBLIC,
    ("GET", "/self/{token}"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/sales"): PAGE,
    ("GET", "/sales/session/{session_id}"): PAGE,
    ("GET", "/sales/session/{session_id}/findings"): PAGE,
    ("GET", "/review"): PAGE,
    ("GET", "/review/stats"): PAGE,
    ("GET", "/review/session/{session_id}"): PAGE,
}

#: Bodies that pass validation, so a refusal cannot come from the body instead of the role.
BODIES: dict[str, Any] = {
    "/api/sessions": new_session_body(),
    "/node": {"node_id": "intro"},
    "/offer": {"type": "offer", "sdp": "v=0"},
    "/hold": {"hold": True, "reason": "litigation"},
    "/decision": {"decision": "approve", "reason": "ok"},
    "/api/review/findings/{finding_id}": {"state": "confirmed", "comment": ""},
}


def _routes(settings: Settings) -> set[tuple[str, str]]:
    app: web.Application = create_app(settings)
    out = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        out.add((route.method, str(info.get("formatter") or info.get("path") or info["prefix"])))
    return out


def _fill(template: str, session_id: str) -> str:
    return (
        template.replace("{session_id}", session_id)
        .replace("{finding_id}", "1")
        .replace("{request_id}", "1")
        .replace("{name}", "salesperson.mkv")
    )


def _body(template: str) -> Any:
    for suffix, body in BODIES.items():
        if template == suffix or (template.endswith(suffix) and not suffix.startswith("/api")):
            return body
    return {}


def test_every_route_is_classified(settings: Settings) -> None:
    assert _routes(settings) == set(ACCESS)


async def _session_of_sales1(client_factory: Any) -> str:
    c = await client_factory("sales1")
    status, body = await c.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    return str(body["session"]["id"])


async def test_anonymous_is_refused_everywhere_but_public_routes(
    server: RunningServer, client_factory: Any
) -> None:
    sid = await _session_of_sales1(client_factory)
    anon = await client_factory()
    for (method, template), who in sorted(ACCESS.items()):
        if who == PUBLIC:
            continue
        path = _fill(template, sid)
        status, body = await anon.request(method, path, json=_body(template))
        if who == PAGE:
            assert status == 302, (method, path, status)
        else:
            assert status == 401, (method, path, status, body)
            assert_error(body, "unauthorized")


async def test_wrong_role_and_other_salesperson_are_refused(
    server: RunningServer, client_factory: Any
) -> None:
    sid = await _session_of_sales1(client_factory)
    users = {name: await client_factory(name) for name in ("sales2", "rev1")}
    wrong = {SALES: ("rev1", "sales2"), REVIEW: ("sales2",), ADMIN: ("sales2", "rev1")}
    checked = 0
    for (method, template), who in sorted(ACCESS.items()):
        for name in wrong.get(who, ()):
            path = _fill(template, sid)
            status, body = await users[name].request(method, path, json=_body(template))
            if name == "sales2" and who == SALES and "{session_id}" in template:
                # Another salesperson's session: as if it did not exist.
                assert status == 404, (name, method, path, status, body)
                assert_error(body, "not_found")
            elif name == "sales2" and who == SALES:
                # Their own lists and requests: nothing of sales1's in them.
                assert status in (200, 201, 404), (name, method, path, status, body)
                assert sid not in str(body), (name, method, path, body)
            else:
                assert status == 403, (name, method, path, status, body)
                assert body["error"]["code"] == "wrong_role", (name, method, path, body)
                # Nothing about the session: not its retention date, not even that it
                # exists (an unknown id gets the very same answer).
                assert body["error"]["details"] == {}, (name, method, path, body)
                if "{session_id}" in template:
                    unknown = _fill(template, "s-0000000000000000")
                    again = await users[name].request(method, unknown, json=_body(template))
                    assert again == (status, body), (name, method, unknown, again)
            checked += 1
    assert checked > 40


async def test_cookie_requests_that_change_state_need_the_csrf_token(
    server: RunningServer, client_factory: Any
) -> None:
    sid = await _session_of_sales1(client_factory)
    users = {name: await client_factory(name) for name in ("sales1", "rev1", "admin")}
    owner = {SALES: "sales1", REVIEW: "rev1", ADMIN: "admin", ANY: "sales1"}
    for (method, template), who in sorted(ACCESS.items()):
        if method == "GET" or who == PUBLIC:
            continue
        path = _fill(template, sid)
        status, body = await users[owner[who]].request(
            method, path, csrf=False, json=_body(template)
        )
        assert status == 403, (method, path, status, body)
        assert_error(body, "csrf_failed")


async def test_a_method_a_route_does_not_have_is_405_with_allow(
    server: RunningServer, client_factory: Any
) -> None:
    """OPTIONS, TRACE or any method a route lacks: 405 in the error shape, with the
    ``Allow`` header a 405 must carry (RFC 9110 15.5.6); it was dropped when the error
    was rewritten as JSON."""
    anon = await client_factory()
    methods: dict[str, set[str]] = {}
    for method, template in ACCESS:
        if template != "/static":
            methods.setdefault(template, set()).add(method)
    for template, have in methods.items():
        path = _fill(template, "s-0123456789abcdef").replace("{token}", "x.y.1.z")
        for method in ("OPTIONS", "TRACE", "PATCH"):
            async with anon.http.request(method, f"{anon.base}{path}") as r:
                assert r.status == 405, (method, path, r.status)
                assert_error(await r.json(), "method_not_allowed")
                allowed = {m.strip() for m in r.headers.get("Allow", "").split(",")}
                assert have <= allowed, (method, path, r.headers.get("Allow"))
