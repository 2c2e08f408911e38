"""Notable live-check results kept as session events (``live_*`` in metadata.json).

``notable_events`` says which parts of a live state are worth keeping (each under a key, so
the service stores each one once per session); ``LiveEventWriter`` stores them in order on
one task of its own, so a slow metadata.json write never holds up the drain of states.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

from server.session_dir import SessionDir

log = logging.getLogger("kesu.live")

#: (key: stored once per session, event type, node, detail)
Notable = tuple[str, str, str | None, dict[str, Any]]
_DOCUMENT_FIELDS = ("document", "name", "id_number", "id_valid", "t_s")


def notable_events(state: dict[str, Any]) -> Iterator[Notable]:
    """Each node covered, answer given, warning raised and document seen."""
    for n in state.get("nodes", []):
        if n["status"] == "covered":
            detail = {"status": "covered", "score": n["score"], "t_s": n["start_s"]}
            yield f"node:{n['id']}", "live_node", n["id"], detail
        if n.get("answer") not in (None, "waiting"):
            detail = {"answer": n["answer"], "text": n["answer_text"]}
            yield f"answer:{n['id']}:{n['answer']}", "live_answer", n["id"], detail
    for w in state.get("warnings", []):
        yield f"warning:{w['code']}:{w['participant']}:{w['t_s']}", "live_warning", None, dict(w)
    for d in state.get("documents", []):
        if d["status"] == "seen":
            detail = {k: d[k] for k in _DOCUMENT_FIELDS}
            yield f"doc:{d['node']}", "live_document", d["node"], detail


class LiveEventWriter:
    """A bounded queue of session events and the task that stores them (started with the
    first event; ``close`` stores what is queued, then cancels and awaits it)."""

    def __init__(self, size: int = 1000) -> None:
        self._queue: asyncio.Queue[tuple[SessionDir, str, str | None, dict[str, Any]]] = (
            asyncio.Queue(size)
        )
        self._task: asyncio.Task[None] | None = None

    def put(self, sdir: SessionDir, type: str, node: str | None, detail: dict[str, Any]) -> None:
        """Queue one event (never blocks: when the writer is that far behind it is dropped)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        try:
            self._queue.put_nowait((sdir, type, node, detail))
        except asyncio.QueueFull:
            log.warning("live event of %s dropped (writer behind): %s", sdir.session_id, type)

    async def close(self) -> None:
        if self._task is not None:
            await self._queue.join()  # what is queued is stored before the end
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            sdir, type, node, detail = await self._queue.get()
            try:
                await sdir.add_event(type, node=node, detail=detail)
            except Exception:
                log.exception("storing live event %s failed", type)
            finally:
                self._queue.task_done()
