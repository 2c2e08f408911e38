"""Is the customer's track really silent where no answer was found? (issue 7, "missing" answers)

An answer window with no customer utterance was "no answer", a `fail`. In babble a short answer
can be lost before any words are read: on a dev session re-rendered with the customer in babble
at 15 dB (``scripts/make_noisy_probe.py``), dev04's 0.7 s "同意" got no speech region at all and
the clean consent failed, although it stood 25 dB above the track's noise floor where the babble
around it peaked at 8-12 dB. So a window without utterances is checked on the audio itself: a
stretch whose loudest frames stand ``min_peak_db`` above the floor (louder than the room, the
same test speech.py uses before decoding a customer region) for at least ``min_hot_s`` is speech
nobody read — an empty ``voice_energy`` utterance, closed-set scored like any other region, so the
answer is `unrecognised` (review, ``voice_energy`` and the stretch's time in the evidence) or a closed-set answer; a window
whose track never rises above the room stays "no answer" (`fail`) — unless the room is too loud
to prove it (:func:`room_checks`): when the customer's own speech elsewhere in the session
stands less than ``margin_db`` above the window's noise, a quieter answer could hide under the
room, and "no answer" is shown to a reviewer (``room_too_loud``), never a `fail` on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspection.speech_regions import FRAME, TrackLevels
from inspection.speech_types import DecodeOptions, Utterance

SAMPLE_RATE = 16000
#: Frames this close are one stretch (a pause inside a short answer).
JOIN_S = 0.3
#: Padding kept around the stretch, as around a decoded customer region.
PAD_S = 0.4
#: The window's noise level: this percentile of its 20 ms frame levels (the loud part of the
#: room there — babble bursts — not its quietest frames, which the track's floor already is).
WINDOW_NOISE_PERCENTILE = 90.0


def voice_in_windows(
    audio: np.ndarray,
    utts: Sequence[Utterance],
    windows: Sequence[tuple[float, float]],
    options: DecodeOptions | None = None,
    after_questions: Sequence[tuple[float, float]] = (),
) -> list[Utterance]:
    """Empty ``voice_energy`` utterances (tagged for closed-set scoring) for the loud stretches of
    every window in ``windows`` that holds no customer utterance, and of every span in
    ``after_questions`` whatever it holds (from the end of a question back after which no word
    was read to the end of its answer window: the answer after the salesperson's reply may
    have got no region, a region Whisper returned nothing for, or invented text); ``audio``
    starts at 0 s."""
    o = options or DecodeOptions()
    levels = TrackLevels.of(np.asarray(audio, dtype=np.float32), o.noise_percentile)
    out: list[Utterance] = []
    for w0, w1 in windows:
        if any(u.end_s >= w0 and u.start_s <= w1 for u in utts):
            continue
        out += _stretches(levels, w0, w1, o)
    for a, b in after_questions:
        out += [u for u in _stretches(levels, a, b, o) if u not in out]
    return out


def _stretches(levels: TrackLevels, w0: float, w1: float, o: DecodeOptions) -> list[Utterance]:
    per_s = SAMPLE_RATE / FRAME
    f0, f1 = max(0, int(w0 * per_s)), min(len(levels.db), int(w1 * per_s))
    if f1 <= f0:
        return []
    rel = levels.db[f0:f1] - levels.floor
    hot = np.flatnonzero(rel >= o.min_peak_db)
    out: list[Utterance] = []
    if hot.size == 0:
        return out
    groups = np.split(hot, np.flatnonzero(np.diff(hot) > JOIN_S * per_s) + 1)
    voiced = rel >= o.energy_margin_db
    for g in groups:
        if g.size * FRAME < o.min_hot_s * SAMPLE_RATE:
            continue  # a click, not a syllable
        a, b = int(g[0]), int(g[-1]) + 1
        while a > 0 and voiced[a - 1]:  # the quieter edges of the same syllables
            a -= 1
        while b < len(voiced) and voiced[b]:
            b += 1
        lo = max(0.0, (f0 + a) / per_s - PAD_S)
        hi = (f0 + b) / per_s + PAD_S
        region = (round(lo, 3), round(hi, 3))
        out.append(
            Utterance(
                participant="customer",
                start_s=region[0],
                end_s=region[1],
                text="",
                uncertain="voice_energy",
                region_s=region,
            )
        )
    return out


@dataclass(frozen=True)
class RoomCheck:
    """Could an answer hide under the room in a window where none was found? Levels in dBFS."""

    floor_dbfs: float  # the track's noise floor (DecodeOptions.noise_percentile of its frames)
    window_noise_dbfs: float  # WINDOW_NOISE_PERCENTILE of the window's frame levels
    speech_dbfs: float | None  # the customer's speech level (median peak), None: none found
    speech_from: str  # "utterances" | "undecoded_regions" | "none"
    margin_db: float | None  # speech_dbfs - window_noise_dbfs
    threshold_db: float

    @property
    def too_loud(self) -> bool:
        """True when the customer's own speech stands less than the threshold above the
        window's noise: their answer, a little quieter than usual, could be under the room."""
        return self.margin_db is not None and self.margin_db < self.threshold_db

    def as_evidence(self) -> dict[str, Any]:
        return {
            "reason": "room_too_loud" if self.too_loud else "room_quiet",
            "floor_dbfs": round(self.floor_dbfs, 1),
            "window_noise_dbfs": round(self.window_noise_dbfs, 1),
            "speech_dbfs": None if self.speech_dbfs is None else round(self.speech_dbfs, 1),
            "speech_from": self.speech_from,
            "margin_db": None if self.margin_db is None else round(self.margin_db, 1),
            "threshold_db": self.threshold_db,
        }


def room_checks(
    audio: np.ndarray,
    utts: Sequence[Utterance],
    windows: Mapping[str, tuple[float, float]],
    margin_db: float,
    options: DecodeOptions | None = None,
) -> dict[str, RoomCheck]:
    """Key (a node id) -> how the customer's speech stands above the room in each window of
    ``windows`` (those where no answer was found; ``audio`` starts at 0 s).

    The customer's speech level is the median of the peaks (loudest 20 ms) of their decoded
    utterances (text read, not invented); with none, of the regions VAD found on their track
    that nothing was read in (in babble: sound no louder than the room, so a voice there is not
    told apart from it); with no region at all nothing was heard anywhere and nothing can be
    hidden: no margin, silence is proven."""
    o = options or DecodeOptions()
    levels = TrackLevels.of(np.asarray(audio, dtype=np.float32), o.noise_percentile)
    speech, source = _speech_level(levels, utts)
    out: dict[str, RoomCheck] = {}
    for key, (w0, w1) in windows.items():
        frames = _frames(levels, w0, w1)
        if frames.size == 0:
            continue
        noise = float(np.percentile(frames, WINDOW_NOISE_PERCENTILE))
        out[key] = RoomCheck(
            floor_dbfs=levels.floor,
            window_noise_dbfs=noise,
            speech_dbfs=speech,
            speech_from=source,
            margin_db=None if speech is None else speech - noise,
            threshold_db=margin_db,
        )
    return out


def _frames(levels: TrackLevels, w0: float, w1: float) -> np.ndarray:
    per_s = SAMPLE_RATE / FRAME
    f0, f1 = max(0, int(w0 * per_s)), min(len(levels.db), int(np.ceil(w1 * per_s)))
    return levels.db[f0:f1] if f1 > f0 else np.zeros(0, np.float32)


def _speech_level(levels: TrackLevels, utts: Sequence[Utterance]) -> tuple[float | None, str]:
    """(median peak dBFS, source) of the customer's decoded speech, else of their regions
    nothing was read in, else (None, "none")."""
    read = [u for u in utts if u.text and u.uncertain != "hallucination"]
    unread = [u for u in utts if not u.text and u.uncertain not in ("voice_energy", None)]
    for found, source in ((read, "utterances"), (unread, "undecoded_regions")):
        peaks = [float(f.max()) for u in found if (f := _frames(levels, u.start_s, u.end_s)).size]
        if peaks:
            return float(np.median(peaks)), source
    return None, "none"
