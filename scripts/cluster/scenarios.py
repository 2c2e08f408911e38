"""The cluster demo's scenarios, each recording its figures: sessions spread over both nodes
and archived, a worker killed mid-inspection, a media node killed mid-call and restarted,
and `kesu audit verify` on the result."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from scripts.cluster.calls import (
    Call,
    Client,
    connected,
    drive_through,
    end_call,
    join,
    open_call,
)
from scripts.cluster.common import CheckFailed, check, until
from scripts.cluster.processes import Cluster
from scripts.cluster.state import Db, archived_ok, in_s3, read_meta, recorded_payload, session_path


@dataclass
class Figures:
    sessions_per_node: dict[str, int] = field(default_factory=dict)
    driven_through_other_node: int = 0
    segments_in_s3: int = 0
    jobs_recovered: int = 0
    recovery_restart_s: float | None = None
    recovery_done_s: float | None = None
    reports_per_session: dict[str, int] = field(default_factory=dict)
    bytes_lost_on_node_kill: int | None = None
    bytes_lost_baseline: int | None = None
    seconds_lost_on_node_kill: float | None = None
    node_kill_detected_s: float | None = None
    node_restart_upload_s: float | None = None
    node_restart_serving_s: float | None = None
    uploaded_by_survivor: list[str] = field(default_factory=list)
    uploaded_after_restart: list[str] = field(default_factory=list)
    audit_verify: str = ""
    checks_failed: list[str] = field(default_factory=list)


async def spread_and_archive(
    cluster: Cluster, sales: dict[str, Client], loops: Any, fig: Figures
) -> list[Call]:
    print(f"1. {cluster.args.sessions} sessions through the API", flush=True)
    calls = [await open_call(sales, loops) for _ in range(cluster.args.sessions)]
    for call in calls:
        await until(lambda c=call: connected(c), f"{call.sid} media", 90)  # type: ignore[misc]
    for call in calls:  # every page on m1, whichever node holds the call
        await drive_through(cluster, call, sales, "m1")
    await asyncio.sleep(cluster.args.seconds)
    for call in calls:
        await end_call(call, sales, via="m1")
    for name in ("m1", "m2"):
        fig.sessions_per_node[name] = sum(c.node == name for c in calls)
    fig.driven_through_other_node = sum(c.node != "m1" for c in calls)
    check(all(fig.sessions_per_node.values()), f"sessions per node: {fig.sessions_per_node}")
    for call in calls:
        await until(lambda c=call: archived_ok(cluster, c.sid), f"{call.sid} in S3", 60)  # type: ignore[misc]
        fig.segments_in_s3 += len(read_meta(cluster, call.sid)["segments"])
    check(True, f"{fig.segments_in_s3} segments in S3, SHA-256 equal to metadata and file")
    return calls


async def worker_kill(
    cluster: Cluster, db: Db, sales: dict[str, Client], loops: Any, fig: Figures
) -> None:
    print("2. kill -9 of a worker mid-inspection", flush=True)
    # One more session once the first round is inspected: its job is the only one, so the
    # surviving worker is free to take it over (what is measured is the recovery itself).
    call = await open_call(sales, loops)
    await until(lambda: connected(call), f"{call.sid} media", 90)
    await asyncio.sleep(cluster.args.seconds)
    await end_call(call, sales)
    pids = {cluster.procs[n].pid: n for n in ("w1", "w2")}
    victim: list[tuple[int, str]] = []

    async def running() -> bool:
        rows = await db.rows(
            "SELECT id, locked_by FROM jobs WHERE kind = 'inspect' AND status = 'running'"
        )
        victim[:] = [
            (job_id, pids[int(by.rsplit("-", 1)[1])])
            for job_id, by in rows
            if by and int(by.rsplit("-", 1)[1]) in pids
        ]
        return bool(victim)

    await until(running, "an inspection to run", 300)
    name = victim[0][1]
    jobs = [job_id for job_id, n in victim if n == name]
    cluster.procs[name].kill9()
    killed_at = time.monotonic()
    print(f"  killed {name} running job(s) {jobs}", flush=True)
    survivor = "w2" if name == "w1" else "w1"
    survivor_tag = f"-{cluster.procs[survivor].pid}"

    async def restarted() -> bool:
        rows = await db.rows("SELECT locked_by, status FROM jobs WHERE id = ANY(:ids)", ids=jobs)
        return all(s == "done" or (by or "").endswith(survivor_tag) for by, s in rows)

    async def done() -> bool:
        rows = await db.rows("SELECT status FROM jobs WHERE id = ANY(:ids)", ids=jobs)
        if any(s == "failed" for (s,) in rows):
            raise CheckFailed(f"job(s) {jobs} failed")
        return all(s == "done" for (s,) in rows)

    limit = cluster.args.recovery_limit
    fig.recovery_restart_s = await until(restarted, "the other worker to take the job", limit)
    await until(done, "the job to finish", limit)
    fig.recovery_done_s = time.monotonic() - killed_at
    fig.jobs_recovered = len(jobs)
    check(
        fig.recovery_done_s <= limit,
        f"{len(jobs)} job(s) finished by {survivor} {fig.recovery_done_s:.1f} s after the kill "
        f"(taken over after {fig.recovery_restart_s:.1f} s)",
    )
    cluster.procs[name].start()  # back to two workers for what follows
    await cluster.wait_worker(name)
    await settle_reports(cluster, db, [call.sid], fig)


async def settle_reports(cluster: Cluster, db: Db, sids: list[str], fig: Figures) -> None:
    async def all_done() -> bool:
        rows = await db.rows(
            "SELECT status FROM jobs WHERE kind = 'inspect' AND status NOT IN ('done')"
        )
        if any(s == "failed" for (s,) in rows):
            raise CheckFailed("an inspection job failed")
        # A session the housekeeping is still ending (its claim made, its jobs not queued
        # yet) has no job yet: wait for its report too.
        reported = await db.rows(
            "SELECT count(DISTINCT session_id) FROM inspection_reports WHERE session_id = ANY(:s)",
            s=sids,
        )
        return not rows and int(reported[0][0]) == len(set(sids))

    await until(all_done, "every inspection", 600)
    for sid in sids:
        reports = await db.rows(
            "SELECT count(*) FROM inspection_reports WHERE session_id = :s", s=sid
        )
        done = await db.rows(
            "SELECT count(*) FROM audit_log WHERE session_id = :s AND action = 'inspection.done'",
            s=sid,
        )
        fig.reports_per_session[sid] = int(reports[0][0])
        uploaded = await in_s3(cluster, sid, "report.json") is not None
        check(
            reports[0][0] == 1 and done[0][0] == 1 and uploaded,
            f"{sid}: {reports[0][0]} report, {done[0][0]} inspection.done entry; "
            f"report.json in S3: {uploaded}",
        )


async def node_kill(
    cluster: Cluster, db: Db, sales: dict[str, Client], loops: Any, fig: Figures
) -> list[Call]:
    print("3. kill -9 of a media node mid-call", flush=True)
    calls: dict[str, Call] = {}
    while len(calls) < 2:  # one call on each node
        call = await open_call(sales, loops)
        await until(lambda c=call: connected(c), f"{call.sid} media", 90)  # type: ignore[misc]
        calls.setdefault(call.node, call)
    keep, doomed = calls["m1"], calls["m2"]
    # The customer drops and comes back: the segment it leaves is finished, so m2 uploads it.
    customer = Client(sales["m2"].base)
    try:
        status, _ = await customer.call("POST", f"/api/join/{doomed.token}/leave")
    finally:
        await customer.close()
    await doomed.peers.pop("customer").close()
    await join(doomed, "customer", sales, loops["customer"])
    await until(lambda: connected(doomed), "the customer back", 90)
    finished = [s["file"] for s in read_meta(cluster, doomed.sid)["segments"] if s.get("sha256")]
    check(
        status == 200 and finished == ["customer-000.mkv"], f"finished before the kill: {finished}"
    )

    async def finished_in_s3() -> bool:
        return all([await in_s3(cluster, doomed.sid, f) for f in finished])

    await until(finished_in_s3, "the finished segment in S3", 60)
    await asyncio.sleep(cluster.args.seconds)
    cluster.procs["m2"].kill9()
    killed_wall = time.time()
    sent = doomed.bytes_sent()
    print(f"  killed m2 holding {doomed.sid}", flush=True)

    async def interrupted() -> bool:
        _s, body = await sales["m1"].call("GET", f"/api/sessions/{doomed.sid}")
        return bool((body or {}).get("session", {}).get("status") == "interrupted")

    await until(interrupted, "m1 to mark m2's session interrupted", 60)
    fig.node_kill_detected_s = time.time() - killed_wall
    check(
        True,
        f"{doomed.sid} marked interrupted by m1 {fig.node_kill_detected_s:.1f} s after the kill",
    )
    _s, body = await sales["m1"].call("GET", f"/api/sessions/{keep.sid}")
    gaps = [e for e in read_meta(cluster, keep.sid)["events"] if e["type"] == "interrupted"]
    state = body["session"]["status"], body["session"]["connected"]
    check(
        state == ("live", {"salesperson": True, "customer": True}) and not gaps,
        f"{keep.sid} on m1 untouched: {state}, interruptions {gaps}",
    )
    received = keep.peers["salesperson"].received.frames
    frames = received["video"]

    async def flowing() -> bool:
        return received["video"] > frames

    # (A loaded box may hold media back for a few seconds: wait for it, do not sample.)
    await until(flowing, f"media still relayed by m1 in {keep.sid}", 30)
    base_sent = await end_call(keep, sales)  # normally, as a baseline for the bytes lost
    check(
        all([await in_s3(cluster, doomed.sid, f) for f in finished]),
        f"m2's finished segment {finished} in S3",
    )
    # What m2 was writing when it died is on m2's disk only: flushed, still "recording".
    await asyncio.sleep(2.0)  # (time for anyone else to upload it, which nobody can)
    on_disk = session_path(cluster, doomed.sid)
    flushed = {
        s["file"]: hashlib.sha256((on_disk / s["file"]).read_bytes()).hexdigest()
        for s in read_meta(cluster, doomed.sid)["segments"]
        if s["file"] not in finished and s["status"] == "recording"
    }
    fig.uploaded_by_survivor = [f for f in flushed if await in_s3(cluster, doomed.sid, f)]
    check(
        bool(flushed) and not fig.uploaded_by_survivor,
        f"m2's unfinished segment(s) {sorted(flushed)} on m2's disk only, not in S3",
    )
    await doomed.close()
    restarted_at = time.monotonic()
    cluster.procs["m2"].start()  # on the same data directory
    await cluster.wait_healthy("m2")
    fig.node_restart_serving_s = time.monotonic() - restarted_at
    await until(lambda: archived_ok(cluster, doomed.sid), "m2's flushed segments in S3", 60)
    fig.node_restart_upload_s = time.monotonic() - restarted_at
    meta = read_meta(cluster, doomed.sid)
    gaps = [e for e in meta["events"] if e["type"] == "interrupted"]
    check(
        len(gaps) == 1 and gaps[0]["detail"]["reason"] == "node_dead",
        f"{doomed.sid}: gap recorded by the restarted m2 from {gaps[0]['at'] if gaps else '?'}",
    )
    fig.seconds_lost_on_node_kill = killed_wall - parse_z(gaps[0]["at"])
    archived = {s["file"]: s["sha256"] for s in meta["segments"]}
    fig.uploaded_after_restart = [
        f for f in flushed if await in_s3(cluster, doomed.sid, f) == archived.get(f) == flushed[f]
    ]
    check(
        sorted(fig.uploaded_after_restart) == sorted(flushed),
        f"restarted m2 uploaded {fig.uploaded_after_restart} in "
        f"{fig.node_restart_upload_s:.1f} s, SHA-256 of S3 = metadata = the file as flushed",
    )
    fig.bytes_lost_on_node_kill = sum(sent.values()) - sum(
        (await recorded_payload(cluster, doomed.sid)).values()
    )
    await until(lambda: archived_ok(cluster, keep.sid), f"{keep.sid} in S3", 60)
    fig.bytes_lost_baseline = sum(base_sent.values()) - sum(
        (await recorded_payload(cluster, keep.sid)).values()
    )
    # The salesperson ends it through m1, unless m2's housekeeping already did (nobody
    # rejoined within the window).
    status, body = await sales["m1"].call("POST", f"/api/sessions/{doomed.sid}/end")
    ended = status == 200 or (status == 409 and body["error"]["code"] == "session_ended")
    check(ended, f"{doomed.sid} ended after the restart ({status})")
    return [keep, doomed]


def parse_z(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def audit_verify(cluster: Cluster, fig: Figures) -> None:
    print("4. kesu audit verify", flush=True)
    # On each node's disk: its own sessions from there, the other node's from S3.
    for name in ("m2", "m1"):
        done = cluster.kesu("audit", "verify", data_dir=cluster.node_dirs[name])
        fig.audit_verify = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        check(done.returncode == 0, f"kesu audit verify on {name}: {done.stdout.strip()[-2000:]}")
