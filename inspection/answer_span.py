"""The customer's answer in a region with room noise glued to it, closed-set scored again on the
span of its words (issue 7: answers in rooms at 15-25 dB SNR).

In babble at 15 dB the customer track's energy gate keeps the babble right before and after a
short answer, so the region decoded and closed-set scored holds the answer plus 2-4 s of room:
"是我本人" (1.1 s) in a region of 5.4 s. The decoder still places the words it heard (是我被人 at
88.6-89.4 s for the labelled 88.4-89.5 s), but the closed set of the whole region can never make
a yes sure there (``closed_set_max_s``: the end of text is not scored, so a region that long may
hold more than a yes), and the answer stayed a `review` however clearly the model heard the yes
(是我本人 first by 2.9 nats per token on that region).

Such a region is scored again on the span of *all* its decoded words (± ``SpanOptions.pad_s``),
so no word that was heard is cut off, and the new score replaces the region's only when:
the span is within ``closed_set_max_s`` and shorter than the region; and the region's own score
does not sound like a hedge or a refusal (``answer_closed_set.model_hears_no``: what lies outside
the words may be a no the decoder lost, and then the region keeps its doubt). Every other rule
of the answer (a heard 不/没, a hedge or question back in the words, another region of the window
that hears a no, the agreement and margin thresholds) applies to the new score as to any other.
Only answers that are still a closed-set guess on such a region are rescored: one closed-set
scoring (1.7-3.4 CPU-s) per region, only in noisy rooms (dev split, quiet rooms: none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from inspection.closed_set import ClosedSetScore
from inspection.rules.evidence import NodeCoverage
from inspection.speech_regions import TrackLevels
from inspection.speech_types import SAMPLE_RATE, Utterance

#: Scores one clip of the customer's track (``AnswerScoring.score_clip``).
ScoreClip = Callable[[np.ndarray], ClosedSetScore | None]
#: Whether a region's closed-set score sounds like a hedge or a refusal.
HearsNo = Callable[[ClosedSetScore], bool]


@dataclass(frozen=True)
class SpanOptions:
    """How the span of an answer's words is cut from its region."""

    #: Audio kept on each side of the words (the region's own decoding pad).
    pad_s: float = 0.4
    #: Rescored only when the span is at least this much shorter than the region.
    min_cut_s: float = 0.5
    #: ... and when nothing the span leaves out of the region stands this many dB above the
    #: track's noise floor (``DecodeOptions.min_peak_db``: no louder than the room, babble
    #: alone), so that a reply the decoder lost part of ("清楚，不过我再想想" heard as 清楚) is
    #: never cut to its yes; None: not checked. Measured (babble 15/20 dB probes): what spans
    #: left out peaked 5.9-12.5 dB above the floor, the spans' answers 23.7-34.4 dB.
    max_left_out_db: float | None = 16.0
    #: The percentile of the track's 20 ms frame levels taken as its noise floor
    #: (``DecodeOptions.noise_percentile``).
    noise_percentile: float = 20.0


def needs_span(coverage: Iterable[NodeCoverage], max_s: float) -> bool:
    """True when an answer is still a closed-set guess scored on a region longer than
    ``max_s`` (which can never make a yes sure)."""
    return any(
        c.answer_closed_set is not None
        and c.answer_score < 1.0
        and float(c.answer_closed_set.get("speech_s") or 0.0) > max_s
        for c in coverage
    )


def word_spans(
    utts: Sequence[Utterance],
    windows: Sequence[tuple[float, float]],
    max_s: float,
    opts: SpanOptions,
) -> dict[tuple[float, float], tuple[float, float]]:
    """Region -> span (session seconds) of all its decoded words ± ``opts.pad_s``, for the
    closed-set scored regions of the answer windows longer than ``max_s`` whose words fit in
    ``max_s`` and leave at least ``opts.min_cut_s`` of the region out."""
    by_region: dict[tuple[float, float], list[Utterance]] = {}
    for u in utts:
        if u.region_s is not None and u.closed_set is not None:
            by_region.setdefault(u.region_s, []).append(u)
    out: dict[tuple[float, float], tuple[float, float]] = {}
    for region, mine in by_region.items():
        r0, r1 = region
        if mine[0].closed_set is None or mine[0].closed_set.speech_s <= max_s:
            continue
        if not any(r0 <= w1 and w0 <= r1 for w0, w1 in windows):
            continue
        words = [w for u in mine for w in u.words]
        if not words or any(not u.words and u.text for u in mine):
            continue  # text without word times: where it was said is not known
        lo = max(r0, min(w.start_s for w in words) - opts.pad_s)
        hi = min(r1, max(w.end_s for w in words) + opts.pad_s)
        if hi - lo <= max_s and (r1 - r0) - (hi - lo) >= opts.min_cut_s:
            out[region] = (round(lo, 3), round(hi, 3))
    return out


def rescored(
    audio: np.ndarray,
    utts: Sequence[Utterance],
    windows: Sequence[tuple[float, float]],
    score_clip: ScoreClip,
    hears_no: HearsNo,
    max_s: float,
    opts: SpanOptions | None = None,
) -> list[Utterance] | None:
    """``utts`` with the closed-set score of every long answer region (:func:`word_spans`)
    replaced by its words' span's, unless the region's own score hears a no; None when nothing
    changed. ``audio`` is the customer's track from session time 0."""
    opts = opts or SpanOptions()
    spans = word_spans(utts, windows, max_s, opts)
    new: dict[tuple[float, float], ClosedSetScore] = {}
    levels = TrackLevels.of(np.asarray(audio, np.float32), opts.noise_percentile) if spans else None
    for region, (lo, hi) in sorted(spans.items()):
        whole = next(u.closed_set for u in utts if u.region_s == region and u.closed_set)
        if whole is None or hears_no(whole):
            continue  # the audio left out may hold a no the decoder lost
        if levels is not None and _voice_left_out(levels, region, (lo, hi), opts):
            continue  # ... and so may a part louder than the room
        clip = audio[max(0, round(lo * SAMPLE_RATE)) : round(hi * SAMPLE_RATE)]
        score = score_clip(np.ascontiguousarray(clip, dtype=np.float32))
        if score is not None:
            new[region] = score
    if not new:
        return None
    return [
        replace(u, closed_set=new[u.region_s])
        if u.region_s in new and u.closed_set is not None
        else u
        for u in utts
    ]


def _voice_left_out(
    levels: TrackLevels,
    region: tuple[float, float],
    span: tuple[float, float],
    opts: SpanOptions,
) -> bool:
    """True when a part of ``region`` outside ``span`` (session seconds) stands
    ``opts.max_left_out_db`` above the track's noise floor: louder than the room, so possibly
    the customer's own words."""
    if opts.max_left_out_db is None:
        return False
    parts = [(region[0], span[0]), (span[1], region[1])]
    cut = [(round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)) for a, b in parts if b - a > 0.02]
    return any(p >= opts.max_left_out_db for p in levels.peaks(cut))
