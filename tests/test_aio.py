"""The server's loops stop when cancelled even if a callee swallowed the cancellation."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from server import fence, housekeeping


async def _swallowing(*_: Any) -> None:
    # What SQLAlchemy's pool does with a CancelledError during a connection reset.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)


class _Settings:
    rejoin_window_s = 60.0
    node_heartbeat_s = 0.0


class _Ctx:
    settings = _Settings()


@pytest.mark.parametrize(
    ("module", "name", "loop"),
    [(housekeeping, "sweep", housekeeping.run), (fence, "beat", fence.run)],
)
async def test_loop_stops_when_its_body_swallows_the_cancel(
    monkeypatch: pytest.MonkeyPatch, module: Any, name: str, loop: Any
) -> None:
    monkeypatch.setattr(module, name, _swallowing)
    task = asyncio.create_task(loop(_Ctx()))
    await asyncio.sleep(0.05)  # inside the swallowing body
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    assert task in done, "the loop went back to sleep with its cancel consumed"
    assert task.cancelled()
