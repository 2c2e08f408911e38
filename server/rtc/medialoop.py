"""The media rooms' own event loop, on a thread of its own.

Why: asyncio reads a UDP socket one datagram per loop iteration (``_SelectorDatagramTransport.
_read_ready`` calls ``recvfrom`` once per readiness event). On the API's loop an iteration runs
every ready HTTP callback first, so under API load (200 clients, ~140 requests/s) iterations
grew to tens of milliseconds, the ICE sockets were read slower than the ~80 packets/s each
peer sends, and the kernel dropped the rest at the socket's receive buffer: the live session
lost up to 64 % of its frames before the server ever saw them (docs/bench.md). On a loop of
their own the media sockets are read at every iteration of a loop that runs media only, and
the thread is scheduled by the kernel (and handed the GIL every ``sys.getswitchinterval()``)
independently of the API's backlog.

aiortc objects are bound to the loop that made them, so everything a room does runs on this
loop: :func:`on_media_loop` makes a coroutine method of a room run there, whichever loop
awaits it (``asyncio.run_coroutine_threadsafe`` + ``wrap_future``; cancelling the caller
cancels the call). Every task a room starts still has its owner (the room), which cancels
and awaits it on this loop; :meth:`MediaLoop.stop` runs after the rooms are closed and
cancels (and logs) anything left, then stops the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

log = logging.getLogger("kesu.rtc.medialoop")

T = TypeVar("T")
P = ParamSpec("P")
STOP_TIMEOUT_S = 10.0


class MediaLoop:
    """One asyncio loop run forever on a daemon thread (a kill -9 takes it with the process)."""

    def __init__(self, name: str = "kesu-media") -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.loop is not None and self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread and wait until its loop runs (idempotent)."""
        if self.running:
            return
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                loop.close()

        self.loop = loop
        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()

    def here(self) -> bool:
        """Whether the caller runs on this loop (or there is no loop to hop to)."""
        if not self.running:
            return True
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the media loop (directly when already there)."""
        if self.here():
            return await coro
        assert self.loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def stop(self) -> None:
        """Cancel what is left on the loop (rooms close first: nothing should be), stop it,
        join the thread. Call from another loop. Idempotent."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            await asyncio.wait_for(
                asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_drain(), loop)),
                STOP_TIMEOUT_S,
            )
        except TimeoutError:
            log.error("media loop: tasks still running after %.0f s", STOP_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, STOP_TIMEOUT_S)
        self.loop, self._thread = None, None


async def _drain() -> None:
    me = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not me]
    for task in left:
        log.warning("media loop: cancelling a task left at shutdown: %r", task)
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_default_executor()


class OnMediaLoop(Protocol):
    media_loop: MediaLoop | None


S = TypeVar("S", bound=OnMediaLoop)


def on_media_loop(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """Run a coroutine method on ``self.media_loop`` (unchanged when it is None or when the
    caller is already there)."""

    async def hop(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        media = self.media_loop
        if media is None:
            return await method(self, *args, **kwargs)
        return await media.run(method(self, *args, **kwargs))

    functools.update_wrapper(hop, method)
    return hop
