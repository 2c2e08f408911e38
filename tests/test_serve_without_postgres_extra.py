"""The README's quick start installs Kesu without the ``postgres`` extra (procrastinate,
psycopg, asyncpg): ``kesu migrate`` and ``kesu serve`` on the embedded SQLite default must not
need them. Before, both imported ``server.jobs_pg`` (and so procrastinate) whatever the
database, and ``bash scripts/setup.sh && .venv/bin/kesu serve`` ended in ModuleNotFoundError.
Here the extra's modules are made unimportable in the child process, as on such an install."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cli_run import REPO, wait_healthy

# ``None`` in sys.modules makes ``import procrastinate`` raise ModuleNotFoundError.
_WITHOUT_EXTRA = """
import sys
for name in ("procrastinate", "psycopg", "psycopg_pool", "asyncpg"):
    sys.modules[name] = None
from server.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def test_migrate_and_serve_on_sqlite_need_no_postgres_extra(tmp_path: Path) -> None:
    data = tmp_path / "data"
    migrated = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRA, "migrate", "--data-dir", str(data)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    argv = ["serve", "--data-dir", str(data), "--host", "127.0.0.1", "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-c", _WITHOUT_EXTRA, *argv],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"serving on (http://127\.0\.0\.1:\d+)/", line)
        if not found:
            proc.kill()
            _, err = proc.communicate(timeout=60)
            raise AssertionError(f"{line!r} {err[-2000:]}")
        url = found.group(1)
        wait_healthy(url, proc)
        with urllib.request.urlopen(f"{url}/login", timeout=10) as page:
            assert page.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
