"""A durable atomic write: a crash, a full disk or a signal leaves the old file or the new
one, never half of either, also for secrets (owner-only from the first byte). The one
implementation for every layer (the server's metadata, reports and keys; the models' hash
cache and sidecars; ``kesu inspect -o``), so it lives in the lowest package."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` with ``data``, durably: a crash leaves the old file or the new one,
    never half of either. ``private`` makes the file readable by its owner only (secrets).

    The data goes to a temporary sibling under a fresh random name, created with O_EXCL so
    that no file or symlink planted beside ``path`` is written through, and with its final
    mode from the first byte: writing first and chmodding after left a secret readable to
    every local user for a moment (umask 022). It is fsynced, renamed over ``path`` (which
    replaces a symlink there rather than writing through it), and the directory is fsynced
    so that the rename itself survives a crash. The leading dot keeps a temporary file out
    of the audit's file listings."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # O_EXCL also refuses a symlink at ``tmp``; the umask still narrows 0o666 as open() does.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
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
