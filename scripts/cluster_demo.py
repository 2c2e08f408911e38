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
check failed.

    nice -n 10 .venv/bin/python scripts/cluster_demo.py --sessions 4 --seconds 4
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.archive import key_of  # noqa: E402
from server.blobs import ObjectBlobStore, store_from_settings  # noqa: E402
from server.localservers import (  # noqa: E402
    S3Server,
    free_port,
    fresh_database,
    postgres_server,
    seaweed_s3,
)
from server.rtc.client import (  # noqa: E402
    ClientPeer,
    EncodedLoop,
    LoopedPacketTrack,
    MediaTimeline,
    encode_audio_loop,
    encode_video_loop,
)
from server.settings import load_settings  # noqa: E402

PASSWORD = "demo-password-1"
ROLES = ("salesperson", "customer")
SESSION_BODY = {
    "customer_name": "张三",
    "customer_id_number": "11010519491231002X",
    "product_name": "示例终身寿险",
    "product_type": "traditional",
    "template_id": "traditional_life",
    "premium": 12000,
    "payment_method": "年交",
    "payment_years": 10,
    "insurance_years": 20,
    "cooling_off_days": 15,
}


class CheckFailed(Exception):
    pass


def check(ok: bool, what: str) -> None:
    print(f"  [{'ok' if ok else 'FAILED'}] {what}", flush=True)
    if not ok:
        raise CheckFailed(what)


async def until(pred: Callable[[], Awaitable[bool]], what: str, limit_s: float) -> float:
    """Poll ``pred`` until true; returns the seconds it took (raises CheckFailed past limit)."""
    t0 = time.monotonic()
    while not await pred():
        if time.monotonic() - t0 > limit_s:
            raise CheckFailed(f"timed out after {limit_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)
    return time.monotonic() - t0


# ----------------------------------------------------------------------------- processes


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    url: str = ""
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "server.cli", *self.args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def kill9(self) -> None:
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def warnings(self) -> str:
        """The log's last warnings and errors (what went wrong is rarely in the tail)."""
        if not self.log.exists():
            return ""
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join([x[:400] for x in lines if " WARNING " in x or " ERROR " in x][-15:])


class Client:
    """A logged-in salesperson (or an anonymous customer) talking to one node."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def login(self, username: str) -> None:
        status, body = await self.call(
            "POST", "/api/login", {"username": username, "password": PASSWORD}
        )
        assert status == 200, body
        self.csrf = body["csrf_token"]

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        async with self.http.request(
            method, self.base + path, json=body, headers=headers, allow_redirects=False
        ) as r:
            return r.status, await r.json() if r.content_type == "application/json" else None

    async def close(self) -> None:
        await self.http.close()


class CountingTrack(LoopedPacketTrack):
    """Counts the payload bytes handed to the connection (what the server could record)."""

    bytes_sent = 0

    async def recv(self) -> Any:
        packet = await super().recv()
        self.bytes_sent += packet.size
        return packet


@dataclass
class Call:
    """One session with both parties connected to the node that holds it."""

    sid: str
    token: str
    node: str = ""
    peers: dict[str, ClientPeer] = field(default_factory=dict)
    tracks: dict[str, list[CountingTrack]] = field(default_factory=dict)

    def bytes_sent(self) -> dict[str, int]:
        return {role: sum(t.bytes_sent for t in tracks) for role, tracks in self.tracks.items()}

    async def close(self) -> None:
        for peer in self.peers.values():
            await peer.close()


# ----------------------------------------------------------------------------- the cluster


class Cluster:
    def __init__(self, base: Path, db_url: str, s3: S3Server, args: argparse.Namespace) -> None:
        self.base, self.db_url, self.s3, self.args = base, db_url, s3, args
        # Each node has a disk of its own (as on two hosts); the CLI runs on m1's.
        self.node_dirs = {name: base / f"{name}-data" for name in ("m1", "m2")}
        self.node_dir = self.node_dirs["m1"]
        storage = {
            "KESU_DATABASE_URL": db_url,
            "KESU_STORAGE_URL": f"s3://{s3.bucket}/demo",
            "KESU_STORAGE_ENDPOINT": s3.endpoint,
            "KESU_STORAGE_ACCESS_KEY": s3.access_key,
            "KESU_STORAGE_SECRET_KEY": s3.secret_key,
            "KESU_STORAGE_ALLOW_HTTP": "1",
            # One audit key for every process (docs/audit.md): created by the first node,
            # copied to every host in a real deployment.
            "KESU_AUDIT_KEY_FILE": str(base / "audit.key"),
        }
        self.env = {
            **os.environ,
            **storage,
            "KESU_DATA_DIR": str(self.node_dir),
            "KESU_SECRET_KEY": "cluster-demo-secret",
            "KESU_HOST": "127.0.0.1",
            "KESU_BOOTSTRAP_ADMIN": "0",
            "KESU_RTC_LOOPBACK_ONLY": "1",
            "KESU_MAKE_REVIEW_VIDEO": "0",
            # The peers play pre-encoded media, not a script: live checks (a Whisper process
            # per node) would only cost CPU and answer the end with 409 missing_items.
            "KESU_LIVE_CHECKS": "0",
            "KESU_NODE_HEARTBEAT_S": "1",
            "KESU_NODE_DEAD_AFTER_S": "10",
            "KESU_REJOIN_WINDOW_S": "30",
            "KESU_JOB_POLL_S": "0.5",
            "KESU_JOB_STALLED_AFTER_S": str(args.stalled_after),
            "KESU_JOB_RETRY_DELAY_S": "0",
        }
        self.procs: dict[str, Proc] = {}
        for name in ("m1", "m2"):
            port = free_port()
            env = {
                **self.env,
                "KESU_PORT": str(port),
                "KESU_DATA_DIR": str(self.node_dirs[name]),
                "KESU_NODE_ID": name,
                "KESU_NODE_URL": f"http://127.0.0.1:{port}",
                "KESU_WORKERS": "0",
            }
            self.procs[name] = Proc(
                name, ["serve"], env, base / f"{name}.log", env["KESU_NODE_URL"]
            )
        for name in ("w1", "w2"):
            env = {**self.env, "KESU_DATA_DIR": str(base / f"{name}-data"), "KESU_WORKERS": "1"}
            self.procs[name] = Proc(name, ["worker"], env, base / f"{name}.log")
        settings = load_settings({}, env={k: v for k, v in storage.items()})
        store = store_from_settings(settings)
        assert store is not None
        self.store: ObjectBlobStore = store

    def kesu(self, *args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "KESU_DATA_DIR": str(data_dir or self.node_dir)}
        return subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )

    async def start(self) -> None:
        done = self.kesu("migrate")
        check(done.returncode == 0, f"kesu migrate ({done.stderr[-500:]})")
        self.kesu("user", "add", "s1", "--role", "salesperson", "--password", PASSWORD)
        for name in ("m1", "m2"):  # m1 first: it creates the shared audit key
            self.procs[name].start()
            await self.wait_healthy(name)
        for name in ("w1", "w2"):
            (self.base / f"{name}-data").mkdir(exist_ok=True)
            self.procs[name].start()
            await self.wait_worker(name)

    async def wait_healthy(self, name: str) -> None:
        proc = self.procs[name]

        async def up() -> bool:
            assert proc.popen is not None
            if proc.popen.poll() is not None:
                raise CheckFailed(f"{name} exited:\n{proc.tail()}")
            try:
                async with aiohttp.ClientSession() as http, http.get(proc.url + "/healthz") as r:
                    return r.status == 200
            except OSError:
                return False

        await until(up, f"{name} to serve", 120)

    async def wait_worker(self, name: str) -> None:
        proc = self.procs[name]

        async def up() -> bool:
            assert proc.popen is not None
            if proc.popen.poll() is not None:
                raise CheckFailed(f"{name} exited:\n{proc.tail()}")
            return "kesu worker:" in proc.tail() and "worker(s)" in proc.tail()

        await until(up, f"{name} to run", 120)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def node_of_url(self, url: str) -> str:
        return next(n for n, p in self.procs.items() if p.url == url)


# ----------------------------------------------------------------------------- calls


def make_loops(seconds: float) -> dict[str, dict[str, EncodedLoop]]:
    out = {}
    for role in ROLES:
        timeline = MediaTimeline()
        out[role] = {
            "video": encode_video_loop(role, seconds, (320, 240), 15, 30, timeline),
            "audio": encode_audio_loop(seconds, timeline),
        }
    return out


async def open_call(sales: dict[str, Client], loops: dict[str, dict[str, EncodedLoop]]) -> Call:
    """Create on m1, then join both parties as the pages do (wrong_node: go to node_url)."""
    status, body = await sales["m1"].call("POST", "/api/sessions", SESSION_BODY)
    assert status == 201, body
    sid = body["session"]["id"]
    status, link = await sales["m1"].call("POST", f"/api/sessions/{sid}/link")
    assert status == 200, link
    call = Call(sid, link["token"])
    customer = Client(sales["m1"].base)
    try:
        status, body = await customer.call(
            "POST", f"/api/join/{call.token}/consent", {"consent": True}
        )
        assert status == 200, body
        for role in ROLES:
            await join(call, role, sales, loops[role])
    finally:
        await customer.close()
    return call


async def join(
    call: Call, role: str, sales: dict[str, Client], loops: dict[str, EncodedLoop]
) -> None:
    node = call.node or "m1"
    path = (
        f"/api/sessions/{call.sid}/offer"
        if role == "salesperson"
        else f"/api/join/{call.token}/offer"
    )
    for _ in range(3):
        timeline = MediaTimeline()
        tracks = [CountingTrack(loops["video"], timeline), CountingTrack(loops["audio"], timeline)]
        peer = ClientPeer(tracks, decode=False)
        client = sales[node] if role == "salesperson" else Client(sales[node].base)
        try:
            status, body = await client.call(
                "POST", path, {"type": "offer", "sdp": await peer.offer()}
            )
        finally:
            if client is not sales[node]:
                await client.close()
        if status == 200:
            await peer.accept(body["sdp"])
            call.node = node
            call.peers[role] = peer
            call.tracks.setdefault(role, []).extend(tracks)
            return
        await peer.close()
        if status != 409 or body["error"]["code"] != "wrong_node":
            raise CheckFailed(f"offer refused: {status} {body}")
        node = sales_node(sales, body["error"]["details"]["node_url"])
    raise CheckFailed(f"{call.sid}: no node took the {role}")


def sales_node(sales: dict[str, Client], url: str) -> str:
    return next(n for n, c in sales.items() if c.base == url)


async def connected(call: Call) -> bool:
    return all(p.received.frames["video"] > 0 for p in call.peers.values())


async def end_call(call: Call, sales: dict[str, Client], via: str = "") -> dict[str, int]:
    """End through ``via`` (default: the holder); returns the bytes sent per role when the
    room had closed."""
    via = via or call.node
    status, body = await sales[via].call("POST", f"/api/sessions/{call.sid}/end")
    sent = call.bytes_sent()
    await call.close()
    check(status == 200, f"{call.sid} (on {call.node}) ended through {via} ({status})")
    return sent


async def drive_through(cluster: Cluster, call: Call, sales: dict[str, Client], via: str) -> None:
    """The salesperson's page on ``via``: the script, the live state, as the holder sees them."""
    client = sales[via]
    status, body = await client.call("GET", f"/api/sessions/{call.sid}")
    assert status == 200, body
    node = body["script"][0]["id"]
    status, body = await client.call("POST", f"/api/sessions/{call.sid}/node", {"node": node})
    assert status == 200, body
    status, state = await client.call("GET", f"/api/sessions/{call.sid}/state")
    assert status == 200, state
    events = [e.get("node") for e in read_meta(cluster, call.sid)["events"] if e["type"] == "node"]
    home = session_path(cluster, call.sid).parent.parent
    check(
        state["connected"] == {"salesperson": True, "customer": True}
        and events == [node]
        and home == cluster.node_dirs[call.node],
        f"{call.sid} on {call.node} driven through {via}: script node {node} in "
        f"{home.name}/sessions only, connected {state['connected']}",
    )


# ----------------------------------------------------------------------------- reading state


def session_path(cluster: Cluster, sid: str) -> Path:
    """The session's directory on the one node disk that has it (its holder's)."""
    found = [d / "sessions" / sid for d in cluster.node_dirs.values()]
    found = [p for p in found if (p / "metadata.json").is_file()]
    if len(found) != 1:
        raise CheckFailed(f"{sid} is on {len(found)} node disks, not on exactly one")
    return found[0]


def read_meta(cluster: Cluster, sid: str) -> dict[str, Any]:
    return dict(json.loads((session_path(cluster, sid) / "metadata.json").read_text()))


async def archived_ok(cluster: Cluster, sid: str) -> bool:
    """Every finished segment of ``sid`` is in S3 and its object hashes as its local file."""
    meta = read_meta(cluster, sid)
    segments = meta["segments"]
    if not segments or any(not s.get("archived") for s in segments):
        return False
    for seg in segments:
        local = hashlib.sha256((session_path(cluster, sid) / seg["file"]).read_bytes())
        _size, remote = await cluster.store.sha256(key_of(sid, seg["file"]))
        if not (remote == seg["sha256"] == local.hexdigest()):
            raise CheckFailed(f"{sid}/{seg['file']}: S3 {remote} != metadata {seg['sha256']}")
    return True


async def in_s3(cluster: Cluster, sid: str, name: str) -> str | None:
    try:
        return (await cluster.store.sha256(key_of(sid, name)))[1]
    except FileNotFoundError:
        return None


async def recorded_payload(cluster: Cluster, sid: str) -> dict[str, int]:
    """Payload bytes per participant in the archived (S3) segments of ``sid``."""
    out: dict[str, int] = {}
    tmp = cluster.base / "fetched"
    tmp.mkdir(exist_ok=True)
    for seg in read_meta(cluster, sid)["segments"]:
        dest = tmp / f"{sid}-{seg['file']}"
        await cluster.store.download(key_of(sid, seg["file"]), dest)
        with av.open(str(dest)) as container:
            size = sum(p.size for p in container.demux() if p.size)
        out[seg["participant"]] = out.get(seg["participant"], 0) + size
    return out


class Db:
    """Read-only SQL on the cluster's database (asyncpg through SQLAlchemy)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        self.engine = create_async_engine(url)

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        async with self.engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    async def close(self) -> None:
        await self.engine.dispose()


# ----------------------------------------------------------------------------- the checks


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


# ----------------------------------------------------------------------------- main


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
