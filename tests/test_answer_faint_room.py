"""A quiet room with someone else in it (issue 7's outside check: faint room noise).

In a quiet room the customer's track also carries what is far quieter than the customer: a
TV, voices next door. Silero takes such speech for speech; nothing of it is read, but its
region's closed-set scores counted in the answer window like the customer's, and on a dev
probe (faint babble 33 dB under the customer, ``scripts/make_noisy_probe.py``) one such
region put 什么意思 first with 是我本人's negated form 3.4 nats ahead: it vetoed the
customer's sure 是我本人, and the clean session went to review. A region nobody read a word
in that stands ``faint_region_below_speech_db`` (20 dB) below the customer's own speech is
not the customer: it is not scored. In a loud room no region falls that far below.

Real audio (committed answer clips over the corpus's room tone) and the real model."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.answer_scoring import faint_regions
from inspection.speech import SpeechRecognizer
from tests.corpus_media import AUDIO_RATE, load_clip, room_tone

SAMPLE_RATE = 16000
WINDOW = [(9.0, 29.0)]


def _quiet_room(far_db: float, seed: int = 0) -> tuple[np.ndarray, float]:
    """20 s at 16 kHz: the customer's "是的，我同意" at 11 s, then, 2 s later, a "不同意"
    ``far_db`` quieter (someone else in the room), over a quiet microphone's room tone;
    and where the quiet one starts (seconds)."""
    n = int(20.0 * AUDIO_RATE)
    x = np.zeros(n, np.float32)
    yes, no = np.asarray(load_clip("是的，我同意")), np.asarray(load_clip("不同意"))
    i = int(11.0 * AUDIO_RATE)
    x[i : i + len(yes)] += yes
    j = i + len(yes) + int(2.0 * AUDIO_RATE)
    x[j : j + len(no)] += no * np.float32(10 ** (-far_db / 20))
    x += room_tone(20.0, np.random.default_rng(seed))
    return x[:: AUDIO_RATE // SAMPLE_RATE].astype(np.float32), j / AUDIO_RATE


@pytest.fixture(scope="module")
def recognizer() -> SpeechRecognizer:
    from models.registry import ModelRegistry

    return SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)


@pytest.mark.slow
def test_speech_far_below_the_customer_is_not_scored_as_an_answer(
    recognizer: SpeechRecognizer,
) -> None:
    track, quiet_at = _quiet_room(33.0)
    utts = recognizer.transcribe(track, "customer", defer_closed_set=True)
    other = [u for u in utts if u.region_s and u.region_s[0] <= quiet_at <= u.region_s[1]]
    # The quiet voice is a region of its own, and nobody read a word in it.
    assert other and not any(u.text for u in other)
    scored = recognizer.answers.score_regions(track, utts, WINDOW)
    assert any(u.closed_set is not None for u in scored if u.text)  # the customer's answer
    quiet = [u for u in scored if u.region_s == other[0].region_s]
    assert quiet and all(u.closed_set is None for u in quiet)


def test_only_regions_without_words_far_below_the_customer_are_left_out() -> None:
    a, b, c, d = (10.0, 12.0), (14.0, 16.0), (30.0, 31.0), (50.0, 52.0)
    # A quiet room: the answers peak 42-48 dB above the floor, the room's voices 10-12.
    quiet = {a: 44.0, b: 11.0, c: 45.0, d: 12.0}
    assert faint_regions(quiet, {b, d}, 20.0) == {b, d}
    # A region with words is never left out, however quiet (words were read in it).
    assert faint_regions(quiet, {b}, 20.0) == {b}
    # Babble 10 dB: the answers peak 17.7-26 dB above the floor, the babble 9.8-13.9.
    loud = {a: 22.0, b: 10.0, c: 26.0, d: 13.9}
    assert faint_regions(loud, {b, d}, 20.0) == set()
    # No region with words: no level to compare with.
    assert faint_regions({b: 11.0, d: 12.0}, {b, d}, 20.0) == set()
