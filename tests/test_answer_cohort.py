"""The room-normalised ("cohort") closed set (issue 7: customer answers in babble).

What it promises: a hedge, a refusal or a question back in babble is never passed on it; it is
off when the session has fewer than ``closed_set_cohort_min`` noise-only regions; it never
takes a region with words or one near an answer window as room noise; and the evidence says
which normalised scores and how many regions a decision rests on. The model part runs real
Whisper base scoring on dev-grammar answer clips in babble of dev lines at 10 dB."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.answer_cohort import (
    CohortOptions,
    noise_regions,
    normalise_answers,
    room_means,
    with_cohort,
)
from inspection.closed_set import CANDIDATES, ClosedSetScore, ClosedSetScorer, summarise
from inspection.script_types import ScriptSettings
from inspection.speech import Utterance
from tests.confirm_answer import answer, passes
from tests.corpus_media import AUDIO_RATE, load_clip
from tests.corpus_v2.acoustics import convolve, impulse_response, noise
from tests.corpus_v2.wording import DEV

SAMPLE_RATE = 16000
MIN = ScriptSettings().closed_set_cohort_min


def _scores(yes: float, other: float, **phrase: float) -> ClosedSetScore:
    """Scores where every yes has ``yes`` and every other answer ``other`` nats per token,
    except the ``phrase`` ones (one token per character)."""
    rows = []
    for p, k in CANDIDATES.items():
        mean = phrase.get(p, yes if k == "affirmative" else other)
        rows.append((p, mean * len(p), mean))
    return summarise(tuple(rows), per_token=True, speech_s=1.8)


def _unheard(t0: float, t1: float, score: ClosedSetScore | None, why: str) -> Utterance:
    return Utterance("customer", t0, t1, "", uncertain=why, closed_set=score, region_s=(t0, t1))


# Raw, the answer region puts 同意 first by 0.4 per token, 2.85 nats ahead of 不同意 in total:
# a guess (review). The room's own regions hardly say 同意 (-3.0) and lean to the other
# answers (-1.8): over the room, 同意 stands 1.35 ahead of every yes and 1.6 of every other.
ROOM = _scores(-2.0, -1.8, 同意=-3.0)
ANSWER = _scores(-2.0, -2.05, 同意=-1.65)


@pytest.mark.parametrize("size", range(MIN + 3))
def test_normalisation_is_off_with_too_few_noise_regions(size: int) -> None:
    raw = [_unheard(10.0, 11.6, ANSWER, "unrecognised")]
    assert not passes(raw)  # the raw lead (0.4) is a guess
    normed = with_cohort(raw, room_means([ROOM] * max(size, 1)), size)
    cs = normed[0].closed_set
    assert cs is not None and cs.cohort is not None and cs.cohort.size == size
    assert passes(normed) == (size >= MIN), size


@pytest.mark.parametrize("heard", ["不太清楚", "我不同意", "不是很明白", "什么意思？", "不可以"])
def test_a_heard_hedge_refusal_or_question_is_never_passed_on_the_cohort(heard: str) -> None:
    from inspection.speech import Word

    words = [Word(10.0 + 0.3 * i, 10.3 + 0.3 * i, ch, 0.3) for i, ch in enumerate(heard)]
    u = Utterance("customer", 10.0, words[-1].end_s, heard, words, closed_set=ANSWER)
    normed = with_cohort([u], room_means([ROOM]), MIN + 4)
    assert normed[0].closed_set and normed[0].closed_set.cohort
    assert normed[0].closed_set.cohort.margin >= ScriptSettings().closed_set_cohort_lead
    assert not passes(normed)


def test_the_evidence_names_the_normalised_scores_and_the_cohort_size() -> None:
    normed = with_cohort([_unheard(10.0, 11.6, ANSWER, "unrecognised")], room_means([ROOM]), MIN)
    ev = answer(normed).closed_set
    assert ev is not None
    cohort = ev.as_evidence()["cohort"]
    assert isinstance(cohort, dict)
    assert cohort["regions"] == MIN and cohort["kind"] == "affirmative"
    assert (cohort["phrase"], cohort["margin"]) == ("同意", pytest.approx(1.6, abs=0.01))


@pytest.mark.parametrize("extra", [0, 1, 5])
def test_only_wordless_room_noise_outside_the_answer_windows_is_the_cohort(extra: int) -> None:
    opts = CohortOptions()
    windows = [(20.0, 30.0)]
    noise_only = [_unheard(40.0 + 3 * i, 42.0 + 3 * i, None, "not_above_room") for i in range(8)]
    near = [
        _unheard(18.5, 20.5, None, "not_above_room"),
        _unheard(31.0, 33.0, None, "not_above_room"),
    ]
    worded = Utterance("customer", 100.0, 102.0, "你好", region_s=(100.0, 102.0))
    unread = _unheard(110.0, 112.0, None, "unrecognised")  # maybe the customer: not the room
    extras = [_unheard(200.0 + 3 * i, 202.0 + 3 * i, None, "not_above_room") for i in range(extra)]
    utts = noise_only[: opts.regions - 1] + near + [worded, unread] + extras
    clips = noise_regions(utts, windows, opts)
    if opts.regions - 1 + extra < opts.regions:
        assert clips == []  # too few: no normalisation
        return
    assert len(clips) == opts.regions
    for a, b in clips:
        assert b - a <= opts.clip_s + 1e-6
        assert not (a < 32.0 and b > 18.0)  # nothing near the window
        assert not (99.0 < a < 113.0)  # nor words nor unrecognised speech


# --- real Whisper base scoring in babble ---------------------------------------------------

HAZARDS = ("不太清楚", "不是很明白", "我不同意", "嗯，不同意", "哦，不太清楚")
LEAD_S, ROOM_S = 28.0, 2.5


def _babble_track(
    clip_48k: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, float, float]:
    """``LEAD_S`` of babble (dev lines, reversed) then the clip, 1 s after, at 10 dB SNR against
    the clip, RT60 0.4, at 16 kHz; (track, answer start, answer end) in seconds."""
    ratio = AUDIO_RATE // SAMPLE_RATE
    speech = np.concatenate(
        [np.zeros(int(LEAD_S * AUDIO_RATE), np.float32), clip_48k, np.zeros(AUDIO_RATE, np.float32)]
    )
    level = float(np.sqrt(np.mean(clip_48k[np.abs(clip_48k) > 0.01] ** 2)))
    wet = convolve(speech, impulse_response(0.4, rng))[: len(speech)]
    babble = noise("babble", len(speech), rng, DEV.lines()) * level / 10 ** (10 / 20)
    track = (wet + babble)[::ratio].astype(np.float32)
    return track, LEAD_S, LEAD_S + len(clip_48k) / AUDIO_RATE


@pytest.fixture(scope="module")
def scorer() -> ClosedSetScorer:
    from inspection.speech import SpeechRecognizer
    from models.registry import ModelRegistry

    rec = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    return ClosedSetScorer(rec._model)


@pytest.mark.slow
@pytest.mark.parametrize("said", HAZARDS)
def test_a_hedge_or_refusal_in_babble_is_never_passed(scorer: ClosedSetScorer, said: str) -> None:
    rng = np.random.default_rng(sum(map(ord, said)))
    track, a0, a1 = _babble_track(np.asarray(load_clip(said)), rng)
    # The room before the answer, as speech.py keeps it: wordless regions not above the room.
    rooms = [_unheard(0.5 + ROOM_S * i, 0.5 + ROOM_S * (i + 1) - 0.2, None, "not_above_room")
             for i in range(MIN)]  # fmt: skip
    region = (round(a0 - 0.4, 3), round(a1 + 0.4, 3))
    said_score = scorer.score(track[int(region[0] * SAMPLE_RATE) : int(region[1] * SAMPLE_RATE)])
    # Nobody read the words (the worst case: no heard 不 to veto a yes).
    utts = [*rooms, _unheard(*region, said_score, "unrecognised")]
    windows = [(region[0] - 3.0, region[1] + 5.0)]
    normed = normalise_answers(track, utts, windows, scorer.score)
    assert normed is not None  # enough room: normalised
    cs = next(u.closed_set for u in normed if u.closed_set is not None)
    assert cs.cohort is not None and cs.cohort.size == MIN
    assert not passes([_shifted(u, 10.0 - region[0]) for u in normed if u.closed_set])
    # With one region fewer the room is not measured at all.
    assert normalise_answers(track, utts[1:], windows, scorer.score) is None


def _shifted(u: Utterance, dt: float) -> Utterance:
    """``u`` moved into ``tests.confirm_answer``'s window (which opens at 9 s)."""
    from dataclasses import replace

    return replace(u, start_s=round(u.start_s + dt, 3), end_s=round(u.end_s + dt, 3))
