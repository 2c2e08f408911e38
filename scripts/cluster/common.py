"""What every part of the cluster demo (scripts/cluster_demo.py) shares: the account and
its checks (a failed one stops the demo)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-password-1"
ROLES = ("salesperson", "customer")


class CheckFailed(Exception):
    pass


def check(ok: bool, what: str) -> None:
    print(f"  [{'ok' if ok else 'FAILED'}] {what}", flush=True)
    if not ok:
        raise CheckFailed(what)


async def until(pred: Callable[[], Awaitable[bool]], what: str, limit_s: float) -> float:
    """Poll ``pred`` until true; returns the seconds it took (raises CheckFailed past limit)."""
    t0 = time.monotonic()
    while not await pred():
        if time.monotonic() - t0 > limit_s:
            raise CheckFailed(f"timed out after {limit_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)
    return time.monotonic() - t0
