"""What the cluster demo reads back: a session's directory on the one node disk that has it,
its metadata, its segments in S3 (checked by SHA-256), and the database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import av

from scripts.cluster.common import CheckFailed
from scripts.cluster.processes import Cluster
from server.archive import key_of


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
