"""Passwords set with `kesu user add` / `kesu user passwd` (the only way to set one):
weak ones are refused before anything is written (server.users)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import users
from server.users import UserError, add_user, set_password
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short7!", "at least 8"),
        ("x" * 1025, "at most 1024"),
        ("12345678", "most commonly used"),
        ("Password1", "most commonly used"),
        ("aaaaaaaaaaaa", "3 different"),
        ("ababababab", "3 different"),
        ("zhang.wei-2024", "user name"),
        ("MyZHANG.WEIpass", "user name"),
    ],
)
async def test_weak_passwords_are_refused(tmp_path: Path, password: str, reason: str) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(UserError, match=reason):
        await add_user(settings, "zhang.wei", "salesperson", password)
    assert await users.list_users(settings) == []
    await add_user(settings, "zhang.wei", "salesperson", "tall-ferry-47")
    with pytest.raises(UserError, match=reason):
        await set_password(settings, "zhang.wei", password)


async def test_generated_and_sound_passwords_pass(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    generated = await add_user(settings, "li", "reviewer", None)
    assert users.password_problem("li", generated) is None
    # A short name is not a "contains the name" match for any password holding its letters.
    assert users.password_problem("li", "lively-otter-3") is None
    assert users.password_problem("x", "x" * 1024 + "") is not None  # (3 different chars)
    assert users.password_problem("x", ("abc" * 342)[:1024]) is None
