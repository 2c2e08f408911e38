"""``kesu serve --port 0`` (the system picks a free port) serves on that port and names it:
in its "serving on" line and in its own media-node row (id and URL), which other media
nodes forward a session's browsers to. Before, both said ``:0``, and another node would
have sent browsers to port 0."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.cli_run import REPO, wait_healthy


def test_serve_on_port_0_uses_and_names_the_port_it_bound(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    argv = ["serve", "--data-dir", str(data), "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", *argv, "--workers", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"serving on http://127\.0\.0\.1:(\d+)/", line)
        assert found, line
        port = int(found.group(1))
        assert port != 0, line
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        with sqlite3.connect(data / "kesu.db") as db:
            rows = db.execute("SELECT id, url FROM media_nodes").fetchall()
        assert len(rows) == 1, rows
        node_id, node_url = rows[0]
        assert node_url == url
        assert node_id.endswith(f":{port}"), node_id
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
