"""SessionDir: ids, atomic metadata, events, segments with hashes, gaps, crash recovery."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.session_dir import SessionDir
from server.session_format import InvalidSessionId, iso_z, parse_iso, validate_session_id
from tests.session_recovery import recover_sessions


def read_meta(sdir: SessionDir) -> dict:
    return json.loads((sdir.path / "metadata.json").read_text("utf-8"))


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "ABC", "s_1", "-x", ".", "x" * 65, "s 1", "é"])
def test_rejects_unsafe_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidSessionId):
        validate_session_id(bad)
    with pytest.raises(InvalidSessionId):
        SessionDir.create(tmp_path, bad)
    assert list(tmp_path.iterdir()) == []


def test_create_writes_schema_and_fields(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-0a1b", template_id="mini", policy={"premium": 1})
    meta = read_meta(sdir)
    assert meta["schema"] == "kesu.session/1"
    assert meta["session_id"] == "s-0a1b"
    assert meta["status"] == "created"
    assert meta["template_id"] == "mini" and meta["policy"] == {"premium": 1}
    assert meta["created_at"].endswith("Z")
    assert sdir.exists()
    assert not list(sdir.path.glob(".*tmp"))


def test_one_object_per_directory(tmp_path: Path) -> None:
    a = SessionDir(tmp_path / "s-1")
    b = SessionDir(str(tmp_path / "s-1"))
    assert a is b
    assert not a.exists()


async def test_events_before_and_after_start(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-ev")
    t0 = datetime(2026, 1, 2, 3, 4, 5, 0, UTC)
    await sdir.add_event("join", participant="salesperson", at=t0 - timedelta(seconds=1.5))
    path = await sdir.open_segment("salesperson")
    assert path == sdir.path / "salesperson-000.mkv"
    assert read_meta(sdir)["status"] == "live"
    await sdir.start_segment(path, t0)
    ev = await sdir.add_event("node", node="consent", detail={"k": 1}, at=t0 + timedelta(seconds=2))
    assert ev["t_s"] == 2.0 and ev["node"] == "consent" and ev["detail"] == {"k": 1}
    meta = read_meta(sdir)
    assert meta["started_at"] == iso_z(t0)
    assert [e["t_s"] for e in meta["events"]] == [-1.5, 2.0]
    # Stamped with the server clock when no time is given.
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    ev = await sdir.add_event("consent", participant="customer")
    assert before <= parse_iso(ev["at"]) <= datetime.now(UTC)


async def test_concurrent_events_keep_call_order(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-many")
    await asyncio.gather(*(sdir.add_event("node", node=f"n{i}") for i in range(40)))
    meta = read_meta(sdir)
    assert [e["node"] for e in meta["events"]] == [f"n{i}" for i in range(40)]


async def test_segments_hash_and_discard(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-seg")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    p0 = await sdir.open_segment("customer")
    await sdir.start_segment(p0, t0 + timedelta(seconds=1))
    p0.write_bytes(b"media" * 1000)
    info = await sdir.close_segment(p0, ended_at=t0 + timedelta(seconds=11))
    assert info is not None
    assert info.sha256 == hashlib.sha256(b"media" * 1000).hexdigest()
    assert info.bytes == 5000 and info.status == "finished"
    assert (info.start_s, info.end_s) == (0.0, 10.0)

    # A segment whose recorder never wrote anything is dropped; its index is reused.
    p1 = await sdir.open_segment("customer")
    assert p1.name == "customer-001.mkv"
    assert await sdir.close_segment(p1) is None
    p1b = await sdir.open_segment("customer")
    assert p1b.name == "customer-001.mkv"

    # A second participant starting earlier moves started_at; *_s values follow.
    p2 = await sdir.open_segment("salesperson")
    await sdir.start_segment(p2, t0)
    meta = read_meta(sdir)
    assert meta["started_at"] == iso_z(t0)
    seg0 = next(s for s in meta["segments"] if s["file"] == "customer-000.mkv")
    assert (seg0["start_s"], seg0["end_s"]) == (1.0, 11.0)
    assert await sdir.file_hashes() == {"customer-000.mkv": info.sha256}


async def test_gap_and_finish(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-gap")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    p = await sdir.open_segment("salesperson")
    await sdir.start_segment(p, t0)
    await sdir.add_gap("customer", t0 + timedelta(seconds=120.5), t0 + timedelta(seconds=131))
    p.write_bytes(b"x")
    await sdir.close_segment(p, ended_at=t0 + timedelta(seconds=200))
    await sdir.finish(at=t0 + timedelta(seconds=201))
    meta = read_meta(sdir)
    assert meta["gaps"][0]["participant"] == "customer"
    assert (meta["gaps"][0]["start_s"], meta["gaps"][0]["end_s"]) == (120.5, 131.0)
    assert [e["type"] for e in meta["events"]] == ["gap", "end"]
    assert meta["status"] == "ended" and meta["ended_at"] == iso_z(t0 + timedelta(seconds=201))


async def test_mark_interrupted_after_crash(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-crash")
    t0 = datetime.now(UTC) - timedelta(seconds=30)
    done = await sdir.open_segment("salesperson")
    await sdir.start_segment(done, t0)
    done.write_bytes(b"a" * 10)
    await sdir.close_segment(done, ended_at=t0 + timedelta(seconds=5))
    cut = await sdir.open_segment("salesperson")
    await sdir.start_segment(cut, t0 + timedelta(seconds=6))
    cut.write_bytes(b"b" * 100)
    never = await sdir.open_segment("customer")  # allocated, nothing written
    del never
    mtime = (t0 + timedelta(seconds=20)).timestamp()
    os.utime(cut, (mtime, mtime))

    # A new process reads the directory fresh: drop the cached object first.
    SessionDir._instances.clear()
    fresh = SessionDir(sdir.path)
    assert fresh is not sdir and fresh.status == "live"
    assert await recover_sessions(tmp_path) == ["s-crash"]
    meta = read_meta(fresh)
    assert meta["status"] == "interrupted"
    segs = {s["file"]: s for s in meta["segments"]}
    assert set(segs) == {"salesperson-000.mkv", "salesperson-001.mkv"}
    assert segs["salesperson-000.mkv"]["status"] == "finished"
    assert segs["salesperson-001.mkv"]["status"] == "interrupted"
    assert segs["salesperson-001.mkv"]["sha256"] == hashlib.sha256(b"b" * 100).hexdigest()
    assert segs["salesperson-001.mkv"]["end_s"] == pytest.approx(20.0, abs=0.01)
    assert meta["events"][-1]["type"] == "interrupted"
    assert await recover_sessions(tmp_path) == []
