"""A small task graph run on a fixed number of lanes (threads), for the inspection's stages.

Each lane runs one task at a time, and every model the tasks call is built single-threaded
per call (onnxruntime intra-op 1, a ctranslate2 replica per lane), so ``lanes`` threads keep
that many cores busy without oversubscribing them: on a 2-core box two single-threaded
decodes did ~25% more work per CPU second than one decode on two threads (less spinning and
synchronisation), and the stages no longer wait for one another except where their data
does (speech -> script -> documents; video -> documents).

Tasks name the tasks they wait for; a task may add more tasks while it runs (the audio of a
track adds its speech pieces). Among ready tasks the highest ``priority`` runs first.
CPU seconds are counted per stage on the lane's own thread (``time.thread_time``); work that
runs on other threads (ctranslate2's replica threads) is added by the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Task:
    name: str
    stage: str
    fn: Callable[[], None]
    after: tuple[str, ...]
    priority: float
    seq: int


@dataclass
class StageClock:
    """Per stage: CPU seconds on the lanes, and the span from its first start to last end."""

    cpu_s: dict[str, float] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    tasks: list[tuple[str, str, int, float, float, float]] = field(default_factory=list)

    def wall_s(self) -> dict[str, float]:
        return {k: self.last[k] - self.first[k] for k in self.first if k in self.last}


class Lanes:
    """Run added tasks on ``n`` threads; ``run`` returns when every task has finished."""

    def __init__(self, n: int) -> None:
        self.n = max(1, n)
        self.clock = StageClock()
        self._tasks: list[_Task] = []
        self._done: set[str] = set()
        self._names: set[str] = set()
        self._running = 0
        self._error: BaseException | None = None
        self._cv = threading.Condition()
        self._seq = 0

    def add(
        self,
        name: str,
        stage: str,
        fn: Callable[[], None],
        after: Iterable[str] = (),
        priority: float = 0.0,
    ) -> None:
        """Queue ``fn``; it runs once every task named in ``after`` has finished (names may
        be added later). Thread-safe: tasks may add tasks."""
        with self._cv:
            if name in self._names:
                raise ValueError(f"task {name!r} added twice")
            self._names.add(name)
            self._seq += 1
            self._tasks.append(_Task(name, stage, fn, tuple(after), priority, self._seq))
            self._cv.notify_all()

    def run(self) -> None:
        """Run every task (including those added meanwhile); re-raise the first error, after
        the tasks already running have stopped (no new task starts after an error)."""
        threads = [
            threading.Thread(target=self._lane, args=(i,), name=f"kesu-lane-{i}", daemon=True)
            for i in range(self.n)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self._error is not None:
            raise self._error
        if self._tasks:  # only when a task waits for a name nobody added
            raise RuntimeError(f"tasks never became ready: {[t.name for t in self._tasks]}")

    def _next(self) -> _Task | None:
        """The ready task to run next, or None when there is nothing left to run."""
        with self._cv:
            while True:
                if self._error is not None:
                    return None
                ready = [t for t in self._tasks if all(a in self._done for a in t.after)]
                if ready:
                    task = max(ready, key=lambda t: (t.priority, -t.seq))
                    self._tasks.remove(task)
                    self._running += 1
                    return task
                if self._running == 0:
                    return None  # finished, or stuck (``run`` says which)
                self._cv.wait()

    def _lane(self, index: int) -> None:
        while (task := self._next()) is not None:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                task.fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised by run()
                with self._cv:
                    if self._error is None:
                        self._error = exc
            finally:
                t1, c1 = time.perf_counter(), time.thread_time()
                with self._cv:
                    c = self.clock
                    c.cpu_s[task.stage] = c.cpu_s.get(task.stage, 0.0) + c1 - c0
                    c.first[task.stage] = min(c.first.get(task.stage, t0), t0)
                    c.last[task.stage] = max(c.last.get(task.stage, t1), t1)
                    c.tasks.append((task.name, task.stage, index, t0, t1, c1 - c0))
                    self._done.add(task.name)
                    self._running -= 1
                    self._cv.notify_all()
