"""Small asyncio guards shared by the server's long-running loops."""

from __future__ import annotations

import asyncio


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a callee swallowed.

    SQLAlchemy's pool logs and drops a CancelledError that lands while it resets a connection
    ("Exception during reset or similar"), so a loop cancelled mid-query would otherwise go
    back to sleep with its cancel consumed, and the app's shutdown would wait on it forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
