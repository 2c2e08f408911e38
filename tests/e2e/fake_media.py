"""Fake camera and microphone files for Chromium (--use-file-for-fake-video/audio-capture).

Each participant gets a recognisable signal so that the tests can tell whose media ended up
where: a face photo on a background of the participant's colour (with a moving bar so that
every frame differs), and a voice-like harmonic tone at the participant's own pitch, spoken
in syllable-like bursts. Files are small and made at test time with PyAV and numpy.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

WIDTH, HEIGHT = 640, 480
AUDIO_RATE = 48_000


@dataclass(frozen=True)
class FakeDevice:
    """One participant's fake camera/microphone and the signature to look for in recordings."""

    video: Path
    audio: Path
    rgb: tuple[int, int, int]  # background colour of every frame
    pitch_hz: float  # fundamental of the voice-like tone


def make_frames(face: Path, rgb: tuple[int, int, int], count: int) -> list[np.ndarray]:
    """``count`` RGB frames: the face centred on ``rgb``, a white bar sweeping across the bottom."""
    portrait = Image.open(face).convert("RGB").resize((240, 300), Image.Resampling.BICUBIC)
    base = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    base[:] = rgb
    top, left = (HEIGHT - 300) // 2 - 30, (WIDTH - 240) // 2
    base[top : top + 300, left : left + 240] = np.asarray(portrait)
    frames = []
    for i in range(count):
        frame = base.copy()
        x = int((WIDTH - 60) * i / max(1, count - 1))
        frame[HEIGHT - 70 : HEIGHT - 30, x : x + 60] = 255
        frames.append(frame)
    return frames


def write_y4m(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """A raw YUV4MPEG2 file (4:2:0) that Chromium loops as its camera."""
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("wrapped_avframe", rate=fps)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def voice_like(pitch_hz: float, seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """A harmonic tone (fundamental strongest) in ~4 syllables per second with short pauses."""
    t = np.arange(int(seconds * rate)) / rate
    vibrato = 1 + 0.01 * np.sin(2 * np.pi * 5 * t)
    phase = 2 * np.pi * pitch_hz * np.cumsum(vibrato) / rate
    tone = np.sin(phase) + 0.4 * np.sin(2 * phase) + 0.2 * np.sin(3 * phase)
    syllable = np.clip(np.sin(2 * np.pi * 2 * t), 0, None) ** 0.5  # bursts with silences
    signal: np.ndarray = 0.35 * tone * syllable / 1.6
    return signal.astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = AUDIO_RATE) -> Path:
    """16-bit mono PCM WAV, the format Chromium's fake audio capture reads."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def make_device(
    directory: Path,
    name: str,
    face: Path,
    rgb: tuple[int, int, int],
    pitch_hz: float,
    seconds: float = 3.0,
    fps: int = 15,
) -> FakeDevice:
    """Write ``<name>.y4m`` and ``<name>.wav`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    video = write_y4m(directory / f"{name}.y4m", make_frames(face, rgb, int(seconds * fps)), fps)
    audio = write_wav(directory / f"{name}.wav", voice_like(pitch_hz, seconds))
    return FakeDevice(video=video, audio=audio, rgb=rgb, pitch_hz=pitch_hz)
