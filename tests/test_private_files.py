"""Secrets kept beside the data (the signing key, the first admin's password) are written
readable by their owner only from the first byte, and never through a file or symlink
planted where they are about to be written."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.security import load_or_create_key
from tests.conftest import make_settings, serving


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual one: new files readable by every local user
    yield
    os.umask(old)


def _private_regular_file(path: Path) -> None:
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode), "a symlink was written through, not replaced"
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)


def test_signing_key_is_private_and_never_written_through_a_planted_link(
    tmp_path: Path, umask_022: None
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bait = tmp_path / "bait"
    bait.write_bytes(b"")
    # Where the old code wrote the key before renaming it.
    (data / "secret.tmp").symlink_to(bait)
    key = load_or_create_key(data / "secret.key")
    assert len(key) == 64
    assert bait.read_bytes() == b""
    _private_regular_file(data / "secret.key")
    assert load_or_create_key(data / "secret.key") == key
    assert sorted(p.name for p in data.iterdir()) == ["secret.key", "secret.tmp"]


async def test_first_admin_password_file_is_private_and_not_written_through_a_link(
    tmp_path: Path, umask_022: None
) -> None:
    settings = make_settings(tmp_path, bootstrap_admin=True)
    settings.data_dir.mkdir(parents=True)
    bait = tmp_path / "bait"
    bait.write_bytes(b"")
    target = settings.data_dir / "initial-admin-password.txt"
    target.symlink_to(bait)
    async with serving(settings, users=False):
        assert bait.read_bytes() == b""
        _private_regular_file(target)
        assert len(target.read_text().strip()) >= 16
