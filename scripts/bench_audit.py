"""How much the keyed chain costs: appends per second (each its own transaction, each
checkpointed) and the time `kesu audit verify` needs for the chain and the checkpoint file.

    python scripts/bench_audit.py [--entries 5000]

Uses a throw-away SQLite database in a temp directory; prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server import audit  # noqa: E402
from server.audit_keys import AuditKeys, CheckpointLog  # noqa: E402
from server.audit_trail import AuditTrail, attach  # noqa: E402
from server.audit_verify import verify_archive  # noqa: E402
from server.store.db import Database  # noqa: E402


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = Database(f"sqlite+aiosqlite:///{root / 'kesu.db'}")
        await db.migrate()
        trail = attach(
            db,
            AuditTrail(
                AuditKeys.load_or_create(root / "audit.key"),
                CheckpointLog(root / "cp.jsonl"),
            ),
        )
        t0 = time.perf_counter()
        for i in range(n):
            async with db.session() as s:
                await audit.record(
                    s, "bench", "bench.append", "s-bench", {"i": i, "text": "x" * 80}
                )
        await trail.flush()
        append_s = time.perf_counter() - t0
        lines = len((root / "cp.jsonl").read_text().splitlines())  # noqa: ASYNC240
        t0 = time.perf_counter()
        async with db.session() as s:
            report = await verify_archive(s, root / "sessions", trail.keys, trail.log)
        verify_s = time.perf_counter() - t0
        assert not report.problems, report.problems
        await db.close()
        trail.close()
    print(f"{'entries':>10} {'appends/s':>10} {'checkpoint lines':>17} {'verify s':>9}")
    print(f"{n:>10} {n / append_s:>10.0f} {lines:>17} {verify_s:>9.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=5000)
    asyncio.run(run(p.parse_args().entries))


if __name__ == "__main__":
    main()
