"""Authorised media: recordings, review video and evidence thumbnails with HTTP Range."""

from __future__ import annotations

import os
from typing import Any

import av
import pytest
from sqlalchemy import event, select

from server.api.media import ByteRange, RangeNotSatisfiable, parse_range
from server.store.models import AuditEntry
from tests.conftest import RunningServer
from tests.review_fixtures import THUMB, build_session


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=10-", ByteRange(10, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes = 5 - 6", ByteRange(5, 6)),
        ("bytes=9-3", None),  # invalid: ignored, whole file
        ("items=0-1", None),
        ("bytes=0-1,5-6", None),  # multi-range: ignored, whole file
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_parse_range_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


async def _views(server: RunningServer, session_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    async with server.ctx.db.session() as s:
        rows = await s.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.detail)
            .where(
                AuditEntry.session_id == session_id,
                AuditEntry.action.in_(("media.view", "evidence.view")),
            )
            .order_by(AuditEntry.seq)
        )
        return [(a, b, dict(c)) for a, b, c in rows.all()]


async def test_recording_full_and_ranges(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx, review_video=True)
    data = built.file("salesperson-000.mkv").read_bytes()
    size = len(data)
    rev = await client_factory("rev1")
    url = f"/api/media/{built.id}/salesperson-000.mkv"

    async with rev.http.get(rev.base + url) as r:
        assert r.status == 200
        assert r.headers["Accept-Ranges"] == "bytes"
        assert r.headers["Content-Type"] == "video/x-matroska"
        assert r.headers["Cache-Control"] == "private, no-store"
        assert int(r.headers["Content-Length"]) == size
        assert await r.read() == data

    for header, start, end in (
        ("bytes=0-99", 0, 99),
        (f"bytes={size - 10}-", size - 10, size - 1),
        ("bytes=-64", size - 64, size - 1),
        (f"bytes=100-{size + 500}", 100, size - 1),
    ):
        async with rev.http.get(rev.base + url, headers={"Range": header}) as r:
            assert r.status == 206, header
            assert r.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
            assert int(r.headers["Content-Length"]) == end - start + 1
            assert await r.read() == data[start : end + 1]

    async with rev.http.get(rev.base + url, headers={"Range": f"bytes={size}-"}) as r:
        assert r.status == 416
        assert r.headers["Content-Range"] == f"bytes */{size}"
        body = await r.json()
        assert body["error"]["code"] == "range_not_satisfiable"

    async with rev.http.head(rev.base + url) as r:
        assert r.status == 200 and int(r.headers["Content-Length"]) == size

    # The served bytes are a playable recording.
    out = built.dir.parent / "copy.mkv"
    out.write_bytes(data)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "vp8"
        assert c.streams.audio[0].codec_context.name == "opus"

    # One audit entry for this viewer and file, however many Range requests the player made.
    views = await _views(server, built.id)
    assert views == [("user:rev1", "media.view", {"file": "salesperson-000.mkv"})]
    admin = await client_factory("admin")
    async with admin.http.get(admin.base + url, headers={"Range": "bytes=5-9"}) as r:
        assert r.status == 206
    async with admin.http.get(admin.base + f"/api/media/{built.id}/review.mp4") as r:
        assert r.status == 200 and r.headers["Content-Type"] == "video/mp4"
        assert await r.read() == built.file("review.mp4").read_bytes()
    views = await _views(server, built.id)
    assert views[1:] == [
        ("user:admin", "media.view", {"file": "salesperson-000.mkv", "range": [5, 9]}),
        ("user:admin", "media.view", {"file": "review.mp4"}),
    ]


async def test_only_listed_files_are_served(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    (built.dir / "salesperson-007.mkv").write_bytes(b"not in the metadata")
    rev = await client_factory("rev1")
    for name in (
        "metadata.json",
        "report.json",
        "salesperson-007.mkv",  # on disk, but no segment of the session lists it
        "review.mp4",  # none made for this session
        "..%2Fkesu.db",
        "%2E%2E%2F%2E%2E%2Fkesu.db",
        "customer-000.MKV",
    ):
        status, body = await rev.get(f"/api/media/{built.id}/{name}")
        assert status == 404, name
        assert body["error"]["code"] == "not_found"
    status, _ = await rev.get("/api/media/s-0000000000000000/salesperson-000.mkv")
    assert status == 404
    assert await _views(server, built.id) == []


async def test_evidence_thumbnails(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    (built.dir / "evidence" / "other.jpg").write_bytes(b"\xff\xd8 not referenced")
    name = THUMB.removeprefix("evidence/")
    rev = await client_factory("rev1")
    status, body = await rev.get(f"/api/media/{built.id}/evidence/{name}")
    assert status == 200 and body == built.file(THUMB).read_bytes()
    assert body[:2] == b"\xff\xd8"
    status, _ = await rev.get(f"/api/media/{built.id}/evidence/other.jpg")
    assert status == 404
    status, _ = await rev.get(f"/api/media/{built.id}/evidence/..%2Fmetadata.json")
    assert status == 404
    assert await _views(server, built.id) == [("user:rev1", "evidence.view", {"file": THUMB})]


async def test_media_refuses_other_roles(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    url = f"/api/media/{built.id}/customer-000.mkv"
    anon = await client_factory()
    status, body = await anon.get(url)
    assert status == 401
    # Not even the salesperson who recorded it: recordings are for QC and compliance (R18).
    sales = await client_factory("sales1")
    status, body = await sales.get(url)
    assert status == 403 and body["error"]["code"] == "wrong_role"
    status, body = await sales.get(f"/api/media/{built.id}/evidence/{THUMB[9:]}")
    assert status == 403
    assert await _views(server, built.id) == []


async def test_if_range_sends_the_whole_file_unless_the_strong_etag_matches(
    server: RunningServer, client_factory: Any
) -> None:
    """RFC 9110 13.1.5: a Range with an If-Range that does not match the current strong
    validator gets the whole file (200). Before, the range was served whatever If-Range said
    (and no validator was ever sent), so a player resuming a review video that had been made
    again in between spliced bytes of two different files."""
    built = await build_session(server.ctx, review_video=True)
    path = built.file("review.mp4")
    data = path.read_bytes()
    rev = await client_factory("rev1")
    url = f"{rev.base}/api/media/{built.id}/review.mp4"
    async with rev.http.get(url) as r:
        assert r.status == 200
        etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    async with rev.http.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}) as r:
        assert r.status == 206 and await r.read() == data[:10]
        assert r.headers["ETag"] == etag
    for if_range in (
        '"something-else"',
        f"W/{etag}",  # a weak tag never matches If-Range
        "Wed, 21 Oct 2015 07:28:00 GMT",  # no Last-Modified is sent: a date never matches
        "Thu, 01 Jan 2099 00:00:00 GMT",
        "garbage",
    ):
        headers = {"Range": "bytes=0-9", "If-Range": if_range}
        async with rev.http.get(url, headers=headers) as r:
            assert r.status == 200, if_range
            assert "Content-Range" not in r.headers
            assert await r.read() == data, if_range
    # The file made again (same size): the old tag no longer matches.
    path.write_bytes(bytes(b ^ 0xFF for b in data))
    async with rev.http.get(url, headers={"Range": "bytes=0-9", "If-Range": etag}) as r:
        assert r.status == 200
        assert r.headers["ETag"] != etag
        assert await r.read() == path.read_bytes()
    # The other preconditions (RFC 9110 13.2.2) against the same tag.
    async with rev.http.get(url) as r:
        current = r.headers["ETag"]
    async with rev.http.get(url, headers={"If-None-Match": current}) as r:
        assert r.status == 304 and await r.read() == b""
        assert r.headers["ETag"] == current
    async with rev.http.get(url, headers={"If-Match": etag}) as r:
        assert r.status == 412
        assert (await r.json())["error"]["code"] == "precondition_failed"
    async with rev.http.get(url, headers={"If-Match": current, "Range": "bytes=0-1"}) as r:
        assert r.status == 206


async def test_tag_and_bytes_come_from_the_same_file(
    server: RunningServer, client_factory: Any
) -> None:
    """The ETag was computed from a stat() of the path and the bytes read from a later
    open() of it, with the view's audit write in between: a review video made again in that
    gap (os.replace, as every rewrite here does) was sent under the old file's tag, so a
    player resuming with If-Range spliced bytes of two files. The file is replaced from the
    audit entry's own insert (a SQLAlchemy mapper event), at the real gap."""
    built = await build_session(server.ctx, review_video=True)
    path = built.file("review.mp4")
    old = path.read_bytes()
    new = bytes(b ^ 0xFF for b in old)  # same size: only the tag can tell them apart
    url = f"/api/media/{built.id}/review.mp4"
    rev = await client_factory("rev1")
    async with rev.http.get(rev.base + url) as r:
        assert r.status == 200 and await r.read() == old
        etag = r.headers["ETag"]

    def replace(_mapper: Any, _conn: Any, entry: AuditEntry) -> None:
        if entry.action == "media.view" and entry.actor == "user:admin":
            fresh = path.with_name("review.mp4.new")
            fresh.write_bytes(new)
            os.replace(fresh, path)

    admin = await client_factory("admin")
    event.listen(AuditEntry, "after_insert", replace)
    try:
        headers = {"Range": "bytes=0-9", "If-Range": etag}
        async with admin.http.get(admin.base + url, headers=headers) as r:
            status, tag, body = r.status, r.headers["ETag"], await r.read()
    finally:
        event.remove(AuditEntry, "after_insert", replace)
    assert path.read_bytes() == new  # the file was replaced during the request
    # The range of the file the tag names (the one opened), never the new file's bytes.
    assert (status, tag, body) == (206, etag, old[:10])
    async with admin.http.get(admin.base + url, headers=headers) as r:
        assert r.status == 200 and r.headers["ETag"] != etag
        assert await r.read() == new
