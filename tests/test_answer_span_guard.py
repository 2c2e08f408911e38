"""An answer's words' span (``inspection.answer_span``) is never scored for a reply the decoder
heard only the start of, and a long customer region with words is closed-set scored at all
(issue 7: answers in babble 15-25 dB).

1. The span rule cut a region with room noise glued to it down to the span of its decoded
   words, guarded only by the closed set of the whole region. That closed set scores the
   *start* of the region (the end of text is not scored), so for "清楚了" followed by "不太清楚，
   你再讲讲吧" that the decoder lost, the whole region put 清楚了 first: the span of the yes
   words was scored alone, a sure 清楚 — a hedge passed as consent. The span is now never cut
   while what it leaves out stands ``min_peak_db`` above the track's noise floor (louder than
   the room: possibly the customer's words).
2. A region over ``DecodeOptions.closed_set_max_s`` (6 s) was never tagged for closed-set
   scoring, so an answer with babble glued to it that long stayed a `review` whatever the model
   heard (p20 probe: "嗯，清楚了" heard as 心处的 in an 8.6 s region).

Real audio: the committed answer clips in the corpus's babble of dev lines; the real model."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.answer_closed_set import hears_no
from inspection.answer_span import SpanOptions, rescored
from inspection.script_types import ScriptSettings
from inspection.speech import SpeechRecognizer, Utterance, Word
from inspection.speech_types import Region
from tests.confirm_answer import passes
from tests.corpus_media import AUDIO_RATE, load_clip
from tests.corpus_v2.acoustics import noise
from tests.corpus_v2.wording import DEV

SAMPLE_RATE = 16000
ST = ScriptSettings()
WINDOW = [(9.0, 29.0)]  # the confirm question's answer window (tests.confirm_answer)


def _track(
    texts: list[str], snr_db: float, seed: int, at_s: float = 11.0, gap_s: float = 1.0
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """A 20 s customer track (16 kHz): ``texts``' clips from ``at_s``, ``gap_s`` apart, in
    babble of dev lines ``snr_db`` below them; and where each clip's voice is (seconds)."""
    rng = np.random.default_rng(seed)
    n = int(20.0 * AUDIO_RATE)
    speech = np.zeros(n, np.float32)
    spans = []
    i = int(at_s * AUDIO_RATE)
    for text in texts:
        clip = np.asarray(load_clip(text))
        voiced = np.flatnonzero(np.abs(clip) > 0.02)
        speech[i : i + len(clip)] = clip
        spans.append(((i + voiced[0]) / AUDIO_RATE, (i + voiced[-1]) / AUDIO_RATE))
        i += len(clip) + int(gap_s * AUDIO_RATE)
    level = float(np.sqrt(np.mean(speech[np.abs(speech) > 0.01] ** 2)))
    room = noise("babble", n, rng, DEV.lines()) * level / 10 ** (snr_db / 20)
    return (speech + room)[:: AUDIO_RATE // SAMPLE_RATE].astype(np.float32), spans


def _heard(heard: str, t0: float, t1: float, p: float) -> list[Word]:
    step = (t1 - t0) / len(heard)
    return [Word(t0 + k * step, t0 + (k + 1) * step, c, p) for k, c in enumerate(heard)]


@pytest.fixture(scope="module")
def recognizer() -> SpeechRecognizer:
    from models.registry import ModelRegistry

    return SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(
    "said", [("清楚了", "不太清楚，你再讲讲吧"), ("清楚了", "我不清楚"), ("是我本人", "没听懂")]
)
def test_a_yes_before_a_no_the_decoder_lost_is_never_cut_to_the_yes(
    recognizer: SpeechRecognizer, said: tuple[str, str], seed: int
) -> None:
    # The decoder heard only the yes (unsure words, as in babble) and lost the no after it;
    # the region runs from the room before the yes to the room after the no.
    track, spans = _track(list(said), 20.0, seed)
    region = (10.4, round(spans[-1][1] + 0.6, 3))
    a, b = (round(t * SAMPLE_RATE) for t in region)
    whole = recognizer.answers.score_clip(np.ascontiguousarray(track[a:b]))
    assert whole is not None and whole.speech_s > ST.closed_set_max_s
    yes = said[0]
    words = _heard(yes, *spans[0], 0.44)
    utt = Utterance(
        "customer", words[0].start_s, words[-1].end_s, yes, words, -0.9, 0.01,
        closed_set=whole, region_s=region,
    )  # fmt: skip
    out = rescored(
        track,
        [utt],
        WINDOW,
        recognizer.answers.score_clip,
        lambda s: hears_no(s, ST),
        ST.closed_set_max_s,
        SpanOptions(),
    )
    assert not passes(out if out is not None else [utt])
    assert out is None  # the no after the yes is louder than the room: never cut away


@pytest.mark.slow
def test_a_long_region_with_words_is_tagged_for_closed_set_scoring(
    recognizer: SpeechRecognizer,
) -> None:
    # "嗯，清楚了" with 8 s of babble glued to it: one region (the energy gate keeps loud
    # babble), decoded, and tagged so that the script stage can score it in an answer window.
    track, _spans = _track(["嗯，清楚了"], 25.0, 3, at_s=12.0)
    region = Region(round(10.0 * SAMPLE_RATE), round(18.5 * SAMPLE_RATE))
    assert (region.b - region.a) / SAMPLE_RATE > recognizer.options.closed_set_max_s
    utts = recognizer.transcribe_regions(track, "customer", [region], defer_closed_set=True)
    assert any(u.words for u in utts)
    assert all(u.region_s == (10.0, 18.5) for u in utts)
    scored = recognizer.answers.score_regions(track, utts, WINDOW)
    assert all(u.closed_set is not None for u in scored)
