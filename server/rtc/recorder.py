"""Crash-safe Matroska recording of one participant's encoded audio and video (no decoding).

Packets arrive on the event loop (:meth:`SegmentRecorder.push`, never blocks) and are
muxed on a dedicated thread through a bounded queue, drained every ``POLL_S`` (so the
thread wakes 20 times a second, not once per packet). The file starts on a video keyframe
after ``sync_wait_s`` of pre-roll (or sooner once both tracks sent a few RTCP sender
reports), so audio and video can be put on the sender's clock; audio before that keyframe
is dropped (server/rtc/preroll.py). Clusters are cut every ``cluster_time_limit_ms`` and every packet is
flushed, so a file cut by a crash plays up to about the last second.

A participant whose camera sends nothing (denied or broken mid-way, a phone that suspends
it) still has its voice recorded: after ``video_wait_s`` of audio without a video keyframe
the file starts with audio only, and the first keyframe after that is reported through
``on_video`` so that the room can go on in a new segment that has the picture.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import av.container

from server.rtc.keyframe_wait import KeyframeWait
from server.rtc.matroska import mux_packet, open_matroska, template_size, video_template
from server.rtc.passthrough import SenderReport
from server.rtc.preroll import PreRoll
from server.rtc.recorder_stats import RecorderStats
from server.rtc.sync import AvClock

log = logging.getLogger("kesu.rtc.recorder")

CLOCK_RATES = {"audio": 48000, "video": 90000}
POLL_S = 0.05
MAX_LEAD_MS = 1000  # how far the strictly-increasing guard may push a track past its time


class SegmentRecorder:
    """Writes one participant's packets to ``path`` (Matroska) on its own thread."""

    def __init__(
        self,
        path: Path,
        video_codec: str,
        *,
        request_keyframe: Callable[[], None] | None = None,
        on_started: Callable[[datetime], None] | None = None,
        on_video: Callable[[], None] | None = None,
        has_audio: bool = True,
        video_wait_s: float | None = 8.0,
        sync_wait_s: float = 2.5,
        cluster_time_limit_ms: int = 1000,
        queue_size: int = 2048,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.path = Path(path)
        self.video_codec = video_codec.lower()
        self._request_keyframe = request_keyframe
        self._on_started = on_started
        self._on_video = on_video
        self._has_audio = has_audio
        self._video_wait_s = video_wait_s
        self._sync_wait_s = sync_wait_s
        self._cluster_ms = cluster_time_limit_ms
        self._stop_timeout_s = stop_timeout_s
        self._pending: deque[tuple[Any, ...]] = deque()  # append/popleft are thread-safe
        self._max_pending = queue_size
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Future[None] | None = None
        # Loop side: after an overflow lost a video packet, video is held for a keyframe.
        self._overflow = KeyframeWait(self._ask_keyframe)
        self._reports_queued: dict[str, int] = {}  # loop side: sender reports queued per kind
        self.stats = RecorderStats(self.path)
        # mux-thread state
        self._clock = AvClock({"video": CLOCK_RATES["video"], "audio": CLOCK_RATES["audio"]})
        self._pre = PreRoll(self._clock, has_audio)  # until the file starts
        self._video_reported = False
        self._bad_keyframes = 0
        self._item_errors = 0  # queued items whose handling raised (dropped)
        self._keyframes = KeyframeWait(self._ask_keyframe)
        self._now = 0.0  # arrival of the packet being handled (server clock)
        self._container: av.container.OutputContainer | None = None
        self._streams: dict[str, Any] = {}
        self._t0 = 0.0
        self._last_ms = {"audio": -1, "video": -1}

    # ------------------------------------------------------------------ event-loop side

    def start(self) -> None:
        """Start the mux thread (call from the event loop that will call :meth:`stop`)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._done = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name=f"rec-{self.path.name}", daemon=True)
        self._thread.start()

    def backlog(self) -> tuple[int, float]:
        """Items queued for the mux thread, and how long the oldest packet has waited (s):
        the recorder's lag, read without locking (metrics)."""
        pending = len(self._pending)
        try:
            head = self._pending[0]
        except IndexError:
            return 0, 0.0
        waited = time.time() - head[5] if head[0] == "p" else 0.0
        return pending, max(0.0, waited)

    def push(self, kind: str, packet: av.Packet[Any], arrival: float | None = None) -> None:
        """Queue one packet (copied: the caller may reuse it). Never blocks; on overflow
        the packet is dropped and, for video, a keyframe is asked for and nothing more is
        queued until it comes (at most ``keyframe_wait.HOLD_S``, as for a lost frame)."""
        if self._stopping.is_set() or packet.pts is None:
            return
        self.stats.packets_in[kind] += 1
        key = bool(packet.is_keyframe)
        arrival = arrival or time.time()
        if kind == "video" and self._overflow.holds(key, arrival):
            self.stats.dropped[kind] += 1
            return
        if len(self._pending) >= self._max_pending:
            self.stats.dropped[kind] += 1
            if kind == "video":
                self._overflow.lost(arrival)
            return
        self._pending.append(("p", kind, bytes(packet), int(packet.pts), key, arrival))

    def sender_report(self, kind: str, report: SenderReport) -> None:
        """An RTCP sender report for ``kind`` (from the receiver). Only the first
        ``AvClock.MAX_REPORTS`` of a track are queued: the clock ignores later ones, and a
        flood of them (a datagram holds 40) filled the queue and cost media packets."""
        if self._stopping.is_set() or self._reports_queued.get(kind, 0) >= AvClock.MAX_REPORTS:
            return
        if len(self._pending) < self._max_pending:
            self._reports_queued[kind] = self._reports_queued.get(kind, 0) + 1
            self._pending.append(("sr", kind, report))

    async def stop(self) -> RecorderStats:
        """Flush what is queued, close the file and return the stats. Idempotent; gives up
        waiting after ``stop_timeout_s`` (the thread then finishes on its own)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is None or self._done is None:
            return self.stats
        try:
            await asyncio.wait_for(asyncio.shield(self._done), self._stop_timeout_s)
        except TimeoutError:
            log.error("recorder %s did not stop in %.1f s", self.path.name, self._stop_timeout_s)
            self.stats.error = self.stats.error or "stop timed out"
        return self.stats

    def _ask_keyframe(self) -> None:
        """Ask the sender for a keyframe, from the mux thread or the event loop (a
        :class:`KeyframeWait` on each): both hand the request to the loop, so that its
        counter has one writer (``+=`` from two threads can lose counts)."""
        self._call_on_loop(self._keyframe_asked)

    def _keyframe_asked(self) -> None:  # on the event loop
        self.stats.keyframe_requests += 1
        if self._request_keyframe is not None:
            self._request_keyframe()

    def _call_on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:
                pass  # loop closing

    # ------------------------------------------------------------------ mux thread

    def _run(self) -> None:
        try:
            while True:
                stopping = self._stopping.is_set()  # nothing is queued after this is seen
                while self._pending:
                    self._handle(self._pending.popleft())
                    self._maybe_start()  # outside _handle: a file that cannot open is fatal
                if stopping:
                    break
                self._maybe_start()
                self._wake.wait(POLL_S)
            if self._container is None and self._pre.video:
                self._start()  # stopping before sync finished: write what we have
            elif self._container is None and self._pre.audio_worth_keeping(self._video_wait_s):
                self._start_audio_only()  # a voice and never a picture: keep the voice
        except Exception as exc:
            log.exception("recorder %s failed", self.path.name)
            self.stats.error = repr(exc)
        finally:
            self._close()
            if self._loop is not None and self._done is not None:
                self._call_on_loop(self._finish_future)

    def _handle(self, item: tuple[Any, ...]) -> None:
        """One queued packet or report. Whatever it raises costs that item only, so one bad
        packet never ends the recording of the rest of the connection."""
        try:
            if item[0] == "p":
                self._on_packet(*item[1:])
            else:
                self._clock.sender_report(item[1], item[2])
        except Exception as exc:
            self._drop_failed(item[1] if item[0] == "p" else None, exc)

    def _drop_failed(self, kind: str | None, exc: Exception) -> None:
        """Count a packet (``kind``) or report (``None``) that raised; log the first only
        (a fault that repeats on every packet must not flood the log). A lost video frame
        spoils the picture up to the next keyframe: ask for one, hold video until then."""
        if kind is not None:
            self.stats.dropped[kind] += 1
        if isinstance(exc, OSError):
            self.stats.write_errors += 1  # the salesperson is told (the session's /state)
        if kind == "video":
            self._keyframes.lost(self._now)
        if not self._item_errors:
            log.error(
                "recorder %s: a packet failed and was dropped, recording goes on (later "
                "failures are only counted)",
                self.path.name,
                exc_info=exc,
            )
        self._item_errors += 1

    def _finish_future(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _on_packet(self, kind: str, data: bytes, pts: int, key: bool, arrival: float) -> None:
        self._now = arrival
        self._clock.observe(kind, pts, arrival)
        if self._container is not None:
            if kind == "video" and self.stats.audio_only:
                self._video_in_audio_only(data, key, arrival)
                return
            self._write(kind, data, self._clock.place(kind, pts, arrival), key)
            return
        if kind == "audio":
            self._pre.add_audio(pts, data, arrival)
            return
        if not self._pre.video and not (key and self._can_start_on(data)):
            self.stats.dropped["video"] += 1
            self._keyframes.request(arrival)
            return
        self._pre.add_video(pts, data, key, arrival)

    def _video_in_audio_only(self, data: bytes, key: bool, arrival: float) -> None:
        """Video in a file started with audio only: not written; the first keyframe is
        reported (the room goes on in a segment with the picture). Until one comes, one is
        asked for: a picture that came back in inter frames (a network gone at the start
        of a call) otherwise waited for the sender's own next keyframe, seconds on."""
        self.stats.dropped["video"] += 1
        if self._video_reported or self._on_video is None:
            return
        if key and self._can_start_on(data):
            self._video_reported = True
            self._call_on_loop(self._on_video)
        else:
            self._keyframes.request(arrival)

    def _can_start_on(self, data: bytes) -> bool:
        """Whether a keyframe can be the file's first video packet (its template)."""
        if template_size(self.video_codec, data) is not None:
            return True
        if not self._bad_keyframes:
            log.warning(
                "recorder %s: a %s keyframe that declares no picture size: not started on it",
                self.path.name,
                self.video_codec,
            )
        self._bad_keyframes += 1
        return False

    def _maybe_start(self) -> None:
        if self._container is not None:
            return
        if self._pre.audio_only_due(self._video_wait_s):
            self._start_audio_only()
        elif self._pre.sync_due(time.time(), self._sync_wait_s):
            self._start()

    def _start_audio_only(self) -> None:
        first_pts, _, first_arrival = self._pre.audio[0]
        self._t0 = self._clock.place("audio", first_pts, first_arrival)
        self._open(None)
        self.stats.audio_only = True
        self._begin(self._clock.to_server(self._t0))
        for kind, when, data, key in self._pre.take_audio():
            self._write(kind, data, when, key)
        self.stats.sync_mode = self._clock.mode
        log.warning("recording %s with audio only: no video keyframe came", self.path.name)

    def _begin(self, server_start: float) -> None:
        self.stats.started = True
        self.stats.server_start = server_start
        if self._on_started is not None:
            self._call_on_loop(self._on_started, datetime.fromtimestamp(server_start, UTC))

    def _start(self) -> None:
        first_pts, first_data, _, first_arrival = self._pre.video[0]
        self._t0 = self._clock.place("video", first_pts, first_arrival)
        template = video_template(self.video_codec, first_data)
        try:
            self._open(template)
        finally:
            template.close()
        self._begin(self._clock.to_server(self._t0))
        # The pre-roll in time order: audio before the keyframe falls before t0, dropped.
        for kind, when, data, key in self._pre.take():
            self._write(kind, data, when, key)
        self.stats.sync_mode = self._clock.mode
        log.info(
            "recording %s: sync %s, %s",
            self.path.name,
            self.stats.sync_mode,
            self._clock.describe(),
        )

    def _open(self, template: av.container.InputContainer | None) -> None:
        self._container, self._streams = open_matroska(
            self.path, template, self._has_audio, self._cluster_ms
        )

    def _write(self, kind: str, data: bytes, when: float, key: bool) -> None:
        """Mux one packet captured at ``when`` (sender clock, ``AvClock.place``)."""
        stream = self._streams.get(kind)
        if stream is None or self._container is None:
            return
        if kind == "video" and self._keyframes.holds(key, self._now):
            self.stats.dropped[kind] += 1  # a frame before it was lost: see keyframe_wait
            return
        ms = round((when - self._t0) * 1000)
        if ms < 0:
            self.stats.dropped[kind] += 1
            if kind == "video":
                self._keyframes.lost(self._now)
            return
        if self._last_ms[kind] + 1 - ms > MAX_LEAD_MS:
            # More than one packet per millisecond (the file's resolution) has pushed this
            # track over a second ahead of its time: a flood, not a camera. Before, 1600
            # frames a second made 4.8 s of call 6.6 s of video, further off every second.
            # No keyframe wait here: it would leave such a sender its keyframes only.
            self.stats.dropped[kind] += 1
            return
        ms = max(ms, self._last_ms[kind] + 1)  # strictly increasing per stream
        self._last_ms[kind] = ms
        try:
            mux_packet(self._container, stream, data, ms, key)
        except Exception as exc:  # here too: the pre-roll is written in one go
            self._drop_failed(kind, exc)
            return
        self.stats.packets_written[kind] += 1
        end = self._clock.to_server(when)
        if self.stats.server_end is None or end > self.stats.server_end:
            self.stats.server_end = end

    def _close(self) -> None:
        jumps = {kind: self._clock.rebased(kind) for kind in CLOCK_RATES}
        if any(jumps.values()):
            log.warning(
                "recorder %s: sender timestamps jumped, re-anchored %s", self.path.name, jumps
            )
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception as exc:
                log.exception("closing %s failed", self.path.name)
                self.stats.error = self.stats.error or repr(exc)
