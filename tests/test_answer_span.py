"""An answer in a region with room babble glued to it is closed-set scored on the span of its
words (issue 7, rooms at 15-25 dB SNR; ``inspection.answer_span``). Before, the closed set of
the whole region (5.4 s, over ``closed_set_max_s``) could never make the yes sure, so a clean
yes heard on unsure words stayed a `review` however clearly the model heard it (dev probes in
babble 15 dB: 5 of 11 false answer findings). A hedge glued to babble must still never pass.
Real audio: the committed answer clips in the corpus's babble of dev lines; the real model."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.answer_closed_set import hears_no
from inspection.answer_span import SpanOptions, rescored, word_spans
from inspection.closed_set import ClosedSetScorer
from inspection.script_types import ScriptSettings
from inspection.speech import Utterance, Word
from tests.confirm_answer import answer, passes
from tests.corpus_media import AUDIO_RATE, load_clip
from tests.corpus_v2.acoustics import noise
from tests.corpus_v2.wording import DEV

SAMPLE_RATE = 16000
ST = ScriptSettings()
SAID_AT = 12.0  # the answer clip starts here; the question's window opens at 9 s
REGION = (10.2, 15.6)  # babble glued on both sides: 5.4 s


def _track(text: str, snr_db: float, seed: int) -> tuple[np.ndarray, float, float]:
    """The customer's track (16 kHz, 20 s): ``text``'s clip at ``SAID_AT`` in babble of dev
    lines ``snr_db`` below it; and where the clip's voice is (session seconds)."""
    rng = np.random.default_rng(seed)
    n = int(20.0 * AUDIO_RATE)
    clip = np.asarray(load_clip(text))
    speech = np.zeros(n, np.float32)
    i = int(SAID_AT * AUDIO_RATE)
    speech[i : i + len(clip)] = clip
    voiced = np.flatnonzero(np.abs(clip) > 0.02)
    level = float(np.sqrt(np.mean(clip[np.abs(clip) > 0.01] ** 2)))
    room = noise("babble", n, rng, DEV.lines()) * level / 10 ** (snr_db / 20)
    track = (speech + room)[:: AUDIO_RATE // SAMPLE_RATE].astype(np.float32)
    return track, SAID_AT + voiced[0] / AUDIO_RATE, SAID_AT + voiced[-1] / AUDIO_RATE


def _heard(heard: str, t0: float, t1: float, p: float) -> list[Word]:
    step = (t1 - t0) / len(heard)
    return [Word(t0 + k * step, t0 + (k + 1) * step, c, p) for k, c in enumerate(heard)]


def _region_utt(
    track: np.ndarray, scorer: ClosedSetScorer, words: list[Word], text: str
) -> Utterance:
    """The customer's utterance of ``REGION`` as the speech stage gives it: its words and the
    closed-set score of the whole region."""
    a, b = (round(t * SAMPLE_RATE) for t in REGION)
    whole = scorer.score(np.ascontiguousarray(track[a:b]))
    assert whole is not None and whole.speech_s > ST.closed_set_max_s
    return Utterance(
        "customer",
        words[0].start_s,
        words[-1].end_s,
        text,
        words,
        -0.9,
        0.01,
        closed_set=whole,
        region_s=REGION,
    )


def _rescored(track: np.ndarray, scorer: ClosedSetScorer, utt: Utterance) -> list[Utterance]:
    out = rescored(
        track,
        [utt],
        [(9.0, 29.0)],
        scorer.score,
        lambda s: hears_no(s, ST),
        ST.closed_set_max_s,
    )
    return out if out is not None else [utt]


@pytest.fixture(scope="module")
def scorer() -> ClosedSetScorer:
    from inspection.speech import SpeechRecognizer
    from models.registry import ModelRegistry

    rec = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    return ClosedSetScorer(rec._model)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_a_yes_with_babble_glued_to_its_region_is_judged_on_its_words(
    scorer: ClosedSetScorer, seed: int
) -> None:
    # dev04 in babble 15 dB: "是我本人" heard as 是我被人 (p 0.44) in a 5.4 s region, the closed
    # set of the region 是我本人 first by 2.9 per token, and still a review (the length rule).
    track, v0, v1 = _track("是我本人", 20.0, seed)
    utt = _region_utt(track, scorer, _heard("是我被人", v0, v1, 0.44), "是我被人")
    before = answer([utt])
    assert before.kind == "affirmative" and before.score < 1.0  # a guess on the old code
    after = _rescored(track, scorer, utt)
    span = after[0].closed_set
    assert span is not None and span.speech_s <= ST.closed_set_max_s
    assert passes(after), span


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("hedge", ["嗯，不太清楚", "哦，我不同意"])
def test_a_hedge_with_babble_glued_to_its_region_never_passes(
    scorer: ClosedSetScorer, seed: int, hedge: str
) -> None:
    # The decoder lost the negation and heard only the yes word at the end of the clip.
    track, v0, v1 = _track(hedge, 20.0, seed)
    yes = hedge[-2:]
    heard = _heard(yes, v1 - 0.25 * len(yes), v1, 0.44)
    utt = _region_utt(track, scorer, heard, yes)
    assert not passes(_rescored(track, scorer, utt))


def test_only_long_regions_whose_words_leave_audio_out_are_cut() -> None:
    from inspection.closed_set import summarise

    score = summarise((("是我本人", -8.0, -2.0), ("不是", -8.0, -4.0)), True, 5.4)
    words = _heard("是我被人", 12.1, 13.0, 0.4)
    utt = Utterance("customer", 12.1, 13.0, "是我被人", words, closed_set=score, region_s=REGION)
    opts = SpanOptions()
    spans = word_spans([utt], [(9.0, 29.0)], ST.closed_set_max_s, opts)
    assert spans == {REGION: (11.7, 13.4)}
    # Words over the whole region, a region outside every window, a short region: left alone.
    wide = _heard("何必是我的人何必是我的人", 10.3, 15.5, 0.4)
    assert not word_spans([Utterance("customer", 10.3, 15.5, "x", wide, closed_set=score,
                                     region_s=REGION)], [(9.0, 29.0)], 4.0, opts)  # fmt: skip
    assert not word_spans([utt], [(30.0, 40.0)], ST.closed_set_max_s, opts)
    short = summarise((("是我本人", -8.0, -2.0), ("不是", -8.0, -4.0)), True, 3.0)
    from dataclasses import replace

    assert not word_spans([replace(utt, closed_set=short)], [(9.0, 29.0)], 4.0, opts)
