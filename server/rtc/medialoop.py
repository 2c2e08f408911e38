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

Cancelling what is left starts new tasks: a peer connection whose DTLS transport task is
cancelled sees every transport closed and closes itself in a task of its own (aiortc's
``RTCPeerConnection.__updateConnectionState``), a room drops the participant whose
connection closed, and aiortc's decoder threads hand their last frames and the end of the
track over in tasks (``run_coroutine_threadsafe(queue.put(...))``). Those were left pending
when the loop closed and were destroyed whenever the garbage collector got to them ("Task
was destroyed but it is pending!", "coroutine 'Event.wait' was never awaited"), in whichever
later test that happened (a CI failure in tests/test_sdp_browsers.py). So the drain goes in
rounds: what the previous round started is given :data:`SETTLE_S` to finish on its own (an
aiortc close that finishes closes its sockets), then cancelled, until no task but the drain
is left (at most :data:`DRAIN_ROUNDS` rounds). A task still pending when the loop closes is
logged as an error.
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
# Rounds of the drain (module docstring). Cancelling an open connection takes two: its own
# tasks, then the close() and the room's drop they start; the rest is margin.
DRAIN_ROUNDS = 4
# How long a task started during the drain may take to finish on its own before it is
# cancelled too (an aiortc close() waits for its RTP tasks to have started, which a task
# cancelled before its first step never does, so it can wait forever).
SETTLE_S = 2.0


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
                # Named now, at the stop that left them, rather than "destroyed" whenever the
                # garbage collector gets to them (in CI: during a later test).
                if left := asyncio.all_tasks(loop):
                    log.error("media loop: closed with %d tasks pending: %r", len(left), left)
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
    """Cancel and await every other task on this loop, then what those cancellations started,
    until none is left (module docstring: why rounds)."""
    me = asyncio.current_task()
    for round_ in range(DRAIN_ROUNDS):
        left = asyncio.all_tasks() - {me}
        if not left:
            break
        if round_ > 0:
            # Started by the previous round's cancellations: let them finish first.
            done, left = await asyncio.wait(left, timeout=SETTLE_S)
            log.debug("media loop: %d tasks started at shutdown finished", len(done))
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
