"""One connection's SDP negotiation: the video codec a room takes from an offer, the peer
connection with its relay tracks, and the answer with codecs pinned and packets passed
through (``server.rtc.room.Room`` calls these when a participant joins).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp

from server.rtc import datagrams, ice, passthrough, rtcp_budget
from server.rtc.errors import RtcError
from server.rtc.offer import candidates_for_server, codec_preferences, offered_codecs
from server.rtc.participant import Participant, other_role
from server.rtc.passthrough import SenderReport
from server.rtc.recorder import CLOCK_RATES
from server.rtc.relay import PacketRelayTrack
from server.rtc.retransmit import limit_retransmits
from server.rtc.settings import RtcSettings

__all__ = ["choose_video_codec", "negotiate", "new_participant"]


def choose_video_codec(
    parsed: aiortc_sdp.SessionDescription, fixed: str | None, preferred: Sequence[str]
) -> str:
    """The video codec for a connection: the room's (``fixed``, set by its first offer) if
    the offer has it, else the first of ``preferred`` the offer has; Opus audio required."""
    offered = offered_codecs(parsed, "video")
    if "OPUS" not in offered_codecs(parsed, "audio"):
        raise RtcError("codec_unsupported", "the offer has no Opus audio")
    if fixed is not None:
        if fixed not in offered:
            raise RtcError(
                "codec_unsupported",
                f"this session's video is {fixed}; the offer has {offered}",
            )
        return fixed
    for name in preferred:
        if name.upper() in offered:
            return name.upper()
    raise RtcError("codec_unsupported", f"no supported video codec in the offer ({offered})")


def new_participant(
    role: str, serial: int, settings: RtcSettings, request_keyframe: Callable[[str], None]
) -> Participant:
    """A participant with its peer connection and the tracks that relay the other's media
    to it (a keyframe request from its browser goes to the other role)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=settings.ice.rtc_servers("kesu")))
    out = {
        "audio": PacketRelayTrack("audio", CLOCK_RATES["audio"], settings.relay_queue),
        "video": PacketRelayTrack(
            "video",
            CLOCK_RATES["video"],
            settings.relay_queue,
            on_keyframe_request=partial(request_keyframe, other_role(role)),
        ),
    }
    return Participant(role=role, serial=serial, pc=pc, out=out)


async def negotiate(
    p: Participant,
    offer_sdp: str,
    codec: str,
    settings: RtcSettings,
    on_state: Callable[[Participant], None],
    on_sender_report: Callable[[Participant, str, SenderReport], None],
) -> str:
    """Answer ``p``'s offer with Opus and ``codec`` pinned; returns the SDP answer."""
    transceivers: dict[str, RTCRtpTransceiver] = {}
    for kind, name in (("audio", "opus"), ("video", codec)):
        transceivers[kind] = p.pc.addTransceiver(p.out[kind], direction="sendrecv")
        transceivers[kind].setCodecPreferences(codec_preferences(kind, name))
    p.out["video"].attach(transceivers["video"].sender)
    for transceiver in transceivers.values():
        limit_retransmits(transceiver.sender)
    p.pc.on("connectionstatechange", partial(on_state, p))
    try:
        offer = RTCSessionDescription(
            candidates_for_server(offer_sdp, settings.remote_candidates), "offer"
        )
        await p.pc.setRemoteDescription(offer)
    except RtcError:
        raise
    except Exception as exc:
        if "description send parameters" in str(exc):
            raise RtcError("codec_unsupported", f"no common codec: {exc}") from None
        raise RtcError("sdp_malformed", f"the offer was refused: {exc}") from None
    # Still before the connection starts receiving (that waits for ICE and DTLS).
    for kind, transceiver in transceivers.items():
        p.receivers[kind] = transceiver.receiver
        passthrough.enable(transceiver.receiver, partial(on_sender_report, p, kind))
        passthrough.limit_ssrcs(transceiver.receiver)
        datagrams.drop_harmful(transceiver.receiver.transport.transport)
        rtcp_budget.limit_rtcp(transceiver.receiver.transport)
    try:
        answer = await p.pc.createAnswer()
        with (
            ice.candidate_addresses(settings.candidate_addresses),
            ice.udp_port_range(settings.udp_ports),
        ):
            await p.pc.setLocalDescription(answer)
    except ValueError as exc:
        # aiortc's checks of the answer against the offer ("Media sections in answer do not
        # match offer"): the offer's fault, a 400, never a 500.
        raise RtcError("sdp_malformed", f"no answer can be made to the offer: {exc}") from None
    return str(p.pc.localDescription.sdp)
