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

# ``kesu ARGV`` with ``HOOK`` run at each module the command imports: the signal arrives at a
# known point of the command.
_WITH_HOOK = """
import os
import signal
import sys


class Hook:
    def find_spec(self, name, path=None, target=None):
%s
        return None


sys.meta_path.insert(0, Hook())
from server.cli import main

sys.exit(main(sys.argv[1:]))
"""


def _kesu_with_hook(hook: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-c", _WITH_HOOK % hook, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# Ctrl-C arriving while ``build_parser`` imports a command's module: Python's SIGINT
# handler raises KeyboardInterrupt in whatever runs then, here the import of inspection.cli.
_CTRL_C_LOADING = """\
        if name == "inspection.cli":
            raise KeyboardInterrupt"""


def test_ctrl_c_while_the_command_loads_is_one_line(tmp_path: Path) -> None:
    done = _kesu_with_hook(
        _CTRL_C_LOADING, "migrate", "--data-dir", str(tmp_path / "d"), cwd=tmp_path
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, done
    assert done.stderr.strip() == "kesu: interrupted"
    assert not (tmp_path / "d").exists()


# SIGTERM (``kill PID``, systemd, a container stop) arriving once ``kesu migrate`` has made
# its data directory and is opening the database (the import of SQLite's async driver).
_SIGTERM_OPENING = """\
        if name == "sqlalchemy.dialects.sqlite.aiosqlite":
            os.kill(os.getpid(), signal.SIGTERM)"""


def test_sigterm_cleans_up_as_ctrl_c_does(tmp_path: Path) -> None:
    data = tmp_path / "new" / "d"
    done = _kesu_with_hook(_SIGTERM_OPENING, "migrate", "--data-dir", str(data), cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 143, done
    assert done.stderr.strip().splitlines()[-1] == "kesu migrate: terminated"
    # Every directory the run made is gone, as after Ctrl-C.
    assert not (tmp_path / "new").exists()
