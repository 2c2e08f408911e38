"""Run the ``kesu`` command as an operator would, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def kesu(*argv: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m server.cli ARGV`` in ``cwd``, with no KESU_* settings from this environment.

    Arguments are ``str``: one holding surrogate escapes is passed as the bytes it came from
    (non-UTF-8 input); output that is not UTF-8 is read with replacement characters.
    ``stdin`` is what the command reads (``""``: standard input at its end)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        input=stdin,
        text=True,
        errors="replace",
        timeout=120,
    )


def wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    """Until ``url``/healthz answers 200 from the ``kesu serve`` in ``proc`` (90 s at most)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, "kesu serve exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling for start-up, not timing anything
    raise AssertionError(f"{url}/healthz did not answer")
