"""Recorded voice playback of script nodes: the known audio, and proof that it was played whole.

A template node may name an audio file (``playback:``). The server encodes that file once
to 20 ms Opus packets (:func:`encode_opus`), sends them to every participant and records
them as the session's ``system`` track, one ``system-NNN.mkv`` per playback, between a
``playback_start`` and a ``playback_end`` event. libopus is deterministic for the same
input and settings, so the inspection re-encodes the template's file and compares: a
played node is covered when the recorded packets are exactly the known packets (SHA-256
over them), all of them (duration), and the file is the one whose hash the metadata holds.
No speech recognition is needed for such a node; its text becomes a salesperson utterance
at the playback's time so the customer's answer after it is checked as for a spoken node.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import av
from av.audio.codeccontext import AudioCodecContext

from inspection.templates import RenderedNode, Template

if TYPE_CHECKING:  # imported when used: the server imports this module at start-up
    from inspection.speech import Utterance

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms: the packet size WebRTC peers expect
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
BIT_RATE = 48000
MAX_PLAYBACK_S = 300.0  # one node's audio; the whole script should be under 5 minutes
SELF_SERVICE = "self_service"  # metadata.json mode of a session the customer records alone


class PlaybackError(ValueError):
    """A playback file cannot be read or is not usable audio."""


@dataclass(frozen=True)
class EncodedAudio:
    """A playback file as the Opus packets that are sent and recorded."""

    path: Path
    source_sha256: str  # of the file's bytes
    packets: tuple[bytes, ...]
    packets_sha256: str  # of the packets, see packets_digest()

    @property
    def duration_s(self) -> float:
        return len(self.packets) * FRAME_S


def packets_digest(packets: Any) -> str:
    """SHA-256 over the packets, each prefixed by its 4-byte length (no ambiguity)."""
    h = hashlib.sha256()
    for data in packets:
        b = bytes(data)
        h.update(len(b).to_bytes(4, "big"))
        h.update(b)
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def encode_opus(path: Path | str) -> EncodedAudio:
    """Decode any audio file FFmpeg reads and encode it as 48 kHz stereo Opus, 20 ms per
    packet (blocking; cached per path, size and modification time)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise PlaybackError(f"cannot read playback file {p}: {exc}") from None
    return _encode_cached(p.resolve(), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _encode_cached(path: Path, _size: int, _mtime: int) -> EncodedAudio:
    encoder = av.CodecContext.create("libopus", "w")
    assert isinstance(encoder, AudioCodecContext)
    encoder.sample_rate = SAMPLE_RATE
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.bit_rate = BIT_RATE
    encoder.options = {"application": "audio", "frame_duration": "20"}
    resampler = av.AudioResampler(
        format="s16", layout="stereo", rate=SAMPLE_RATE, frame_size=FRAME_SAMPLES
    )
    packets: list[bytes] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise PlaybackError(f"{path}: no audio stream")
            for frame in container.decode(audio=0):
                for chunk in resampler.resample(frame):
                    chunk.pts = None
                    packets += [bytes(pk) for pk in encoder.encode(chunk)]
                if len(packets) * FRAME_S > MAX_PLAYBACK_S:
                    raise PlaybackError(f"{path}: longer than {MAX_PLAYBACK_S:.0f} s")
        for chunk in resampler.resample(None):
            chunk.pts = None
            packets += [bytes(pk) for pk in encoder.encode(chunk)]
        packets += [bytes(pk) for pk in encoder.encode(None)]
    except av.FFmpegError as exc:
        raise PlaybackError(f"{path}: not readable audio ({exc})") from None
    if not packets:
        raise PlaybackError(f"{path}: no audio")
    return EncodedAudio(path, _file_sha256(path), tuple(packets), packets_digest(packets))


def playback_durations(template: Template) -> dict[str, float]:
    """Seconds of audio of every played node (decodes each file: raises PlaybackError)."""
    return {n.id: encode_opus(n.playback).duration_s for n in template.nodes if n.playback}


def recorded_packets(path: Path) -> list[bytes]:
    """The audio packets of a recorded ``system-NNN.mkv``, in order (blocking)."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        stream = container.streams.audio[0]
        return [bytes(pk) for pk in container.demux(stream) if pk.size]


# ---------------------------------------------------------------------------------------------
# What the inspection reads


@dataclass(frozen=True)
class PlayedNode:
    """One playback of a node found in a session and what checking it showed."""

    node: str
    file: str | None  # the system segment
    start_s: float
    end_s: float
    complete: bool
    problems: tuple[str, ...] = ()  # why it is not complete (empty when complete)


def check_playbacks(
    session_dir: Path, meta: dict[str, Any], nodes: list[RenderedNode]
) -> list[PlayedNode]:
    """Every ``playback_end`` event of ``meta`` checked against the template's audio and the
    recorded ``system`` segment (blocking: hashes and demuxes the files)."""
    by_id = {n.id: n for n in nodes}
    segments = {s.get("file"): s for s in meta.get("segments") or []}
    starts = {
        (e.get("detail") or {}).get("segment"): e
        for e in meta.get("events") or []
        if e.get("type") == "playback_start"
    }
    out = []
    for e in meta.get("events") or []:
        if e.get("type") != "playback_end":
            continue
        detail = e.get("detail") or {}
        file = detail.get("segment")
        start = starts.get(file) or {}
        node = by_id.get(str(e.get("node")))
        both = {**(start.get("detail") or {}), **detail}  # source hash is in the start event
        problems = _problems(session_dir, node, segments.get(file), both)
        out.append(
            PlayedNode(
                node=str(e.get("node")),
                file=file,
                start_s=float(start.get("t_s") or 0.0),
                end_s=float(e.get("t_s") or 0.0),
                complete=not problems,
                problems=tuple(problems),
            )
        )
    return out


def _problems(
    session_dir: Path,
    node: RenderedNode | None,
    segment: dict[str, Any] | None,
    detail: dict[str, Any],
) -> list[str]:
    if node is None or node.playback is None:
        return ["the node has no playback audio in this template"]
    if segment is None or not segment.get("sha256"):
        return ["no finished system recording for this playback"]
    path = session_dir / str(segment["file"])
    if not path.is_file() or _file_sha256(path) != segment["sha256"]:
        return ["the system recording is missing or differs from its recorded hash"]
    try:
        known = encode_opus(node.playback)
    except PlaybackError as exc:
        return [str(exc)]
    problems = []
    if detail.get("source_sha256") != known.source_sha256:
        problems.append("the audio played is not the template's audio file")
    try:
        recorded = recorded_packets(path)
    except av.FFmpegError as exc:
        return [f"the system recording cannot be read ({exc})"]
    if len(recorded) != len(known.packets):
        problems.append(
            f"played {len(recorded) * FRAME_S:.2f} s of {known.duration_s:.2f} s of audio"
        )
    elif packets_digest(recorded) != known.packets_sha256:
        problems.append("the recorded audio differs from the template's audio")
    return problems


def played_utterances(played: list[PlayedNode], nodes: list[RenderedNode]) -> list[Utterance]:
    """A salesperson utterance with the node's exact text for every complete playback
    (its words spread evenly over the playback), for the script alignment."""
    from inspection.speech import Utterance, Word

    by_id = {n.id: n for n in nodes}
    out = []
    for p in played:
        node = by_id.get(p.node)
        if not p.complete or node is None or p.end_s <= p.start_s:
            continue
        chars = list(node.text)
        step = (p.end_s - p.start_s) / max(1, len(chars))
        words = [
            Word(p.start_s + i * step, p.start_s + (i + 1) * step, ch, 1.0)
            for i, ch in enumerate(chars)
        ]
        out.append(Utterance("salesperson", p.start_s, p.end_s, node.text, words))
    return out


def with_played_nodes(
    session_dir: Path, nodes: list[RenderedNode], utterances: dict[str, list[Utterance]]
) -> dict[str, list[Utterance]]:
    """``utterances`` with the text of every complete playback added to the salesperson's
    (blocking): a verified playback says the node's exact text, without recognition."""
    said = played_utterances(check_playbacks(session_dir, load_metadata(session_dir), nodes), nodes)
    if not said:
        return utterances
    own = utterances.get("salesperson", [])
    return {**utterances, "salesperson": sorted([*own, *said], key=lambda u: u.start_s)}


def script_speech(utterances: dict[str, list[Utterance]], mode: str) -> dict[str, list[Utterance]]:
    """The transcripts the script is checked on. In a self-service session nobody speaks
    for the salesperson: the nodes not played are shown to the customer, who reads them
    aloud, so the customer's speech also counts towards those nodes (and their numbers are
    checked against the policy as the salesperson's would be)."""
    if mode != SELF_SERVICE:
        return utterances
    read = [replace(u, participant="salesperson") for u in utterances.get("customer", [])]
    both = [*utterances.get("salesperson", []), *read]
    return {**utterances, "salesperson": sorted(both, key=lambda u: u.start_s)}


def load_metadata(session_dir: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((session_dir / "metadata.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data
