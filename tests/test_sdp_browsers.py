"""Offers as other browsers write them, replayed against the real server (tests/data/sdp/,
sources in its README): Firefox, Safari (macOS and iOS), Chromium with audio RED and
simulcast, trickle offers without candidates, IPv6, TCP and relay candidates. Each is
answered with Opus and one video codec the room can record, or refused with the code and
sentence the page shows. The ICE addresses in these offers are not reachable from here
(and the server gathers on 127.0.0.1 only, from which the kernel refuses to send elsewhere):
the replay checks the answer; media from such offers is checked with aiortc peers below.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aioice.ice
import pytest

from server.rtc.client import ClientPeer, MediaTimeline, PatternVideoTrack, ToneAudioTrack
from server.rtc.probe import probe_recording
from server.rtc.room import Room
from server.rtc.settings import RtcSettings
from server.session_dir import SessionDir
from tests.conftest import Client, new_session_body, wait_for
from tests.test_api_auth import assert_error

DATA = Path(__file__).parent / "data" / "sdp"
FINGERPRINT = "sha-256 " + ":".join(f"{i:02X}" for i in range(32))
SECTIONS = "the offer needs one audio and one video section, both sending"


def load(name: str) -> str:
    """A stored offer with CRLF line ends; credentials the source redacted ("-", "fake")
    filled in with well-formed values (a replayed offer never completes DTLS anyway)."""
    sdp = (DATA / name).read_text("utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
    sdp = re.sub(r"a=ice-ufrag:(?:-|fake)\r\n", "a=ice-ufrag:f1x2\r\n", sdp)
    sdp = re.sub(r"a=ice-pwd:(?:-|fake)\r\n", "a=ice-pwd:0123456789abcdefghijklmn\r\n", sdp)
    return re.sub(r"a=fingerprint:sha-256 (?:-|fake)\r\n", f"a=fingerprint:{FINGERPRINT}\r\n", sdp)


def sections(sdp: str) -> list[str]:
    return re.split(r"(?=^m=)", sdp, flags=re.M)


def without_section(sdp: str, kind: str) -> str:
    """``sdp`` without its ``kind`` section, and that section's mid out of the BUNDLE group."""
    head, *media = sections(sdp)
    gone = [m for m in media if m.startswith(f"m={kind}")]
    for m in gone:
        mid = re.search(r"a=mid:(\S+)", m)
        assert mid
        head = re.sub(rf"(a=group:BUNDLE[^\r\n]*) {re.escape(mid[1])}\b", r"\1", head)
    return head + "".join(m for m in media if m not in gone)


def without_codec(sdp: str, name: str) -> str:
    """``sdp`` without the payload types of codec ``name`` (and their RTX), as a browser
    that lacks it (or a page's setCodecPreferences) would write it."""
    out = []
    for part in sections(sdp):
        pts = set(re.findall(rf"a=rtpmap:(\d+) {name}/", part, flags=re.I))
        pts |= {rtx for rtx, apt in re.findall(r"a=fmtp:(\d+) apt=(\d+)", part) if apt in pts}
        lines = []
        for line in part.split("\r\n"):
            if line.startswith("m="):
                line = " ".join(x for x in line.split(" ") if x not in pts)
            pt = re.match(r"a=(?:rtpmap|fmtp|rtcp-fb):(\d+)", line)
            if not (pt and pt[1] in pts):
                lines.append(line)
        out.append("\r\n".join(lines))
    return "".join(out)


def answered(sdp: str, kind: str) -> list[str]:
    """Codec names (with fmtp) the answer's ``kind`` section accepts, RTX left out."""
    (part,) = [m for m in sections(sdp) if m.startswith(f"m={kind}")]
    fmtp = dict(re.findall(r"a=fmtp:(\d+) ([^\r\n]+)", part))
    return [
        f"{name} {fmtp.get(pt, '')}".strip()
        for pt, name in re.findall(r"a=rtpmap:(\d+) ([^/\r\n]+)/", part)
        if name != "rtx"
    ]


# case: (the offer, the room's video codec, the fmtp the answer must give it, if any)
ACCEPTED: dict[str, tuple[Callable[[], str], str, str | None]] = {
    # Firefox 121 (o= says 99.0: Firefox froze it), trickle: no candidates at all; braced
    # msid "- {uuid}", extmap .../recvonly, ssrc-group FID, no msid-semantic stream ids.
    "firefox121-trickle": (lambda: load("firefox121_trickle.sdp"), "VP8", None),
    # Firefox 68: host UDP and TCP candidates, end-of-candidates, session-level fingerprint.
    "firefox68-candidates": (lambda: load("firefox68.sdp"), "VP8", None),
    # Chromium 120, trickle; audio RED (63 red/48000/2) offered next to Opus.
    "chromium120-red": (lambda: load("chromium120_trickle.sdp"), "VP8", None),
    # This machine's Chromium 156 as the page calls it (addTrack, fake camera).
    "chromium156-page": (lambda: load("chromium156_page.sdp"), "VP8", None),
    # Chromium 156 with three simulcast layers (a=rid h/m/l, a=simulcast): answered
    # without simulcast, so the browser sends its first layer only.
    "chromium156-simulcast": (lambda: load("chromium156_simulcast.sdp"), "VP8", None),
    # Safari on macOS: H264 High (640c1f) and Constrained Baseline (42e01f) before VP8,
    # a single relay candidate. VP8 is taken (every browser has it; the room is VP8).
    "safari-mac": (lambda: load("safari_mac.sdp"), "VP8", None),
    # The same Safari without VP8 (as an H264-only browser): Constrained Baseline,
    # packetization-mode 1, never the High profile listed first.
    "safari-mac-h264-only": (
        lambda: without_codec(load("safari_mac.sdp"), "VP8"),
        "H264",
        "H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
    ),
    # Safari 12: mids "audio"/"video", IPv6 and srflx candidates; its data channel section
    # (the sample page opened one, ours never does) taken out.
    "safari12-ipv6": (
        lambda: without_section(load("safari12_data.sdp"), "application"),
        "VP8",
        None,
    ),
}

# case: (the offer, the error code, the sentence the client gets)
REFUSED: dict[str, tuple[Callable[[], str], str, str]] = {
    # A data channel section: nothing the pages send; refused, never half-answered.
    "safari12-data-channel": (lambda: load("safari12_data.sdp"), "sdp_media_missing", SECTIONS),
    # iOS Safari with the camera off: video inactive (and a second, recvonly, video section).
    "ios-safari-video-inactive": (
        lambda: load("ios_safari_video_inactive.sdp"),
        "sdp_media_missing",
        SECTIONS,
    ),
    # No video m-line at all (Firefox 58, audio only).
    "firefox58-audio-only": (
        lambda: load("firefox58_audio_only.sdp"),
        "sdp_media_missing",
        SECTIONS,
    ),
}


async def _new_session(client_factory: Any) -> tuple[Client, str]:
    sales: Client = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    return sales, body["session"]["id"]


@pytest.mark.parametrize("case", sorted(ACCEPTED))
async def test_offers_of_other_browsers_are_answered(
    server: Any, client_factory: Any, case: str
) -> None:
    make, codec, fmtp = ACCEPTED[case]
    sales, sid = await _new_session(client_factory)
    status, body = await sales.post(f"/api/sessions/{sid}/offer", {"type": "offer", "sdp": make()})
    assert status == 200, body
    answer = body["sdp"]
    assert [a.split(" ")[0] for a in answered(answer, "audio")] == ["opus"]
    video = answered(answer, "video")
    assert {v.split(" ")[0] for v in video} == {codec}, video
    if fmtp is not None:
        assert video == [fmtp]
    assert "a=simulcast" not in answer and "a=rid:" not in answer
    assert server.ctx.rooms.get(sid).video_codec == codec
    await sales.post(f"/api/sessions/{sid}/leave")


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_offers_the_server_cannot_record_are_refused(
    server: Any, client_factory: Any, case: str
) -> None:
    make, code, message = REFUSED[case]
    sales, sid = await _new_session(client_factory)
    status, body = await sales.post(f"/api/sessions/{sid}/offer", {"type": "offer", "sdp": make()})
    assert status == 400, body
    assert_error(body, code)
    assert body["error"]["message"] == message
    room = server.ctx.rooms.get(sid)
    assert room is None or not room._participants


def hide_addresses(sdp: str) -> str:
    """``sdp`` with every host candidate's address replaced by an mDNS name, as Chrome,
    Safari and Firefox write them when the page may not learn local addresses."""
    names: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        name = names.setdefault(m[2], f"{uuid.uuid4()}.local")
        return f"{m[1]}{name}{m[3]}"

    return re.sub(r"(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host)", rename, sdp)


def ipv6_and_tcp_only(sdp: str) -> str:
    """``sdp`` whose candidates the server (IPv4, UDP) cannot pair: its UDP host candidates
    moved to ::1 and a TCP one added per section, as Firefox lists them, end-of-candidates
    kept (Firefox ends its complete offers)."""
    sdp = re.sub(r"(a=candidate:\S+ \d+ udp \d+ )127\.0\.0\.1( \d+ typ host)", r"\1::1\2", sdp)
    tcp = "a=candidate:9 1 TCP 2105524479 127.0.0.1 9 typ host tcptype active\r\n"
    return sdp.replace("a=end-of-candidates\r\n", tcp + "a=end-of-candidates\r\n")


def without_candidates(sdp: str) -> str:
    """``sdp`` with no candidate lines (a trickle offer whose candidates never come)."""
    return re.sub(r"a=(?:candidate:[^\r\n]*|end-of-candidates)\r\n", "", sdp)


SHAPES = {"mdns-names": hide_addresses, "ipv6-tcp": ipv6_and_tcp_only, "none": without_candidates}


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_a_browser_without_usable_candidates_is_recorded(tmp_path: Path, shape: str) -> None:
    """The server learns the browser's address from its connectivity checks (peer-
    reflexive), so an offer whose candidates are all mDNS names, or only IPv6 and TCP for
    an IPv4 server, with end-of-candidates, or that has none, still connects and is
    recorded; and an mDNS name is never resolved: the server opens no mDNS socket (a query
    would go out on the server's network and hold the answer up to 1 s)."""
    sdir = SessionDir.create(tmp_path, f"s-{shape}")
    room = Room(sdir, RtcSettings(loopback_only=True, sync_wait_s=0.5))
    timeline = MediaTimeline()
    client = ClientPeer([ToneAudioTrack(timeline), PatternVideoTrack("customer", timeline)])
    offer = await client.offer()
    assert "127.0.0.1" in offer
    assert "a=end-of-candidates" in offer  # aiortc, like Firefox, ends a complete offer
    offer = SHAPES[shape](offer)
    # As those browsers write it: no address in the connection line either.
    offer = re.sub(r"c=IN IP4 \S+", "c=IN IP4 0.0.0.0", offer)
    assert not re.search(r"a=candidate:\S+ \d+ udp \d+ 127\.0\.0\.1", offer, flags=re.I)
    assert ("a=candidate:" in offer) == (shape != "none")
    try:
        await client.accept(await room.join("customer", offer))
        assert getattr(aioice.ice._mdns, "protocol", None) is None
        await wait_for(lambda: room.stats()["customer"]["recorded"].get("video", 0) > 20)
    finally:
        await room.close()
        await client.close()
    (seg,) = sdir.segments()
    probe = await asyncio.to_thread(probe_recording, seg.path)
    assert (probe.video_codec, probe.audio_codec) == ("vp8", "opus")
    assert probe.video_frames > 20 and probe.decode_errors == 0


async def test_a_safari_shaped_h264_offer_is_recorded_in_h264(tmp_path: Path) -> None:
    """H264 listed as Safari lists it (High 640c1f before Constrained Baseline 42e01f) and no
    VP8: the room takes H264 Constrained Baseline, and what an aiortc peer encodes in it is
    recorded and decodes with PyAV."""
    sdir = SessionDir.create(tmp_path, "s-safari-h264")
    room = Room(sdir, RtcSettings(loopback_only=True, sync_wait_s=0.5))
    timeline = MediaTimeline()
    client = ClientPeer([ToneAudioTrack(timeline), PatternVideoTrack("customer", timeline)])
    offer = without_codec(await client.offer(), "VP8")
    offer = offer.replace("profile-level-id=42001f", "profile-level-id=640c1f")
    assert "VP8" not in offer and offer.index("640c1f") < offer.index("42e01f")
    try:
        answer = await room.join("customer", offer)
        assert answered(answer, "video") == [
            "H264 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
        ]
        await client.accept(answer)
        await wait_for(lambda: room.stats()["customer"]["recorded"].get("video", 0) > 20)
    finally:
        await room.close()
        await client.close()
    (seg,) = sdir.segments()
    probe = await asyncio.to_thread(probe_recording, seg.path)
    assert (probe.video_codec, probe.audio_codec) == ("h264", "opus")
    assert probe.video_frames > 20 and probe.decode_errors == 0
    assert probe.audio_rms > 0.02
