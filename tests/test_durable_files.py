"""``atomic_write``, the one durable replace of a file: session metadata keeps the mode the
umask gives, a secret is owner-only, and neither is written through a planted symlink or
leaves a temporary file behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.durable_write import atomic_write
from server.durable_files import hash_file


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.parametrize(("private", "mode"), [(False, 0o644), (True, 0o600)])
def test_replaces_the_file_with_the_mode_it_asks_for(
    tmp_path: Path, umask_022: None, private: bool, mode: int
) -> None:
    target = tmp_path / "metadata.json"
    target.write_bytes(b"old")
    atomic_write(target, b"new", private=private)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


def test_never_writes_through_a_link_planted_where_the_old_code_put_its_temporary_file(
    tmp_path: Path,
) -> None:
    bait = tmp_path / "bait"
    bait.write_bytes(b"")
    (tmp_path / ".metadata.json.tmp").symlink_to(bait)
    atomic_write(tmp_path / "metadata.json", b"{}")
    assert bait.read_bytes() == b""
    assert (tmp_path / "metadata.json").read_bytes() == b"{}"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metadata.json"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


def test_hash_file_gives_size_and_sha256(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    assert hash_file(path) == (
        3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    )
