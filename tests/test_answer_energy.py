"""A window with no customer utterance is "no answer" (a fail) only when the customer's track is
really silent there (issue 7): an answer lost before any words were read, still louder than the
room, is unread speech (review); babble, hum or a quiet room alone stay "no answer". Generated
over the dev answer grammar and the rooms; real audio (committed clips, corpus noises)."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.answer_energy import voice_in_windows
from tests.confirm_answer import answer
from tests.corpus_media import AUDIO_RATE, load_clip
from tests.corpus_v2.acoustics import noise
from tests.corpus_v2.wording import DEV

SAMPLE_RATE = 16000
WINDOW = (6.0, 29.0)  # tests.confirm_answer: the question ends at 9 s
ANSWER_AT = 12.0
TRACK_S = 30.0
ANSWERS = sorted(
    {a for kind in ("consent", "understood", "identity") for a in DEV.grammar.expand(kind)}
)[::3]
ROOMS = (("babble", 15.0), ("babble", 20.0), ("hum", 15.0), ("pink", 20.0))


def _track(said: str | None, room: str, snr_db: float, seed: int) -> np.ndarray:
    """``TRACK_S`` of ``room`` noise (16 kHz), with ``said`` at ``ANSWER_AT`` at ``snr_db``
    above it (against a typical answer's level when nothing is said)."""
    rng = np.random.default_rng(seed)
    n = int(TRACK_S * AUDIO_RATE)
    speech = np.zeros(n, np.float32)
    ref = np.asarray(load_clip(said or "同意"))
    if said is not None:
        i = int(ANSWER_AT * AUDIO_RATE)
        speech[i : i + len(ref)] = ref
    level = float(np.sqrt(np.mean(ref[np.abs(ref) > 0.01] ** 2)))
    room_noise = noise(room, n, rng, DEV.lines()) * level / 10 ** (snr_db / 20)
    ratio = AUDIO_RATE // SAMPLE_RATE
    return (speech + room_noise)[::ratio].astype(np.float32)


@pytest.mark.parametrize(("room", "snr_db"), ROOMS)
@pytest.mark.parametrize("said", ANSWERS)
def test_an_answer_no_region_caught_is_unread_speech_not_no_answer(
    said: str, room: str, snr_db: float
) -> None:
    track = _track(said, room, snr_db, seed=len(said))
    assert answer([]).kind == "missing"  # what the speech stage's nothing used to mean: fail
    unread = voice_in_windows(track, [], [WINDOW])
    assert unread, "the answer is louder than the room"
    assert all(u.uncertain == "voice_energy" and u.region_s for u in unread)
    said_end = ANSWER_AT + len(load_clip(said)) / AUDIO_RATE
    assert all(ANSWER_AT - 0.5 <= u.start_s and u.end_s <= said_end + 0.5 for u in unread)
    a = answer(unread)
    assert (a.kind, a.uncertain) == ("unrecognised", "voice_energy")  # review, never a fail


@pytest.mark.parametrize(("room", "snr_db"), [*ROOMS, ("babble", 10.0), ("fan", 12.0)])
@pytest.mark.parametrize("seed", range(3))
def test_a_silent_customer_in_any_room_is_still_no_answer(
    room: str, snr_db: float, seed: int
) -> None:
    track = _track(None, room, snr_db, seed)
    assert voice_in_windows(track, [], [WINDOW]) == []
    assert answer([]).kind == "missing"


def test_a_silent_customer_in_a_quiet_room_is_still_no_answer() -> None:
    rng = np.random.default_rng(0)
    track = rng.normal(0, 1e-4, int(TRACK_S * SAMPLE_RATE)).astype(np.float32)
    track[: 2 * SAMPLE_RATE] = 0.0  # digital silence before the call connects
    assert voice_in_windows(track, [], [WINDOW]) == []


def test_a_window_with_an_utterance_is_left_to_the_words() -> None:
    from inspection.speech import Utterance

    track = _track("同意", "babble", 15.0, 0)
    heard = [Utterance("customer", 12.0, 12.8, "同意")]
    assert voice_in_windows(track, heard, [WINDOW]) == []
