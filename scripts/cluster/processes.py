"""The cluster demo's processes: two `kesu serve` media nodes and two `kesu worker`
processes, each with a data directory of its own (as on separate hosts), on one database
and one S3 store."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from scripts.cluster.common import PASSWORD, ROOT, CheckFailed, check, until
from server.blobs import ObjectBlobStore, store_from_settings
from server.localservers import (
    S3Server,
    free_port,
)
from server.settings import load_settings


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
