"""A session's metadata made final after a crash: segments still ``recording`` hashed and kept
as ``interrupted`` (ended at the file's last write; a file no media reached is dropped), the
session ``interrupted``, and an ``interrupted`` event stamped with the last flushed media
rather than the recovery time (which goes in its detail)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.durable_files import hash_if_present
from server.session_format import (
    SEGMENT_INTERRUPTED,
    SEGMENT_RECORDING,
    SegmentInfo,
    iso_z,
    new_event,
    parse_iso,
    segment_info,
)


def interrupt(
    meta: dict[str, Any], directory: Path, reason: str, recovered_at: datetime
) -> list[SegmentInfo]:
    """Change ``meta`` (the metadata of the session in ``directory``) in place; returns the
    segments it finalised. Blocking: hashes the files."""
    done: list[SegmentInfo] = []
    started = parse_iso(meta.get("started_at"))
    for seg in list(meta["segments"]):
        if seg["status"] != SEGMENT_RECORDING:
            continue
        path = directory / seg["file"]
        digest = hash_if_present(path)
        if digest is None:
            meta["segments"].remove(seg)
            continue
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        seg["started_at"] = seg["started_at"] or seg.get("opened_at")
        seg.update(ended_at=iso_z(mtime), status=SEGMENT_INTERRUPTED)
        seg["bytes"], seg["sha256"] = digest
        if started is None and seg["started_at"]:
            started = parse_iso(seg["started_at"])
            meta["started_at"] = seg["started_at"]
        done.append(segment_info(directory, seg, started))
    meta["status"] = "interrupted"
    ends = [parse_iso(s.get("ended_at")) for s in meta["segments"]]
    stamps = [e for e in ends if e is not None]
    stamps += [parse_iso(e["at"]) or recovered_at for e in meta["events"]]
    last_media = max(stamps, default=recovered_at)
    detail = {
        "segments": [s.file for s in done],
        "reason": reason,
        "recovered_at": iso_z(recovered_at),
    }
    meta["events"].append(
        new_event("interrupted", None, None, detail, min(last_media, recovered_at))
    )
    return done
