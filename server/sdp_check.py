"""What an SDP offer must satisfy before it reaches the media layer, and what the user is
told when it does not: a fixed sentence per refusal code, never the parser's exception text
(the details go to the log)."""

from __future__ import annotations

import logging

from server.rtc.errors import RtcError
from server.rtc.offer import parse_offer

log = logging.getLogger("kesu.sdp")

PUBLIC_MESSAGES = {
    "sdp_malformed": "the SDP offer is not valid",
    "sdp_media_missing": "the offer needs one audio and one video section, both sending",
    "codec_unsupported": "the offer has no audio or video codec this server can record",
}


def public_message(exc: RtcError) -> str:
    """The sentence a client sees for ``exc``; internal wording is kept for the log."""
    return PUBLIC_MESSAGES.get(exc.code, exc.message)


def check_offer(offer_sdp: str, max_bytes: int) -> None:
    """Refuse an offer that aiortc would choke on later, before any room is involved.

    Beyond ``parse_offer`` (size, shape, ICE/DTLS): every media section needs its own
    ``a=mid``, and a BUNDLE group must name exactly those sections; else aiortc fails while
    building the answer ("Media sections in answer do not match offer") or while closing
    the half-built connection, instead of refusing the offer.
    """
    parsed = parse_offer(offer_sdp, max_bytes)
    mids = [m.rtp.muxId for m in parsed.media]
    if any(not mid for mid in mids) or len(set(mids)) != len(mids):
        raise RtcError("sdp_malformed", f"media sections need distinct a=mid values: {mids}")
    for group in parsed.group:
        if group.semantic == "BUNDLE" and sorted(map(str, group.items)) != sorted(mids):
            raise RtcError(
                "sdp_malformed",
                f"the BUNDLE group {group.items} does not match the sections {mids}",
            )
