"""What a lossy link costs a recording: one aiortc peer (pattern video, tone audio) joins a
room whose receivers drop a share of the incoming RTP packets at random; prints what reached
the recorder and what the file holds (docs/browsers.md, "Lost packets").

    nice -n 10 .venv/bin/python scripts/rtc_loss_probe.py --loss 0.05 --codec VP8 --seconds 8
    ... --aiortc-audio-buffer   # aiortc's own audio jitter buffer, for comparison
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from pathlib import Path
from typing import Any

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.probe import probe_recording
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir


async def run(args: argparse.Namespace, root: Path) -> None:
    lossy: set[RTCRtpReceiver] = set()
    rng = random.Random(args.seed)
    counts = {"arrived": 0, "dropped": 0}
    original = RTCRtpReceiver._handle_rtp_packet

    async def handle(self: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
        if self in lossy:
            counts["arrived"] += 1
            if rng.random() < args.loss:
                counts["dropped"] += 1
                return
        await original(self, packet, arrival_time_ms)

    RTCRtpReceiver._handle_rtp_packet = handle  # type: ignore[method-assign]
    sdir = SessionDir.create(root, "loss-probe")
    room = Room(sdir, RtcSettings(loopback_only=True, sync_wait_s=0.5, video_codecs=(args.codec,)))
    timeline = MediaTimeline()
    camera, mic = PatternVideoTrack("customer", timeline), ToneAudioTrack(timeline)
    client = ClientPeer([camera, mic])
    await client.accept(await room.join("customer", await client.offer()))
    receivers = room._participants["customer"].receivers  # noqa: SLF001 (a probe)
    if args.aiortc_audio_buffer:
        buffer = JitterBuffer(capacity=16, prefetch=4)
        setattr(receivers["audio"], "_RTCRtpReceiver__jitter_buffer", buffer)  # noqa: B010
    lossy.update(receivers.values())
    await asyncio.sleep(args.seconds)
    stats = room.stats()["customer"]
    await room.close()
    await client.close()
    print(
        f"codec {args.codec} loss {args.loss:.0%}: sent video {camera.sent} audio {mic.sent}; "
        f"RTP arrived {counts['arrived']} dropped {counts['dropped']}; "
        f"to the recorder {stats['packets_received']}; written {stats['recorded']}"
    )
    for path in sorted(sdir.path.glob("*.mkv")):
        p = probe_recording(path)
        print(
            f"  {path.name}: {p.video_codec} {p.video_frames} frames, {p.duration:.2f} s, "
            f"decode errors {p.decode_errors}, audio rms {p.audio_rms:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", type=float, default=0.05, help="share of RTP packets dropped")
    parser.add_argument("--codec", default="VP8", choices=("VP8", "H264"))
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--aiortc-audio-buffer", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
