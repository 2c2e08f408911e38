"""File storage behind a small interface: a local directory (default) or S3-compatible storage.

Recorders write to local disk (crash safety needs fsync'd local files); finished files are
then archived here. With the embedded default the archive *is* the data directory, so
nothing is copied.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import obstore
from obstore.store import LocalStore, from_url


class BlobStore(Protocol):
    async def put_file(self, key: str, path: Path) -> None: ...
    async def get_range(self, key: str, start: int, end: int) -> bytes: ...
    async def size(self, key: str) -> int: ...
    async def delete(self, key: str) -> None: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class ObjectBlobStore:
    """Any obstore store (LocalStore, S3Store, ...)."""

    def __init__(self, store: obstore.store.ObjectStore) -> None:
        self._store = store

    async def put_file(self, key: str, path: Path) -> None:
        # Read in a thread: recordings can be hundreds of MB.
        data = await asyncio.to_thread(path.read_bytes)
        await obstore.put_async(self._store, _check_key(key), data)

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        return bytes(
            await obstore.get_range_async(self._store, _check_key(key), start=start, end=end)
        )

    async def size(self, key: str) -> int:
        meta = await obstore.head_async(self._store, _check_key(key))
        return int(meta["size"])

    async def delete(self, key: str) -> None:
        await obstore.delete_async(self._store, _check_key(key))


def open_blob_store(url: str, data_dir: Path) -> ObjectBlobStore:
    """``""`` = the local data directory; otherwise an obstore URL such as ``s3://bucket/prefix``."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return ObjectBlobStore(LocalStore(prefix=str(data_dir.resolve())))
    return ObjectBlobStore(from_url(url))
