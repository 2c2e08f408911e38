"""Media for synthetic sessions: TTS clips on an audio timeline, webcam-like frames, Matroska files.

Only PyAV, numpy, OpenCV and PIL (through ``tests.render``): no TensorFlow. Everything is
deterministic for a given seed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import cv2
import numpy as np

DATA_DIR = Path(__file__).parent / "data"
TTS_DIR = DATA_DIR / "tts"
FACES_DIR = DATA_DIR / "faces"

AUDIO_RATE = 48000  # Opus in WebRTC runs at 48 kHz
FRAME_SIZE = (640, 480)
ROOM_TONE_DBFS = -58.0  # microphone noise floor, so pauses are not digital silence
_AUDIO_CHUNK = 960  # 20 ms Opus frames


class MissingClipError(KeyError):
    """A line of text has no TTS clip; synthesise it with scripts/tts/synth.py."""


# ------------------------------------------------------------------------------------------
# Audio


@functools.cache
def clip_index(tts_dir: Path = TTS_DIR) -> dict[str, dict[str, object]]:
    """text -> clip entry of ``tts_dir/clips.json``."""
    path = tts_dir / "clips.json"
    entries = json.loads(path.read_text("utf-8")) if path.exists() else []
    return {str(e["text"]): e for e in entries}


def has_clip(text: str, tts_dir: Path = TTS_DIR) -> bool:
    return text in clip_index(tts_dir)


def clip_file(text: str, tts_dir: Path = TTS_DIR) -> Path:
    """The committed audio file of ``text``'s clip."""
    entry = clip_index(tts_dir).get(text)
    if entry is None:
        raise MissingClipError(
            f"no TTS clip for {text!r} in {tts_dir}/clips.json; run "
            "scripts/make_corpus.py --list-lines | synth.py --lines - (see scripts/tts/synth.py)"
        )
    return tts_dir / str(entry["file"])


@functools.cache
def load_clip(text: str, tts_dir: Path = TTS_DIR) -> np.ndarray:
    """The clip for ``text`` as float32 mono at 48 kHz (read-only, cached)."""
    with av.open(str(clip_file(text, tts_dir))) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for out in resampler.resample(frame)
        ]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    audio = np.concatenate(chunks).astype(np.float32)
    audio.setflags(write=False)
    return audio


def clip_duration(text: str, tts_dir: Path = TTS_DIR) -> float:
    return len(load_clip(text, tts_dir)) / AUDIO_RATE


def room_tone(seconds: float, rng: np.random.Generator, dbfs: float = ROOM_TONE_DBFS) -> np.ndarray:
    """Low, slightly darker-than-white noise like a laptop microphone in a quiet room."""
    n = int(round(seconds * AUDIO_RATE))
    white = rng.normal(0.0, 1.0, n + 7).astype(np.float32)
    noise = np.convolve(white, np.full(8, 1 / 8, np.float32), mode="valid")[:n]
    noise *= 10 ** (dbfs / 20) / (float(np.sqrt(np.mean(noise**2))) or 1.0)
    return noise


@dataclass
class AudioTrack:
    """One participant's microphone over the session: clips placed at times, then effects."""

    duration_s: float
    placements: list[tuple[float, str]] = field(default_factory=list)  # (start_s, text)
    gain: float = 1.0
    clip_at: float | None = None  # hard clipping level after gain (overdriven microphone)
    muted: bool = False  # digital silence (microphone muted or broken)

    def render(self, rng: np.random.Generator, tts_dir: Path = TTS_DIR) -> np.ndarray:
        n = int(round(self.duration_s * AUDIO_RATE))
        if self.muted:
            return np.zeros(n, np.float32)
        out = room_tone(self.duration_s, rng)
        for start_s, text in self.placements:
            clip = load_clip(text, tts_dir)
            i = int(round(start_s * AUDIO_RATE))
            j = min(n, i + len(clip))
            out[i:j] += clip[: j - i]
        out *= self.gain
        if self.clip_at is not None:
            np.clip(out, -self.clip_at, self.clip_at, out=out)
        clipped: np.ndarray = np.clip(out, -1.0, 1.0)
        return clipped


# ------------------------------------------------------------------------------------------
# Video


@functools.cache
def load_face(name: str) -> np.ndarray:
    """A face photo from tests/data/faces as BGR uint8 (read-only, cached)."""
    img = cv2.imread(str(FACES_DIR / name))
    if img is None:
        raise FileNotFoundError(FACES_DIR / name)
    img.setflags(write=False)
    return img


@dataclass(frozen=True)
class Sprite:
    """An image with an alpha mask, pasted into frames."""

    bgr: np.ndarray
    alpha: np.ndarray  # float32 0..1, same height/width


def portrait_sprite(face: np.ndarray, width: int) -> Sprite:
    """A portrait scaled to ``width`` with a soft elliptical edge (a person in front of a wall)."""
    h = round(face.shape[0] * width / face.shape[1])
    bgr = cv2.resize(face, (width, h), interpolation=cv2.INTER_AREA)
    mask = np.zeros((h, width), np.float32)
    cv2.ellipse(mask, (width // 2, h // 2), (width // 2 - 4, h // 2 - 4), 0, 0, 360, 1.0, -1)
    mask[h // 2 :, 4:-4] = 1.0  # shoulders reach the bottom edge
    mask = cv2.GaussianBlur(mask, (0, 0), 5)
    return Sprite(bgr, mask)


def document_sprite(doc: np.ndarray, width: int, angle: float) -> Sprite:
    """A document scaled to ``width`` and rotated by ``angle`` degrees, with its mask."""
    h = round(doc.shape[0] * width / doc.shape[1])
    scaled = cv2.resize(doc, (width, h), interpolation=cv2.INTER_AREA)
    diag = int(math.hypot(width, h)) + 2
    canvas: np.ndarray = np.zeros((diag, diag, 3), np.uint8)
    mask: np.ndarray = np.zeros((diag, diag), np.float32)
    oy, ox = (diag - h) // 2, (diag - width) // 2
    canvas[oy : oy + h, ox : ox + width] = scaled
    mask[oy : oy + h, ox : ox + width] = 1.0
    rot = cv2.getRotationMatrix2D((diag / 2, diag / 2), angle, 1.0)
    canvas = cv2.warpAffine(canvas, rot, (diag, diag), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(mask, rot, (diag, diag), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(mask > 0.01)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Sprite(canvas[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy())


def paste(frame: np.ndarray, sprite: Sprite, x: int, y: int) -> None:
    """Alpha-blend ``sprite`` into ``frame`` (in place) with its top-left corner at (x, y)."""
    fh, fw = frame.shape[:2]
    sh, sw = sprite.alpha.shape
    sx0, sy0 = max(0, -x), max(0, -y)
    dx0, dy0 = max(0, x), max(0, y)
    w, h = min(sw - sx0, fw - dx0), min(sh - sy0, fh - dy0)
    if w <= 0 or h <= 0:
        return
    a = sprite.alpha[sy0 : sy0 + h, sx0 : sx0 + w, None]
    src = sprite.bgr[sy0 : sy0 + h, sx0 : sx0 + w].astype(np.float32)
    dst = frame[dy0 : dy0 + h, dx0 : dx0 + w].astype(np.float32)
    frame[dy0 : dy0 + h, dx0 : dx0 + w] = (a * src + (1 - a) * dst).astype(np.uint8)


def room_background(rng: np.random.Generator, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A wall with a gradient, a window-like light panel and some furniture blocks."""
    w, h = size
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    wall = np.array(rng.integers(150, 200, size=3), np.float32)
    frame = np.broadcast_to(wall * (0.8 + 0.3 * ys), (h, w, 3)).astype(np.uint8).copy()
    for _ in range(4):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h // 2))
        bw, bh = int(rng.integers(40, 160)), int(rng.integers(40, 160))
        color = tuple(int(c) for c in rng.integers(60, 220, size=3))
        cv2.rectangle(frame, (x, y), (x + bw, y + bh), color, -1)
    desk = tuple(int(c) for c in rng.integers(60, 120, size=3))
    cv2.rectangle(frame, (0, h - 60), (w, h), desk, -1)
    # Fixed-pattern sensor noise, baked in once: per-frame noise made VP8 encoding slow.
    noise = rng.normal(0.0, 2.0, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Overlay:
    """A sprite shown from ``start_s`` to ``end_s`` at (x, y), drifting by up to ``jitter`` px."""

    start_s: float
    end_s: float
    sprite: Sprite
    x: int
    y: int
    jitter: float = 3.0

    def active(self, t: float) -> bool:
        return self.start_s <= t < self.end_s


@dataclass
class VideoTrack:
    """One participant's camera: a person in front of a room, plus what happens over time."""

    duration_s: float
    background: np.ndarray
    person: Sprite | None
    person_xy: tuple[int, int]
    absent: list[tuple[float, float]] = field(default_factory=list)  # person out of the picture
    overlays: list[Overlay] = field(default_factory=list)  # documents, extra people
    dark: list[tuple[float, float, float]] = field(default_factory=list)  # (start, end, gain)
    fps: float = 5.0
    phase: float = 0.0  # movement phase, so two participants do not move in lockstep

    def frame_at(self, t: float) -> np.ndarray:
        frame = self.background.copy()
        if self.person is not None and not any(a <= t < b for a, b in self.absent):
            dx = round(6 * math.sin(0.9 * t + self.phase))
            dy = round(3 * math.sin(0.6 * t + 2 * self.phase))
            paste(frame, self.person, self.person_xy[0] + dx, self.person_xy[1] + dy)
        for ov in self.overlays:
            if ov.active(t):
                j = ov.jitter
                paste(
                    frame,
                    ov.sprite,
                    ov.x + round(j * math.sin(1.3 * t)),
                    ov.y + round(j * math.cos(1.1 * t)),
                )
        out = frame
        for a, b, gain in self.dark:
            if a <= t < b:
                out = cv2.convertScaleAbs(out, alpha=gain)
        return out

    def frames(self, start_s: float, end_s: float) -> Iterator[np.ndarray]:
        """Frames at ``fps`` for session times [start_s, end_s)."""
        n = int(math.floor((end_s - start_s) * self.fps + 1e-6))
        for i in range(n):
            yield self.frame_at(start_s + i / self.fps)


# ------------------------------------------------------------------------------------------
# Matroska writer


def write_mkv(
    path: Path,
    frames: Iterator[np.ndarray],
    audio: np.ndarray,
    fps: float,
    size: tuple[int, int] = FRAME_SIZE,
    video_codec: str = "libvpx",
    video_bitrate: int = 160_000,
    audio_bitrate: int = 24_000,
) -> None:
    """Write VP8 (or H264) video + Opus mono 48 kHz audio, interleaved by time, into ``path``."""
    rate = Fraction(fps).limit_denominator(1000)
    # bitexact: no random segment UID or muxing date, so reruns give identical bytes.
    with av.open(str(path), "w", format="matroska", options={"fflags": "+bitexact"}) as out:
        vs = cast(av.video.stream.VideoStream, out.add_stream(video_codec, rate=rate))
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.bit_rate = video_bitrate
        if video_codec == "libvpx":
            # Real-time mode like a WebRTC sender; cpu-used 16 encodes ~8x faster than 8.
            vs.options = {"deadline": "realtime", "cpu-used": "16"}
        elif video_codec in ("libx264", "h264"):
            vs.options = {"preset": "ultrafast"}  # the fastest to encode
        aus = out.add_stream("libopus", rate=AUDIO_RATE, layout="mono")
        aus.bit_rate = audio_bitrate
        a_pos = 0
        for i, bgr in enumerate(frames):
            t_video = i / fps
            # Audio up to this frame's time first, so packets go out roughly in time order.
            a_pos = _mux_audio(out, aus, audio, a_pos, int(t_video * AUDIO_RATE) + _AUDIO_CHUNK)
            vf = av.VideoFrame.from_ndarray(bgr, format="bgr24")
            vf.pts = i
            vf.time_base = 1 / rate
            for packet in vs.encode(vf):
                out.mux(packet)
        _mux_audio(out, aus, audio, a_pos, len(audio))
        for packet in vs.encode(None):
            out.mux(packet)
        for packet in aus.encode(None):
            out.mux(packet)


def _mux_audio(
    out: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    audio: np.ndarray,
    pos: int,
    until: int,
) -> int:
    until = min(until, len(audio))
    while pos + _AUDIO_CHUNK <= until or (until == len(audio) and pos < until):
        chunk = audio[pos : pos + _AUDIO_CHUNK]
        if len(chunk) < _AUDIO_CHUNK:
            chunk = np.concatenate([chunk, np.zeros(_AUDIO_CHUNK - len(chunk), np.float32)])
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = pos
        frame.time_base = Fraction(1, AUDIO_RATE)
        for packet in stream.encode(frame):
            out.mux(packet)
        pos += _AUDIO_CHUNK
    return pos


# ------------------------------------------------------------------------------------------
# Session directory records (docs/session-format.md)


def iso_time(t: datetime) -> str:
    """A server timestamp as metadata.json writes it (UTC, milliseconds, ``Z``)."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def segment_record(
    path: Path, who: str, index: int, start_s: float, end_s: float, status: str = "finished"
) -> dict[str, Any]:
    """A written segment file as metadata.json lists it (wall-clock times added by
    :func:`session_metadata`)."""
    return {
        "participant": who,
        "index": index,
        "file": path.name,
        "start_s": round(start_s, 3),
        "end_s": round(end_s, 3),
        "status": status,
        "bytes": path.stat().st_size,
        "sha256": file_sha256(path),
    }


def session_metadata(
    session_id: str,
    started: datetime,
    duration: float,
    template_id: str,
    policy: dict[str, Any],
    segments: list[dict[str, Any]],
    events: list[dict[str, Any]],
    gaps: list[dict[str, Any]],
) -> dict[str, Any]:
    """metadata.json of an ended synthetic session that started at ``started``: each event
    and segment also gets its wall-clock time (``at``, ``started_at``/``ended_at``)."""
    for ev in events:
        ev["at"] = iso_time(started + timedelta(seconds=ev["t_s"]))
    for seg in segments:
        seg["started_at"] = iso_time(started + timedelta(seconds=seg["start_s"]))
        seg["ended_at"] = iso_time(started + timedelta(seconds=seg["end_s"]))
    return {
        "schema": "kesu.session/1",
        "session_id": session_id,
        "status": "ended",
        "created_at": iso_time(started - timedelta(seconds=30)),
        "started_at": iso_time(started),
        "ended_at": iso_time(started + timedelta(seconds=duration)),
        "template_id": template_id,
        "policy": policy,
        "segments": segments,
        "events": events,
        "gaps": gaps,
    }
