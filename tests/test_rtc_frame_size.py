"""Received video whose keyframes declare a picture over MAX_SIDE pixels a side is dropped
by the passthrough decoder (neither recorded nor relayed), with what depends on it, until
a keyframe of an acceptable size; the sizes are read from real VP8 and H.264 encoder
output (libvpx, libx264 in several profiles)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from server.rtc.frame_size import MAX_SIDE, h264_sizes, too_large, vp8_size
from server.rtc.passthrough import PassThroughDecoder, is_keyframe


def encode(
    codec: str, width: int, height: int, frames: int = 3, options: dict[str, str] | None = None
) -> list[bytes]:
    """``frames`` encoded frames of a moving picture, the first a keyframe."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = Fraction(1, 30)
    ctx.framerate = Fraction(30)
    ctx.options = {"deadline": "realtime", "cpu-used": "8", **(options or {})}
    if codec == "libx264":
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency", **(options or {})}
    out: list[bytes] = []
    for n in range(frames):
        yuv = np.full((height * 3 // 2, width), 128, np.uint8)
        yuv[: height // 2, (n * 8) % width :] = 30 + n * 40
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = n
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return out


@pytest.mark.parametrize(
    ("options", "size", "coded"),
    [
        ({}, (640, 480), (640, 480)),
        ({"profile": "baseline"}, (1280, 720), (1280, 720)),
        ({"x264-params": "cqm=jvt"}, (1920, 1080), (1920, 1088)),  # scaling matrices
        ({"x264-params": "interlaced=1"}, (640, 480), (640, 480)),  # fields
        ({}, (MAX_SIDE + 16, 64), (MAX_SIDE + 16, 64)),
    ],
)
def test_h264_sps_sizes(
    options: dict[str, str], size: tuple[int, int], coded: tuple[int, int]
) -> None:
    first = encode("libx264", *size, frames=1, options=options)[0]
    assert is_keyframe("h264", first)
    assert h264_sizes(first) == [coded]
    assert too_large("h264", first) is (max(size) > MAX_SIDE)


def test_vp8_sizes() -> None:
    small = encode("libvpx", 640, 480)
    assert vp8_size(small[0]) == (640, 480)
    assert [vp8_size(f) for f in small[1:]] == [None] * (len(small) - 1)  # delta frames
    assert too_large("vp8", encode("libvpx", MAX_SIDE + 8, 16, frames=1)[0]) is True


@pytest.mark.parametrize(("codec", "mime"), [("libvpx", "video/VP8"), ("libx264", "video/H264")])
def test_an_oversized_picture_is_dropped_until_a_smaller_keyframe(codec: str, mime: str) -> None:
    decoder = PassThroughDecoder(RTCRtpCodecParameters(mimeType=mime, clockRate=90000))

    def passed(frames: list[bytes]) -> int:
        return sum(
            len(decoder.decode(JitterFrame(data=f, timestamp=i))) for i, f in enumerate(frames)
        )

    small = encode(codec, 320, 240)
    assert passed(small) == len(small)
    huge = encode(codec, MAX_SIDE + 64, 32)
    assert passed(huge) == 0  # the keyframe and the frames after it
    assert decoder.dropped_oversized == len(huge)
    assert passed(small) == len(small)  # a keyframe of an acceptable size: back again
    assert passed(encode(codec, MAX_SIDE, 16)) > 0  # the limit itself is fine
