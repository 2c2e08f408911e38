"""Blob storage on a real local directory through obstore."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.blobs import open_blob_store


async def test_put_range_size_delete(tmp_path: Path) -> None:
    store = open_blob_store("", tmp_path / "archive")
    src = tmp_path / "rec.mkv"
    src.write_bytes(bytes(range(256)) * 10)
    await store.put_file("sessions/s-1/rec.mkv", src)
    assert (tmp_path / "archive" / "sessions" / "s-1" / "rec.mkv").read_bytes() == src.read_bytes()
    assert await store.size("sessions/s-1/rec.mkv") == 2560
    assert await store.get_range("sessions/s-1/rec.mkv", 10, 14) == bytes([10, 11, 12, 13])
    await store.delete("sessions/s-1/rec.mkv")
    with pytest.raises(FileNotFoundError):
        await store.size("sessions/s-1/rec.mkv")


async def test_path_like_keys_refused(tmp_path: Path) -> None:
    store = open_blob_store("", tmp_path / "archive")
    for bad in ("../x", "/etc/passwd", "a//b", "a/./b", ""):
        with pytest.raises(ValueError):
            await store.size(bad)
