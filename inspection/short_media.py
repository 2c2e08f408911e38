"""Recordings cut or replaced after the server finished them.

The server writes each finished segment's size and end time into ``metadata.json``. A file
that is no longer that size (truncated on a failing disk, an incomplete copy or upload) and
whose media ends before the segment did has lost the rest: that stretch is a gap in the
recording, not a customer who stayed silent, so it is reported as such (``media.gap`` with
cause ``file_changed``) instead of surfacing only as answers that were "missing".
"""

from __future__ import annotations

from collections.abc import Sequence

from inspection.media import MediaInfo, Track
from inspection.report import Participant
from inspection.rules.evidence import Gap


def short_media_gaps(probed: Sequence[tuple[Participant, Track, MediaInfo]]) -> list[Gap]:
    """A gap from where each changed file's media ends to where its segment ended."""
    out = []
    for who, track, info in probed:
        if track.recorded_bytes is None or track.recorded_end_s is None:
            continue
        try:
            size = track.path.stat().st_size
        except OSError:
            continue
        media_end = track.offset_s + info.duration_s
        if size == track.recorded_bytes or track.recorded_end_s <= media_end:
            continue
        detail = {
            "file": track.path.name,
            "bytes": size,
            "recorded_bytes": track.recorded_bytes,
            "media_end_s": round(media_end, 3),
        }
        out.append(Gap(who, media_end, track.recorded_end_s, "file_changed", detail))
    return out
