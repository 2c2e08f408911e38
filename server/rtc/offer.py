"""A browser's SDP offer: size and shape checks, and the codecs it offers (for the room's answer)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpSender
from aiortc import sdp as aiortc_sdp
from aiortc.rtcdtlstransport import X509_DIGEST_ALGORITHMS

from server.rtc.errors import RtcError

# ICE candidates one media section may list. A browser on a multi-homed machine (several
# interfaces, IPv4 and IPv6, UDP and TCP, a few TURN servers) gathers a few dozen; every
# remote candidate makes the server send STUN checks to the address it names, so an offer
# with hundreds would have it probe hosts of the attacker's choosing.
MAX_CANDIDATES = 64

# ``a=ssrc`` lines an offer may hold. A browser writes 2-12 (cname and msid of its media and
# RTX SSRCs); aiortc's parser looks each SSRC up among those before it (quadratic): 3,000
# lines in a 64 KB offer held the event loop about 0.2 s, and the offer is parsed on the
# API's loop and again on the media loop that every room shares, even to be refused.
MAX_SSRC_LINES = 64
_SSRC_LINE = re.compile(r"^a=ssrc:", re.M)

# A host candidate whose address is an mDNS name (``<uuid>.local``): what Chrome, Safari and
# Firefox write instead of the local IP address when the page may not learn it.
_MDNS_CANDIDATE = re.compile(
    r"^a=candidate:\S+ \d+ \S+ \d+ [^ \r\n]+\.local \d+ [^\r\n]*(?:\r?\n|\Z)", re.I | re.M
)
# RFC 8839 5.4: ice-ufrag is 4-256 and ice-pwd 22-256 ice-chars (ALPHA / DIGIT / "+" / "/").
_UFRAG = re.compile(r"[A-Za-z0-9+/]{4,256}")
_PASSWORD = re.compile(r"[A-Za-z0-9+/]{22,256}")
# The fingerprint algorithms aiortc checks a peer's certificate with, and the form of a
# value of each: the digest's bytes in hex, colon-separated.
_FINGERPRINTS = {
    name: re.compile(rf"[0-9A-Fa-f]{{2}}(?::[0-9A-Fa-f]{{2}}){{{digest.digest_size - 1}}}")
    for name, digest in X509_DIGEST_ALGORITHMS.items()
}
_END_OF_CANDIDATES = re.compile(r"^a=end-of-candidates[ \t]*(?:\r?\n|\Z)", re.M)

# Private ranges a remote candidate may name when ``RemoteCandidatePolicy.allow_private``
# (browser and server on one intranet). Loopback, link-local (169.254.169.254 is a cloud
# metadata service), multicast, broadcast, unspecified and reserved ranges never are.
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
# NAT64's well-known prefix: 64:ff9b::7f00:1 is 127.0.0.1 behind a NAT64 gateway.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class RemoteCandidatePolicy:
    """Which of an offer's ICE candidates the server's ICE may send STUN checks to.

    Every remote candidate the server takes is an address it sends UDP packets to, named by
    whoever holds a login or a join link: without a bound, an offer makes the server probe
    hosts and ports of the sender's choosing on its own networks (request forgery, port
    scanning). Dropping a candidate costs no connectivity the browser can reach: the
    browser's checks to the server's candidates arrive from its real address, which ICE
    then uses as a peer-reflexive candidate (RFC 8445 7.3.1.3).
    """

    allow_private: bool = False
    """Also take candidates on private networks (RFC 1918, CGNAT 100.64/10, IPv6 ULA)."""
    max_per_section: int = 8
    """Take at most this many (the first ones that pass) per media section."""

    def allows(self, address: str) -> bool:
        """Whether a candidate naming ``address`` (an IP literal) may be probed."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # a host name: aioice refuses it too, but never resolve one
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            elif ip.sixtofour is not None:
                ip = ip.sixtofour
            elif ip in _NAT64:
                ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.is_multicast or ip.is_loopback or ip.is_link_local or ip.is_reserved:
            return False  # multicast counts as "global" for the ipaddress module
        if ip.is_global:
            return True
        return self.allow_private and any(ip in net for net in _PRIVATE_NETWORKS)


def parse_offer(offer_sdp: str, max_bytes: int) -> aiortc_sdp.SessionDescription:
    """Check size and shape of an SDP offer: one audio and one video section, both sending."""
    if not isinstance(offer_sdp, str):
        raise RtcError("sdp_malformed", "the SDP offer must be a string")
    if len(offer_sdp.encode("utf-8", "replace")) > max_bytes:
        raise RtcError("sdp_too_large", f"the SDP offer is larger than {max_bytes} bytes")
    if not offer_sdp.lstrip().startswith("v=0"):
        raise RtcError("sdp_malformed", "the SDP offer does not start with v=0")
    ssrc_lines = len(_SSRC_LINE.findall(offer_sdp))
    if ssrc_lines > MAX_SSRC_LINES:  # before aiortc's parser sees them
        raise RtcError(
            "sdp_malformed",
            f"the SDP offer has {ssrc_lines} a=ssrc lines (at most {MAX_SSRC_LINES})",
        )
    try:
        parsed = aiortc_sdp.SessionDescription.parse(offer_sdp)
    except Exception as exc:  # the parser raises ValueError, IndexError, KeyError...
        raise RtcError("sdp_malformed", f"the SDP offer cannot be parsed ({exc})") from None
    # Exactly these two: a data channel or a second audio section is nothing this product
    # records, and aiortc fails on several of them while answering instead of refusing.
    kinds = [m.kind for m in parsed.media]
    if sorted(kinds) != ["audio", "video"]:
        raise RtcError(
            "sdp_media_missing", "the offer needs exactly one audio and one video section"
        )
    for media in parsed.media:
        if media.kind in ("audio", "video") and media.direction not in ("sendrecv", "sendonly"):
            raise RtcError("sdp_media_missing", f"the offer does not send {media.kind}")
        if media.kind in ("audio", "video") and (
            media.ice is None or media.ice.usernameFragment is None or not media.dtls
        ):
            raise RtcError(
                "sdp_malformed", f"the {media.kind} section lacks ICE or DTLS parameters"
            )
        _check_credentials(media)
        if len(media.ice_candidates) > MAX_CANDIDATES:
            raise RtcError(
                "sdp_malformed",
                f"the {media.kind} section lists {len(media.ice_candidates)} ICE candidates "
                f"(at most {MAX_CANDIDATES})",
            )
    return parsed


def _check_credentials(media: aiortc_sdp.MediaDescription) -> None:
    """Refuse ICE credentials and DTLS fingerprints the connection could never use.

    aiortc takes any and fails only after the answer: with no fingerprint of an algorithm it
    can check (sha-256/384/512), or one that is not that digest's colon-separated hex, the
    DTLS handshake fails once ICE has connected, so the offer was answered ``200`` and the
    participant joined (a join counted, a segment begun) only to be dropped. A ufrag or
    password outside RFC 8839's 4-256 and 22-256 ice-chars goes into every STUN check
    the server sends (a 5,000-character ufrag was taken).
    """
    assert media.ice is not None and media.dtls is not None  # checked by the caller
    if not _UFRAG.fullmatch(media.ice.usernameFragment or "") or not _PASSWORD.fullmatch(
        media.ice.password or ""
    ):
        raise RtcError("sdp_malformed", f"the {media.kind} section's ICE credentials are invalid")
    checkable = [f for f in media.dtls.fingerprints if f.algorithm.lower() in _FINGERPRINTS]
    if not checkable or not all(
        _FINGERPRINTS[f.algorithm.lower()].fullmatch(f.value) for f in checkable
    ):
        raise RtcError(
            "sdp_malformed",
            f"the {media.kind} section has no DTLS fingerprint this server can check: "
            f"{[f.algorithm for f in media.dtls.fingerprints]}",
        )


def candidates_for_server(offer_sdp: str, policy: RemoteCandidatePolicy | None = None) -> str:
    """``offer_sdp`` as the server's ICE should take it: without mDNS (``*.local``) host
    candidates, candidates on a port outside 1-65535 (``_udp_port``) and
    ``a=end-of-candidates``, and with ``policy`` (if any) applied to
    each section's candidates (``RemoteCandidatePolicy``; None: loopback-only rooms, whose
    ICE can reach nothing but loopback anyway).

    An mDNS name is answered only on the browser's own network. aioice would resolve it by
    multicasting a query on the server's network, with a name the client chose, and wait up
    to a second per offer for an answer that never comes.

    End-of-candidates would let aioice give up as soon as the candidates it was given are
    exhausted: with none it can pair (only mDNS names, only IPv6 or TCP for an IPv4/UDP
    server: Firefox ends its complete offers so) it fails before the browser has even seen
    the answer. Without it the server waits for the browser's checks to its own candidates
    (from the answer): they arrive from the browser's real address, which ICE then uses (a
    peer-reflexive candidate, RFC 8445 7.3.1.3). A browser that never gets through is
    dropped after ``connect_timeout_s`` like any other.
    """
    sdp = _END_OF_CANDIDATES.sub("", _MDNS_CANDIDATE.sub("", offer_sdp))
    kept: list[str] = []
    taken = 0
    for line in sdp.splitlines(keepends=True):
        if line.startswith("m="):
            taken = 0
        elif line.startswith("a=candidate:"):
            # foundation component transport priority address port "typ" type ...
            fields = line.split()
            if len(fields) < 6 or not _udp_port(fields[5]):
                continue
            if policy is not None:
                if taken >= policy.max_per_section or not policy.allows(fields[4]):
                    continue
                taken += 1
        kept.append(line)
    return "".join(kept)


def _udp_port(text: str) -> bool:
    """A port a datagram can be sent to. aioice takes any integer, and a check sent to port
    99999 is a fatal error for asyncio, which then closes the server's socket: one such
    candidate cost the whole connection."""
    return text.isdigit() and 1 <= int(text) <= 65535


def offered_codecs(parsed: aiortc_sdp.SessionDescription, kind: str) -> list[str]:
    """Codec names of one kind in the offer, upper-case, in offer order."""
    for media in parsed.media:
        if media.kind == kind:
            return [c.name.upper() for c in media.rtp.codecs]
    return []


def codec_preferences(kind: str, name: str) -> list[Any]:
    """aiortc capabilities for codec ``name`` (plus RTX for video)."""
    caps = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in caps if c.name.upper() == name.upper()]
    if kind == "video":
        chosen += [c for c in caps if c.name.lower() == "rtx"]
    return chosen
