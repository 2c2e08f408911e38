"""Recently verified logins (server/api/login_cache.py): a repeated right password skips argon2;
wrong passwords, changed passwords and disabled accounts never benefit."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest

from server import security, users
from server.api import auth as auth_api
from server.api.login_cache import VerifiedLogins
from server.settings import Settings
from tests.conftest import PASSWORD, RunningServer, make_settings


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification the server runs (the real one, counted)."""
    calls: list[str] = []
    real = security.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return real(stored, password)

    monkeypatch.setattr(auth_api, "verify_password", counting)
    return calls


async def _login(base: str, username: str, password: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{base}/api/login", json={"username": username, "password": password}) as r,
    ):
        return r.status


async def test_a_repeated_right_password_is_verified_once(
    server: RunningServer, verifications: list[str]
) -> None:
    for _ in range(3):
        assert await _login(server.url, "sales1", PASSWORD) == 200
    assert verifications == [PASSWORD]
    # Wrong passwords are never remembered: each one costs a full verification.
    for _ in range(2):
        assert await _login(server.url, "sales1", "not-the-password") == 401
    assert verifications == [PASSWORD, "not-the-password", "not-the-password"]
    # Another account with the same password is its own entry.
    assert await _login(server.url, "sales2", PASSWORD) == 200
    assert len(verifications) == 4


async def test_a_changed_password_is_not_answered_from_memory(
    server: RunningServer, settings: Settings, verifications: list[str]
) -> None:
    assert await _login(server.url, "sales1", PASSWORD) == 200
    await users.set_password(settings, "sales1", "a-new-password-1")
    assert await _login(server.url, "sales1", PASSWORD) == 401
    assert await _login(server.url, "sales1", "a-new-password-1") == 200
    assert verifications == [PASSWORD, PASSWORD, "a-new-password-1"]


async def test_a_disabled_account_is_refused_even_if_remembered(
    server: RunningServer, settings: Settings
) -> None:
    assert await _login(server.url, "sales1", PASSWORD) == 200
    await users.set_disabled(settings, "sales1", True)
    assert await _login(server.url, "sales1", PASSWORD) == 401
    await users.set_disabled(settings, "sales1", False)
    assert await _login(server.url, "sales1", PASSWORD) == 200


async def test_throttling_still_applies_to_a_remembered_password(tmp_path: Path) -> None:
    from tests.conftest import serving

    async with serving(make_settings(tmp_path, login_account_limits="3/minute")) as srv:
        assert await _login(srv.url, "sales1", PASSWORD) == 200
        for _ in range(3):
            assert await _login(srv.url, "sales1", "guess-guess") == 401
        assert await _login(srv.url, "sales1", PASSWORD) == 429


async def test_zero_seconds_turns_it_off(tmp_path: Path, verifications: list[str]) -> None:
    from tests.conftest import serving

    async with serving(make_settings(tmp_path, login_verified_cache_s=0)) as srv:
        for _ in range(2):
            assert await _login(srv.url, "sales1", PASSWORD) == 200
        assert len(verifications) == 2


def test_entries_expire_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    cache = VerifiedLogins(ttl_s=60, max_entries=2)
    cache.remember("a", "$h1", "pw")
    assert cache.matches("a", "$h1", "pw")
    assert not cache.matches("a", "$h2", "pw")  # another stored hash (password changed)
    assert not cache.matches("a", "$h1", "pw2")
    assert not cache.matches("b", "$h1", "pw")
    now[0] += 61
    assert not cache.matches("a", "$h1", "pw")
    for name in ("x", "y", "z"):
        cache.remember(name, "$h", "pw")
    assert len(cache) == 2 and not cache.matches("x", "$h", "pw")
