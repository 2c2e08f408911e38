"""The inspection worker processes die with a SIGKILLed ``kesu serve``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.test_api_recording import _serve, _wait_healthy


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every live process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = text[text.rindex(")") + 2 :].split()
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set[int]:
    table = _proc_table()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] not in ("Z", "X")}


def _workers(pid: int) -> set[int]:
    """The multiprocessing children (spawned with ``-c 'from multiprocessing.spawn ...'``)."""
    out = set()
    for p in _descendants(pid):
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.add(p)
    return out


async def test_workers_exit_when_the_server_is_killed(tmp_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path / "data", port, KESU_WORKERS="2", KESU_WORKER_THREADS="1")
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}", proc)
        workers: set[int] = set()
        for _ in range(200):  # the pool is started before the server answers; be patient
            workers = _workers(proc.pid)
            if len(workers) >= 2:
                break
            await asyncio.sleep(0.1)
        assert len(workers) >= 2, _descendants(proc.pid)
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    for _ in range(100):
        if not _alive(children):
            break
        await asyncio.sleep(0.1)
    left = _alive(children)
    for pid in left:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after the server was killed: {left}"


REPO = Path(__file__).resolve().parents[1]

GRANDCHILD = """
import os, sys, time
from server import parentwatch
if sys.argv[1] == "watch-only":
    parentwatch.set_pdeathsig = lambda *a: False  # leave only the portable fallback
parentwatch.die_with_parent(int(sys.argv[2]), poll_s=0.1)
print("armed", flush=True)
time.sleep(120)
"""

PARENT = """
import subprocess, sys, os, time
child = subprocess.Popen(
    [sys.executable, "-c", sys.argv[1], sys.argv[2], str(os.getpid())], stdout=subprocess.PIPE
)
assert child.stdout.readline().strip() == b"armed"
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("mode", ["pdeathsig", "watch-only"])
async def test_die_with_parent_guards(mode: str) -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PARENT,
        GRANDCHILD,
        mode,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        line = await asyncio.wait_for(parent.stdout.readline(), 60)  # type: ignore[union-attr]
        child = int(line)
    finally:
        parent.kill()
        await parent.wait()
    for _ in range(100):
        if not _alive({child}):
            break
        await asyncio.sleep(0.05)
    left = _alive({child})
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left
