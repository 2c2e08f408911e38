"""Blocking file helpers: a file's size and SHA-256. The durable atomic write the server
uses with them is ``models.durable_write.atomic_write``."""

from __future__ import annotations

import hashlib
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


def sha256_file(path: Path) -> str:
    """SHA-256 hex of a file (blocking: call from a thread)."""
    return hash_file(path)[1]


def hash_if_present(path: Path) -> tuple[int, str] | None:
    """``hash_file`` of a file with something in it; None for a missing or empty file (a
    segment no media reached)."""
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    return hash_file(path)
