"""Per-region decoding (issue 11): times of sparse customer speech stay right over minutes of
noise, and noise between answers is not decoded into words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspection.media import Track, load_audio
from inspection.speech import (
    SAMPLE_RATE,
    DecodeOptions,
    SpeechRecognizer,
    energetic_frames,
    speech_regions,
)
from models.registry import ModelRegistry
from tests.corpus_media import clip_file, clip_index
from tests.corpus_v2.acoustics import AUDIO_RATE, noise

TTS = Path(__file__).parent / "data" / "tts"
ANSWERS = (
    "是的，我同意",
    "好的，我清楚了",
    "明白，没问题",
    "不太清楚",
    "没听懂",
    "对，是我本人",
    "我不同意",
    "不是很明白",
)


def sparse_track(
    minutes: float, snr_db: float, seed: int = 7
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """A customer track of ``minutes``: the ANSWERS at spread, known times, babble (reversed
    voices, what Silero takes for speech) at ``snr_db`` below the answers throughout."""
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * SAMPLE_RATE)
    track = np.zeros(n, np.float32)
    gap = (minutes * 60 - 10) / len(ANSWERS)
    placed = []
    for k, text in enumerate(ANSWERS):
        t = 5 + gap * k + float(rng.uniform(0, gap / 2))
        x = load_audio([Track("customer", clip_file(text))])
        i = int(t * SAMPLE_RATE)
        track[i : i + len(x)] += x[: n - i]
        placed.append((t, t + len(x) / SAMPLE_RATE, text))
    level = float(np.sqrt(np.mean(track[np.abs(track) > 0.01] ** 2)))
    babble_texts = [t for t in clip_index() if len(t) > 6][:30]
    ratio = AUDIO_RATE // SAMPLE_RATE
    hum = noise("babble", n * ratio, rng, babble_texts)[::ratio][:n]
    return track + hum * level / 10 ** (snr_db / 20), placed


def test_energy_gate_keeps_bursts_and_drops_steady_noise() -> None:
    # Steady noise with two louder 1 s bursts: the gate finds the bursts and nothing else.
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.01, 20 * SAMPLE_RATE).astype(np.float32)
    for t in (4.0, 12.0):
        i = int(t * SAMPLE_RATE)
        x[i : i + SAMPLE_RATE] *= 10.0
    hot = energetic_frames(x, 8.0, 20.0)
    assert hot.sum() == pytest.approx(100, abs=4)  # 2 s of 20 ms frames
    from inspection.speech_regions import _voiced_stretches

    spans = _voiced_stretches(0, len(x), hot, DecodeOptions())
    assert [(round(a / SAMPLE_RATE, 1), round(b / SAMPLE_RATE, 1)) for a, b in spans] == [
        (3.7, 5.3),
        (11.7, 13.3),
    ]


@pytest.mark.parametrize("snr_db", [6.0, 10.0, 14.0])
@pytest.mark.parametrize("kind", ["pink", "hum", "fan"])
@pytest.mark.parametrize("text", ["同意", "清楚", "我同意"])
def test_a_short_answer_in_room_noise_keeps_its_region(text: str, kind: str, snr_db: float) -> None:
    # In noise 6-14 dB below it, "同意" stands 8 dB above the floor only in stretches shorter
    # than min_voiced_s: the gate dropped its VAD span, and the answer read as missing.
    x = load_audio([Track("customer", clip_file(text))])
    rng = np.random.default_rng(int(snr_db) + len(kind))
    n = 8 * SAMPLE_RATE
    i = 3 * SAMPLE_RATE
    track = np.zeros(n, np.float32)
    track[i : i + len(x)] += x
    level = float(np.sqrt(np.mean(x[np.abs(x) > 0.01] ** 2)))
    ratio = AUDIO_RATE // SAMPLE_RATE
    track += noise(kind, n * ratio, rng, [])[::ratio][:n] * level / 10 ** (snr_db / 20)
    o = DecodeOptions()
    # Widened by region_pad_s, as SpeechRecognizer decodes them.
    regions = [
        (a / SAMPLE_RATE - o.region_pad_s, b / SAMPLE_RATE + o.region_pad_s)
        for a, b in speech_regions(track, o, gate=True)
    ]
    t0, t1 = i / SAMPLE_RATE, (i + len(x)) / SAMPLE_RATE
    covered = sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in regions)
    assert covered >= 0.8 * (t1 - t0), regions


def test_regions_of_a_sparse_track_in_babble_are_the_answers() -> None:
    track, placed = sparse_track(3.0, 12.0)
    regions = speech_regions(track, DecodeOptions(), gate=True)
    starts = [a / SAMPLE_RATE for a, _ in regions]
    for t0, t1, text in placed:
        assert any(
            a - 1 <= t0 and t1 <= b + 1
            for a, b in zip(starts, [b / SAMPLE_RATE for _, b in regions], strict=True)
        ), text
    # Without the gate, Silero hears the babble as speech almost throughout.
    assert sum(b - a for a, b in regions) / SAMPLE_RATE < 30.0
    ungated = speech_regions(track, DecodeOptions(), gate=False)
    assert sum(b - a for a, b in ungated) / SAMPLE_RATE > 60.0


@pytest.mark.slow
def test_sparse_answers_keep_their_times_over_minutes_of_babble() -> None:
    # Whole-track VAD decoding (the old way) put answers 10-25 s from where they were said,
    # repeated 我不同意 twelve times over 25 s of babble, and took ~150 CPU-s for 6 minutes.
    recognizer = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    track, placed = sparse_track(3.0, 12.0)
    utts = recognizer.transcribe(track, "customer", offset_s=600.0)
    spans = [(600.0 + t0, 600.0 + t1) for t0, t1, _ in placed]
    # What Whisper invents in the babble between answers ("你盯著我" at p 0.3-0.9 in one run,
    # nothing there in another) depends on the CPU's arithmetic: not asserted here. What is
    # promised is that every answer keeps its own time.
    found = sum(any(abs(u.start_s - t0) <= 1.0 for u in utts if u.text) for t0, _ in spans)
    assert found >= len(spans) - 1  # one answer may be lost to the noise, not displaced


def test_a_loud_stretch_silero_does_not_call_speech_is_still_decoded() -> None:
    # dev16: a customer's "嗯，都清楚" 38 dB above the room, over a lossy link, had no VAD region
    # at any threshold. Here a steady tone stands in for it (Silero never calls it speech).
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(20 * SAMPLE_RATE) * 10 ** (-60 / 20)).astype(np.float32)
    t = np.arange(int(0.8 * SAMPLE_RATE)) / SAMPLE_RATE
    i = 10 * SAMPLE_RATE
    x[i : i + t.size] += (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert speech_regions(x, DecodeOptions(rescue_margin_db=0), gate=True) == []
    (a, b), *more = speech_regions(x, DecodeOptions(), gate=True)
    assert not more
    assert a <= i + 0.05 * SAMPLE_RATE and b >= i + t.size - 0.05 * SAMPLE_RATE
    # Not on tracks without the gate (the salesperson's): Silero alone decides there.
    assert speech_regions(x, DecodeOptions(), gate=False) == []


@pytest.mark.slow
def test_babble_track_costs_a_bounded_number_of_decodes_and_scorings() -> None:
    # test16 (a 1,095 s session whose customer sat in babble) took 903 s: every babble region
    # was decoded alone with temperature fallback, and every short one closed-set scored.
    recognizer = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    generates = _count_generate(recognizer)
    track, placed = sparse_track(3.0, 10.0, seed=11)
    utts = recognizer.transcribe(track, "customer", defer_closed_set=True)
    counts = dict(recognizer.counts)
    # Regions no louder than the babble are not decoded; the others once each, without
    # temperature fallback (each temperature tried is one generate call).
    assert counts["decodes"] + counts.get("weak_regions", 0) == counts["regions"]
    assert generates["generate"] == counts["decodes"]
    assert counts.get("weak_regions", 0) >= counts["regions"] - 2 * len(placed)
    assert counts.get("closed_set", 0) == 0  # deferred: nothing scored yet
    # Every answer is still where it was said, as speech or as unrecognised speech.
    for t0, t1, text in placed:
        assert any(u.start_s <= t1 + 1.0 and t0 - 1.0 <= u.end_s for u in utts), text
    # Scoring in two answer windows scores only the short regions overlapping them.
    windows = [(t0 - 0.5, t1 + 0.5) for t0, t1, _ in placed[:2]]
    tagged = {u.region_s for u in utts if u.region_s is not None}
    near = {r for r in tagged if any(r[0] <= b and a <= r[1] for a, b in windows)}
    scored = recognizer.answers.score_regions(track, utts, windows)
    assert 1 <= recognizer.counts["closed_set"] <= len(near)
    assert {u.region_s for u in scored if u.closed_set is not None} <= near
    assert len(scored) == len(utts)
    # With two model replicas the regions are scored on two threads at once (the scorings
    # hold up the script stage): the same utterances, in the same order.
    two = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=1, workers=2)
    assert two.answers.score_regions(track, utts, windows) == scored
    assert two.counts["closed_set"] == recognizer.counts["closed_set"]


class _Counting:
    """The real ctranslate2 model, with its ``generate`` calls counted (one per temperature
    tried: the fallback shows as extra calls)."""

    def __init__(self, inner: object, counts: dict[str, int]) -> None:
        self._inner, self._counts = inner, counts

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._inner, name)
        if name != "generate":
            return attr

        def generate(*args: object, **kwargs: object) -> object:
            self._counts["generate"] = self._counts.get("generate", 0) + 1
            return attr(*args, **kwargs)  # type: ignore[operator]

        return generate


def _count_generate(recognizer: SpeechRecognizer) -> dict[str, int]:
    counts: dict[str, int] = {}
    model = recognizer._model
    model.model = _Counting(model.model, counts)
    return counts
