"""The database handle: write and read-only sessions (SQLite made safe for concurrency), migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from server.errors import KesuError
from server.store.outage import translate_connect_errors
from server.store.writer import SqliteWriter

T = TypeVar("T")

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


def _sqlite_setup(engine: Engine, read_only: bool) -> None:
    """WAL and a busy timeout; writers BEGIN IMMEDIATE (no lost updates), readers a plain BEGIN.

    In WAL mode a reader never waits for the writer nor blocks it, so read-only engines
    take no lock a writer needs; ``query_only`` makes SQLite refuse any write through them.
    """

    @event.listens_for(engine, "connect")
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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_postgres(db_url: str) -> bool:
    """A PostgreSQL URL: jobs then go through procrastinate (``server.jobs_pg``, the
    ``postgres`` extra), which the embedded SQLite default does not need installed."""
    return db_url.startswith("postgresql")


class Database:
    """Owns the engines and session factories; built once per process and passed in.

    Two ways to use it: ``session()``/``read()`` give an ``AsyncSession`` (every statement is
    a hop to the driver's thread and back), ``run_write(fn)``/``run_read(fn)`` run a plain
    function with a synchronous ``Session`` as one unit of work on a database thread (one
    hop in all). Hot paths use the latter; both see the same data and the same write queue.
    """

    #: Threads (and pooled connections) for ``run_read`` on SQLite.
    READ_THREADS = 4

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
            _sqlite_setup(self.engine.sync_engine, read_only=False)
        else:
            translate_connect_errors(self.engine.sync_engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one write lock: this process's writers queue for it on one thread, in
        # FIFO order and without holding a pool connection or polling in SQLite's busy handler
        # (which sleeps up to 100 ms per try and lets late writers overtake early ones).
        # Other processes (the worker) still meet them at SQLite's lock with the busy timeout.
        self._writer: SqliteWriter | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._sync_makers: list[sessionmaker[Session]] = []
        # Readers get their own pool, so a queue of writers waiting for SQLite's one write
        # lock never holds the connections that reads need.
        self.read_engine = self.engine
        self.sync_engines: list[Engine] = []
        #: Every engine that writes (the async one and, on SQLite, the writer thread's).
        self.write_engines: list[Engine] = [self.engine.sync_engine]
        if file_db:
            self.read_engine = create_async_engine(
                url, pool_size=10, max_overflow=20, pool_timeout=4 * BUSY_TIMEOUT_MS / 1000
            )
            _sqlite_setup(self.read_engine.sync_engine, read_only=True)
            sync_url = make_url(url).set(drivername="sqlite")
            write_engine = create_engine(sync_url, pool_size=1, max_overflow=0)
            read_engine = create_engine(sync_url, pool_size=self.READ_THREADS, max_overflow=0)
            _sqlite_setup(write_engine, read_only=False)
            _sqlite_setup(read_engine, read_only=True)
            self.sync_engines = [write_engine, read_engine]
            self.write_engines.append(write_engine)
            writes = sessionmaker(write_engine, expire_on_commit=False)
            self._sync_reads = sessionmaker(read_engine, expire_on_commit=False)
            self._sync_makers = [writes, self._sync_reads]
            self._writer = SqliteWriter(writes)
            self._readers = ThreadPoolExecutor(self.READ_THREADS, thread_name_prefix="kesu-db-read")
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def configure_info(self, info: dict[str, Any]) -> None:
        """Put ``info`` into every session of this database (async and sync alike)."""
        self.sessionmaker.configure(info=info)
        for maker in self._sync_makers:
            maker.configure(info=info)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that may write: committed on success, rolled back on error.

        On SQLite it holds the database's single write lock from its first statement, so
        keep it short: no password hashing, no network, no file I/O inside.
        """
        if self._writer is None or _WRITING.get():
            # A write session opened inside another must not wait for the queue its caller
            # holds; SQLite's lock (busy timeout) arbitrates, as on PostgreSQL the server does.
            async with self.sessionmaker() as s, s.begin():
                yield s
            return
        try:
            hold = await self._writer.hold(BUSY_TIMEOUT_MS / 1000)
        except TimeoutError:
            raise DatabaseBusy() from None
        token = _WRITING.set(True)
        try:
            async with self.sessionmaker() as s, s.begin():
                yield s
        finally:
            _WRITING.reset(token)
            hold.release()

    async def run_write(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` as one write transaction (committed if it returns), in turn with
        every other writer of this process. ``fn`` runs on the writer thread: keep it to
        database work (no hashing, no file or network I/O) and do not touch the loop."""
        if self._writer is None or _WRITING.get():
            async with self.sessionmaker() as s, s.begin():
                return await s.run_sync(fn)
        try:
            return await self._writer.run(fn, BUSY_TIMEOUT_MS / 1000)
        except TimeoutError:
            raise DatabaseBusy() from None

    async def run_read(self, fn: Callable[[Session], T]) -> T:
        """``fn(session)`` in a read-only transaction on a reader thread (one loop hop)."""
        if self._readers is None:
            async with self.read_sessionmaker() as s, s.begin():
                return await s.run_sync(fn)
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._read, fn)

    def _read(self, fn: Callable[[Session], T]) -> T:
        with self._sync_reads() as s, s.begin():
            return fn(s)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: never takes SQLite's write lock; writing through it fails."""
        async with self.read_sessionmaker() as s, s.begin():
            yield s

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (in a thread: Alembic runs its own loop)."""
        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        if self._readers is not None:
            await asyncio.to_thread(self._readers.shutdown, wait=True)
        for engine in self.sync_engines:
            engine.dispose()
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
