"""Blocking file helpers of the session directories: a durable atomic write (a crash leaves
the old file or the new one, never half of either) and a file's size and SHA-256."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


def hash_file(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def hash_if_present(path: Path) -> tuple[int, str] | None:
    """``hash_file`` of a file with something in it; None for a missing or empty file (a
    segment no media reached)."""
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    return hash_file(path)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, fsync it, replace ``path`` with it, and fsync
    the directory so that the rename itself survives a crash."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        # A full disk: the old file stays whole, and no half-written one is left beside it.
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
