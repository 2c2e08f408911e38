"""Small real media for the review tests: recordings like the server's (VP8 + Opus in
Matroska), a side-by-side review video (H.264 + AAC in MP4) and evidence thumbnails, each
frame showing who it is and its time, with a tone per participant."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

FPS = 10
SIZE = (320, 240)
COLORS = {"salesperson": (160, 90, 30), "customer": (40, 120, 60)}  # BGR


def _frame(participant: str, i: int, size: tuple[int, int]) -> np.ndarray:
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = COLORS.get(participant, (90, 90, 90))
    x = int((i * 7) % w)
    img[:, max(0, x - 4) : x + 4] = (240, 240, 240)  # a moving bar shows playback progress
    cv2.circle(img, (w // 2, h // 2 - 10), min(w, h) // 6, (200, 200, 230), -1)  # a "face"
    cv2.putText(img, participant[:5], (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    cv2.putText(
        img, f"{i / FPS:4.1f}s", (8, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2
    )
    return img


def _tone(n: int, freq: float, rate: int, start: int) -> np.ndarray:
    t = (np.arange(start, start + n) / rate).astype(np.float32)
    return (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_recording(path: Path, participant: str, seconds: float) -> None:
    """A tiny real recording like the server's: VP8 video + Opus audio in Matroska."""
    with av.open(str(path), "w", format="matroska") as out:
        v = out.add_stream("libvpx", rate=FPS)
        v.width, v.height, v.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        v.options = {"deadline": "realtime", "cpu-used": "8"}
        a = out.add_stream("libopus", rate=48000)
        a.layout = "mono"
        _mux(out, v, a, participant, seconds, 440.0 if participant == "salesperson" else 660.0)


def write_review_video(path: Path, seconds: float) -> None:
    """A side-by-side review video: H.264 + AAC in MP4."""
    with av.open(str(path), "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = SIZE[0] * 2, SIZE[1], "yuv420p"
        v.options = {"preset": "ultrafast"}
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        _mux(out, v, a, "review", seconds, 550.0)


def _mux(out: Any, v: Any, a: Any, who: str, seconds: float, freq: float) -> None:
    frames = int(seconds * FPS)
    for i in range(frames):
        if who == "review":
            img = np.hstack([_frame("salesperson", i, SIZE), _frame("customer", i, SIZE)])
        else:
            img = _frame(who, i, SIZE)
        vf = av.VideoFrame.from_ndarray(img, format="bgr24")
        vf.pts, vf.time_base = i, Fraction(1, FPS)
        for packet in v.encode(vf):
            out.mux(packet)
    for packet in v.encode():
        out.mux(packet)
    rate, chunk = 48000, 960 if who != "review" else 1024
    total = int(seconds * rate)
    for start in range(0, total, chunk):
        samples = _tone(min(chunk, total - start), freq, rate, start)
        af = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        af.sample_rate, af.pts, af.time_base = rate, start, Fraction(1, rate)
        for packet in a.encode(af):
            out.mux(packet)
    for packet in a.encode():
        out.mux(packet)


def write_thumbnail(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((180, 240, 3), (60, 60, 160), np.uint8)
    cv2.putText(img, text, (10, 95), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    cv2.imwrite(str(path), img)
