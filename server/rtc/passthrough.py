"""Receive encoded packets from aiortc instead of decoded frames (no public API in aiortc 1.16).

aiortc's receiver hands each reassembled frame to a decoder thread that calls
``aiortc.rtcrtpreceiver.get_decoder(codec)``. :func:`install` replaces that one name with
a function that returns a :class:`PassThroughDecoder` when called from the decoder thread
of a receiver registered with :func:`enable`, and the original decoder otherwise; so
``track.recv()`` of a registered receiver yields ``av.Packet`` (pts = extended RTP
timestamp, time base 1/clock rate, keyframe flag set) and every other receiver in the
process (e.g. test client peers) still decodes. :func:`enable` also replaces the
receiver's timestamp mapper (aiortc rebases timestamps to 0; RTCP sync needs the real
RTP timestamps) and wraps its RTCP handler to report sender reports. For audio it also
replaces the jitter buffer with :class:`AudioJitterBuffer` (aiortc's turns one lost packet
into many on a lossy link). These touch four private attributes of ``RTCRtpReceiver``;
tests pin them.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import aiortc.rtcrtpreceiver
import av
from aiortc import RTCRtpReceiver
from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtcpSrPacket, RtpPacket
from aiortc.utils import uint16_add

from server.private_method import LibraryChanged, wrap_once
from server.rtc.frame_size import MAX_SIDE, too_large

log = logging.getLogger("kesu.rtc")

NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
# Packets (60 ms of Opus) that may come after a missing one before it is skipped.
AUDIO_HOLE_WAIT = 3
AUDIO_RESTART_GAP = 3000  # a sequence jump this far ahead is a restarted stream, not a loss

_registered: weakref.WeakSet[RTCRtpReceiver] = weakref.WeakSet()
_install_lock = threading.Lock()
_original_get_decoder: Callable[[RTCRtpCodecParameters], Decoder] | None = None


@dataclass(frozen=True)
class SenderReport:
    """The NTP<->RTP mapping of one RTCP sender report, and when it arrived (server clock)."""

    ntp_time: float  # sender's wall clock, Unix seconds
    rtp_timestamp: int  # 32-bit RTP timestamp at that instant
    arrival: float  # server's time.time() when the report arrived


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """VP8: the P bit of the frame tag is 0. H264 (Annex-B): an IDR slice or an SPS."""
    if not data:
        return False
    name = codec_name.lower()
    if name == "vp8":
        return data[0] & 1 == 0
    if name == "h264":
        return any(nal in (5, 7) for nal in _h264_nal_types(data))
    return True  # audio: every packet stands alone


def _h264_nal_types(data: bytes) -> list[int]:
    types = []
    pos = data.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(data):
        types.append(data[pos + 3] & 0x1F)
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return types


class RtpTimestampUnwrapper:
    """Stand-in for aiortc's ``TimestampMapper``: keeps the sender's RTP timestamps and
    extends them past 32 bits instead of rebasing them to 0."""

    def __init__(self) -> None:
        self._last: int | None = None
        self._extended = 0

    def map(self, timestamp: int) -> int:
        if self._last is None:
            self._extended = timestamp
        else:
            delta = (timestamp - self._last) & 0xFFFFFFFF
            if delta >= 1 << 31:
                delta -= 1 << 32
            self._extended += delta
        self._last = timestamp
        return self._extended


class PassThroughDecoder(Decoder):
    """Turns a reassembled frame into an ``av.Packet`` instead of decoding it."""

    def __init__(self, codec: RTCRtpCodecParameters) -> None:
        self.codec_name = codec.name
        self.time_base = Fraction(1, codec.clockRate)
        self._oversized = False  # the last keyframe declared a picture over MAX_SIDE
        self.dropped_oversized = 0

    def decode(self, encoded_frame: JitterFrame) -> list[Any]:
        data = encoded_frame.data
        if not data:
            return []
        keyframe = is_keyframe(self.codec_name, data)
        if keyframe and (verdict := too_large(self.codec_name, data)) is not None:
            if verdict and not self._oversized:
                log.warning(
                    "a %s sender's keyframe declares a picture over %d pixels a side: its "
                    "video is dropped until a smaller keyframe",
                    self.codec_name,
                    MAX_SIDE,
                )
            self._oversized = verdict
        if self._oversized:
            # Neither recorded nor relayed: every decoder downstream (inspection, review
            # video, live checks, the other browser) would allocate the whole picture.
            self.dropped_oversized += 1
            return []
        packet = av.Packet(data)
        packet.pts = encoded_frame.timestamp
        packet.dts = encoded_frame.timestamp
        packet.time_base = self.time_base
        packet.is_keyframe = keyframe
        return [packet]


class AudioJitterBuffer:
    """Stand-in for aiortc's audio jitter buffer in which a lost packet costs only itself.

    aiortc's (capacity 16, prefetch 4, at most one frame out per packet in) waits at a
    missing packet until 16 have queued behind it and then stays full, discarding its
    oldest packet for each new one: measured on loopback with 5% of packets dropped on the
    way, 27% of the audio never reached the recording (20% dropped: 71%). Opus packets
    stand alone and audio is not retransmitted, so here a hole with ``hold`` packets behind
    it is skipped (``hold`` x 20 ms of tolerance for reordering; a packet arriving after
    its turn is dropped), and one packet goes out for each that comes in."""

    def __init__(self, hold: int = AUDIO_HOLE_WAIT) -> None:
        self._packets: dict[int, RtpPacket] = {}
        self._origin: int | None = None
        self._hold = hold

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        seq = packet.sequence_number
        if self._origin is None:
            self._origin = seq
        ahead = uint16_add(seq, -self._origin)
        if ahead >= 0x8000:
            return False, None  # its turn has passed
        if ahead >= AUDIO_RESTART_GAP:  # a jump (the sender restarted): start again there
            self._packets.clear()
            self._origin = seq
        self._packets[seq] = packet
        origin = self._origin
        if origin not in self._packets:
            if len(self._packets) < self._hold:
                return False, None
            origin = min(self._packets, key=lambda s: uint16_add(s, -origin))
        out = self._packets.pop(origin)
        self._origin = uint16_add(origin, 1)
        data: bytes = getattr(out, "_data", b"")  # set by aiortc's depayloader
        return False, JitterFrame(data=data, timestamp=out.timestamp)


def _get_decoder(codec: RTCRtpCodecParameters) -> Decoder:
    current = threading.current_thread()
    for receiver in list(_registered):
        if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is current:
            return PassThroughDecoder(codec)
    assert _original_get_decoder is not None
    return _original_get_decoder(codec)


def install() -> None:
    """Patch ``aiortc.rtcrtpreceiver.get_decoder`` once (idempotent)."""
    global _original_get_decoder
    with _install_lock:
        if _original_get_decoder is None:
            _original_get_decoder = aiortc.rtcrtpreceiver.get_decoder  # type: ignore[attr-defined]
            aiortc.rtcrtpreceiver.get_decoder = _get_decoder  # type: ignore[attr-defined]


def enable(
    receiver: RTCRtpReceiver,
    on_sender_report: Callable[[SenderReport], None] | None = None,
) -> None:
    """Make ``receiver`` yield packets. Call before its ``receive()`` starts (i.e. right
    after ``setRemoteDescription``, before the connection is up)."""
    install()
    if not hasattr(receiver, "_RTCRtpReceiver__timestamp_mapper"):
        raise RuntimeError("aiortc internals changed: RTCRtpReceiver has no timestamp mapper")
    receiver._RTCRtpReceiver__timestamp_mapper = RtpTimestampUnwrapper()
    if getattr(receiver, "_RTCRtpReceiver__kind", None) == "audio":
        if not isinstance(getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None), JitterBuffer):
            raise RuntimeError("aiortc internals changed: RTCRtpReceiver has no jitter buffer")
        setattr(receiver, "_RTCRtpReceiver__jitter_buffer", AudioJitterBuffer())  # noqa: B010
    _registered.add(receiver)
    if on_sender_report is None:
        return
    original = receiver._handle_rtcp_packet

    async def handle_rtcp_packet(packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket):
            info = packet.sender_info
            ntp = (info.ntp_timestamp >> 32) + (info.ntp_timestamp & 0xFFFFFFFF) / (1 << 32)
            on_sender_report(SenderReport(ntp - NTP_UNIX_OFFSET, info.rtp_timestamp, time.time()))
        await original(packet)

    receiver._handle_rtcp_packet = handle_rtcp_packet  # type: ignore[method-assign]


# Distinct SSRCs one connection's RTP may come from. A browser uses one or two per track
# (media, retransmission) and a new pair when it restarts a track; aiortc otherwise takes
# every new SSRC that carries a known payload type and keeps state for each (its routing
# table, statistics, receiver reports) until the connection ends.
MAX_SSRCS = 32


def limit_ssrcs(receiver: RTCRtpReceiver) -> None:
    """Have ``receiver``'s transport discard RTP from new SSRCs once ``MAX_SSRCS`` are
    known (idempotent; call after ``setRemoteDescription``)."""
    router = getattr(receiver.transport, "_rtp_router", None)
    if router is None or not isinstance(getattr(router, "ssrc_table", None), dict):
        raise LibraryChanged("aiortc internals changed: RTCDtlsTransport has no RTP router")
    # aiortc routes every RTP packet of a connection through this one method; the limit can
    # only sit there (the router is aiortc's private object).
    wrap_once(router, "route_rtp", ("packet",), _ssrc_limited)


def _ssrc_limited(original: Callable[[RtpPacket], Any]) -> Callable[[RtpPacket], Any]:
    router = original.__self__  # type: ignore[attr-defined]

    def route_rtp(packet: RtpPacket) -> Any:
        if packet.ssrc not in router.ssrc_table and len(router.ssrc_table) >= MAX_SSRCS:
            return None
        return original(packet)

    return route_rtp


def is_enabled(receiver: RTCRtpReceiver) -> bool:
    return receiver in _registered


# SSRCs a keyframe request goes to: the most recently heard. A browser sends one media
# SSRC per track (a new one after a restart); aiortc takes any SSRC that comes with the
# track's payload type, so a sender of one packet per random SSRC had the server send a
# PLI to each of them on every request (about 40 us of the media loop apiece: 2500 SSRCs
# held it 0.1 s, every 2 s).
MAX_PLI_SOURCES = 2


async def request_keyframe(receiver: RTCRtpReceiver) -> int:
    """Send a PLI to the media SSRCs heard last (at most ``MAX_PLI_SOURCES``, within the
    last 10 s); returns how many were sent."""
    rtx = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {})
    sources = [s for s in receiver.getSynchronizationSources() if s.source not in rtx]
    sources.sort(key=lambda s: s.timestamp, reverse=True)
    for source in sources[:MAX_PLI_SOURCES]:
        await receiver._send_rtcp_pli(source.source)
    return len(sources[:MAX_PLI_SOURCES])
