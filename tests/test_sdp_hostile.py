"""Hostile SDP offers: sections the product never asked for, BUNDLE groups naming sections
that are not there, and candidate floods. Each is a 400 in the documented error shape with a
fixed sentence, and leaves no participant behind: a good offer still joins afterwards."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Client, RunningServer, new_session_body
from tests.test_api_auth import assert_error
from tests.test_api_recording import make_peer


async def _good_offer() -> str:
    peer = make_peer("salesperson")
    try:
        return await peer.offer()
    finally:
        await peer.close()


def _data_sections(offer: str, n: int) -> str:
    """``offer`` plus ``n`` data-channel sections, all in its BUNDLE group."""
    ufrag = re.search(r"a=ice-ufrag:(\S+)", offer)
    pwd = re.search(r"a=ice-pwd:(\S+)", offer)
    fingerprint = re.search(r"a=fingerprint:([^\r\n]+)", offer)
    assert ufrag and pwd and fingerprint
    sections = "".join(
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
        f"a=ice-ufrag:{ufrag[1]}\r\na=ice-pwd:{pwd[1]}\r\na=fingerprint:{fingerprint[1]}\r\n"
        f"a=setup:actpass\r\na=mid:d{k}\r\na=sctp-port:5000\r\n"
        for k in range(n)
    )
    mids = " ".join(f"d{k}" for k in range(n))
    return offer.replace("a=group:BUNDLE 0 1", f"a=group:BUNDLE 0 1 {mids}") + sections


def _section(offer: str, kind: str) -> str:
    """The ``kind`` media section of ``offer``, up to the next section or the end."""
    start = offer.index(f"m={kind}")
    end = offer.find("m=", start + 1)
    return offer[start:] if end < 0 else offer[start:end]


def _candidates(offer: str, n: int) -> str:
    """``offer`` with ``n`` extra host candidates (private addresses) in each media section."""
    extra = "".join(
        f"a=candidate:{900 + i} 1 udp 2122260223 10.{i // 250}.{i % 250}.1 {20000 + i} typ host\r\n"
        for i in range(n)
    )
    return re.sub(r"(a=mid:[^\r\n]*\r\n)", lambda m: m[1] + extra, offer)


MALFORMED = "the SDP offer is not valid"
SECTIONS = "the offer needs one audio and one video section, both sending"
# case: (how the good offer is changed, error code, message)
HOSTILE: dict[str, tuple[Callable[[str], str], str, str]] = {
    "bundle-names-a-missing-section": (
        lambda o: o.replace("a=group:BUNDLE 0 1", "a=group:BUNDLE x 1"),
        "sdp_malformed",
        MALFORMED,
    ),
    "mid-outside-bundle-group": (
        lambda o: o.replace("a=mid:0\r\n", "a=mid:7\r\n"),
        "sdp_malformed",
        MALFORMED,
    ),
    "one-data-section": (lambda o: _data_sections(o, 1), "sdp_media_missing", SECTIONS),
    "five-data-sections": (lambda o: _data_sections(o, 5), "sdp_media_missing", SECTIONS),
    "second-audio-section": (
        lambda o: o + _section(o, "audio").replace("a=mid:", "a=mid:9"),
        "sdp_media_missing",
        SECTIONS,
    ),
    "candidate-flood": (lambda o: _candidates(o, 200), "sdp_malformed", MALFORMED),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_offer_is_400_and_leaves_no_participant(
    server: RunningServer, client_factory: Any, case: str
) -> None:
    sales: Client = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    good = await _good_offer()
    assert "a=group:BUNDLE 0 1\r\n" in good and "a=mid:0\r\n" in good

    change, code, message = HOSTILE[case]
    status, body = await sales.post(
        f"/api/sessions/{sid}/offer", {"type": "offer", "sdp": change(good)}
    )
    assert status == 400, body
    assert_error(body, code)
    assert body["error"]["message"] == message
    room = server.ctx.rooms.get(sid)
    assert room is None or not room._participants

    # Nothing was left holding the role: the same session still takes a good offer.
    status, body = await sales.post(f"/api/sessions/{sid}/offer", {"type": "offer", "sdp": good})
    assert status == 200, body
    await sales.post(f"/api/sessions/{sid}/leave")


async def test_a_browser_sized_candidate_list_is_accepted(client_factory: Any) -> None:
    """A multi-homed browser (several interfaces, IPv4 and IPv6, UDP and TCP, TURN) offers a
    few dozen candidates per section: that must still join."""
    sales: Client = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    offer = _candidates(await _good_offer(), 40)
    status, body = await sales.post(f"/api/sessions/{sid}/offer", {"type": "offer", "sdp": offer})
    assert status == 200, body
    await sales.post(f"/api/sessions/{sid}/leave")
