"""A ``kesu worker`` with trivial handlers instead of inspection, for tests/test_jobs_pg.py.

    python -m tests.pg_job_worker DATABASE_URL MARK_DIR STALLED_AFTER_S

Handler ``mark``: writes ``started-<job>-<pid>``, waits while ``hold`` exists in MARK_DIR
(payload ``hold``), then appends its pid to ``done-<job>`` (one line per completed run).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from server.audit_keys import AuditKeys
from server.jobs import JobHandler, JobInfo, ProgressFn
from server.settings import load_settings
from server.standalone_worker import run_worker


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


def handlers(mark_dir: Path) -> dict[str, JobHandler]:
    async def mark(job: JobInfo, progress: ProgressFn) -> None:
        (mark_dir / f"started-{job.id}-{os.getpid()}").touch()
        await progress("marking", 0.5)
        # The test (another process) releases the job by deleting a file: nothing to await.
        while job.payload.get("hold") and (mark_dir / "hold").exists():  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.to_thread(_append, mark_dir / f"done-{job.id}", f"{os.getpid()}\n")

    return {"mark": mark}


def main() -> int:
    url, mark_dir, stalled = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    settings = load_settings(
        {
            "database_url": url,
            "data_dir": mark_dir / f"data-{os.getpid()}",
            "workers": 1,
            "job_poll_s": 0.2,
            "job_stalled_after_s": stalled,
            "secret_key": "test-secret-0123456789abcdef0123456789",
            # Workers share the server's audit key (kesu worker refuses to start without one).
            "audit_key_file": str(mark_dir / "audit.key"),
        },
        env={},
    )
    AuditKeys.load_or_create(settings.audit_key_path)
    return asyncio.run(run_worker(settings, handlers(mark_dir)))


if __name__ == "__main__":
    sys.exit(main())
