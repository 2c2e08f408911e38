"""A cap on the RTCP a connection's peer can have the server handle: 20 KB a second.

Each RTCP datagram the peer sends is parsed and acted on by aiortc on the media loop that
every room shares, and some cost far more than their size: a NACK lists 17 packets in 4
bytes, so one 1452-byte datagram lists 6120, which aiortc parses (0.6 ms) and hands one by
one to the sender's retransmission (2 ms in all, against about 0.1 ms for a datagram of 40
PLIs or an RTP packet). A peer sending such datagrams as fast as it could held the media
loop for all of it. A browser's own RTCP (receiver and sender reports about once a second,
NACKs and PLIs on loss) is well under 5 KB a second; what a peer sends beyond the cap is
dropped after SRTP authentication (so only the peer itself can spend its allowance) and
before aiortc parses it.

This replaces ``RTCDtlsTransport._handle_rtcp_data`` (private: called for every unprotected
RTCP datagram) on each connection's transport (``server/private_method.py``); tests pin it.
"""

from __future__ import annotations

import logging

from aiortc import RTCDtlsTransport

from server.private_method import Method, wrap_once
from server.rtc.token_bucket import TokenBucket

log = logging.getLogger("kesu.rtc")

MAX_RTCP_BYTES_PER_S = 20_000  # per connection, with a burst of as many


def limit_rtcp(dtls: RTCDtlsTransport) -> None:
    """Have ``dtls`` handle at most ``MAX_RTCP_BYTES_PER_S`` of RTCP a second from its peer
    (idempotent; call before the connection starts)."""
    wrap_once(dtls, "_handle_rtcp_data", ("data",), _limited)


def _limited(original: Method) -> Method:
    bucket = TokenBucket(MAX_RTCP_BYTES_PER_S)
    dropped = 0

    async def handle_rtcp_data(data: bytes) -> None:
        nonlocal dropped
        if bucket.take(len(data)):
            await original(data)
            return
        if not dropped:
            log.warning(
                "a peer sends RTCP over %d bytes a second: the rest is dropped",
                MAX_RTCP_BYTES_PER_S,
            )
        dropped += 1

    return handle_rtcp_data
