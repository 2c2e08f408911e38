"""Live checks, server side: one worker process, bounded queues, pushed states, stored events.

``LiveService`` owns the live-check processes (``server.live.process``, ``live_processes``
of them, spawned at the first live session, dying with the server; each session is checked
by the least loaded one), the drain task that reads its states, and the writer
(``server.live.events``) that stores notable results as session events (``live_*`` in
metadata.json). For each live session it keeps the latest state and the pages subscribed
to it (``subscribe``).

Bounded and degradable: the queue to the process holds ``live_queue`` messages; when it is
full the tap's batch is dropped and the session shows the ``live_busy`` notice; the process
skips audio that reaches it more than ``live_max_lag_s`` late (same notice); beyond
``live_max_sessions`` a session gets no live checks (``live_full``); if a process dies,
every session it checked gets ``live_failed``. Recording is never touched by any of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import queue as queue_mod
import time
from dataclasses import dataclass, field
from typing import Any

from server.live.events import LiveEventWriter, notable_events
from server.live.process import WorkerConfig, run
from server.live.tap import LiveTap
from server.session_dir import SessionDir

log = logging.getLogger("kesu.live")

BUSY_CLEAR_S = 10.0  # the busy notice goes once nothing was dropped for this long


@dataclass
class LiveSession:
    session_id: str
    sdir: SessionDir
    t0: float
    tap: LiveTap | None
    proc: int = 0  # index of the live-check process that runs its checks
    status: str = "starting"  # starting | ok | busy | off
    notice: str | None = None  # live_starting | live_busy | live_full | live_failed
    state: dict[str, Any] = field(default_factory=dict)
    subscribers: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)
    dropped: int = 0
    last_drop: float = 0.0
    stored: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class LiveOptions:
    """The ``live_*`` settings (server/settings.py)."""

    enabled: bool = True
    max_sessions: int = 2
    processes: int = 1
    queue: int = 400
    worker: WorkerConfig = WorkerConfig()

    @classmethod
    def from_settings(cls, s: Any) -> LiveOptions:
        return cls(
            enabled=bool(s.live_checks),
            max_sessions=int(s.live_max_sessions),
            processes=max(1, int(s.live_processes)),
            queue=int(s.live_queue),
            worker=WorkerConfig(
                models_dir=str(s.models_dir or ""),
                threads=int(s.live_threads),
                beam_size=int(s.live_beam_size),
                max_lag_s=float(s.live_max_lag_s),
                pause_s=float(s.live_pause_s),
                silent_warn_s=float(s.live_silent_warn_s),
                frame_interval_s=float(s.live_frame_interval_s),
                parent_pid=os.getpid(),
            ),
        )


@dataclass
class _Proc:
    """One live-check process and its own bounded inbox."""

    process: Any
    inbox: Any
    ready: bool = False
    failed: bool = False


class LiveService:
    def __init__(self, options: LiveOptions) -> None:
        self.options = options
        self.sessions: dict[str, LiveSession] = {}
        self._mp = multiprocessing.get_context("spawn")
        self._procs: list[_Proc] = []
        self._outbox: Any = None  # shared by the processes
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the service's (the API's)
        self._events = LiveEventWriter()

    # ------------------------------------------------------------------ lifecycle

    @property
    def pids(self) -> list[int]:
        return [p.process.pid for p in self._procs]

    def _spawn(self) -> None:
        """Start the processes (on the event loop's thread: see server/parentwatch.py)."""
        self._loop = asyncio.get_running_loop()
        self._outbox = self._mp.Queue()
        for index in range(self.options.processes):
            inbox = self._mp.Queue(self.options.queue)
            process = self._mp.Process(
                target=run,
                args=(self.options.worker, inbox, self._outbox, index),
                name=f"kesu-live-{index}",
                daemon=True,
            )
            process.start()
            self._procs.append(_Proc(process, inbox))
        self._tasks.append(asyncio.create_task(self._drain()))

    def _least_loaded(self) -> int | None:
        """The live process with the fewest sessions (None when every one has died)."""
        alive = [i for i, p in enumerate(self._procs) if not p.failed]
        if not alive:
            return None
        count = {i: 0 for i in alive}
        for s in self.sessions.values():
            if s.status != "off" and s.proc in count:
                count[s.proc] += 1
        return min(alive, key=lambda i: count[i])

    async def close(self) -> None:
        """Stop the process and the tasks (idempotent)."""
        for s in list(self.sessions.values()):
            if s.tap is not None:
                s.tap.closed = True
        for p in self._procs:
            with contextlib.suppress(Exception):
                p.inbox.put_nowait(("stop",))
        for p in self._procs:
            await asyncio.to_thread(p.process.join, 5.0)
            if p.process.is_alive():
                p.process.kill()
                await asyncio.to_thread(p.process.join, 5.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._events.close()
        for q in [p.inbox for p in self._procs] + [self._outbox]:
            if q is not None:
                q.close()
                q.cancel_join_thread()
        self._procs, self._outbox = [], None

    # ------------------------------------------------------------------ sessions

    def open(
        self, session_id: str, sdir: SessionDir, template_id: str, policy: dict[str, Any]
    ) -> LiveTap | None:
        """The session's tap (opening its live checks if needed); None when live checks
        are off for it (the reason is in its state)."""
        s = self.sessions.get(session_id)
        if s is not None:
            return s.tap if s.status != "off" else None
        if not self._procs:
            self._spawn()
        active = sum(1 for x in self.sessions.values() if x.status != "off")
        proc = self._least_loaded()
        if active >= self.options.max_sessions or proc is None:
            s = LiveSession(session_id, sdir, time.time(), None, status="off")
            s.notice = "live_failed" if proc is None else "live_full"
            self.sessions[session_id] = s
            self._event(s, "live_status", None, {"status": "off", "notice": s.notice})
            return None
        t0 = time.time()
        tap = LiveTap(session_id, t0, self._push, self.options.worker.frame_interval_s)
        s = LiveSession(session_id, sdir, t0, tap, proc)
        s.notice = None if self._procs[proc].ready else "live_starting"
        self.sessions[session_id] = s
        self._push(("open", session_id, template_id, policy))
        return tap

    def marker(self, session_id: str, node_id: str) -> None:
        s = self.sessions.get(session_id)
        if s is not None and s.status != "off":
            self._push(("marker", session_id, time.time() - s.t0, node_id))

    def missing(self, session_id: str) -> list[dict[str, Any]] | None:
        """Required items the live checks have not seen done; None without live checks."""
        s = self.sessions.get(session_id)
        if s is None or s.status == "off" or not s.state:
            return None
        return list(s.state.get("missing", []))

    async def end(self, session_id: str, confirmed: bool) -> None:
        """The session ends: store what was missing (and whether the salesperson confirmed
        ending anyway), stop its checks."""
        s = self.sessions.pop(session_id, None)
        if s is None:
            return
        if s.tap is not None:
            s.tap.closed = True
        self._push(("close", session_id), s.proc)
        missing = s.state.get("missing", []) if s.state and s.status != "off" else None
        detail = {"missing": missing, "confirmed": confirmed, "live_status": s.status}
        await s.sdir.add_event("live_end", detail=detail)
        self._publish(s, ended=True)

    def view(self, session_id: str) -> dict[str, Any] | None:
        s = self.sessions.get(session_id)
        return None if s is None else self._view(s)

    @staticmethod
    def _view(s: LiveSession, ended: bool = False) -> dict[str, Any]:
        return {**s.state, "status": "ended" if ended else s.status, "notice": s.notice}

    @staticmethod
    def customer_view(view: dict[str, Any]) -> dict[str, Any]:
        """What the customer's page is shown: its own prompts only."""
        return {
            "status": view.get("status"),
            "notice": view.get("notice"),
            "prompts": list(view.get("customer_prompts", [])),
        }

    def subscribe(self, session_id: str) -> asyncio.Queue[dict[str, Any]] | None:
        """A queue that always holds the newest view (older ones are replaced)."""
        s = self.sessions.get(session_id)
        if s is None:
            return None
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(1)
        q.put_nowait(self._view(s))
        s.subscribers.add(q)
        return q

    def unsubscribe(self, session_id: str, q: asyncio.Queue[dict[str, Any]]) -> None:
        s = self.sessions.get(session_id)
        if s is not None:
            s.subscribers.discard(q)

    # ------------------------------------------------------------------ internals

    def _push(self, msg: tuple[Any, ...], proc: int | None = None) -> bool:
        s = self.sessions.get(str(msg[1]))
        index = proc if proc is not None else (s.proc if s is not None else None)
        if index is None or index >= len(self._procs) or self._procs[index].failed:
            return False
        try:
            self._procs[index].inbox.put_nowait(msg)
            return True
        except queue_mod.Full:
            if s is not None:
                self._on_loop(self._note_drop, s)
            return False

    def _note_drop(self, s: LiveSession) -> None:
        s.dropped += 1
        s.last_drop = time.time()
        self._set_status(s, "busy", "live_busy")

    def _on_loop(self, fn: Any, *args: Any) -> None:
        """Run ``fn`` on the service's loop: taps push from the media rooms' thread
        (server/rtc/medialoop.py), and a status change touches asyncio queues."""
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            fn(*args)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def _set_status(self, s: LiveSession, status: str, notice: str | None) -> None:
        if (s.status, s.notice) == (status, notice):
            return
        s.status, s.notice = status, notice
        self._event(s, "live_status", None, {"status": status, "notice": notice})
        self._publish(s)

    def _publish(self, s: LiveSession, ended: bool = False) -> None:
        view = self._view(s, ended)
        for q in list(s.subscribers):
            with contextlib.suppress(asyncio.QueueEmpty):
                q.get_nowait()
            q.put_nowait(view)

    async def _drain(self) -> None:
        while True:
            try:
                kind, sid, state = await asyncio.to_thread(self._outbox.get, True, 0.5)
            except queue_mod.Empty:
                self._check_process()
                self._clear_busy()
                continue
            if kind == "ready":
                self._procs[int(sid)].ready = True  # a ready message carries its index
                for waiting in self.sessions.values():
                    if waiting.notice == "live_starting" and waiting.proc == int(sid):
                        self._set_status(waiting, "ok", None)
                continue
            session = self.sessions.get(sid)
            if session is not None and kind == "state":
                self._on_state(session, state)
            self._clear_busy()

    def _check_process(self) -> None:
        for index, p in enumerate(self._procs):
            if p.failed or p.process.is_alive():
                continue
            p.failed = True
            log.error("live-check process %d died (exit %s)", index, p.process.exitcode)
            for s in self.sessions.values():
                if s.proc != index:
                    continue
                if s.tap is not None:
                    s.tap.closed = True
                if s.status != "off":
                    self._set_status(s, "off", "live_failed")

    def _clear_busy(self) -> None:
        now = time.time()
        for s in self.sessions.values():
            if s.status == "busy" and now - s.last_drop > BUSY_CLEAR_S:
                self._set_status(s, "ok", None)

    def _on_state(self, s: LiveSession, state: dict[str, Any]) -> None:
        old = s.state
        skipped_before = float(old.get("skipped_audio_s", 0.0) or 0.0) if old else 0.0
        s.state = state
        if float(state.get("skipped_audio_s", 0.0)) > skipped_before:
            s.last_drop = time.time()
            self._set_status(s, "busy", "live_busy")
        elif s.status == "starting" or (s.status == "ok" and s.notice == "live_starting"):
            self._set_status(s, "ok", None)
        self._store_notable(s, state)
        self._publish(s)

    def _store_notable(self, s: LiveSession, state: dict[str, Any]) -> None:
        for key, type, node, detail in notable_events(state):
            if key not in s.stored:
                s.stored.add(key)
                self._event(s, type, node, detail)

    def _event(self, s: LiveSession, type: str, node: str | None, detail: dict[str, Any]) -> None:
        self._events.put(s.sdir, type, node, detail)
