"""Where a room made again for a session picks up: each role's last recorded end (the next
segment records a gap from there) and the connection numbering, read from metadata.json."""

from __future__ import annotations

from datetime import datetime

from server.rtc.participant import ROLES
from server.session_dir import SessionDir
from server.session_format import SEGMENT_INTERRUPTED


def last_ends(sdir: SessionDir) -> dict[str, tuple[datetime, str]]:
    """Per role: when its newest recorded segment ended, and why (the leave reason, or
    ``server_interrupted`` for a segment cut by a crash)."""
    meta = sdir.metadata
    reasons = {
        str(e["detail"].get("segment")): str(e["detail"].get("reason", "leave"))
        for e in meta.get("events", [])
        if e.get("type") == "leave" and isinstance(e.get("detail"), dict)
    }
    out: dict[str, tuple[datetime, str]] = {}
    for seg in sdir.segments():
        if seg.ended_at is None or seg.participant not in ROLES:
            continue
        if seg.status == SEGMENT_INTERRUPTED:
            why = "server_interrupted"
        else:
            why = reasons.get(seg.file, "leave")
        previous = out.get(seg.participant)
        if previous is None or seg.ended_at >= previous[0]:
            out[seg.participant] = (seg.ended_at, why)
    return out


def last_connection(sdir: SessionDir) -> int:
    """The highest connection number already used in this session (0 for a new one)."""
    numbers = [
        e["detail"].get("connection")
        for e in sdir.metadata.get("events", [])
        if e.get("type") == "join" and isinstance(e.get("detail"), dict)
    ]
    return max((n for n in numbers if isinstance(n, int)), default=0)
