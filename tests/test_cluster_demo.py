"""scripts/cluster_demo.py end to end, short: PostgreSQL, SeaweedFS, two `kesu serve` nodes
(data directories of their own), two `kesu worker` processes; a worker and a node killed with SIGKILL; every check passes and
the figures are reported (the one-minute recovery limit is the script's, not asserted here:
this test must not depend on how loaded the machine is)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow  # loads the inspection models in two worker processes
def test_cluster_demo_checks_pass(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            "scripts/cluster_demo.py",
            "--sessions",
            "2",
            "--seconds",
            "3",
            "--recovery-limit",
            "900",
            "--json",
            str(figures),
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    fig = json.loads(figures.read_text())
    assert fig["checks_failed"] == []
    assert fig["sessions_per_node"] == {"m1": 1, "m2": 1}
    assert fig["segments_in_s3"] >= 4
    assert fig["jobs_recovered"] == 1
    assert set(fig["reports_per_session"].values()) == {1}
    assert len(fig["reports_per_session"]) == 5  # 2 + the killed worker's + 2 of the node kill
    assert fig["driven_through_other_node"] == 1  # m2's session, driven through m1's URL
    assert fig["bytes_lost_on_node_kill"] is not None
    # Separate disks: nobody but the restarted node could upload what it was writing.
    assert fig["uploaded_by_survivor"] == []
    assert fig["uploaded_after_restart"]
    assert fig["audit_verify"] == "audit chain, recordings and reviews intact"
    assert "| jobs recovered after a worker kill -9 | 1 |" in done.stdout
