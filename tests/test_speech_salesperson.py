"""The salesperson's track in noise (issues 7/11, speed): its reading pauses in babble are not
decoded (silenced before a whole-track decode, dropped when decoded per region), and decoded
region by region (an option: ``per_region_for``) the work per region is bounded, times stay
inside the regions, and regions decode the same whichever lane (group) takes them."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.media import Track, load_audio
from inspection.speech import (
    MAX_NEW_TOKENS,
    SAMPLE_RATE,
    DecodeOptions,
    Region,
    SpeechRecognizer,
)
from inspection.speech_types import region_groups
from models.registry import ModelRegistry
from tests.corpus_media import clip_file, clip_index
from tests.corpus_v2.acoustics import AUDIO_RATE, noise

LINES = (
    "我是安康人寿的销售人员张伟，现在向您出示我的执业证件，请您确认。",
    "您选择的交费方式为年交，每期保费12000元，交费期间为10年，保险期间为20年。",
    "本产品的保险责任包括身故保险金和全残保险金，具体以保险合同条款为准。",
    "请您仔细阅读保险条款中的责任免除部分，对于责任免除条款中列明的情形，保险公司不承担保险责任。",
)


#: The salesperson decoded per region (not the default: docs/bench.md), energy-gated, its
#: quiet regions dropped.
PER_REGION = DecodeOptions(
    per_region_for=("customer", "salesperson"),
    energy_gate=("customer", "salesperson"),
    skip_quiet_for=("salesperson",),
)


def test_region_groups_keep_order_and_cover_every_region() -> None:
    regions = [Region(i * 100, i * 100 + 40 + i) for i in range(10)]
    groups = region_groups(regions, 120)
    assert [r for g in groups for r in g] == regions
    # Each group holds at least the size (but the last), and stops as soon as it does.
    for g in groups[:-1]:
        held = sum(r.b - r.a for r in g)
        assert held >= 120 and held - (g[-1].b - g[-1].a) < 120
    assert region_groups([], 120) == []
    assert len(region_groups(regions, 10**9)) == 1


def salesperson_track(snr_db: float, seed: int = 5) -> tuple[np.ndarray, list[float]]:
    """Script lines with 1.5-4 s reading pauses, in babble ``snr_db`` below the speech (the
    pauses are where whole-track decoding looped), and the lines' start times."""
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    starts = []
    t = 2.0
    parts.append(np.zeros(int(t * SAMPLE_RATE), np.float32))
    for text in LINES:
        x = load_audio([Track("salesperson", clip_file(text))])
        starts.append(t)
        pause = float(rng.uniform(1.5, 4.0))
        parts += [x, np.zeros(int(pause * SAMPLE_RATE), np.float32)]
        t += len(x) / SAMPLE_RATE + pause
    track = np.concatenate(parts)
    level = float(np.sqrt(np.mean(track[np.abs(track) > 0.01] ** 2)))
    texts = [c for c in clip_index() if len(c) > 6][:30]
    ratio = AUDIO_RATE // SAMPLE_RATE
    babble = noise("babble", len(track) * ratio, rng, texts)[::ratio][: len(track)]
    return track + babble * level / 10 ** (snr_db / 20), starts


@pytest.mark.slow
def test_salesperson_in_babble_is_decoded_per_region_with_bounded_tokens() -> None:
    options = PER_REGION
    recognizer = SpeechRecognizer(
        ModelRegistry.from_env().path("whisper-base"), cpu_threads=2, options=options
    )
    track, starts = salesperson_track(20.0)
    regions = recognizer.regions(track, "salesperson")
    assert regions and not any(r.weak for r in regions)  # quiet ones dropped, not kept
    utts = recognizer.transcribe_regions(track, "salesperson", regions, offset_s=300.0)
    counts = recognizer.counts
    # One decode per region, none past its token budget (a loop stops early).
    assert counts["decodes"] == len(regions)
    budget = [
        min(int(options.max_tokens_per_s * (r.b - r.a) / SAMPLE_RATE) + 16, MAX_NEW_TOKENS)
        for r in regions
    ]
    assert counts["max_tokens_per_decode"] <= max(budget)
    assert counts["tokens"] <= sum(budget) * (1 + counts["fallbacks"])
    # Every utterance and word lies inside the region it was decoded from, on the session
    # timeline (offset kept).
    spans = [(300.0 + r.a / SAMPLE_RATE, 300.0 + r.b / SAMPLE_RATE) for r in regions]
    for u in utts:
        assert any(a <= u.start_s <= u.end_s <= b for a, b in spans), u
        assert all(u.start_s <= w.start_s <= w.end_s <= u.end_s for w in u.words), u
    # Each line starts within 1 s of some utterance (the times are the audio's).
    for t in starts:
        assert any(abs(u.start_s - (300.0 + t)) <= 1.0 for u in utts), t
    # The regions decode alone: two groups give what the whole list gave (so the lanes may
    # share them out).
    half = len(regions) // 2
    apart = recognizer.transcribe_regions(
        track, "salesperson", regions[:half], 300.0
    ) + recognizer.transcribe_regions(track, "salesperson", regions[half:], 300.0)
    assert [(u.start_s, u.text) for u in apart] == [(u.start_s, u.text) for u in utts]


def test_salesperson_reading_pause_in_babble_is_not_decoded() -> None:
    # The babble probe's salesperson: 341 s of its 1,066 s were babble alone (reading pauses),
    # and decoding them cost most of the track's CPU for no words. Such regions are skipped;
    # the script lines are joined across their pauses into windows of at most region_max_s.
    options = PER_REGION
    recognizer = SpeechRecognizer(
        ModelRegistry.from_env().path("whisper-base"), cpu_threads=1, options=options
    )
    _, starts = salesperson_track(20.0)
    # 10 dB below the speech: Silero calls it speech (at 20 dB it finds nothing there).
    whole, speech_end = _with_babble_pause(10.0)
    regions = recognizer.regions(whole, "salesperson")
    assert recognizer.counts["weak_regions"] >= 1
    # Nothing of the pause is left to decode (a region may run 1 s into it: padding).
    assert all(r.b <= speech_end + SAMPLE_RATE for r in regions), regions
    # Every line is inside a region, and no region is longer than one window.
    for t in starts:
        assert any(r.a <= t * SAMPLE_RATE < r.b for r in regions), t
    longest = (options.region_max_s + 2 * options.region_pad_s) * SAMPLE_RATE
    assert all(r.b - r.a <= longest and not r.weak for r in regions)
    assert len(regions) < len(LINES)  # lines joined across their reading pauses


def _with_babble_pause(snr_db: float) -> tuple[np.ndarray, int]:
    track, _ = salesperson_track(20.0)
    rng = np.random.default_rng(9)
    texts = [c for c in clip_index() if len(c) > 6][30:60]
    ratio = AUDIO_RATE // SAMPLE_RATE
    n = 40 * SAMPLE_RATE
    level = float(np.sqrt(np.mean(track[np.abs(track) > 0.01] ** 2)))
    pause = noise("babble", n * ratio, rng, texts)[::ratio][:n] * level / 10 ** (snr_db / 20)
    return np.concatenate([track, pause.astype(np.float32)]), len(track)


def test_whole_track_decode_skips_a_reading_pause_in_babble() -> None:
    # Decoded whole (the default), the salesperson's track has its babble-only regions
    # silenced first, so faster-whisper's VAD never hands them to the decoder.
    recognizer = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=1)
    assert "salesperson" not in recognizer.options.per_region_for
    assert "salesperson" in recognizer.options.skip_quiet_for
    whole, speech_end = _with_babble_pause(10.0)
    out = recognizer.prepare_whole(whole, "salesperson", 1).samples
    assert recognizer.counts["silenced_regions"] >= 1
    assert recognizer.counts["silenced_s"] >= 20
    # The speech is untouched; most of the pause is silence now.
    assert np.array_equal(out[: speech_end - SAMPLE_RATE], whole[: speech_end - SAMPLE_RATE])
    assert np.count_nonzero(out[speech_end:] == 0.0) > 0.5 * (len(whole) - speech_end)
    # The customer's track is not touched this way (its regions are kept, not silenced), nor
    # a track without such regions (the same array back).
    assert recognizer.prepare_whole(whole, "customer", 1).samples is whole
    track, _ = salesperson_track(20.0)
    assert recognizer.prepare_whole(track, "salesperson", 1).samples is track
