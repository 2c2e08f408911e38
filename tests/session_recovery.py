"""Crash recovery over a sessions directory, without a database: each session whose
metadata says ``live`` goes through ``SessionDir.mark_interrupted_sync``, the change the
server makes to the sessions its database lists as live (``server.housekeeping``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.session_dir import SessionDir
from server.session_format import METADATA


def _recover(root: Path) -> list[str]:
    recovered = []
    for meta_path in sorted(root.glob(f"*/{METADATA}")):
        sdir = SessionDir(meta_path.parent)
        if sdir.status == "live":
            sdir.mark_interrupted_sync()
            recovered.append(sdir.session_id)
    return recovered


async def recover_sessions(root: Path) -> list[str]:
    """The ids of the sessions under ``root`` it marked interrupted (blocking work on a thread)."""
    return await asyncio.to_thread(_recover, root)
