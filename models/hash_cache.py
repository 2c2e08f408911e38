"""sha256 of model files, remembered by (size, mtime, ctime, inode) so that a process start
does not re-read 170 MB, and the temporary names the preparation's streamed writes go
through. Whole files are written with ``models.durable_write.atomic_write``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from models.durable_write import atomic_write


def temp_name(target: Path) -> Path:
    """A hidden sibling of ``target`` unique to this process, to write and then replace
    ``target`` with."""
    return target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


class HashCache:
    """sha256 of files, remembered by (size, mtime, ctime, inode) in a small JSON file."""

    def __init__(self, file: Path) -> None:
        self._file = file
        self._entries: dict[str, dict[str, Any]] | None = None
        self.hashed = 0  # files actually read, for tests and diagnostics

    def sha256(self, path: Path) -> str:
        """Hash of ``path``, read from the cache when the file is unchanged."""
        st = path.stat()
        cached = self._load().get(str(path.resolve()))
        if cached is not None and cached.get("stamp") == _stamp(st):
            return str(cached["sha256"])
        with path.open("rb") as stream:
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
        self.hashed += 1
        self.record(path, digest)
        return digest

    def record(self, path: Path, digest: str) -> None:
        """Remember that ``path`` (as it is now) hashes to ``digest``."""
        entries = self._load()
        entries[str(path.resolve())] = {"stamp": _stamp(path.stat()), "sha256": digest}
        self._save(entries)

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            try:
                self._entries = json.loads(self._file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._entries = {}
        return self._entries

    def _save(self, entries: dict[str, dict[str, Any]]) -> None:
        # A read-only cache only costs re-hashing, so write failures are ignored.
        with contextlib.suppress(OSError):
            self._file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self._file, json.dumps(entries, indent=0, sort_keys=True).encode())


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
