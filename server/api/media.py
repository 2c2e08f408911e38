"""Authorised media: recordings, the review video and evidence thumbnails, with HTTP Range.

No public or guessable URLs: a file is reachable only by session id + a name that the
session's own metadata (segments) or findings (thumbnails) list, only by reviewers and
admins, and every viewing is written to the audit chain (once per viewer, file and
``server.audit_repeats.WINDOW``, so a player's many Range requests do not flood the log).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server import audit_repeats
from server.api import conditional
from server.api.auth import require_user
from server.api.errors import NotFound, error_response
from server.archive import key_of
from server.blobs import StorageUnavailable
from server.context import CTX, AppContext
from server.reviews import actor_of, load_session
from server.session_format import read_metadata
from server.store.models import FindingRow, User

log = logging.getLogger("kesu.media")

CHUNK = 256 * 1024
REVIEW_VIDEOS = ("review.mp4", "review.webm")
SEGMENT_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}-[0-9]{3}\.(mkv|webm|mp4)$")
EVIDENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\.(jpg|jpeg|png)$")
CONTENT_TYPES = {
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


class RangeNotSatisfiable(Exception):
    pass


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """One ``bytes=`` range of a file of ``size`` bytes; None = send the whole file.

    Malformed headers and multi-range requests are ignored (RFC 9110 allows that); a
    well-formed range that lies outside the file raises RangeNotSatisfiable (416).
    """
    if not header:
        return None
    # At most 18 digits: more cannot be a file offset, and int() of thousands raises.
    m = re.fullmatch(r"\s*bytes\s*=\s*([0-9]{0,18})\s*-\s*([0-9]{0,18})\s*", header)
    if m is None:
        return None
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(end, size - 1))


def media_path(session_dir: Path, metadata: dict[str, Any], name: str) -> Path:
    """A recording or review video named in the session's metadata, or 404."""
    segments = metadata.get("segments")
    listed = {
        str(seg.get("file"))
        for seg in (segments if isinstance(segments, list) else [])
        if isinstance(seg, dict)
    }
    if not (name in REVIEW_VIDEOS or (SEGMENT_RE.match(name) and name in listed)):
        raise NotFound("no such media file")
    return session_dir / name


def evidence_name(frame: object) -> str | None:
    """The thumbnail file name a finding's ``evidence.frame`` refers to."""
    if not isinstance(frame, str):
        return None
    name = frame.removeprefix("evidence/")
    return name if EVIDENCE_RE.match(name) else None


async def _authorise(request: web.Request) -> tuple[AppContext, User, str]:
    ctx = request.app[CTX]
    user = require_user(request, "reviewer")
    session_id = request.match_info["session_id"]
    async with ctx.db.read() as s:
        # 404 outside the reviewer's institution and for a session not in review.
        await load_session(s, session_id, viewer=user)
    return ctx, user, session_id


async def recording(request: web.Request) -> web.StreamResponse:
    """``GET /api/media/{session_id}/{name}``: a segment file or the review video."""
    ctx, user, session_id = await _authorise(request)
    sdir = ctx.settings.sessions_dir / session_id
    metadata = await asyncio.to_thread(read_metadata, sdir)
    if not metadata and ctx.archive is not None:
        try:
            raw = await ctx.archive.store.get_bytes(key_of(session_id, "metadata.json"))
            metadata = json.loads(raw)
        except (FileNotFoundError, ValueError):
            metadata = {}
    path = media_path(
        sdir, metadata if isinstance(metadata, dict) else {}, request.match_info["name"]
    )
    return await serve_file(request, ctx, user, session_id, path, "media.view")


async def evidence(request: web.Request) -> web.StreamResponse:
    """``GET /api/media/{session_id}/evidence/{name}``: a thumbnail a finding refers to."""
    ctx, user, session_id = await _authorise(request)
    name = request.match_info["name"]
    async with ctx.db.read() as s:
        frames = (
            await s.execute(select(FindingRow.evidence).where(FindingRow.session_id == session_id))
        ).scalars()
        known = {evidence_name(ev.get("frame")) for ev in frames if isinstance(ev, dict)}
    if not EVIDENCE_RE.match(name) or name not in known:
        raise NotFound("no such evidence file")
    path = ctx.settings.sessions_dir / session_id / "evidence" / name
    return await serve_file(request, ctx, user, session_id, path, "evidence.view")


async def _audit_view(
    ctx: AppContext, user: User, session_id: str, file: str, action: str, rng: ByteRange | None
) -> None:
    """One entry per viewer, file and window: the first request of a playback is logged."""
    detail: dict[str, object] = {"file": file}
    if rng is not None:
        detail["range"] = [rng.start, rng.end]
    async with ctx.db.session() as s:
        await audit_repeats.record_once(s, actor_of(user), action, session_id, detail, ("file",))


@dataclass(frozen=True)
class _Source:
    """What is served: its size and tag, a reader of its bytes, and a close of what it holds."""

    size: int
    etag: str
    read: Callable[[int, int], AsyncIterator[bytes]]
    close: Callable[[], Awaitable[None]]


async def serve_file(
    request: web.Request, ctx: AppContext, user: User, session_id: str, path: Path, action: str
) -> web.StreamResponse:
    """Stream ``path`` (all, or the requested byte range) after auditing the view; a file
    not on local disk is read from object storage (``storage_url``) with ranged GETs."""
    rel = path.relative_to(ctx.settings.sessions_dir / session_id).as_posix()
    source = await _local_source(path) or await _archive_source(ctx, session_id, rel)
    try:
        return await _send(request, ctx, user, session_id, rel, action, source)
    finally:
        await source.close()


async def _send(
    request: web.Request,
    ctx: AppContext,
    user: User,
    session_id: str,
    rel: str,
    action: str,
    source: _Source,
) -> web.StreamResponse:
    size, etag = source.size, source.etag
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Type": CONTENT_TYPES.get(Path(rel).suffix.lower(), "application/octet-stream"),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
        "ETag": etag,
    }
    outcome = conditional.evaluate(request, etag)
    if outcome is conditional.Outcome.FAILED:
        refused = error_response(
            412, "precondition_failed", "the file is not the version If-Match names"
        )
        refused.headers["ETag"] = etag
        return refused
    if outcome is conditional.Outcome.NOT_MODIFIED:
        return web.Response(
            status=304, headers={"ETag": etag, "Cache-Control": "private, no-store"}
        )
    ranges = request.headers.getall("Range", [])
    # Range is ignored when If-Range names another version (RFC 9110 13.1.5) and when sent
    # twice (a field of one value: two are no valid range).
    asked = ranges[0] if len(ranges) == 1 and outcome is conditional.Outcome.SEND else None
    try:
        rng = parse_range(asked, size)
    except RangeNotSatisfiable:
        refused = error_response(
            416, "range_not_satisfiable", f"the file has {size} bytes", {"size": size}
        )
        refused.headers["Content-Range"] = f"bytes */{size}"
        return refused
    await _audit_view(ctx, user, session_id, rel, action, rng)
    start, length = (0, size) if rng is None else (rng.start, rng.length)
    resp = web.StreamResponse(status=200 if rng is None else 206, headers=headers)
    if rng is not None:
        resp.headers["Content-Range"] = f"bytes {rng.start}-{rng.end}/{size}"
    resp.content_length = length
    await resp.prepare(request)
    if request.method == "HEAD":
        return resp
    try:
        async for block in source.read(start, length):
            await resp.write(block)
        await resp.write_eof()
    except ConnectionResetError:
        # Players drop connections when they seek: normal, not an error.
        log.debug("client went away during %s", rel)
    except StorageUnavailable:
        # The status is sent already: the body stops short of its Content-Length and the
        # connection is closed, so the player sees a broken transfer, not a short file.
        log.warning("object store failed while sending %s of %s", rel, session_id)
        resp.force_close()
    return resp


def _open_regular(path: Path) -> tuple[int, os.stat_result] | None:
    """A descriptor of ``path`` and its fstat, or None when it is no regular file. The tag
    and the bytes both come from this descriptor: a file replaced after it was opened (a
    review video made again, a segment remuxed) is neither tagged nor read half."""
    try:
        # O_NONBLOCK: a FIFO put in the folder must not hang the thread in open().
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


async def _local_source(path: Path) -> _Source | None:
    opened = await asyncio.to_thread(_open_regular, path)
    if opened is None:
        return None
    fd, st = opened

    async def read(start: int, length: int) -> AsyncIterator[bytes]:
        for at in range(start, start + length, CHUNK):
            block = await asyncio.to_thread(os.pread, fd, min(CHUNK, start + length - at), at)
            if not block:
                break
            yield block

    async def close() -> None:
        os.close(fd)  # not in a thread: a cancelled request must still give it back

    return _Source(st.st_size, conditional.local_etag(st), read, close)


async def _archive_source(ctx: AppContext, session_id: str, rel: str) -> _Source:
    if ctx.archive is None:
        raise NotFound("no such media file")
    store, key = ctx.archive.store, key_of(session_id, rel)
    try:
        size, ident = await store.stat(key)
    except FileNotFoundError:
        raise NotFound("no such media file") from None

    async def read(start: int, length: int) -> AsyncIterator[bytes]:
        for at in range(start, start + length, CHUNK):
            yield await store.get_range(key, at, min(at + CHUNK, start + length))

    async def close() -> None:
        return None

    return _Source(size, conditional.etag_of("object", ident, size), read, close)


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/media/{session_id}/evidence/{name}", evidence)
    r.add_get("/api/media/{session_id}/{name}", recording)
