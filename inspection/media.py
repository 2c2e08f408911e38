"""Media input with PyAV: session-timeline audio at 16 kHz and frames sampled per second.

Any container and codec FFmpeg reads is accepted. Files cut short by a crash (Matroska
without its final index, a truncated tail) are decoded up to the cut, and packets that do
not decode are skipped. File time zero is the container's start time, and a ``Track``
places that zero at ``offset_s`` on the session timeline.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import av.container
import numpy as np

log = logging.getLogger(__name__)


class MediaError(Exception):
    """A media file cannot be opened, or holds no stream that can be decoded."""


@dataclass(frozen=True)
class Track:
    """A segment file of one participant and where its time zero falls in the session."""

    participant: str
    path: Path
    offset_s: float = 0.0
    # What the server wrote down when it finished the segment (None: not known): a file that
    # is not that many bytes was cut or replaced since, and ``end_s`` says what it lost.
    recorded_bytes: int | None = None
    recorded_end_s: float | None = None


@dataclass(frozen=True)
class MediaInfo:
    """What a probe found in a file."""

    path: Path
    duration_s: float
    has_audio: bool
    has_video: bool
    audio_codec: str | None = None
    video_codec: str | None = None
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    header_duration_s: float | None = None  # what the container header claims, if anything
    truncated: bool = False  # not finalised (no duration) or cut short


@dataclass
class DecodeStats:
    """Counters filled while decoding: packets skipped and whether the file ended early."""

    bad_packets: int = 0
    truncated: bool = False
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def open_media(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading; raise MediaError if FFmpeg cannot."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise MediaError(f"cannot open media file {path}: {exc}") from exc
    try:
        yield container
    finally:
        container.close()


def _origin(container: av.container.InputContainer) -> float:
    """File time zero: the container start time (microseconds), else 0."""
    start = container.start_time
    return start / 1_000_000 if start is not None else 0.0


def _has_libvpx() -> bool:
    try:
        av.codec.Codec("libvpx", "r")
    except (av.FFmpegError, ValueError):  # an FFmpeg built without libvpx
        return False
    return True


HAS_LIBVPX = _has_libvpx()


def decoder_for(stream: Any) -> Any:
    """The codec context to decode ``stream`` with: its own, except VP8, which goes to
    libvpx (browsers' decoder) when FFmpeg has it. After a gap (the recorder's keyframe
    hold ends without a keyframe, docs/security.md) FFmpeg's own VP8 decoder refuses every
    inter frame up to the next keyframe with slice threads ("Invalid data": the review
    video froze) and decodes them into other pictures than libvpx with one thread or frame
    threads (the inspection judged pictures no browser shows). The thread count set on
    the stream's context carries over (libvpx: 0 = every core)."""
    own = stream.codec_context
    if own.name != "vp8" or not HAS_LIBVPX:
        return own
    ctx = av.CodecContext.create("libvpx", "r")
    ctx.thread_count = own.thread_count
    return ctx


def decode_frames(
    container: av.container.InputContainer, stream: Any, stats: DecodeStats | None = None
) -> Iterator[Any]:
    """Decode ``stream`` front to back, skipping bad packets, stopping cleanly at a cut."""
    stats = stats if stats is not None else DecodeStats()
    decoder = decoder_for(stream)
    packets = container.demux(stream)
    flushed = False
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except (av.FFmpegError, OSError) as exc:  # damaged or cut container: stop here
            stats.truncated = True
            stats.errors.append(str(exc))
            break
        flushed = packet.size == 0 and packet.pts is None
        try:
            yield from decoder.decode(packet)
        except av.FFmpegError as exc:
            stats.bad_packets += 1
            if len(stats.errors) < 5:
                stats.errors.append(str(exc))
    if not flushed:  # the demuxer stopped early: drain frames the decoder still holds
        with contextlib.suppress(av.FFmpegError):
            yield from decoder.decode(None)


def _first(container: av.container.InputContainer, kind: str) -> Any | None:
    streams = container.streams.audio if kind == "audio" else container.streams.video
    return streams[0] if streams else None


def _audio_chunks(path: Path, sample_rate: int) -> Iterator[tuple[float, np.ndarray]]:
    """(time in file, mono float32 samples) chunks of the first audio stream."""
    with open_media(path) as container:
        stream = _first(container, "audio")
        if stream is None:
            return
        origin = _origin(container)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        cursor = 0.0  # where the next chunk goes if a frame carries no timestamp
        stats = DecodeStats()
        for frame in decode_frames(container, stream, stats):
            try:
                converted = resampler.resample(frame)
            except ValueError:  # the input format changed mid-stream (e.g. mono -> stereo)
                resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
                converted = resampler.resample(frame)
            for out in converted:
                t, samples = _frame_time(out, origin, cursor), _mono(out)
                yield t, samples
                cursor = t + len(samples) / sample_rate
        with contextlib.suppress(av.FFmpegError):
            for out in resampler.resample(None):
                yield _frame_time(out, origin, cursor), _mono(out)
        _log_stats(path, stats)


def _mono(frame: Any) -> np.ndarray:
    samples: np.ndarray = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
    return samples


def _frame_time(frame: Any, origin: float, fallback: float) -> float:
    return float(frame.time) - origin if frame.time is not None else fallback


def _log_stats(path: Path, stats: DecodeStats) -> None:
    if stats.truncated or stats.bad_packets:
        log.warning(
            "%s: decoded up to a damaged or cut part (truncated=%s, bad packets=%d): %s",
            path,
            stats.truncated,
            stats.bad_packets,
            "; ".join(stats.errors[:3]),
        )


def load_audio(tracks: list[Track], sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 audio of all tracks on one session timeline; silence fills gaps.

    Each chunk is placed at ``offset_s`` plus its own timestamp, so gaps inside a file
    stay gaps. Overlapping tracks are mixed (summed, then clipped to [-1, 1]).
    """
    placed: list[tuple[int, np.ndarray]] = []
    for track in tracks:
        for t, samples in _audio_chunks(track.path, sample_rate):
            start = round((track.offset_s + t) * sample_rate)
            if start < 0:  # codec priming before the session start
                samples, start = samples[-start:], 0
            placed.append((start, samples))
    total = max((start + len(s) for start, s in placed), default=0)
    audio = np.zeros(total, dtype=np.float32)
    for start, samples in placed:
        audio[start : start + len(samples)] += samples
    if len(tracks) > 1:
        np.clip(audio, -1.0, 1.0, out=audio)
    return audio


def sample_frames(
    track: Track, fps: float, max_distance_s: float | None = None, threads: int = 0
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(t_s, bgr)`` at session instants ``k / fps`` covered by the track's video.

    Each instant gets the decoded frame nearest to it; instants farther than
    ``max_distance_s`` (default ``min(1 / fps, 1 s)``) from any frame (the picture froze
    or stopped) are skipped. Decodes front to back without seeking; only the frames picked
    are converted to BGR. ``threads``: decoder threads (0: FFmpeg's choice, frame and slice
    threads; 1: on the caller's thread, for callers that already keep every core busy).
    """
    if fps <= 0:
        raise ValueError("fps must be positive")
    limit = min(1.0 / fps, 1.0) if max_distance_s is None else max_distance_s
    with open_media(track.path) as container:
        stream = _first(container, "video")
        if stream is None:
            return
        if threads != 1:
            stream.thread_type = "AUTO"
        stream.codec_context.thread_count = max(0, threads)
        step = 1.0 / float(stream.average_rate) if stream.average_rate else 1.0 / 30
        stats = DecodeStats()
        timed = _timed_frames(track, container, stream, step, stats)
        for instant, frame in _pick_nearest(timed, fps, limit, step):
            yield instant, _bgr(frame, threads)
        _log_stats(track.path, stats)


def _timed_frames(
    track: Track,
    container: av.container.InputContainer,
    stream: Any,
    step: float,
    stats: DecodeStats,
) -> Iterator[tuple[float, Any]]:
    """Decoded frames with strictly increasing session times."""
    origin = _origin(container)
    last: float | None = None
    for frame in decode_frames(container, stream, stats):
        fallback = last + step if last is not None else 0.0
        t = _frame_time(frame, origin, fallback)
        if last is not None and t <= last:
            continue  # a duplicate or out-of-order timestamp adds nothing
        last = t
        yield track.offset_s + t, frame


def _pick_nearest(
    timed: Iterator[tuple[float, Any]], fps: float, limit: float, frame_step: float
) -> Iterator[tuple[float, Any]]:
    """For each instant ``k / fps`` within the frames' span, the nearest frame."""
    k: int | None = None
    previous: tuple[float, Any] | None = None
    for t, frame in timed:
        if k is None:
            k = int(np.ceil(t * fps - 1e-6))
        # Every instant up to this frame is settled: its nearest is ``previous`` or this one.
        while k / fps <= t + 1e-9:
            best = _nearest(k / fps, previous, (t, frame))
            if best is not None and abs(best[0] - k / fps) <= limit + 1e-9:
                yield k / fps, best[1]
            k += 1
        previous = (t, frame)
    # The last frame is on screen for one frame interval, no longer.
    while previous is not None and k is not None:
        if k / fps - previous[0] > min(limit, frame_step) + 1e-9:
            break
        yield k / fps, previous[1]
        k += 1


def _nearest(
    instant: float, before: tuple[float, Any] | None, after: tuple[float, Any]
) -> tuple[float, Any] | None:
    if before is None or abs(after[0] - instant) < abs(instant - before[0]):
        return after
    return before


def _bgr(frame: Any, threads: int = 0) -> np.ndarray:
    # swscale converts on its own threads unless told otherwise (FFmpeg 8).
    image: np.ndarray = frame.to_ndarray(format="bgr24", threads=threads or None)
    return image


def probe(path: Path, scan: bool = True) -> MediaInfo:
    """Streams and duration of ``path``.

    With ``scan`` (or when the header has no duration, as in a file whose writer was
    killed) the duration is the end of the last packet that can be read, so a cut file
    reports what is really there; reading packets does not decode them.
    """
    with open_media(path) as container:
        audio, video = _first(container, "audio"), _first(container, "video")
        if audio is None and video is None:
            raise MediaError(f"{path} holds no audio or video stream")
        header = container.duration / 1_000_000 if container.duration else None
        duration, cut = header or 0.0, False
        if scan or header is None:
            duration, cut = _scan_duration(container, _origin(container))
        return MediaInfo(
            path=path,
            duration_s=float(duration),
            has_audio=audio is not None,
            has_video=video is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            video_codec=video.codec_context.name if video is not None else None,
            width=video.codec_context.width if video is not None else 0,
            height=video.codec_context.height if video is not None else 0,
            sample_rate=audio.codec_context.sample_rate if audio is not None else 0,
            header_duration_s=header,
            truncated=cut or header is None or duration < header - 0.5,
        )


def _scan_duration(container: av.container.InputContainer, origin: float) -> tuple[float, bool]:
    """End of the last readable packet, and whether reading stopped on damage."""
    end = 0.0
    packets = container.demux()
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return end, False
        except (av.FFmpegError, OSError):
            return end, True
        if packet.pts is None or packet.time_base is None:
            continue
        stop = float((packet.pts + (packet.duration or 0)) * packet.time_base) - origin
        end = max(end, stop)


def probe_duration(path: Path) -> float:
    """Duration in seconds: the end of the last readable packet."""
    return probe(path).duration_s
