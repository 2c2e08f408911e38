"""The database handle: write and read-only sessions (SQLite made safe for concurrency), migrations."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from server.errors import KesuError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


BUSY_TIMEOUT_MS = 30_000
#: What a client that got ``database_busy`` is told to wait before retrying.
RETRY_AFTER_S = 2

#: True inside a write unit of work of this task (nested ones skip the in-process queue).
_WRITING: ContextVar[bool] = ContextVar("kesu_db_writing", default=False)


class DatabaseBusy(KesuError):
    """A writer could not get the database's write lock in time: the client should retry."""

    status, code = 503, "database_busy"

    def __init__(self) -> None:
        super().__init__(
            "the database is busy; try again shortly",
            details={"retry_after_s": RETRY_AFTER_S},
        )


def _sqlite_setup(engine: AsyncEngine, read_only: bool) -> None:
    """WAL and a busy timeout; writers BEGIN IMMEDIATE (no lost updates), readers a plain BEGIN.

    In WAL mode a reader never waits for the writer nor blocks it, so read-only engines
    take no lock a writer needs; ``query_only`` makes SQLite refuse any write through them.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # A writer waits for the lock instead of failing with "database is locked".
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    """Owns the engine and the session factory; built once per process and passed in."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        file_db = False
        if self.is_sqlite:
            path = url.split(":///", 1)[1]
            file_db = bool(path) and path != ":memory:"
            if file_db:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        # SQLite writers queue for one lock; while they wait (busy timeout) they hold pool
        # connections, so the pool wait must outlast that instead of failing first.
        pool_wait = {"pool_timeout": 4 * BUSY_TIMEOUT_MS / 1000} if file_db else {}
        self.engine = create_async_engine(url, pool_pre_ping=not self.is_sqlite, **pool_wait)
        if self.is_sqlite:
            _sqlite_setup(self.engine, read_only=False)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one write lock: this process's writers queue for it here, in FIFO order
        # and without holding a pool connection or polling in SQLite's busy handler (which
        # sleeps up to 100 ms per try and lets late writers overtake early ones). Other
        # processes (the worker) still meet them at SQLite's lock with the busy timeout.
        self._serialise_writes = file_db
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        # Readers get their own pool, so a queue of writers waiting for SQLite's one write
        # lock never holds the connections that reads need.
        self.read_engine = self.engine
        if file_db:
            self.read_engine = create_async_engine(
                url, pool_size=10, max_overflow=20, pool_timeout=4 * BUSY_TIMEOUT_MS / 1000
            )
            _sqlite_setup(self.read_engine, read_only=True)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that may write: committed on success, rolled back on error.

        On SQLite it holds the database's single write lock from its first statement, so
        keep it short: no password hashing, no network, no file I/O inside.
        """
        if not self._serialise_writes or _WRITING.get():
            # A write session opened inside another must not wait for the queue its caller
            # holds; SQLite's lock (busy timeout) arbitrates, as on PostgreSQL the server does.
            async with self.sessionmaker() as s, s.begin():
                yield s
            return
        lock = self._write_lock()
        try:
            await asyncio.wait_for(lock.acquire(), BUSY_TIMEOUT_MS / 1000)
        except TimeoutError:
            raise DatabaseBusy() from None
        token = _WRITING.set(True)
        try:
            async with self.sessionmaker() as s, s.begin():
                yield s
        finally:
            _WRITING.reset(token)
            lock.release()

    def _write_lock(self) -> asyncio.Lock:
        """The write queue of the running loop (the CLI and tests may use several loops)."""
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: never takes SQLite's write lock; writing through it fails."""
        async with self.read_sessionmaker() as s, s.begin():
            yield s

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (in a thread: Alembic runs its own loop)."""
        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run migrations synchronously (CLI and tests call this directly)."""
    command.upgrade(alembic_config(url), revision)
