"""Room normalisation ("cohort") of the customer's closed-set scores (issue 7: answers in babble).

In babble the closed set has a prior of its own: scored on babble alone, a short yes (对, 了解)
comes first in two of three regions, by up to 1.1 nats per token, the size of a real yes's lead
in the same room, so no threshold on the raw lead passes the yeses without passing a hedge. The
room's own scores can be measured on the same session: the customer's regions that hold room
noise only (speech.py keeps them as ``not_above_room``: nothing in them stands ``min_peak_db``
above the track's noise floor) and lie outside every answer window. Each answer's mean
log-probability per token minus its mean over those regions ranks the answers by what the
audio adds over the room (``closed_set.normalised``); ``script_answers`` may then turn a
`review` into a pass (``closed_set.cohort_sure``), never a hedge, refusal or question back.

Only with at least ``CohortOptions.regions`` such regions (with 4, up to 3 of 54 hedges passed in
calibration; with 8, none at the chosen threshold), and only when an answer is still a guess:
each region costs one closed-set scoring (1.7-3.4 CPU-s). A quiet room has no such regions, so
normalisation is off there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from inspection.closed_set import ClosedSetScore, normalised
from inspection.rules.evidence import NodeCoverage
from inspection.speech_types import Utterance

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class CohortOptions:
    """Which noise-only regions make the room's cohort (docs/inspection.md, "Room-normalised")."""

    #: Regions scored; a session with fewer such regions is not normalised.
    regions: int = 8
    #: Seconds scored of each (its middle): about as long as an answer region with its pads.
    clip_s: float = 2.5
    #: Shortest region used.
    min_region_s: float = 1.0
    #: A region this close to an answer window is left out (the answer may be in it).
    window_margin_s: float = 2.0


def noise_regions(
    utts: Sequence[Utterance], windows: Sequence[tuple[float, float]], opts: CohortOptions
) -> list[tuple[float, float]]:
    """``opts.regions`` clips (session seconds) of the customer's noise-only regions outside
    every answer window, spread over the track; [] when there are fewer."""
    m = opts.window_margin_s
    regions = sorted(
        {
            u.region_s
            for u in utts
            if u.region_s is not None and u.uncertain == "not_above_room" and not u.text
        }
    )
    free = [
        (a, b)
        for a, b in regions
        if b - a >= opts.min_region_s and all(b < w0 - m or a > w1 + m for w0, w1 in windows)
    ]
    if len(free) < opts.regions:
        return []
    step = (len(free) - 1) / max(opts.regions - 1, 1)
    picked = [free[round(i * step)] for i in range(opts.regions)]
    out = []
    for a, b in picked:
        mid, half = (a + b) / 2, min(opts.clip_s, b - a) / 2
        out.append((round(mid - half, 3), round(mid + half, 3)))
    return out


def needs_cohort(coverage: Iterable[NodeCoverage]) -> bool:
    """True when an answer rests on a closed-set guess (a review the room could explain)."""
    return any(c.answer_closed_set is not None and c.answer_score < 1.0 for c in coverage)


def room_means(scores: Sequence[ClosedSetScore]) -> dict[str, float]:
    """Every answer's mean log-probability per token over ``scores``."""
    by_phrase: dict[str, list[float]] = {}
    for s in scores:
        for phrase, _total, mean in s.table:
            by_phrase.setdefault(phrase, []).append(mean)
    return {p: float(np.mean(v)) for p, v in by_phrase.items() if len(v) == len(scores)}


def with_cohort(utts: Sequence[Utterance], room: dict[str, float], size: int) -> list[Utterance]:
    """``utts`` with every closed-set score normalised by ``room`` (``size`` regions)."""
    return [
        replace(u, closed_set=normalised(u.closed_set, room, size)) if u.closed_set else u
        for u in utts
    ]


def normalise_answers(
    audio: np.ndarray,
    utts: list[Utterance],
    windows: Sequence[tuple[float, float]],
    score: Callable[[np.ndarray], ClosedSetScore | None],
    workers: int = 1,
    opts: CohortOptions | None = None,
) -> list[Utterance] | None:
    """``utts`` (the customer's, closed-set scored in ``windows``) normalised by the room's
    cohort, scored with ``score`` on ``workers`` threads; None when the session has too few
    noise-only regions."""
    opts = opts or CohortOptions()
    clips = noise_regions(utts, windows, opts)
    if not clips:
        return None
    samples = [
        np.ascontiguousarray(audio[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)], np.float32)
        for a, b in clips
    ]
    if workers > 1:
        with ThreadPoolExecutor(min(workers, len(samples)), "kesu-cohort") as pool:
            results = list(pool.map(score, samples))
    else:
        results = [score(s) for s in samples]
    scores = [s for s in results if s is not None]
    if len(scores) < opts.regions:
        return None
    return with_cohort(utts, room_means(scores), len(scores))
