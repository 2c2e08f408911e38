"""A room's recordings in the session directory: each connection's segment opened with its
recorder, stamped when the recording starts (with the gap since that role's last segment
ended), and closed with its end time; or, when the cluster took the session away, stopped
with the file's bytes left as they were."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from server.rtc.participant import Participant
from server.rtc.recorder import SegmentRecorder
from server.rtc.recorder_stats import RecorderStats
from server.rtc.resume import last_ends
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from server.session_format import SegmentInfo

Emit = Callable[..., None]  # Room._emit(type, participant, **detail)


class RoomSegments:
    """The segments of one room, finalised ones kept in order."""

    def __init__(self, session_dir: SessionDir, settings: RtcSettings, emit: Emit) -> None:
        self.session_dir = session_dir
        self.settings = settings
        self._emit = emit
        self._finished: list[SegmentInfo] = []
        # Where each role's recording last stopped, and why: the next segment records a gap
        # from there. A room made again for the same session (after a restart, or after an
        # empty room was released) picks up from metadata.json.
        self._last_end: dict[str, tuple[datetime, str]] = last_ends(session_dir)
        # Roles with a closed segment that lost media it could not write (a full or failing
        # disk): gone for good, so Room.recording_failed keeps saying so after a rollover or
        # a rejoin (the room outlasts every rejoin the rejoin window allows).
        self.failed: set[str] = set()

    @property
    def finished(self) -> list[SegmentInfo]:
        """Segments finalised so far."""
        return list(self._finished)

    async def open(
        self,
        p: Participant,
        video_codec: str,
        request_keyframe: Callable[[], None],
        on_started: Callable[[datetime], None],
        on_video: Callable[[], None],
    ) -> None:
        """Open ``p``'s next segment and start its recorder."""
        s = self.settings
        p.segment = await self.session_dir.open_segment(p.role)
        p.start_task = None
        # The stats of a segment closed before (an audio-only one that video ends): left as
        # the participant's, the room's counters read 0 video recorded for the rest of the
        # connection, and a recording that went on looked stopped.
        p.next_recorder()
        p.recorder = SegmentRecorder(
            p.segment,
            video_codec,
            request_keyframe=request_keyframe,
            on_started=on_started,
            on_video=on_video,
            video_wait_s=s.video_wait_s,
            sync_wait_s=s.sync_wait_s,
            cluster_time_limit_ms=s.cluster_time_limit_ms,
            queue_size=s.recorder_queue,
            stop_timeout_s=s.stop_timeout_s,
        )
        p.recorder.start()

    async def started(self, p: Participant, started_at: datetime) -> None:
        """``p``'s recording started: stamp the segment, and the gap since the last one."""
        assert p.segment is not None
        await self.session_dir.start_segment(p.segment, started_at)
        if p.recorder is not None and p.recorder.stats.audio_only:
            # Said in metadata.json, so review and inspection know the picture is missing.
            await self.session_dir.add_event(
                "audio_only", participant=p.role, detail={"segment": p.segment.name}
            )
        self._emit(
            "segment_started", p.role, file=p.segment.name, started_at=started_at.isoformat()
        )
        previous = self._last_end.pop(p.role, None)
        if previous is not None:
            previous_end, why = previous
            await self.session_dir.add_gap(p.role, previous_end, started_at, reason=why)
            gap = (started_at - previous_end).total_seconds()
            self._emit("gap", p.role, duration_s=round(gap, 3), reason=why)

    async def close(
        self, p: Participant, stats: RecorderStats | None, reason: str
    ) -> SegmentInfo | None:
        """Finalise ``p``'s segment (its recorder stopped, with ``stats``), ended at the last
        packet the recorder wrote or now, whichever is earlier."""
        if stats is not None and stats.write_errors:
            self.failed.add(p.role)
        if p.segment is None:
            return None
        ended_at = datetime.now(UTC)
        if stats is not None and stats.server_end is not None:
            ended_at = min(ended_at, datetime.fromtimestamp(stats.server_end, UTC))
        info = await self.session_dir.close_segment(p.segment, ended_at)
        if info is not None:
            self._finished.append(info)
            self._last_end[p.role] = (ended_at, reason)
            self._emit("segment_closed", p.role, file=info.file, bytes=info.bytes)
        return info

    async def abandon(self, p: Participant) -> None:
        """Stop ``p``'s recorder leaving its segment's bytes as they were: closing a recorder
        appends the container's index, so the file is copied first and put back after."""
        kept = await asyncio.to_thread(_keep_copy, p.segment)
        if p.recorder is not None:
            await p.recorder.stop()
        if kept is not None and p.segment is not None:
            await asyncio.to_thread(os.replace, kept, p.segment)


def _keep_copy(path: Path | None) -> Path | None:
    """A copy of ``path`` beside it (None if there is no file)."""
    if path is None or not path.is_file():
        return None
    copy = path.with_name(f".{path.name}.kept")
    shutil.copyfile(path, copy)
    return copy
