"""SQLite's one writer of this process: a thread that runs write transactions in arrival order.

SQLite has a single write lock. Queuing for it on the event loop (an ``asyncio.Lock``) made
every hand-over of the lock wait for the loop: under load, a write transaction of six
statements took dozens of loop hops, each behind the callbacks of hundreds of clients, and
the lock sat idle between them (about 10 writes/s with 200 clients). Here a write is one
function run on this thread with a synchronous session: the loop hands it over once and gets
the result once, and the next transaction starts as soon as the previous one commits,
whatever the loop is doing.

Code that still writes through an ``AsyncSession`` takes its turn in the same queue
(:meth:`SqliteWriter.hold`): the thread grants it the lock and waits until it is released,
so all writers of the process are served first come, first served, and none of them spins in
SQLite's busy handler against another writer of the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
log = logging.getLogger("kesu.db")

_QUEUED, _RUNNING, _CANCELLED = "queued", "running", "cancelled"


class _Ticket:
    """A place in the queue that can be withdrawn until the thread has started on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _QUEUED

    def start(self) -> bool:
        """Thread side: claim the ticket; False when its owner withdrew it."""
        with self._lock:
            if self._state == _CANCELLED:
                return False
            self._state = _RUNNING
            return True

    def withdraw(self) -> bool:
        """Owner side: leave the queue; False when the thread already started on it."""
        with self._lock:
            if self._state == _RUNNING:
                return False
            self._state = _CANCELLED
            return True


class _Job(_Ticket, Generic[T]):
    """A write transaction to run: ``fn(session)`` then commit."""

    def __init__(self, fn: Callable[[Session], T]) -> None:
        super().__init__()
        self.fn = fn
        self.done: Future[T] = Future()


class Hold(_Ticket):
    """The write lock lent to an ``AsyncSession`` writer until :meth:`release`."""

    def __init__(self) -> None:
        super().__init__()
        self.granted: Future[None] = Future()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def wait_released(self) -> None:
        self._released.wait()


_STOP = object()


class SqliteWriter:
    """The write queue and its thread (started on first use, stopped by :meth:`close`)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._jobs: queue.SimpleQueue[_Job[object] | Hold | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    async def run(self, fn: Callable[[Session], T], timeout_s: float) -> T:
        """Run ``fn`` in a write transaction of its own (committed if it returns).

        Waits at most ``timeout_s`` for its turn (TimeoutError, nothing was run); once
        started it is not interrupted: a caller cancelled meanwhile still waits for the
        outcome, so its clean-up never undoes files of a transaction that did commit.
        """
        job: _Job[T] = _Job(fn)
        self._submit(job)
        done = asyncio.wrap_future(job.done)
        try:
            return await asyncio.wait_for(asyncio.shield(done), timeout_s)
        except TimeoutError:
            if job.withdraw():
                raise
            return await _uninterrupted(done)
        except asyncio.CancelledError:
            if not job.withdraw():
                with contextlib.suppress(Exception):
                    await _uninterrupted(done)
            raise

    async def hold(self, timeout_s: float) -> Hold:
        """Wait for the write lock on behalf of an async writer; the caller must release it."""
        hold = Hold()
        self._submit(hold)
        granted = asyncio.wrap_future(hold.granted)
        try:
            await asyncio.wait_for(asyncio.shield(granted), timeout_s)
        except TimeoutError:
            if hold.withdraw():
                raise
            await _uninterrupted(granted)
        except asyncio.CancelledError:
            if not hold.withdraw():
                hold.release()  # granted (or about to be): give it straight back
            raise
        return hold

    def _submit(self, item: _Job[T] | Hold) -> None:
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the database is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="kesu-db-writer", daemon=True
                )
                self._thread.start()
        self._jobs.put(item)

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not _STOP:
            if isinstance(item, Hold):
                if item.start():
                    _settle(item.granted)
                    item.wait_released()
            elif isinstance(item, _Job) and item.start():
                self._run_job(item)

    def _run_job(self, job: _Job[T]) -> None:
        try:
            with self._sessions() as s, s.begin():
                result = job.fn(s)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
            _settle(job.done, exc=exc)
        else:
            _settle(job.done, result)

    async def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._jobs.put(_STOP)
            await asyncio.to_thread(thread.join)


async def _uninterrupted(fut: asyncio.Future[T]) -> T:
    """The outcome of work that has started; a cancellation meanwhile is raised after it."""
    cancelled = False
    while not fut.done():
        # Keep waiting: the transaction is running and its outcome decides the clean-up.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(fut)
            continue
        cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return fut.result()


def _settle(fut: Future[T], result: T | None = None, exc: BaseException | None = None) -> None:
    """Hand an outcome to a waiter (never raises on this thread: it must keep serving)."""
    try:
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)  # type: ignore[arg-type]
    except InvalidStateError:
        log.warning("a write's waiter was gone before its outcome")
