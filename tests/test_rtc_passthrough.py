"""Pass-through receive, ICE address scoping and A/V clock: the aiortc internals we rely on."""

from __future__ import annotations

import asyncio
import inspect
import random
import threading
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import aioice.ice
import aiortc.rtcrtpreceiver
import pytest
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import get_capabilities
from aiortc.codecs.vpx import Vp8Decoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcdtlstransport import RTCDtlsTransport, RtpRouter
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpSenderInfo, RtcpSrPacket, RtpPacket

from server.private_method import LibraryChanged
from server.rtc import ice, passthrough, sync
from server.rtc.passthrough import PassThroughDecoder, RtpTimestampUnwrapper, SenderReport
from server.rtc.sync import AvClock, extend_timestamp

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def receiver() -> RTCRtpReceiver:
    return RTCRtpReceiver("video", SimpleNamespace(state="new", _stats_id="t"))  # type: ignore[arg-type]


def test_aiortc_internals_we_patch_still_exist() -> None:
    r = receiver()
    for name in (
        "_RTCRtpReceiver__timestamp_mapper",
        "_RTCRtpReceiver__decoder_thread",
        "_RTCRtpReceiver__rtx_ssrc",
    ):
        assert hasattr(r, name), name
    assert callable(r._handle_rtcp_packet) and callable(r._send_rtcp_pli)
    assert callable(RTCRtpSender._send_keyframe)
    assert callable(aiortc.rtcrtpreceiver.get_decoder) and callable(aioice.ice.get_host_addresses)
    assert "VP8" in {c.name for c in get_capabilities("video").codecs}
    router = RtpRouter()  # what RTCDtlsTransport keeps as _rtp_router (limit_ssrcs)
    assert isinstance(router.ssrc_table, dict) and callable(router.route_rtp)
    assert "self._rtp_router = RtpRouter()" in inspect.getsource(RTCDtlsTransport.__init__)


def test_decoder_is_replaced_only_for_registered_receivers() -> None:
    mine, other = receiver(), receiver()
    passthrough.enable(mine)
    assert passthrough.is_enabled(mine) and not passthrough.is_enabled(other)
    results: dict[str, object] = {}

    def decoder_thread(name: str, r: RTCRtpReceiver) -> None:
        r._RTCRtpReceiver__decoder_thread = threading.current_thread()  # type: ignore[attr-defined]
        results[name] = aiortc.rtcrtpreceiver.get_decoder(VP8)

    for name, r in (("mine", mine), ("other", other)):
        t = threading.Thread(target=decoder_thread, args=(name, r))
        t.start()
        t.join()
    assert isinstance(results["mine"], PassThroughDecoder)
    assert isinstance(results["other"], Vp8Decoder)
    assert isinstance(mine._RTCRtpReceiver__timestamp_mapper, RtpTimestampUnwrapper)  # type: ignore[attr-defined]


def test_passthrough_decoder_makes_packets() -> None:
    key = b"\x10\x02\x00\x9d\x01\x2a\xa0\x00\x78\x00"
    (packet,) = PassThroughDecoder(VP8).decode(JitterFrame(key, 123456))
    assert bytes(packet) == key and packet.pts == 123456
    assert packet.time_base == Fraction(1, 90000) and packet.is_keyframe
    (delta,) = PassThroughDecoder(VP8).decode(JitterFrame(b"\x11\x00", 1))
    assert not delta.is_keyframe
    assert PassThroughDecoder(VP8).decode(JitterFrame(b"", 1)) == []


async def test_sender_reports_are_captured() -> None:
    r = receiver()
    got: list[SenderReport] = []
    passthrough.enable(r, got.append)
    ntp = (3_900_000_000 << 32) | (1 << 31)  # NTP seconds + 0.5
    sr = RtcpSrPacket(ssrc=1, sender_info=RtcpSenderInfo(ntp, 777, 1, 1))
    await r._handle_rtcp_packet(sr)
    (report,) = got
    assert report.rtp_timestamp == 777
    assert report.ntp_time == pytest.approx(3_900_000_000.5 - 2208988800)


def test_timestamp_unwrapper_extends_past_32_bits() -> None:
    u = RtpTimestampUnwrapper()
    assert u.map(0xFFFFF000) == 0xFFFFF000
    assert u.map(0x00000800) == (1 << 32) + 0x800
    assert u.map(0xFFFFFF00) == 0xFFFFFF00  # a late packet from before the wrap
    assert extend_timestamp(5, (1 << 32) - 10) == (1 << 32) + 5
    assert extend_timestamp(0xFFFFFFF0, (1 << 32) + 5) == 0xFFFFFFF0


async def test_candidate_addresses_are_scoped() -> None:
    ice.install()
    everywhere = aioice.ice.get_host_addresses(True, False)
    with ice.candidate_addresses(("127.0.0.1", "::1")):
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1", "::1"]
        # Tasks started inside the block inherit it (aiortc gathers in a gathered task).
        inner = await asyncio.create_task(
            asyncio.to_thread(lambda: aioice.ice.get_host_addresses(True, False))
        )
        assert inner == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(True, False) == everywhere
    assert "127.0.0.1" not in everywhere


def test_av_clock_uses_sender_reports_then_arrival() -> None:
    clock = AvClock({"video": 90000, "audio": 48000})
    base = 1_800_000_000.0
    # Video RTP 1000 <-> base; audio RTP 50 <-> base + 0.1. Packets arrive 30 ms later.
    clock.sender_report("video", SenderReport(base, 1000, base))
    clock.sender_report("video", SenderReport(base + 1.3, 1000 + 90000, base))  # stamped late
    clock.sender_report("audio", SenderReport(base + 0.1, 50, base))
    clock.observe("video", 1000 + 9000, base + 0.1 + 0.03)
    clock.observe("audio", 50 + 4800, base + 0.2 + 0.03)
    assert clock.sender_time("video", 1000 + 9000) == pytest.approx(base + 0.1)
    assert clock.sender_time("audio", 50 + 4800) == pytest.approx(base + 0.2)
    assert clock.server_offset == pytest.approx(0.03)
    assert clock.server_time("audio", 50 + 48000) == pytest.approx(base + 1.13)
    assert clock.mode == "rtcp"

    plain = AvClock({"video": 90000, "audio": 48000})
    plain.observe("video", 500, base + 0.05)
    plain.observe("video", 3500, base + 0.09)  # a late frame does not move the anchor
    assert plain.server_time("video", 500 + 90000) == pytest.approx(base + 1.05)
    assert plain.mode == "arrival"


def test_av_clock_takes_reordering_but_not_a_jump_back() -> None:
    clock = AvClock({"video": 90000, "audio": 48000})
    base = 1_800_000_000.0
    for n in range(30):
        clock.observe("video", n * 3000, base + n / 30)
    assert clock.place("video", 29 * 3000, base + 29 / 30) == pytest.approx(base + 29 / 30)
    # a frame late by a few frames, or half a second back: still the sender's times
    assert clock.place("video", 26 * 3000, base + 1.0) == pytest.approx(base + 26 / 30)
    assert clock.place("video", 15 * 3000, base + 1.0) == pytest.approx(base + 0.5)
    assert clock.rebased("video") == 0 and clock.mode == "arrival"
    # 10 s back (within MAX_BEHIND_S): placed on its arrival, and the frames after it on
    assert sync.MAX_BACK_S < 10 < sync.MAX_BEHIND_S
    back = 30 * 3000 - 10 * 90000
    assert clock.place("video", back, base + 1.1) == pytest.approx(base + 1.1)
    assert clock.place("video", back + 3000, base + 1.2) == pytest.approx(base + 1.1 + 1 / 30)
    assert clock.rebased("video") == 1


def opus_packets(count: int, lost: set[int]) -> list[RtpPacket]:
    """Depayloaded Opus packets 0..count-1 as the receiver hands them on, minus ``lost``."""
    out = []
    for n in range(count):
        if n in lost:
            continue
        p = RtpPacket(payload_type=111, sequence_number=(65500 + n) & 0xFFFF, timestamp=n * 960)
        p._data = bytes([n & 0xFF])  # type: ignore[attr-defined]
        out.append(p)
    return out


def through(buffer: Any, packets: list[RtpPacket]) -> list[int]:
    frames = [buffer.add(p)[1] for p in packets]
    return [f.timestamp // 960 for f in frames if f is not None]


def test_audio_jitter_buffer_loses_only_the_lost_packets() -> None:
    lost = set(random.Random(3).sample(range(400), 20))  # 5%, across a sequence wrap
    packets = opus_packets(400, lost)
    # aiortc's own buffer (why it is replaced): one hole and it stays full, dropping its
    # oldest packet for each new one.
    assert len(through(JitterBuffer(capacity=16, prefetch=4), packets)) < 0.8 * len(packets)
    out = through(passthrough.AudioJitterBuffer(), packets)
    expected = [n for n in range(400) if n not in lost]
    assert out == expected[: len(out)] and len(out) >= len(expected) - passthrough.AUDIO_HOLE_WAIT


def test_audio_jitter_buffer_reorders_a_little_and_drops_the_late() -> None:
    # One packet out per packet in: what waited behind a hole comes out with later packets.
    p = opus_packets(10, set())
    swapped = [p[0], p[2], p[1], *p[3:]]
    assert through(passthrough.AudioJitterBuffer(), swapped) == list(range(9))
    # packet 1 comes after 3 later ones: skipped at its turn, then dropped as late
    late = [p[0], p[2], p[3], p[4], p[1], *p[5:]]
    assert through(passthrough.AudioJitterBuffer(), late) == [0, 2, 3, 4, 5, 6, 7]
    # a restarted sender (sequence far ahead) starts again there
    restart = opus_packets(3, set())
    for q in restart:
        q.sequence_number = (q.sequence_number + 20000) & 0xFFFF
    assert through(passthrough.AudioJitterBuffer(), [p[0], p[1], *restart]) == [0, 1, 0, 1, 2]


def test_audio_receivers_get_the_audio_jitter_buffer() -> None:
    audio = RTCRtpReceiver("audio", SimpleNamespace(state="new", _stats_id="t"))  # type: ignore[arg-type]
    video = receiver()
    passthrough.enable(audio)
    passthrough.enable(video)
    assert isinstance(audio._RTCRtpReceiver__jitter_buffer, passthrough.AudioJitterBuffer)  # type: ignore[attr-defined]
    assert isinstance(video._RTCRtpReceiver__jitter_buffer, JitterBuffer)  # type: ignore[attr-defined]


def _packet(ssrc: int) -> RtpPacket:
    return RtpPacket(payload_type=96, ssrc=ssrc)


def test_new_ssrcs_past_the_limit_are_dropped_and_the_router_is_wrapped_once() -> None:
    routed: list[int] = []

    class Router(RtpRouter):
        def route_rtp(self, packet: RtpPacket) -> Any:  # aiortc's learns SSRCs the same way
            routed.append(packet.ssrc)
            self.ssrc_table.setdefault(packet.ssrc, object())  # type: ignore[arg-type]
            return None

    router = Router()
    route = router.route_rtp
    receiver_ = SimpleNamespace(transport=SimpleNamespace(_rtp_router=router))
    passthrough.limit_ssrcs(receiver_)  # type: ignore[arg-type]
    passthrough.limit_ssrcs(receiver_)  # type: ignore[arg-type]  # applied twice: one wrapper
    for ssrc in range(passthrough.MAX_SSRCS + 5):
        router.route_rtp(_packet(ssrc))
    router.route_rtp(_packet(3))  # a known SSRC still passes
    assert routed == [*range(passthrough.MAX_SSRCS), 3]
    assert router.route_rtp.__wrapped__ == route  # type: ignore[attr-defined]


def test_a_reshaped_router_fails_loudly() -> None:
    router = RtpRouter()
    router.route_rtp = lambda pkt, extra: None  # type: ignore[method-assign, assignment]
    with pytest.raises(LibraryChanged):
        passthrough.limit_ssrcs(SimpleNamespace(transport=SimpleNamespace(_rtp_router=router)))  # type: ignore[arg-type]
    with pytest.raises(LibraryChanged):
        passthrough.limit_ssrcs(SimpleNamespace(transport=SimpleNamespace()))  # type: ignore[arg-type]
