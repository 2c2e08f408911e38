"""What a recorder holds before its file starts (the pre-roll), and when to start the file.

The file starts on a video keyframe: from the first one, video (and the audio that came
with it) is held for ``sync_wait_s`` or until every track has sent ``SYNC_REPORTS`` RTCP
sender reports, whichever is sooner, so that :class:`~server.rtc.sync.AvClock` can put both
tracks on the sender's clock before anything is written. Audio before that keyframe is
dropped when the file starts. With no video keyframe at all, ``video_wait_s`` of audio
starts the file with audio only (a participant whose camera sends nothing keeps its voice).

Mux-thread state only (the recorder's :class:`~server.rtc.recorder.SegmentRecorder`).
"""

from __future__ import annotations

from collections import deque

from server.rtc.sync import AvClock

MAX_PREROLL_VIDEO = 900  # frames buffered while waiting for sync (~30 s at 30 fps)
MAX_PREROLL_AUDIO = 1500
MIN_AUDIO_ONLY_PACKETS = 100  # 2 s of 20 ms Opus packets: less is not worth a segment
SYNC_REPORTS = 3  # start early once every track has sent this many RTCP sender reports

Placed = tuple[str, float, bytes, bool]  # kind, capture time (sender clock), data, keyframe


class PreRoll:
    """The packets of one recorder that came before its file started."""

    def __init__(self, clock: AvClock, has_audio: bool) -> None:
        self._clock = clock
        self._has_audio = has_audio
        self.video: list[tuple[int, bytes, bool, float]] = []  # pts, data, keyframe, arrival
        self.audio: deque[tuple[int, bytes, float]] = deque(maxlen=MAX_PREROLL_AUDIO)
        self._first_key_arrival: float | None = None
        self._audio_span: tuple[float, float] | None = None  # first, last audio arrival

    def add_audio(self, pts: int, data: bytes, arrival: float) -> None:
        first = self._audio_span[0] if self._audio_span else arrival
        self._audio_span = (first, arrival)
        self.audio.append((pts, data, arrival))

    def add_video(self, pts: int, data: bytes, key: bool, arrival: float) -> None:
        """A video frame: the first one must be a keyframe the file can start on."""
        if not self.video:
            self._first_key_arrival = arrival
        self.video.append((pts, data, key, arrival))

    def sync_due(self, now: float, sync_wait_s: float) -> bool:
        """Video has come and the file can start: the tracks' reports are in, or waited for
        long enough, or the pre-roll is full."""
        if not self.video:
            return False
        assert self._first_key_arrival is not None
        # Wait for reports: several per track let AvClock discard late-stamped ones.
        waited = now - self._first_key_arrival >= sync_wait_s
        kinds = ("video", "audio") if self._has_audio else ("video",)
        reports = all(self._clock.report_count(k) >= SYNC_REPORTS for k in kinds)
        return reports or waited or len(self.video) >= MAX_PREROLL_VIDEO

    def audio_only_due(self, video_wait_s: float | None) -> bool:
        """Audio has come for ``video_wait_s`` and no video keyframe at all."""
        if video_wait_s is None or not self._has_audio or self._audio_span is None:
            return False
        first, last = self._audio_span
        return not self.video and bool(self.audio) and last - first >= video_wait_s

    def audio_worth_keeping(self, video_wait_s: float | None) -> bool:
        """At the recorder's stop with no video: enough audio for an audio-only file."""
        return (
            video_wait_s is not None
            and self._has_audio
            and len(self.audio) >= MIN_AUDIO_ONLY_PACKETS
        )

    def take(self) -> list[Placed]:
        """Everything held, placed and in time order (audio before the file's first
        keyframe included: the recorder drops it when writing); empties the pre-roll.
        Placed track by track in arrival order (placing may re-anchor a track)."""
        items = [
            ("video", self._clock.place("video", pts, arrival), data, key)
            for pts, data, key, arrival in self.video
        ]
        if self._clock.seen("audio"):
            items += [
                ("audio", self._clock.place("audio", pts, arrival), data, True)
                for pts, data, arrival in self.audio
            ]
        items.sort(key=lambda it: it[1])
        self.video, self.audio = [], deque()
        return items

    def take_audio(self) -> list[Placed]:
        """The audio held, placed in arrival order (an audio-only file); empties it."""
        items = [
            ("audio", self._clock.place("audio", pts, arrival), data, True)
            for pts, data, arrival in self.audio
        ]
        self.audio = deque()
        return items
