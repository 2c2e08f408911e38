"""The Python test/bench peer (server/rtc/client.py): what it sends must stay decodable."""

from __future__ import annotations

import asyncio
import time

import av

from server.rtc.client import LoopedPacketTrack, MediaTimeline, encode_video_loop


def test_looped_video_decodes_after_keyframe_requests() -> None:
    # The server asks for keyframes (PLI) at any frame; the substitute keyframe must not
    # leave the loop's next inter frames referencing a picture the decoder never had.
    loop = encode_video_loop("salesperson", 4.0, (160, 120), 30, 60, MediaTimeline())

    async def run() -> tuple[int, int, int]:
        # An epoch in the past: recv() never waits for the wall clock.
        track = LoopedPacketTrack(loop, MediaTimeline(epoch=time.time() - 1000))
        decoder = av.CodecContext.create("vp8", "r")
        failed = decoded = 0
        for n in range(300):
            if n in (13, 70, 100, 150, 179):
                track.request_keyframe()
            packet = await track.recv()
            try:
                decoded += len(decoder.decode(av.Packet(bytes(packet))))
            except av.FFmpegError:
                failed += 1
        return failed, decoded, track.keyframes_sent

    failed, decoded, keyframes = asyncio.run(run())
    assert failed == 0
    assert decoded == 300
    assert keyframes >= 4  # requests were answered (one fell on the loop's own keyframe)
