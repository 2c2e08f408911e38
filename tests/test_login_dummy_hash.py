"""An unknown name costs the same password work as a wrong password from the first login on:
the dummy hash unknown names are verified against is made when the server starts (in the
hashing threads), not by the first login that needs it. Before, the first unknown-name
login after a start ran argon2 twice (hash, then verify) and every later one once, so the
first one's timing set it apart from a wrong password. No timing here: the password work
each login asks of the hashing threads is counted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from server.api.auth import DUMMY_HASH_KEY, THROTTLE_KEY
from server.security import verify_password
from server.store.models import User
from tests.conftest import Client, RunningServer, password_hash


async def _work(client: Client, calls: list[str], username: str, password: str) -> list[str]:
    """The hashing-thread calls one failed login made."""
    calls.clear()
    async with client.http.post(
        f"{client.base}/api/login", json={"username": username, "password": password}
    ) as r:
        assert r.status == 401, await r.text()
    return list(calls)


async def test_unknown_names_cost_one_verification_from_the_first(
    server: RunningServer, client_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = server.runner.app
    throttle = app[THROTTLE_KEY]
    calls: list[str] = []
    real_run = throttle.run

    async def counted(fn: Any, *args: object) -> Any:
        calls.append(fn.__name__)
        return await real_run(fn, *args)

    # A counting pass-through: every hash and verification goes through this one method.
    monkeypatch.setattr(throttle, "run", counted)
    client = await client_factory()
    first = await _work(client, calls, "nobody-at-all", "guess-1234")
    wrong = await _work(client, calls, "sales1", "guess-1234")
    again = await _work(client, calls, "nobody-else", "guess-1234")
    async with server.ctx.db.session() as s:
        await s.execute(update(User).where(User.username == "sales2").values(disabled=True))
    disabled = await _work(client, calls, "sales2", "guess-1234")
    assert first == wrong == again == disabled == ["verify_password"]


async def test_the_dummy_hash_is_made_at_start_with_the_real_parameters(
    server: RunningServer,
) -> None:
    held = server.runner.app[DUMMY_HASH_KEY]
    assert len(held) == 1  # made at start, before any login
    dummy = await asyncio.shield(held[0])
    # The same argon2 parameters as an account's hash, so a verification costs the same.
    assert dummy.rsplit("$", 2)[0] == password_hash().rsplit("$", 2)[0]
    assert not verify_password(dummy, "")
