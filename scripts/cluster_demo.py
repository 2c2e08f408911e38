"""Demo: a Kesu cluster on this machine, and what survives a kill -9.

Starts PostgreSQL, SeaweedFS (S3), two `kesu serve` media nodes (ports and data directories
of their own, as on two hosts, no workers) and two `kesu worker` processes (data
directories of their own, as on other machines: they read recordings from S3), then runs
sessions with aiortc peers (pre-encoded media) through the HTTP API as the pages do, and
checks:

1. sessions spread over both nodes; each is driven through m1's URL (creation, consent,
   script progress, end: m1 forwards what concerns a session m2 holds), the pages' media
   going to the holder (409 wrong_node); every segment lands in S3 with the SHA-256 of its
   file, and only the holder's disk has the session;
2. kill -9 of the worker running an inspection: the other worker finishes the job, exactly
   one report, within ``--recovery-limit`` seconds;
3. kill -9 of a media node mid-call: its session is marked interrupted, the other node's
   session stays live, the segment it finished before dying is in S3 and the one it was
   writing is not (nobody else can reach its disk); restarted on the same data directory,
   the node keeps that segment (the gap recorded) and uploads it, SHA-256 checked;
4. `kesu audit verify` passes on the cluster's database and storage.

Prints a table of figures (and writes them as JSON with ``--json FILE``); exits 1 if a
check failed. The parts live in scripts/cluster/: ``processes`` (the nodes and workers),
``calls`` (peers and offers), ``state`` (what is read back), ``scenarios`` (1-4 above).

    nice -n 10 .venv/bin/python scripts/cluster_demo.py --sessions 4 --seconds 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.cluster.calls import Call, Client, make_loops  # noqa: E402
from scripts.cluster.processes import Cluster  # noqa: E402
from scripts.cluster.scenarios import (  # noqa: E402
    Figures,
    audit_verify,
    node_kill,
    settle_reports,
    spread_and_archive,
    worker_kill,
)
from scripts.cluster.state import Db  # noqa: E402
from server.localservers import (  # noqa: E402
    S3Server,
    free_port,
    fresh_database,
    postgres_server,
    seaweed_s3,
)


def table(fig: Figures) -> str:
    def num(x: float | None, fmt: str = "{:.1f}") -> str:
        return "n/a" if x is None else fmt.format(x)

    rows = [
        ("sessions per node", ", ".join(f"{n}: {k}" for n, k in fig.sessions_per_node.items())),
        ("segments in S3 (SHA-256 checked)", str(fig.segments_in_s3)),
        ("jobs recovered after a worker kill -9", str(fig.jobs_recovered)),
        ("seconds to recovery (job taken over)", num(fig.recovery_restart_s)),
        ("seconds to recovery (job finished)", num(fig.recovery_done_s)),
        ("reports per inspected session", str(sorted(set(fig.reports_per_session.values())))),
        ("bytes lost on node kill -9 (sent - archived)", num(fig.bytes_lost_on_node_kill, "{}")),
        ("  same on a session ended normally", num(fig.bytes_lost_baseline, "{}")),
        ("seconds of media lost on node kill -9", num(fig.seconds_lost_on_node_kill, "{:.2f}")),
        ("seconds to recovery (node kill: marked interrupted)", num(fig.node_kill_detected_s)),
        ("seconds to recovery (restart: m2 serving again)", num(fig.node_restart_serving_s)),
        ("seconds to recovery (restart: flushed segment in S3)", num(fig.node_restart_upload_s)),
        ("sessions on m2 driven through m1's URL", str(fig.driven_through_other_node)),
        ("kesu audit verify", fig.audit_verify or "not run"),
        ("failed checks", "; ".join(fig.checks_failed) or "none"),
    ]
    return "| figure | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)


@contextmanager
def services(base: Path) -> Iterator[tuple[str, S3Server]]:
    with ExitStack() as stack:
        pg = stack.enter_context(postgres_server(free_port()))
        (base / "weed").mkdir()
        s3 = stack.enter_context(seaweed_s3(base / "weed"))
        yield pg, s3


async def run(args: argparse.Namespace, base: Path) -> Figures:
    fig = Figures()
    loops = await asyncio.to_thread(make_loops, 2.0)
    with services(base) as (pg, s3):
        cluster = Cluster(base, await fresh_database(pg), s3, args)
        db = Db(cluster.db_url)
        sales: dict[str, Client] = {}
        calls: list[Call] = []
        try:
            await cluster.start()
            print(
                f"cluster up in {base}: m1, m2 ({cluster.procs['m1'].url}, "
                f"{cluster.procs['m2'].url}), w1, w2",
                flush=True,
            )
            for name in ("m1", "m2"):
                sales[name] = Client(cluster.procs[name].url)
                await sales[name].login("s1")
            first = await spread_and_archive(cluster, sales, loops, fig)
            await settle_reports(cluster, db, [c.sid for c in first], fig)
            await worker_kill(cluster, db, sales, loops, fig)
            calls = await node_kill(cluster, db, sales, loops, fig)
            await settle_reports(cluster, db, [c.sid for c in calls], fig)
            audit_verify(cluster, fig)
        except Exception as exc:
            fig.checks_failed.append(f"{type(exc).__name__}: {exc}"[:500])
            for proc in cluster.procs.values():
                print(f"--- {proc.name} warnings ---\n{proc.warnings()}", file=sys.stderr)
                print(f"--- {proc.name} log tail ---\n{proc.tail()}", file=sys.stderr)
        finally:
            for call in calls:
                await call.close()
            for client in sales.values():
                await client.close()
            await db.close()
            await asyncio.to_thread(cluster.stop)
    return fig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="sessions of the first round")
    parser.add_argument("--seconds", type=float, default=4.0, help="media per session")
    parser.add_argument("--stalled-after", type=float, default=5.0, help="KESU_JOB_STALLED_AFTER_S")
    parser.add_argument(
        "--recovery-limit", type=float, default=60.0, help="seconds a killed job may take"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="kesu-cluster-"))
    try:
        fig = asyncio.run(run(args, base))
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    print(table(fig))
    if args.json:
        args.json.write_text(json.dumps(fig.__dict__, indent=1))
    return 1 if fig.checks_failed else 0


if __name__ == "__main__":
    sys.exit(main())
