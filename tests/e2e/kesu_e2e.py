"""Helpers of the end-to-end tests: the Kesu server subprocess and how Chromium is started.

Loopback only. When this machine allows it (root, ``unshare -n`` and ``nsenter`` present),
the server runs inside a fresh network namespace that has nothing but ``lo``, and Chromium
is started *inside that same namespace* (``nsenter --net=/proc/<server pid>/ns/net``):
neither can send a packet anywhere but 127.0.0.1. Playwright drives Chromium over a pipe
(``--remote-debugging-pipe``), so the test process itself stays outside and talks to the
server only through the browser. Set ``KESU_E2E_NETNS=0`` to run without the namespace
(the tests still assert that every ICE candidate is 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from server.settings import load_settings
from server.users import add_user
from tests.browser import BASE_FLAGS, CHROMIUM

REPO = Path(__file__).resolve().parents[2]
FACES = REPO / "tests" / "data" / "faces"
SERVER_START_TIMEOUT_S = 60
SERVER_STOP_TIMEOUT_S = 60

# The server's settings in these tests: loopback-only ICE, one worker for the review video.
SERVER_ENV = {
    "KESU_RTC_LOOPBACK_ONLY": "1",
    "KESU_WORKERS": "1",
    "KESU_WORKER_THREADS": "1",
    "KESU_MAKE_REVIEW_VIDEO": "1",
    # Live checks (a Whisper process per server) are tested with their dialog in
    # tests/test_live_call.py; these flows play tones, which would leave every node missing.
    "KESU_LIVE_CHECKS": "0",
    "KESU_LOG_LEVEL": "INFO",
}

# login, password, display name, institution
SALES_USER = ("zhangsan", "sales-pass-123", "张三", "平安人寿")

CHROMIUM_FLAGS = [
    *BASE_FLAGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


def netns_usable() -> bool:
    """Can we run the server in a network namespace with only ``lo`` (and enter it)?"""
    if os.environ.get("KESU_E2E_NETNS", "1") == "0":
        return False
    if not (shutil.which("unshare") and shutil.which("nsenter") and shutil.which("ip")):
        return False
    probe = subprocess.run(
        ["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


@dataclass
class KesuServer:
    """A running server subprocess."""

    url: str
    data_dir: Path
    process: asyncio.subprocess.Process
    netns: Path | None  # /proc/<pid>/ns/net when isolated
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def _read_port(process: asyncio.subprocess.Process, log_path: Path) -> int:
    """The ``KESU_PORT=<n>`` line run_server.py writes to its log when it is ready.

    Read from the log file, not a stdout pipe: the server's worker processes inherit its
    stdout, and a pipe one of them still held after the server exited kept asyncio's
    subprocess transport open past the test's event loop; the garbage collector closed it
    later, inside another test, as an unraisable "Event loop is closed" (a fresh-clone CI
    failed test_api_auth so). With no pipe the transport closes when the process exits."""
    while True:
        text = await asyncio.to_thread(log_path.read_text, errors="replace")
        for line in text.splitlines():
            if line.startswith("KESU_PORT="):
                return int(line.split("=", 1)[1])
        if process.returncode is not None:
            raise RuntimeError("the server exited before it was ready")
        await asyncio.sleep(0.05)


async def start_server(
    data_dir: Path,
    env: dict[str, str],
    log_path: Path,
    port: int = 0,
    join_netns: Path | None = None,
) -> KesuServer:
    """Start run_server.py (in a loopback-only network namespace when possible). A restart
    passes the old ``port`` and, when isolated, a handle on the old namespace to enter."""
    command = [sys.executable, str(Path(__file__).with_name("run_server.py"))]
    isolated = join_netns is not None or netns_usable()
    if join_netns is not None:
        command = ["nsenter", f"--net={join_netns}", *command]
    elif isolated:
        # A new network namespace: only lo, brought up, then exec the server (same pid).
        command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]
    log_file = await asyncio.to_thread(open, log_path, "wb")
    with log_file:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=REPO,
            env={
                **os.environ,
                **env,
                "KESU_DATA_DIR": str(data_dir),
                "KESU_E2E_PORT": str(port),
                "PYTHONUNBUFFERED": "1",
            },
            stdout=log_file,
            stderr=log_file,
        )
    try:
        port = await asyncio.wait_for(_read_port(process, log_path), SERVER_START_TIMEOUT_S)
    except BaseException:
        await stop_server(process)
        raise
    netns = Path(f"/proc/{process.pid}/ns/net") if isolated else None
    return KesuServer(f"http://127.0.0.1:{port}", data_dir, process, netns, log_path)


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[KesuServer]:
    """The server on a fresh data directory under ``tmp_path`` with the salesperson account
    (created with the CLI's function); stopped on exit, its log printed with KESU_E2E_SHOW_LOG."""
    data_dir = tmp_path / "data"
    settings = load_settings({"data_dir": str(data_dir)}, env={})
    name, password, display, institution = SALES_USER
    await add_user(settings, name, "salesperson", password, display, institution)
    server = await start_server(data_dir, env, tmp_path / "server.log")
    try:
        yield server
    finally:
        await stop_server(server.process)
        if os.environ.get("KESU_E2E_SHOW_LOG"):
            print(server.log())


async def stop_server(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (the app finalises recordings and stops its workers), SIGKILL if it hangs."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), SERVER_STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()


def chromium_executable(server: KesuServer, directory: Path) -> str:
    """/usr/bin/chromium, or a wrapper that starts it inside the server's network namespace."""
    if server.netns is None:
        return CHROMIUM
    wrapper = directory / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec nsenter --net={server.netns} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)
