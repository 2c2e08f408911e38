"""Ctrl-C at any point of a ``kesu`` command is one line on stderr and exit 130, never a
traceback. Before, a Ctrl-C while the command was still loading its modules (building the
parser imports every command's, seconds on a loaded machine) was a KeyboardInterrupt
traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli_run import REPO

# Ctrl-C arriving while ``build_parser`` imports a command's module: Python's SIGINT
# handler raises KeyboardInterrupt in whatever runs then, here the import of inspection.cli.
_INTERRUPTED_IMPORT = """
import sys


class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "inspection.cli":
            raise KeyboardInterrupt
        return None


sys.meta_path.insert(0, CtrlC())
from server.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_ctrl_c_while_the_command_loads_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED_IMPORT, "migrate", "--data-dir", str(tmp_path / "d")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, done
    assert done.stderr.strip() == "kesu: interrupted"
    assert not (tmp_path / "d").exists()


# SIGTERM (``kill PID``, systemd, a container stop) arriving once ``kesu migrate`` has made
# its data directory and is opening the database (the import of SQLite's async driver).
_TERMINATED_MIGRATE = """
import os
import signal
import sys


class Kill:
    def find_spec(self, name, path=None, target=None):
        if name == "sqlalchemy.dialects.sqlite.aiosqlite":
            os.kill(os.getpid(), signal.SIGTERM)
        return None


sys.meta_path.insert(0, Kill())
from server.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_cleans_up_as_ctrl_c_does(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    data = tmp_path / "new" / "d"
    done = subprocess.run(
        [sys.executable, "-c", _TERMINATED_MIGRATE, "migrate", "--data-dir", str(data)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 143, done
    assert done.stderr.strip().splitlines()[-1] == "kesu migrate: terminated"
    # Every directory the run made is gone, as after Ctrl-C.
    assert not (tmp_path / "new").exists()
