"""The Matroska file a recorder writes: encoded packets passed through (nothing is decoded
or encoded), times in milliseconds, the video stream copied from a one-keyframe template."""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import av.container

MS = Fraction(1, 1000)


def video_template(codec_name: str, keyframe: bytes) -> av.container.InputContainer:
    """An in-memory one-frame input whose stream is a template for the output stream
    (dimensions, H264 SPS/PPS extradata) without opening any encoder."""
    name = codec_name.lower()
    if name == "vp8":
        if len(keyframe) < 10 or keyframe[3:6] != b"\x9d\x01\x2a":
            raise ValueError("not a VP8 keyframe")
        width, height = struct.unpack("<HH", keyframe[6:10])
        header = b"DKIF" + struct.pack(
            "<HHIHHIIII", 0, 32, 0x30385056, width & 0x3FFF, height & 0x3FFF, 1000, 1, 1, 0
        )
        data = header + struct.pack("<IQ", len(keyframe), 0) + keyframe
        return cast(av.container.InputContainer, av.open(io.BytesIO(data), format="ivf"))
    if name == "h264":
        return cast(av.container.InputContainer, av.open(io.BytesIO(keyframe), format="h264"))
    raise ValueError(f"unsupported video codec {codec_name!r}")


def template_size(codec_name: str, keyframe: bytes) -> tuple[int, int] | None:
    """The picture size the output stream would get from ``keyframe`` as its template;
    None when it cannot be one. A sender chooses what its "keyframes" hold: a VP8 frame
    whose first byte is even or an H.264 IDR slice without an SPS counts as a keyframe,
    yet gives no size (or 0 x 0), and the muxer then refuses to start the file."""
    try:
        template = video_template(codec_name, keyframe)
    except (ValueError, av.error.FFmpegError):
        return None
    try:
        streams = template.streams.video
        size = (
            (streams[0].codec_context.width, streams[0].codec_context.height) if streams else None
        )
    finally:
        template.close()
    return size if size is not None and min(size) > 0 else None


def open_matroska(
    path: Path, template: av.container.InputContainer | None, has_audio: bool, cluster_ms: int
) -> tuple[av.container.OutputContainer, dict[str, Any]]:
    """``path`` opened for writing, and its streams by kind: video from ``template`` (None:
    audio only), Opus audio if ``has_audio``. Clusters are cut every ``cluster_ms`` and
    every packet is flushed (a file cut by a crash plays up to about its last cluster)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(
        str(path),
        "w",
        format="matroska",
        container_options={
            "cluster_time_limit": str(cluster_ms),
            "flush_packets": "1",
            # Never hold video back for long waiting for audio to interleave with.
            "max_interleave_delta": "500000",
        },
    )
    streams: dict[str, Any] = {}
    if template is not None:
        video = container.add_stream_from_template(template.streams.video[0])
        video.time_base = MS
        streams["video"] = video
    if has_audio:
        # Opening libopus only produces a standard OpusHead (the packets are passed through).
        audio = container.add_stream("libopus", rate=48000, layout="stereo")
        audio.time_base = MS
        streams["audio"] = audio
    container.start_encoding()
    return container, streams


def mux_packet(
    container: av.container.OutputContainer, stream: Any, data: bytes, ms: int, key: bool
) -> None:
    """Write one encoded packet at ``ms`` (its stream's time base is milliseconds)."""
    packet = av.Packet(data)
    packet.stream = stream
    packet.time_base = MS
    packet.pts = packet.dts = ms
    packet.is_keyframe = key
    container.mux(packet)
