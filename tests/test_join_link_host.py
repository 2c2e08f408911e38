"""The join link is made from the request's Host header (without KESU_PUBLIC_URL): a Host
that is no host name is 400, not a link. Before, a logged-in salesperson's client sending a
Host of 3,000 characters to POST /api/sessions/{id}/link got a 500 (the QR code of the link
overflowed: ValueError from qrcode, an "unhandled error" traceback in the log), and one with
spaces or markup got a link carrying it. And its QR code, like the template list of the same
form, is made off the event loop."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from server.api import sessions as sessions_api
from tests.conftest import RunningServer, new_session_body
from tests.test_api_auth import assert_error


async def test_a_host_header_that_is_no_host_name_is_refused(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    link = f"/api/sessions/{body['session']['id']}/link"
    for host in ("a" * 3000, "a b<c>", "x.example:99999999", "[::1"):
        status, refused = await sales.post(link, headers={"Host": host})
        assert status == 400, (host[:40], status, refused)
        assert_error(refused, "bad_request")
        assert refused["error"]["details"] == {"header": "Host"}
    for host in (
        "kesu.example.com",
        "kesu.example.com:8443",
        "127.0.0.1:8080",
        "[::1]:8443",
        "kesu_web:8080",
    ):
        status, made = await sales.post(link, headers={"Host": host})
        assert status == 200, (host, made)
        assert made["url"].startswith(f"http://{host}/join/"), made["url"]


async def test_the_qr_code_is_made_off_the_event_loop(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link's QR code is about 70 ms of pure-Python CPU: on the event loop, a login asking
    for links in a loop stalled every other request that long each."""
    on_loop_thread: list[bool] = []
    real = sessions_api.qr_svg

    def watched(url: str) -> str:
        on_loop_thread.append(threading.current_thread() is threading.main_thread())
        return real(url)

    monkeypatch.setattr(sessions_api, "qr_svg", watched)
    sales = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    status, made = await sales.post(f"/api/sessions/{body['session']['id']}/link")
    assert status == 200, made
    assert made["qr_svg"].startswith("<?xml") and "<svg" in made["qr_svg"]
    assert on_loop_thread == [False]


async def test_templates_are_listed_off_the_event_loop(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /api/templates parsed every template's YAML on the event loop (about 40 ms for
    the three built-ins, each time): now on a thread, each parsed once per process."""
    on_loop_thread: list[bool] = []
    real = sessions_api.usable_templates

    def watched() -> Any:
        on_loop_thread.append(threading.current_thread() is threading.main_thread())
        return real()

    monkeypatch.setattr(sessions_api, "usable_templates", watched)
    sales = await client_factory("sales1")
    status, body = await sales.get("/api/templates")
    assert status == 200, body
    assert {t["id"] for t in body["templates"]} >= {"traditional_life", "investment_linked"}
    assert on_loop_thread == [False]
