"""Logging in replaces the browser's login: the cookie it came with (another account's on a
shared machine, or one planted before) is ended, not left valid behind the new one; and
logging out ends only the login it is sent with."""

from __future__ import annotations

from typing import Any

from tests.conftest import Client, RunningServer

COOKIE = "kesu_session"


def _cookie(c: Client) -> str:
    morsel = c.http.cookie_jar.filter_cookies(c.base).get(COOKIE)  # type: ignore[arg-type]
    assert morsel is not None
    return morsel.value


async def _me(server: RunningServer, cookie: str) -> int:
    fresh = Client(server.url)
    try:
        fresh.http.cookie_jar.update_cookies({COOKIE: cookie})
        status, _ = await fresh.get("/api/me")
        return status
    finally:
        await fresh.close()


async def test_a_new_login_ends_the_one_the_browser_held(
    server: RunningServer, client_factory: Any
) -> None:
    browser = await client_factory("sales1")
    first = _cookie(browser)
    assert await _me(server, first) == 200
    await browser.login("rev1")  # the next person at the same machine
    second = _cookie(browser)
    assert second != first
    assert await _me(server, first) == 401
    status, body = await browser.get("/api/me")
    assert status == 200 and body["user"]["username"] == "rev1"


async def test_logins_elsewhere_are_untouched(server: RunningServer, client_factory: Any) -> None:
    laptop = await client_factory("sales1")
    phone = await client_factory("sales1")
    await phone.login("sales1")  # again, with its own cookie: the laptop's stays
    assert await _me(server, _cookie(laptop)) == 200
    status, _ = await phone.post("/api/logout")
    assert status == 200
    assert await _me(server, _cookie(laptop)) == 200
