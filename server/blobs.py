"""File storage behind a small interface: a local directory (default) or S3-compatible storage.

Recorders write to local disk (crash safety needs fsync'd local files); finished files are
then archived here. With the embedded default the archive *is* the data directory, so
nothing is copied.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

import obstore
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import LocalStore, S3Store, from_url

from server.errors import KesuError

if TYPE_CHECKING:
    from server.settings import Settings


log = logging.getLogger("kesu.blobs")


class StorageUnavailable(KesuError):
    """The object store did not answer or refused (down, unreachable, misconfigured)."""

    status, code = 503, "storage_unavailable"
    RETRY_AFTER_S = 10

    def __init__(self) -> None:
        super().__init__(
            "the recordings' storage cannot be reached; try again shortly",
            details={"retry_after_s": self.RETRY_AFTER_S},
        )


@contextlib.contextmanager
def _reachable(what: str, key: str) -> Iterator[None]:
    """obstore's errors other than a missing object (``FileNotFoundError``) as
    ``StorageUnavailable``: before, a store that was down made the reviewer's media a 500."""
    try:
        yield
    except ObstoreError as exc:
        log.warning("object store %s %s failed: %s", what, key, str(exc).splitlines()[0])
        raise StorageUnavailable() from exc


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


def _hash_and_write(digest: hashlib._Hash, fh: BinaryIO, chunk: bytes) -> None:
    digest.update(chunk)
    fh.write(chunk)


class ObjectBlobStore:
    """Any obstore store (LocalStore, S3Store, ...)."""

    def __init__(self, store: obstore.store.ObjectStore) -> None:
        self._store = store

    async def put_file(self, key: str, path: Path) -> None:
        # obstore reads a Path itself, in chunks (multipart above its chunk size), off the loop.
        await obstore.put_async(self._store, _check_key(key), path)

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks, without holding it all in memory."""
        with _reachable("read", key):
            result = await obstore.get_async(self._store, _check_key(key))
            async for chunk in result.stream():
                yield bytes(chunk)

    async def sha256(self, key: str) -> tuple[int, str]:
        """(size, sha256 hex) of the stored object, read back in full."""
        digest, size = hashlib.sha256(), 0
        async for chunk in self.stream(key):
            # obstore yields 10 MiB chunks: hashing one takes ~20 ms, too long for the loop.
            await asyncio.to_thread(digest.update, chunk)
            size += len(chunk)
        return size, digest.hexdigest()

    async def download(self, key: str, dest: Path) -> tuple[int, str]:
        """Write the object to ``dest`` (temp file then rename); returns (size, sha256)."""
        digest, size = hashlib.sha256(), 0
        tmp = dest.with_name(f".{dest.name}.part")
        fh = await asyncio.to_thread(open, tmp, "wb")
        try:
            async for chunk in self.stream(key):
                await asyncio.to_thread(_hash_and_write, digest, fh, chunk)
                size += len(chunk)
        finally:
            await asyncio.to_thread(fh.close)
        await asyncio.to_thread(os.replace, tmp, dest)
        return size, digest.hexdigest()

    async def get_bytes(self, key: str) -> bytes:
        with _reachable("read", key):
            result = await obstore.get_async(self._store, _check_key(key))
            return bytes(await result.bytes_async())

    async def get_range(self, key: str, start: int, end: int) -> bytes:
        with _reachable("read", key):
            return bytes(
                await obstore.get_range_async(self._store, _check_key(key), start=start, end=end)
            )

    async def size(self, key: str) -> int:
        with _reachable("head", key):
            meta = await obstore.head_async(self._store, _check_key(key))
        return int(meta["size"])

    async def stat(self, key: str) -> tuple[int, str]:
        """(size, what identifies this version of the object: its store ETag, else its
        version id and modification time)."""
        with _reachable("head", key):
            meta = await obstore.head_async(self._store, _check_key(key))
        ident = meta.get("e_tag") or f"{meta.get('version')}@{meta['last_modified'].isoformat()}"
        return int(meta["size"]), ident

    async def delete(self, key: str) -> None:
        await obstore.delete_async(self._store, _check_key(key))

    async def delete_prefix(self, prefix: str) -> list[str]:
        """Delete every object below ``prefix/`` (whole path segments: ``a`` spares ``ab/``);
        returns their keys, sorted."""
        keys: list[str] = []
        async for batch in obstore.list(self._store, prefix=_check_key(prefix)):
            keys += [str(meta["path"]) for meta in batch]
        if keys:
            await obstore.delete_async(self._store, keys)
        return sorted(keys)


def store_from_settings(settings: Settings) -> ObjectBlobStore | None:
    """The archive named by ``storage_url``, or None when files stay only on local disk."""
    url = settings.storage_url
    if not url:
        return None
    if not url.startswith("s3://"):
        return open_blob_store(url, settings.data_dir)
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    config: dict[str, str] = {}
    if settings.storage_endpoint:
        config["endpoint"] = settings.storage_endpoint
    if settings.storage_access_key:
        config["access_key_id"] = settings.storage_access_key
    if settings.storage_secret_key:
        config["secret_access_key"] = settings.storage_secret_key
    region = settings.storage_region or os.environ.get("AWS_REGION", "us-east-1")
    store = S3Store(
        bucket,
        prefix=prefix.strip("/") or None,
        region=region,
        client_options={"allow_http": settings.storage_allow_http},
        **config,  # type: ignore[arg-type]
    )
    return ObjectBlobStore(store)


def open_blob_store(url: str, data_dir: Path) -> ObjectBlobStore:
    """``""`` = the local data directory; otherwise an obstore URL such as ``s3://bucket/prefix``."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return ObjectBlobStore(LocalStore(prefix=str(data_dir.resolve())))
    return ObjectBlobStore(from_url(url))
