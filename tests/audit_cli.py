"""`kesu audit` in-process from a test, once the server's background audit writers are done
(tests/test_audit_tamper.py, tests/test_audit_signing.py, tests/test_audit_archive.py)."""

from __future__ import annotations

import asyncio

import pytest

from server.audit_trail import trail_of
from server.cli import main
from tests.conftest import RunningServer


async def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the real `kesu` entry point (in a thread: it runs its own event loop)."""
    code = await asyncio.to_thread(main, list(argv))
    return code, capsys.readouterr().out


async def settle(server: RunningServer) -> None:
    """Background audit writers done: metadata anchors, then checkpoints."""
    assert server.ctx.anchorer is not None
    await server.ctx.anchorer.flush()
    trail = trail_of(server.ctx.db)
    assert trail is not None
    await trail.flush()


async def verify(server: RunningServer, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`kesu audit verify` on the server's data directory, once it has settled."""
    await settle(server)
    return await run_cli(capsys, "audit", "verify", "--data-dir", str(server.ctx.settings.data_dir))
