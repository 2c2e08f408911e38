"""The side-by-side "same frame" review video of a session (salesperson | customer).

Each participant's segments are placed on the session timeline (``start_s`` from
metadata.json) and sampled at a constant frame rate: at every output tick the latest
decoded frame is shown, black where that participant has no media (before joining, in
gaps, after leaving). A per-segment PyAV filter graph scales each picture to the common
height and pads it to the participant's panel width; a second graph hstacks the two
panels. Audio is resampled to 48 kHz mono, laid on the same timeline (silence in gaps)
and the two participants are summed. Output: H264 + AAC in MP4 with ``+faststart``,
written to a temporary file and renamed. CPU-bound and blocking: run it in a worker.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.filter
import numpy as np

from inspection.media import decoder_for
from server.session_dir import SessionDir
from server.session_format import SegmentInfo

log = logging.getLogger("kesu.rtc.review_video")

ROLES = ("salesperson", "customer")
AUDIO_RATE = 48000
AAC_FRAME = 1024
REVIEW_FILE = "review.mp4"


@dataclass(frozen=True)
class Placed:
    """A segment and where it lies on the session timeline."""

    path: Path
    start_s: float
    end_s: float


#: Widest (and, inverted, narrowest) panel relative to its height. A panel had the shape of
#: the participant's first picture, which the sender chooses: a 1024 x 32 stream made the
#: review video 16,000 pixels wide (13 times the CPU of a normal one) and a 4096 x 2 one a
#: width libx264 refuses, so the session had no review video. Cameras are 16:9 or 9:16
#: (21:9 at most); a stranger picture is scaled into the panel like any other.
MAX_PANEL_ASPECT = 4.0


def panel_size(size: tuple[int, int], height: int) -> tuple[int, int]:
    """(width, height) of a participant's panel for pictures of ``size``."""
    aspect = min(max(size[0] / size[1], 1 / MAX_PANEL_ASPECT), MAX_PANEL_ASPECT)
    return _even(height * aspect), height


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def _video_size(path: Path) -> tuple[int, int] | None:
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            ctx = c.streams.video[0].codec_context
            return (ctx.width, ctx.height) if ctx.width > 0 and ctx.height > 0 else None
    except av.FFmpegError:
        return None


#: Filter graphs a panel keeps, one per input size (the most recently used). A camera
#: switches between a few sizes (rotation, bandwidth adaptation); a sender that changes size
#: on every keyframe had one graph (about 1 MB) kept per size: 1500 sizes held 1.7 GB.
MAX_SCALER_GRAPHS = 4


class PanelScaler:
    """scale + pad to a fixed panel, one filter graph per input size and format."""

    def __init__(self, panel: tuple[int, int]) -> None:
        self.panel = panel
        self._graphs: dict[tuple[int, int, str], av.filter.Graph] = {}
        self._pts = 0

    @property
    def graphs_held(self) -> int:
        return len(self._graphs)

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        key = (frame.width, frame.height, frame.format.name)
        graph = self._graphs.pop(key, None) or self._build(*key)
        self._graphs[key] = graph  # last in the dict: most recently used
        while len(self._graphs) > MAX_SCALER_GRAPHS:
            del self._graphs[next(iter(self._graphs))]
        frame.pts, frame.time_base = self._pts, Fraction(1, 1000)
        self._pts += 1
        graph.push(frame)
        out = graph.pull()
        assert isinstance(out, av.VideoFrame)
        return out

    def _build(self, width: int, height: int, pix_fmt: str) -> av.filter.Graph:
        pw, ph = self.panel
        scale = min(pw / width, ph / height)
        w, h = min(pw, _even(width * scale)), min(ph, _even(height * scale))
        graph = av.filter.Graph()
        chain = [
            graph.add_buffer(
                width=width,
                height=height,
                format=av.VideoFormat(pix_fmt),
                time_base=Fraction(1, 1000),
            ),
            graph.add("scale", f"{w}:{h}"),
            graph.add("pad", f"{pw}:{ph}:{(pw - w) // 2}:{(ph - h) // 2}:black"),
            graph.add("format", "yuv420p"),
            graph.add("buffersink"),
        ]
        for a, b in zip(chain, chain[1:], strict=False):
            a.link_to(b)
        graph.configure()
        return graph


class VideoTimeline:
    """One participant's pictures sampled at a constant frame rate (the job of an ``fps``
    filter, but aware of segment ends): panel-sized frames, or None for black."""

    def __init__(self, placed: list[Placed], fps: int, panel: tuple[int, int]) -> None:
        self.fps = fps
        self._scale = PanelScaler(panel)
        self._frames = self._all_frames(placed)
        self._pending: tuple[float, Placed, av.VideoFrame] | None = None
        self._current: tuple[float, Placed, av.VideoFrame] | None = None
        self._shown: av.VideoFrame | None = None
        self._scaled: av.VideoFrame | None = None

    def frame_at(self, tick: int) -> av.VideoFrame | None:
        """The panel frame for output tick ``tick`` (ticks must increase)."""
        t = tick / self.fps
        while True:
            if self._pending is None:
                self._pending = next(self._frames, None)
            if self._pending is None or self._pending[0] > t + 0.5 / self.fps:
                break
            self._current, self._pending = self._pending, None
        if self._current is None:
            return None  # not joined yet
        _, segment, frame = self._current
        if t > segment.end_s + 0.5 / self.fps:
            return None  # that segment ended: a gap, or the participant left
        if frame is not self._shown:
            self._shown, self._scaled = frame, self._scale(frame)
        return self._scaled

    @staticmethod
    def _all_frames(placed: list[Placed]) -> Iterator[tuple[float, Placed, av.VideoFrame]]:
        for segment in placed:
            for t, frame in _decode_video(segment):
                yield t, segment, frame


def _decodable(c: Any, stream: Any) -> Iterator[Any]:
    """Every frame of ``stream`` that decodes: a packet that does not (a cut tail, a damaged
    one) is skipped, not the end of the segment. VP8 is decoded as a browser does
    (``decoder_for``), so the reviewer sees the picture the recording plays."""
    decoder = decoder_for(stream)
    for packet in c.demux(stream):
        try:
            frames = decoder.decode(packet)
        except av.FFmpegError:
            continue
        yield from frames


def _decode_video(segment: Placed) -> Iterator[tuple[float, av.VideoFrame]]:
    """(session time, frame) of every decodable frame of a segment (a cut tail is fine)."""
    try:
        with av.open(str(segment.path)) as c:
            if not c.streams.video:
                return
            for frame in _decodable(c, c.streams.video[0]):
                if frame.time is not None:
                    yield segment.start_s + float(frame.time), frame
    except av.FFmpegError as exc:
        log.warning("cannot read video of %s: %s", segment.path.name, exc)


class AudioTimeline:
    """One participant's audio as contiguous 48 kHz mono float32, silence in gaps."""

    def __init__(self, placed: list[Placed]) -> None:
        self._chunks = self._decoded(placed)
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start = 0  # sample index of _buffer[0]

    def read(self, start: int, count: int) -> np.ndarray:
        """Samples [start, start + count) (reads must be sequential)."""
        while self._buffer_start + self._buffer.size < start + count:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            pos, samples = chunk
            end = self._buffer_start + self._buffer.size
            if pos > end:  # a gap: silence
                samples = np.concatenate([np.zeros(pos - end, np.float32), samples])
            elif pos < end:  # overlap: keep what is already placed
                samples = samples[end - pos :]
            self._buffer = np.concatenate([self._buffer, samples])
        offset = start - self._buffer_start
        out = np.zeros(count, np.float32)
        have = self._buffer[max(0, offset) : offset + count]
        out[max(0, -offset) : max(0, -offset) + have.size] = have
        drop = max(0, offset + count)
        self._buffer, self._buffer_start = self._buffer[drop:], self._buffer_start + drop
        return out

    @staticmethod
    def _decoded(placed: list[Placed]) -> Iterator[tuple[int, np.ndarray]]:
        for segment in placed:
            try:
                with av.open(str(segment.path)) as c:
                    if not c.streams.audio:
                        continue
                    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
                    pos: int | None = None
                    for frame in _decodable(c, c.streams.audio[0]):
                        if pos is None and frame.time is not None:
                            pos = round((segment.start_s + float(frame.time)) * AUDIO_RATE)
                        for out in resampler.resample(frame):
                            if pos is None:
                                continue
                            samples = out.to_ndarray().reshape(-1).astype(np.float32)
                            yield pos, samples
                            pos += samples.size
            except av.FFmpegError as exc:
                log.warning("cannot read audio of %s: %s", segment.path.name, exc)


def _placed(segments: list[SegmentInfo], role: str) -> list[Placed]:
    chosen = [
        s for s in segments if s.participant == role and s.start_s is not None and s.path.exists()
    ]
    chosen.sort(key=lambda s: s.start_s or 0.0)
    return [
        Placed(s.path, s.start_s or 0.0, s.end_s if s.end_s is not None else float("inf"))
        for s in chosen
    ]


def _hstack_graph(panels: list[tuple[int, int]], fps: int) -> tuple[av.filter.Graph, list[Any]]:
    graph = av.filter.Graph()
    sources = [
        graph.add_buffer(
            width=w, height=h, format=av.VideoFormat("yuv420p"), time_base=Fraction(1, fps)
        )
        for w, h in panels
    ]
    stack = graph.add("hstack", f"inputs={len(panels)}")
    sink = graph.add("buffersink")
    for i, src in enumerate(sources):
        src.link_to(stack, 0, i)
    stack.link_to(sink)
    graph.configure()
    return graph, sources


def make_review_video(
    session_dir: Path | SessionDir,
    height: int = 480,
    fps: int = 15,
    threads: int = 2,
    crf: int = 26,
) -> Path:
    """Write ``review.mp4`` in the session directory and return its path."""
    sdir = session_dir if isinstance(session_dir, SessionDir) else SessionDir(session_dir)
    segments = sdir.segments()
    duration = max((s.end_s or 0.0 for s in segments), default=0.0)
    if duration <= 0:
        raise ValueError(f"session {sdir.session_id} has no recorded media")
    height = _even(height)
    panels, videos, audios = [], [], []
    for role in ROLES:
        placed = _placed(segments, role)
        size = next((sz for p in placed if (sz := _video_size(p.path))), (4, 3))
        panel = panel_size(size, height)
        panels.append(panel)
        videos.append(VideoTimeline(placed, fps, panel))
        audios.append(AudioTimeline(placed))
    # Recorded voice playback (the system track, audio only) is heard as both parties heard it.
    system = _placed(segments, "system")
    if system:
        audios.append(AudioTimeline(system))
    out_path = sdir.path / REVIEW_FILE
    tmp_path = sdir.path / f".{REVIEW_FILE}.tmp"
    with av.open(str(tmp_path), "w", format="mp4", options={"movflags": "+faststart"}) as out:
        vstream = out.add_stream("libx264", rate=fps)
        vstream.width, vstream.height = sum(w for w, _ in panels), height
        vstream.pix_fmt = "yuv420p"
        vstream.codec_context.thread_count = threads
        vstream.codec_context.options = {"preset": "veryfast", "crf": str(crf)}
        astream = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        astream.bit_rate = 64000
        _encode(out, vstream, astream, videos, audios, panels, fps, duration)
    os.replace(tmp_path, out_path)
    log.info("review video %s: %.1f s, %dx%d", out_path, duration, vstream.width, height)
    return out_path


def _encode(
    out: Any,
    vstream: Any,
    astream: Any,
    videos: list[VideoTimeline],
    audios: list[AudioTimeline],
    panels: list[tuple[int, int]],
    fps: int,
    duration: float,
) -> None:
    graph, sources = _hstack_graph(panels, fps)
    blacks = [_black(w, h) for w, h in panels]
    ticks = int(np.ceil(duration * fps))
    audio_pos = 0
    for tick in range(ticks):
        for i, (timeline, src) in enumerate(zip(videos, sources, strict=True)):
            frame = timeline.frame_at(tick) or blacks[i]
            frame.pts, frame.time_base = tick, Fraction(1, fps)
            src.push(frame)
        stacked = graph.pull()
        stacked.pts, stacked.time_base = tick, Fraction(1, fps)
        out.mux(vstream.encode(stacked))
        # Audio up to the end of this video tick, in AAC-sized frames.
        while audio_pos < min((tick + 1) / fps, duration) * AUDIO_RATE:
            mixed = sum(a.read(audio_pos, AAC_FRAME) for a in audios)
            chunk = av.AudioFrame.from_ndarray(
                np.clip(mixed, -1, 1).reshape(1, -1).astype(np.float32), format="flt", layout="mono"
            )
            chunk.sample_rate, chunk.pts = AUDIO_RATE, audio_pos
            chunk.time_base = Fraction(1, AUDIO_RATE)
            out.mux(astream.encode(chunk))
            audio_pos += AAC_FRAME
    out.mux(vstream.encode(None))
    out.mux(astream.encode(None))


def _black(width: int, height: int) -> av.VideoFrame:
    yuv = np.full((height * 3 // 2, width), 128, np.uint8)
    yuv[:height] = 16
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")
