"""``kesu user qualify NAME yes|no``: R20's register of salespeople qualified for remote
recording, which the server enforced (403 ``not_qualified``) but no command could change
(before: no such command, exit 2; only an edit of the database)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.store.models import AuditEntry
from tests.cli_run import kesu
from tests.conftest import RunningServer, new_session_body


async def test_qualify_switches_a_salesperson_and_is_audited(
    server: RunningServer, client_factory: Any, tmp_path: Path
) -> None:
    sales = await client_factory("sales1")
    data = str(server.ctx.settings.data_dir)

    async def user_cli(*argv: str) -> Any:
        return await asyncio.to_thread(kesu, "user", "--data-dir", data, *argv, cwd=tmp_path)

    done = await user_cli("qualify", "sales1", "no")
    assert done.returncode == 0, done.stderr
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert (status, body.get("error", {}).get("code")) == (403, "not_qualified"), body
    listed = await user_cli("list")
    assert "sales1" in listed.stdout and "not qualified" in listed.stdout, listed.stdout

    done = await user_cli("qualify", "sales1", "yes")
    assert done.returncode == 0, done.stderr
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body

    # An unknown name, a reviewer, a value that is not yes/no: exit 2, nothing changed.
    for bad in (("nobody", "no"), ("rev1", "no"), ("sales1", "maybe")):
        done = await user_cli("qualify", *bad)
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    async with server.ctx.db.read() as s:
        details = [
            e.detail
            for e in await s.scalars(
                select(AuditEntry).where(AuditEntry.action == "user.qualified")
            )
        ]
    assert details == [
        {"username": "sales1", "from": True, "to": False},
        {"username": "sales1", "from": False, "to": True},
    ]
