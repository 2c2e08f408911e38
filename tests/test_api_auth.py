"""Login, roles, CSRF and the JSON error shape against the real app on a free port."""

from __future__ import annotations

from typing import Any

from tests.conftest import new_session_body


def assert_error(body: Any, code: str) -> None:
    """The one error contract: {"error": {"code", "message", "details"}}."""
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_login_me_logout(client_factory: Any) -> None:
    c = await client_factory()
    body = await c.login("sales1")
    assert body["user"]["role"] == "salesperson"
    status, me = await c.get("/api/me")
    assert status == 200 and me["user"]["username"] == "sales1" and me["csrf_token"] == c.csrf
    status, _ = await c.post("/api/logout")
    assert status == 200
    status, body = await c.get("/api/me")
    assert status == 401
    assert_error(body, "unauthorized")


async def test_wrong_password_and_unknown_user(client_factory: Any) -> None:
    c = await client_factory()
    for user, pw in (("sales1", "wrong-password"), ("nobody", "whatever12")):
        status, body = await c.post("/api/login", json={"username": user, "password": pw})
        assert status == 401
        assert_error(body, "bad_credentials")


async def test_login_body_errors(client_factory: Any) -> None:
    c = await client_factory()
    status, body = await c.request(
        "POST", "/api/login", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert_error(body, "invalid_json")
    status, body = await c.post("/api/login", json=["a", "b"])
    assert status == 400
    assert_error(body, "invalid_json")
    status, body = await c.post("/api/login", json={"username": 1})
    assert status == 400
    assert_error(body, "invalid_fields")


async def test_csrf_required_for_cookie_requests(client_factory: Any) -> None:
    c = await client_factory("sales1")
    status, body = await c.post("/api/sessions", json=new_session_body(), csrf=False)
    assert status == 403
    assert_error(body, "csrf_failed")
    status, body = await c.post(
        "/api/sessions", json=new_session_body(), headers={"X-CSRF-Token": "forged"}, csrf=False
    )
    assert status == 403
    assert_error(body, "csrf_failed")


async def test_roles_enforced(client_factory: Any) -> None:
    reviewer = await client_factory("rev1")
    status, body = await reviewer.post("/api/sessions", json=new_session_body())
    assert status == 403
    assert_error(body, "wrong_role")
    anon = await client_factory()
    status, body = await anon.get("/api/sessions")
    assert status == 401
    assert_error(body, "unauthorized")


async def test_unknown_route_is_json_404(client_factory: Any) -> None:
    c = await client_factory()
    status, body = await c.get("/api/no-such-thing")
    assert status == 404
    assert_error(body, "not_found")


async def test_pages_redirect_anonymous_to_login(client_factory: Any) -> None:
    c = await client_factory()
    status, _ = await c.get("/sales")
    assert status == 302
    status, _ = await c.get("/login")
    assert status == 200
