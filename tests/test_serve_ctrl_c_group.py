"""Ctrl-C in the terminal of ``kesu serve`` reaches its whole process group: the server and
its inspection worker processes. The server stops cleanly (exit 0) and the workers end
without a word: before, each worker printed a KeyboardInterrupt traceback (raised in
whatever it ran, waiting for a job or loading its modules) under the server's clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.cli_run import REPO
from tests.test_worker_orphan import _workers


def test_ctrl_c_to_the_process_group_is_quiet(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    argv = ["serve", "--data-dir", str(tmp_path / "data"), "--host", "127.0.0.1", "--port", "0"]
    stderr = (tmp_path / "stderr.txt").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", *argv, "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,  # its own process group, as a shell makes for a job
    )
    try:
        assert proc.stdout is not None
        assert re.search(r"serving on http://127\.0\.0\.1:\d+/", proc.stdout.readline())
        deadline = time.monotonic() + 90
        while not _workers(proc.pid):
            assert proc.poll() is None, "kesu serve exited"
            assert time.monotonic() < deadline, "no worker process started"
            time.sleep(0.1)  # polling for start-up, not timing anything
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stderr.seek(0)
    text = stderr.read()
    assert "Traceback" not in text, text
    assert "KeyboardInterrupt" not in text, text
    assert code == 0, text
