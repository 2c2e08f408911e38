"""Datagrams a media connection never hands to aiortc: empty ones, and RTP/RTCP over the
size SRTP can unprotect.

aioice passes every datagram that is not STUN to the connection, whoever sent it (only
SRTP authentication tells the peer's packets from others). aiortc's receive loop reads the
first byte of each (an empty datagram raised IndexError) and pylibsrtp unprotects at most
1500 bytes, raising ValueError for more instead of its own error, which is the only one
aiortc catches. Either exception ended the connection's receive loop: one datagram from
anyone who knew the port stopped the participant's media, and the room dropped it. Neither
can be a packet of the peer's (no SRTP packet is empty, and none over 1500 bytes could be
unprotected anyway), so they are dropped before aiortc sees them.

This replaces ``RTCIceTransport._recv`` (private: the receive call ``RTCDtlsTransport``
makes) on each connection's transport (``server/private_method.py``); tests pin it.
"""

from __future__ import annotations

import logging

from aiortc import RTCIceTransport

from server.private_method import Method, wrap_once

log = logging.getLogger("kesu.rtc")

MAX_SRTP_BYTES = 1500  # pylibsrtp's buffer: larger SRTP/SRTCP raises ValueError


def _harmful(data: bytes) -> bool:
    # aiortc takes a first byte of 128-191 for RTP/RTCP (RFC 7983), the rest it handles.
    return not data or (len(data) > MAX_SRTP_BYTES and 127 < data[0] < 192)


def drop_harmful(ice: RTCIceTransport) -> None:
    """Have ``ice`` drop the datagrams that would end its connection (idempotent; call
    before the connection starts)."""
    wrap_once(ice, "_recv", (), _dropping)


def _dropping(original: Method) -> Method:
    dropped = 0

    async def recv() -> bytes:
        nonlocal dropped
        while True:
            data: bytes = await original()
            if not _harmful(data):
                return data
            if not dropped:
                log.warning("a datagram of %d bytes that aiortc cannot take was dropped", len(data))
            dropped += 1

    return recv
