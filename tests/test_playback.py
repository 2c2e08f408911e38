"""Voice playback: a node's audio played into a live room (aiortc peers on loopback) is heard,
recorded as system-000.mkv between playback events, and the inspection takes the node as
covered only when the recording is the template's audio, whole."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from inspection.playback import (
    SELF_SERVICE,
    check_playbacks,
    encode_opus,
    played_utterances,
    recorded_packets,
    script_speech,
)
from inspection.rules import Thresholds
from inspection.script_stage import align_script
from inspection.speech import Utterance, Word
from inspection.templates import SAMPLE_POLICY, TemplateError, load_template, render
from server.rtc.playback import Clip
from server.rtc.room import Room
from server.session_dir import SessionDir
from tests.test_rtc_room import SETTINGS, connect, wait_for

TEMPLATE = Path(__file__).parent / "data" / "templates" / "playback.yaml"


def clip_of(node_id: str) -> Clip:
    node = load_template(TEMPLATE).node(node_id)
    assert node.playback is not None
    audio = encode_opus(node.playback)
    return Clip(node_id, audio.packets, audio.source_sha256, audio.packets_sha256)


def read_meta(sdir: SessionDir) -> dict:
    return json.loads((sdir.path / "metadata.json").read_text("utf-8"))


async def play_in_room(tmp_path: Path, stop_after_s: float | None = None) -> dict:
    sdir = SessionDir.create(tmp_path, "s-play", template_id="playback")
    room = Room(sdir, SETTINGS)
    customer = await connect(room, "customer")
    sales = await connect(room, "salesperson")
    clients = (customer, sales)
    try:
        await wait_for(lambda: all(c.received.frames["audio"] > 50 for c in clients), 15)
        before = [c.received.frames["audio"] for c in clients]
        await room.player.play(clip_of("consent"))
        assert room.player.playing
        if stop_after_s is not None:
            await asyncio.sleep(stop_after_s)
            await room.player.stop()
        else:
            await wait_for(lambda: not room.player.playing, 30)
        # Both parties received audio all along (the playback while it ran).
        await wait_for(
            lambda: all(
                c.received.frames["audio"] > b + 100 for c, b in zip(clients, before, strict=True)
            ),
            15,
        )
    finally:
        await room.close()
        for c in clients:
            await c.close()
    return read_meta(sdir)


async def test_played_node_is_recorded_and_covered(tmp_path: Path) -> None:
    meta = await play_in_room(tmp_path)
    system = [s for s in meta["segments"] if s["participant"] == "system"]
    assert [s["file"] for s in system] == ["system-000.mkv"]
    assert system[0]["status"] == "finished" and system[0]["sha256"]
    start = next(e for e in meta["events"] if e["type"] == "playback_start")
    end = next(e for e in meta["events"] if e["type"] == "playback_end")
    assert start["node"] == end["node"] == "consent"
    assert start["participant"] == "system"
    assert end["detail"]["complete"] is True
    known = encode_opus(load_template(TEMPLATE).node("consent").playback or "")
    # The file holds exactly the template's audio, and the events span its duration.
    packets = recorded_packets(tmp_path / "s-play" / "system-000.mkv")
    assert len(packets) == len(known.packets)
    assert end["t_s"] - start["t_s"] >= known.duration_s - 0.1

    nodes = render(load_template(TEMPLATE), SAMPLE_POLICY)
    played = check_playbacks(tmp_path / "s-play", meta, nodes)
    assert [(p.node, p.complete) for p in played] == [("consent", True)], played
    said = played_utterances(played, nodes)
    result = align_script(
        nodes,
        {"salesperson": said, "customer": []},
        load_template(TEMPLATE),
        SAMPLE_POLICY,
        [],
        Thresholds(),
    )
    consent = next(c for c in result.coverage if c.node.id == "consent")
    assert consent.start_s is not None and abs(consent.start_s - start["t_s"]) < 0.5
    assert consent.answer == "missing"  # covered by the playback; the customer never answered
    assert all(c.start_s is None for c in result.coverage if c.node.id != "consent")


async def test_interrupted_playback_does_not_cover(tmp_path: Path) -> None:
    meta = await play_in_room(tmp_path, stop_after_s=1.0)
    end = next(e for e in meta["events"] if e["type"] == "playback_end")
    assert end["detail"]["complete"] is False and end["detail"]["reason"] == "stopped"
    nodes = render(load_template(TEMPLATE), SAMPLE_POLICY)
    played = check_playbacks(tmp_path / "s-play", meta, nodes)
    assert len(played) == 1 and not played[0].complete
    assert "of 5.46 s" in played[0].problems[0]
    assert played_utterances(played, nodes) == []


def test_template_playback_is_validated(tmp_path: Path) -> None:
    tpl = load_template(TEMPLATE)
    assert Path(tpl.node("consent").playback or "").is_file()
    bad = TEMPLATE.read_text("utf-8").replace("../tts/9556604e7e12.ogg", "missing.ogg")
    bad = bad.replace(
        "    playback: ../tts/81583871e245.ogg", "    playback: x.ogg\n    speaker2: x"
    )
    (tmp_path / "bad.yaml").write_text(
        bad.replace("title: 保费与犹豫期", "title: 保费\n    playback: p.ogg")
    )
    with pytest.raises(TemplateError) as info:
        load_template(tmp_path / "bad.yaml")
    text = str(info.value)
    assert "cannot contain placeholders" in text and "unknown key" in text


def test_self_service_counts_the_customers_reading() -> None:
    """Nobody speaks for the salesperson in a self-service session: a shown node is read
    aloud by the customer, whose speech then counts (numbers included) for the script."""
    nodes = render(load_template(TEMPLATE), SAMPLE_POLICY)
    premium = next(n for n in nodes if n.id == "premium")
    words = [Word(10 + 0.2 * i, 10.2 + 0.2 * i, ch, 0.9) for i, ch in enumerate(premium.text)]
    reading = Utterance("customer", 10.0, words[-1].end_s, premium.text, words)
    said = {"salesperson": [], "customer": [reading]}
    for mode, covered in (("two_party", False), (SELF_SERVICE, True)):
        result = align_script(
            nodes,
            script_speech(said, mode),
            load_template(TEMPLATE),
            SAMPLE_POLICY,
            [],
            Thresholds(),
        )
        cov = next(c for c in result.coverage if c.node.id == "premium")
        assert (cov.start_s is not None) is covered, mode
