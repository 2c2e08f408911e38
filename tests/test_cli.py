"""The ``kesu`` command line run as a real process: it refuses to create a database outside
``serve``/``migrate``, takes the global options before or after an action, says which data
directory and database it used, and ``user passwd``/``disable`` end the user's logins."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select

from server.localservers import fresh_database
from server.store.models import AuditEntry
from tests.cli_run import kesu
from tests.conftest import PASSWORD, Client, RunningServer, free_port


def _migrated(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    done = kesu("migrate", "--data-dir", str(data), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return data


@pytest.mark.parametrize(
    "argv",
    [
        ("user", "add", "bob", "--role", "reviewer"),
        ("user", "list"),
        ("user", "passwd", "bob"),
        ("user", "disable", "bob"),
        ("audit", "verify"),
        ("worker",),
    ],
)
def test_commands_other_than_serve_and_migrate_create_no_database(
    tmp_path: Path, argv: tuple[str, ...]
) -> None:
    done = kesu(*argv, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert not (tmp_path / "var").exists()
    assert f"no database at {tmp_path / 'var' / 'kesu.db'}" in done.stderr
    assert "kesu migrate" in done.stderr and "--data-dir" in done.stderr
    assert done.stdout == ""


def test_an_empty_data_dir_or_a_file_without_schema_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = kesu("user", "--data-dir", str(empty), "list", cwd=tmp_path)
    assert done.returncode == 2 and f"no database at {empty / 'kesu.db'}" in done.stderr
    assert list(empty.iterdir()) == []

    (empty / "kesu.db").write_bytes(b"")
    done = kesu("user", "--data-dir", str(empty), "add", "bob", "--role", "reviewer", cwd=tmp_path)
    assert done.returncode == 2 and "has no Kesu schema" in done.stderr
    assert (empty / "kesu.db").stat().st_size == 0


def test_global_options_before_or_after_the_action(tmp_path: Path) -> None:
    data = _migrated(tmp_path)
    config = tmp_path / "kesu.toml"
    config.write_text(f'data_dir = "{data}"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    added = kesu(
        "user",
        "add",
        "bob",
        "--role",
        "reviewer",
        "--data-dir",
        str(data),
        "--password",
        "password-123",
        cwd=elsewhere,
    )
    assert added.returncode == 0, added.stderr
    for argv in (
        ("user", "--data-dir", str(data), "list"),
        ("user", "list", "--data-dir", str(data)),
        ("user", "--config", str(config), "list"),
        ("user", "list", "--config", str(config)),
    ):
        done = kesu(*argv, cwd=elsewhere)
        assert done.returncode == 0, (argv, done.stderr)
        assert done.stdout.split()[:3] == ["bob", "reviewer", "active"], argv
    for argv in (
        ("audit", "--data-dir", str(data), "verify"),
        ("audit", "verify", "--data-dir", str(data)),
        ("audit", "--config", str(config), "verify"),
        ("audit", "verify", "--config", str(config)),
    ):
        done = kesu(*argv, cwd=elsewhere)
        assert done.returncode == 0, (argv, done.stderr)
        assert "intact" in done.stdout, argv
    assert not (elsewhere / "var").exists()


def test_commands_say_which_data_dir_and_database_they_use(tmp_path: Path) -> None:
    data = _migrated(tmp_path)
    done = kesu("user", "--data-dir", str(data), "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"data directory {data}, database {data / 'kesu.db'} (SQLite)" in done.stderr
    # A relative --data-dir is shown resolved, so the operator sees where it really is.
    done = kesu("audit", "verify", "--data-dir", "data", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"data directory {data}," in done.stderr

    url = f"postgresql+asyncpg://kesu:hunter2-secret@127.0.0.1:{free_port()}/kesu"
    done = kesu("user", "list", "--database-url", url, cwd=tmp_path)
    assert done.returncode == 2
    assert "postgresql+asyncpg://kesu:***@127.0.0.1" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


async def test_postgres_database_without_schema_is_refused_until_migrated(
    tmp_path: Path, pg_admin: str
) -> None:
    url = await fresh_database(pg_admin)
    add = ("user", "add", "bob", "--role", "reviewer", "--database-url", url)
    done = await asyncio.to_thread(kesu, *add, cwd=tmp_path)
    assert done.returncode == 2 and "has no Kesu schema" in done.stderr, done.stderr
    assert not (tmp_path / "var").exists()
    for _ in range(2):  # a second migrate is a no-op, procrastinate's schema included
        done = await asyncio.to_thread(kesu, "migrate", "--database-url", url, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        assert await conn.fetchval("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
    finally:
        await conn.close()
    done = await asyncio.to_thread(kesu, *add, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


async def _status(client: Client) -> int:
    status, _ = await client.get("/api/me")
    return status


async def _login_status(server: RunningServer, username: str, password: str) -> int:
    client = Client(server.url)
    try:
        async with client.http.post(
            f"{server.url}/api/login", json={"username": username, "password": password}
        ) as r:
            return r.status
    finally:
        await client.close()


async def _audit_details(server: RunningServer, action: str) -> list[dict[str, object]]:
    async with server.ctx.db.session() as s:
        rows = await s.execute(select(AuditEntry).where(AuditEntry.action == action))
        return [dict(e.detail) for e in rows.scalars()]


async def test_passwd_and_disable_end_the_users_logins(
    server: RunningServer, tmp_path: Path
) -> None:
    data = str(server.ctx.settings.data_dir)
    phone, laptop, other = Client(server.url), Client(server.url), Client(server.url)
    try:
        await phone.login("sales1")
        await laptop.login("sales1")
        await other.login("sales2")
        assert [await _status(c) for c in (phone, laptop, other)] == [200, 200, 200]

        # Options before the action (as the old parser wanted): this test is about the logins.
        done = await asyncio.to_thread(
            kesu, "user", "--data-dir", data, "passwd", "sales1", "--password", "new-pass-456",
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert [await _status(c) for c in (phone, laptop, other)] == [401, 401, 200]
        assert await _login_status(server, "sales1", PASSWORD) == 401
        assert await _audit_details(server, "user.passwd") == [
            {"username": "sales1", "sessions_ended": 2}
        ]

        await phone.login("sales1", "new-pass-456")
        assert await _status(phone) == 200
        done = await asyncio.to_thread(
            kesu, "user", "--data-dir", data, "disable", "sales1", cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert "1 login(s) ended" in done.stdout
        assert [await _status(c) for c in (phone, other)] == [401, 200]
        assert await _login_status(server, "sales1", "new-pass-456") == 401
        assert await _audit_details(server, "user.disable") == [
            {"username": "sales1", "sessions_ended": 1}
        ]
        listed = await asyncio.to_thread(kesu, "user", "list", "--data-dir", data, cwd=tmp_path)
        assert "sales1               salesperson  disabled" in listed.stdout

        done = await asyncio.to_thread(
            kesu, "user", "enable", "sales1", "--data-dir", data, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert await _login_status(server, "sales1", "new-pass-456") == 200
        assert await _audit_details(server, "user.enable") == [{"username": "sales1"}]
        unknown = await asyncio.to_thread(
            kesu, "user", "disable", "nobody", "--data-dir", data, cwd=tmp_path
        )
        assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr
    finally:
        for c in (phone, laptop, other):
            await c.close()
