""" "No answer" is a fail only where the room is quiet enough to prove it (issue 7): an answer
buried in babble, that no speech region and no loud stretch caught, was "no answer" (a `fail`:
the frozen test split's clean session failed on its consent in babble at 10 dB); now, when the
customer's own speech elsewhere stands less than ``answer_room_margin_db`` above the window's
noise, it is a `review` with the levels. A silent window in a quiet or steady room stays a
`fail`. Real audio: the committed answer clips, the corpus's noises, the mini template."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.answer_energy import room_checks, voice_in_windows
from inspection.rules import NodeCoverage, Thresholds, script_findings
from inspection.script_stage import align_script, missing_in_loud_rooms
from inspection.speech import Utterance
from inspection.speech_types import DecodeOptions
from inspection.templates import load_template, render
from tests.corpus_media import AUDIO_RATE, load_clip
from tests.corpus_v2.acoustics import noise
from tests.corpus_v2.wording import DEV
from tests.mini_script import MINI, POLICY, mini_sales, said

SAMPLE_RATE = 16000
TRACK_S = 32.0
CONSENT_AT = 6.4  # the consent question ends at 6 s, the reminder starts at 8 s
ID_AT = 24.5  # the customer's other answer, which was heard: "是我本人"


SALES = mini_sales()
HEARD = [said("customer", "是我本人", ID_AT, ID_AT + 1.0)]


def _track(consent_db: float | None, room: str, snr_db: float, seed: int) -> np.ndarray:
    """The customer's track (16 kHz): "是我本人" at ``ID_AT`` at their level, "同意" at
    ``CONSENT_AT`` ``consent_db`` below it (None: nothing said), ``room`` noise ``snr_db`` below
    their level."""
    rng = np.random.default_rng(seed)
    n = int(TRACK_S * AUDIO_RATE)
    speech = np.zeros(n, np.float32)
    ref = np.asarray(load_clip("是我本人"))
    i = int(ID_AT * AUDIO_RATE)
    speech[i : i + len(ref)] = ref
    if consent_db is not None:
        yes = np.asarray(load_clip("同意")) * 10 ** (-consent_db / 20)
        j = int(CONSENT_AT * AUDIO_RATE)
        speech[j : j + len(yes)] = yes
    level = float(np.sqrt(np.mean(ref[np.abs(ref) > 0.01] ** 2)))
    room_noise = noise(room, n, rng, DEV.lines()) * level / 10 ** (snr_db / 20)
    return (speech + room_noise)[:: AUDIO_RATE // SAMPLE_RATE].astype(np.float32)


def _consent(track: np.ndarray) -> tuple[NodeCoverage, list[tuple[str, str]]]:
    """The consent node's coverage and its findings' (code, severity), after the room check."""
    tpl, th = load_template(MINI), Thresholds()
    nodes = render(tpl, POLICY)
    result = align_script(nodes, {"salesperson": SALES, "customer": HEARD}, tpl, POLICY, [], th)
    window = result.answer_window_of["consent"]
    assert window[0] <= CONSENT_AT <= window[1]
    # No speech region, and nothing in the window stands above the room: "no answer" so far.
    assert voice_in_windows(track, HEARD, [window]) == []
    by = {c.node.id: c for c in result.coverage}
    assert by["consent"].answer == "missing" and by["id_card"].answer == "affirmative"
    checked = missing_in_loud_rooms(result, track, HEARD, th, DecodeOptions())
    (consent,) = [c for c in checked.coverage if c.node.id == "consent"]
    found = [(f.code, f.severity) for f in script_findings(checked.coverage, th)]
    return consent, sorted(
        f for f in found if f[0] in ("consent.missing", "answer.not_affirmative")
    )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("consent_db", [None, 14.0])
def test_no_answer_in_babble_is_review_with_the_levels(consent_db: float | None, seed: int) -> None:
    # Babble 10 dB below the customer's voice; the consent "同意" 14 dB quieter than their other
    # answer (4 dB under the babble) or not said: the audio cannot tell them apart.
    consent, found = _consent(_track(consent_db, "babble", 10.0, seed))
    assert found == [("answer.not_affirmative", "review")]  # once: the question was asked
    th = Thresholds()
    assert consent.answer == "missing" and consent.answer_uncertain == "room_too_loud"
    room = consent.answer_room or {}
    assert room["reason"] == "room_too_loud" and room["speech_from"] == "utterances"
    assert room["margin_db"] < th.answer_room_margin_db == room["threshold_db"]
    assert room["margin_db"] == pytest.approx(
        room["speech_dbfs"] - room["window_noise_dbfs"], abs=0.2
    )


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("room", "snr_db"), [("pink", 25.0), ("hum", 24.0)])
def test_no_answer_in_a_quiet_or_steady_room_is_still_a_fail(
    room: str, snr_db: float, seed: int
) -> None:
    consent, found = _consent(_track(None, room, snr_db, seed))
    assert consent.answer_uncertain is None
    levels = consent.answer_room or {}  # the levels are evidence for the fail too
    assert levels["reason"] == "room_quiet" and levels["margin_db"] >= levels["threshold_db"]
    assert found == [("answer.not_affirmative", "fail"), ("consent.missing", "fail")]


def test_no_answer_in_a_silent_room_is_still_a_fail() -> None:
    rng = np.random.default_rng(0)
    track = _track(None, "pink", 25.0, 0)
    track[: 12 * SAMPLE_RATE] = rng.normal(0, 1e-4, 12 * SAMPLE_RATE).astype(np.float32)
    _, found = _consent(track)
    assert found == [("answer.not_affirmative", "fail"), ("consent.missing", "fail")]


def test_without_any_customer_speech_silence_is_proven() -> None:
    # Nothing heard on the track anywhere (no utterance, no region): nothing can hide.
    track = _track(None, "babble", 10.0, 0)
    (check,) = room_checks(track, [], {"consent": (3.0, 9.0)}, 20.0).values()
    assert check.speech_from == "none" and check.margin_db is None and not check.too_loud


def test_regions_nothing_was_read_in_stand_for_the_voice_when_none_was_decoded() -> None:
    # Babble regions VAD found but nothing was read in (no louder than the room): a voice
    # there is not told apart from the room.
    track = _track(None, "babble", 10.0, 1)
    weak = [Utterance("customer", 14.0, 17.0, "", uncertain="not_above_room")]
    (check,) = room_checks(track, weak, {"consent": (3.0, 9.0)}, 20.0).values()
    assert check.speech_from == "undecoded_regions" and check.too_loud
