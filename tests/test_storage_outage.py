"""Object storage (a real SeaweedFS behind a gate that can be shut) unreachable: finished
segments stay on local disk and are archived once the store is back, without a restart;
a reviewer's media read from the store is a 503 ``storage_unavailable``, not a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from server import archive
from server.archive import Archiver
from server.blobs import store_from_settings
from server.localservers import S3Server, seaweed_s3
from server.session_dir import SessionDir
from server.settings import Settings
from tests.conftest import Client, add_test_users, make_settings, start_server, wait_for
from tests.tcp_gate import TcpGate


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweed_s3(tmp_path_factory.mktemp("weed")) as server:
        yield server


def _storage(s3: S3Server, gate: TcpGate, prefix: str) -> dict[str, Any]:
    return {
        "storage_url": f"s3://{s3.bucket}/{prefix}",
        "storage_endpoint": f"http://127.0.0.1:{gate.port}",
        "storage_access_key": s3.access_key,
        "storage_secret_key": s3.secret_key,
        "storage_allow_http": True,
    }


def _gate(s3: S3Server) -> TcpGate:
    port = urlsplit(s3.endpoint).port
    assert port is not None
    return TcpGate(port)


async def test_segments_are_archived_once_the_store_is_back(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Give up the first round at once and try again soon (60 s in production).
    monkeypatch.setattr(archive, "RETRIES", 1)
    monkeypatch.setattr(archive, "RETRY_LATER_S", 0.2, raising=False)
    gate = _gate(s3)  # shut: nothing listens on its port
    store = store_from_settings(Settings(data_dir=tmp_path, **_storage(s3, gate, "o1")))
    assert store is not None
    root = tmp_path / "sessions"
    root.mkdir()
    archiver = Archiver(store, root)
    caplog.set_level(logging.WARNING, logger="kesu.archive")
    await archiver.start()
    try:
        sdir = SessionDir.create(root, "s3-outage", template_id="mini")
        seg = await sdir.open_segment("agent")
        seg.write_bytes(b"recorded media " * 1000)
        await sdir.close_segment(seg)
        await wait_for(lambda: "archiving s3-outage failed" in caplog.text, limit_s=60)
        assert (root / "s3-outage" / "agent-000.mkv").is_file()
        await gate.open()
        await wait_for(lambda: bool(sdir.metadata["segments"][0].get("archived")), limit_s=60)
    finally:
        await archiver.stop()
        await gate.shut()
    assert (root / "s3-outage" / "agent-000.mkv").is_file()  # kept: retention's to remove


async def test_media_from_an_unreachable_store_is_503(s3: S3Server, tmp_path: Path) -> None:
    from tests.review_fixtures import build_session

    gate = _gate(s3)
    await gate.open()
    srv = await start_server(make_settings(tmp_path, **_storage(s3, gate, "o2")))
    rev = Client(srv.url)
    try:
        await add_test_users(srv.ctx)
        built = await build_session(srv.ctx)
        sdir = SessionDir(built.dir)
        await wait_for(lambda: bool(sdir.metadata["segments"][0].get("archived")), limit_s=60)
        local = built.file("salesperson-000.mkv")
        data = local.read_bytes()
        local.unlink()  # only the store has it now
        await rev.login("rev1")
        path = f"/api/media/{built.id}/salesperson-000.mkv"
        await gate.shut()
        status, body = await rev.get(path)
        assert status == 503 and body["error"]["code"] == "storage_unavailable", body
        assert body["error"]["details"]["retry_after_s"] > 0
        await gate.open()
        status, body = await rev.get(path)
        assert status == 200 and body == data
    finally:
        await rev.close()
        await srv.runner.cleanup()
        await gate.shut()
