"""The ``kesu.session/1`` format of a session directory's ``metadata.json``
(docs/session-format.md): safe ids, server-clock timestamps, the records it holds (segments,
events, gaps), and the ``*_s`` values derived from ``started_at`` when it is written.

These are plain functions over the metadata dict; ``server.session_dir.SessionDir`` is its
one writer.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = "kesu.session/1"
METADATA = "metadata.json"
SESSION_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
PARTICIPANT_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
SEGMENT_RECORDING = "recording"
SEGMENT_FINISHED = "finished"
SEGMENT_INTERRUPTED = "interrupted"


class InvalidSessionId(ValueError):
    """A session id (directory name) outside ``[a-z0-9-]``: path-like, empty or too long."""


def validate_session_id(session_id: str) -> str:
    """Return ``session_id`` if it is a safe directory name, else raise InvalidSessionId."""
    if not isinstance(session_id, str) or not SESSION_ID_RE.fullmatch(session_id):
        raise InvalidSessionId(f"invalid session id {session_id!r}: only [a-z0-9-], 1-64 chars")
    return session_id


def read_metadata(session_path: Path) -> dict[str, Any]:
    """A session's ``metadata.json`` for the review and media pages (blocking): {} when it
    is missing, unreadable or not an object, and the caller shows what it can without it."""
    path = session_path / METADATA
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def utc_now() -> datetime:
    """The server clock (UTC, timezone-aware)."""
    return datetime.now(UTC)


def iso_z(dt: datetime) -> str:
    """``2026-11-22T03:00:00.000Z`` (UTC, milliseconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text: str | None) -> datetime | None:
    """Inverse of :func:`iso_z` (accepts any ISO 8601 form with a ``Z`` or an offset)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class SegmentInfo:
    """One participant's media file for one connection segment."""

    participant: str
    index: int
    file: str
    path: Path
    started_at: datetime | None
    ended_at: datetime | None
    start_s: float | None
    end_s: float | None
    status: str
    bytes: int | None
    sha256: str | None


def new_metadata(session_id: str) -> dict[str, Any]:
    """The metadata of a session directory not written yet."""
    return {
        "schema": SCHEMA,
        "session_id": session_id,
        "status": "created",
        "created_at": iso_z(utc_now()),
        "started_at": None,
        "ended_at": None,
        "segments": [],
        "events": [],
        "gaps": [],
    }


def new_segment(participant: str, index: int) -> dict[str, Any]:
    """A segment just allocated: ``<participant>-NNN.mkv``, recording, no media yet."""
    return {
        "participant": participant,
        "index": index,
        "file": f"{participant}-{index:03d}.mkv",
        "opened_at": iso_z(utc_now()),
        "started_at": None,
        "ended_at": None,
        "status": SEGMENT_RECORDING,
        "bytes": None,
        "sha256": None,
    }


def new_event(
    type: str,
    participant: str | None,
    node: str | None,
    detail: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    """An event record (its ``detail`` copied)."""
    return {
        "at": iso_z(at),
        "type": type,
        "participant": participant,
        "node": node,
        "detail": copy.deepcopy(detail) if detail else {},
    }


def secs(at: datetime | None, started: datetime | None) -> float | None:
    """Seconds from ``started`` to ``at``, None when either is unknown."""
    if at is None or started is None:
        return None
    return round((at - started).total_seconds(), 3)


def segment_info(directory: Path, seg: dict[str, Any], started: datetime | None) -> SegmentInfo:
    """A segment record of the session in ``directory`` as a ``SegmentInfo``."""
    seg_start, seg_end = parse_iso(seg.get("started_at")), parse_iso(seg.get("ended_at"))
    return SegmentInfo(
        participant=seg["participant"],
        index=seg["index"],
        file=seg["file"],
        path=directory / seg["file"],
        started_at=seg_start,
        ended_at=seg_end,
        start_s=secs(seg_start, started),
        end_s=secs(seg_end, started),
        status=seg["status"],
        bytes=seg.get("bytes"),
        sha256=seg.get("sha256"),
    )


def derived(meta: dict[str, Any]) -> dict[str, Any]:
    """A copy of the metadata as written: absolute times plus ``*_s`` relative to
    ``started_at``."""
    meta = copy.deepcopy(meta)
    started = parse_iso(meta.get("started_at"))
    for seg in meta["segments"]:
        seg["start_s"] = secs(parse_iso(seg.get("started_at")), started)
        seg["end_s"] = secs(parse_iso(seg.get("ended_at")), started)
    for event in meta["events"]:
        event["t_s"] = secs(parse_iso(event["at"]), started)
    for gap in meta["gaps"]:
        gap["start_s"] = secs(parse_iso(gap["started_at"]), started)
        gap["end_s"] = secs(parse_iso(gap["ended_at"]), started)
    return meta
