"""A cap on the packets the server resends on a peer's NACKs.

aiortc's ``RTCRtpSender`` resends every packet an RTCP NACK lists that is still in its
128-packet history, with no limit: a NACK of about 50 bytes can ask for the whole history
(about 128 KB of media). A peer sending 2700 such NACKs a second had the server resend
23,000 packets a second to it, all SRTP-protected on the media loop that every room shares.
Loss recovery needs far less: a second of 640x480 video is about 100-200 packets.

This replaces ``RTCRtpSender._retransmit`` (private: what the sender calls for each packet a
NACK lists) on each sender (``server/private_method.py``); tests pin it.
"""

from __future__ import annotations

from aiortc import RTCRtpSender

from server.private_method import Method, wrap_once
from server.rtc.token_bucket import TokenBucket

MAX_RETRANSMITS_PER_S = 200  # per sender, with a burst of as many


def limit_retransmits(sender: RTCRtpSender) -> None:
    """Let ``sender`` resend at most ``MAX_RETRANSMITS_PER_S`` packets a second (token
    bucket); NACKed packets beyond that are not resent (the peer's loss to recover from).
    Idempotent."""
    wrap_once(sender, "_retransmit", ("sequence_number",), _limited)


def _limited(original: Method) -> Method:
    bucket = TokenBucket(MAX_RETRANSMITS_PER_S)

    async def retransmit(sequence_number: int) -> None:
        if bucket.take():
            await original(sequence_number)

    return retransmit
