"""Cutting a track decoded whole (the salesperson's) into a few long pieces at its longest
stretches without speech, so that the pieces decode on several lanes at once (issues 7/11).

The whole-track decode was one task on one lane: on the 18-minute babble probe it bounded
the wall at ~0.26 of the session while the other lane idled once the customer's speech and
the video scans were done. faster-whisper glues the VAD chunks of the audio it is given and
decodes them in 30 s windows, each prompted with the previous window's text; a cut resets
that context, as a window that fell back to a higher temperature already does
(``DecodeOptions.prompt_reset_on_temperature``). So the cuts go where the context matters
least: in the middle of a long gap between speech regions (a silenced reading pause in
babble, or the customer's turn), as few as there are lanes, where they balance the speech
each piece holds. Cutting at a nominal length instead (``inspection.audio_pieces``) put a cut
in a short pause mid-node and decoded the following stretch differently (docs/bench.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspection.speech_regions import TrackLevels, speech_regions
from inspection.speech_types import SAMPLE_RATE, DecodeOptions

#: Only a gap without speech at least this long takes a cut (faster-whisper's VAD closes
#: gaps under ``vad_min_silence_ms`` anyway; a longer one is a turn or a silenced pause).
MIN_GAP_S = 3.0
#: Cuts fall on a multiple of Silero's 512-sample window, so that faster-whisper's VAD of a
#: piece sees the frames it saw in the whole track.
VAD_WINDOW = 512
#: Each piece holds at least this much speech: a short session (~2 minutes) stays whole and
#: decodes exactly as before; the cut pays off on long sessions only.
MIN_PIECE_SPEECH_S = 80.0
#: A piece after a cut is decoded from this much speech before the cut (a lead-in; its words
#: are dropped, the piece before has them), so that its first window after the gap is prompted
#: with the text before it, as in the whole-track decode. Without it the babble probe's first
#: window after the cut (704-744 s) lost its words and the piece came out unpunctuated
#: ("壹外"): 3 nodes of the rider went unread.
LEAD_SPEECH_S = 30.0
#: ... and after this much speech from the track's start (the prefix, ending with a region; its
#: words dropped too): faster-whisper's first window has no prompt, and the style it falls
#: into (punctuated, or bare phrases with 壹/一万 for 意外) is carried by each window's text
#: to the next. A piece starting at its lead-in fell into the bare style on dev16 and dev17
#: where the whole track, started from the greeting, had not (a false forbidden-phrase review,
#: a false "no answer" fail); decoded after the track's own first window, the piece's first
#: window is prompted with the text the whole-track decode started from.
PREFIX_SPEECH_S = 30.0
#: Zeros between the prefix and the lead-in: longer than ``split_pause_s`` (1.5 s), so no
#: utterance spans both.
PREFIX_GAP_S = 2.0
#: A cut may leave the pieces' speech this far (share of the track's speech) from an even
#: split; within it the longest gap wins (context matters least across a long gap).
BALANCE_TOL = 0.1


@dataclass(frozen=True)
class WholeTrack:
    """A track to decode whole, prepared once: ``samples`` with its quiet regions silenced
    (the input array itself when there are none), its speech regions after that
    (``spans``: sample ranges), the silenced ones (``quiet``), and the ``pieces`` (sample
    ranges, one after another, covering the track) to decode on their own, each from its
    ``leads`` sample (at or before its start: the lead-in whose words the piece drops), a
    piece with a lead-in after ``samples[:prefix]`` (the track's first ``PREFIX_SPEECH_S`` of
    speech; 0: none)."""

    samples: np.ndarray
    spans: list[tuple[int, int]]
    quiet: list[tuple[int, int]]
    pieces: list[tuple[int, int]]
    leads: list[int]
    prefix: int = 0

    def decode_input(self, piece: int) -> tuple[np.ndarray, int]:
        """What to decode for piece ``piece``, and the track sample its first sample stands
        for (its times are that + position; the piece keeps only what starts at its start):
        the prefix, ``PREFIX_GAP_S`` of zeros and the piece from its lead-in; or just the
        piece (from its lead-in, when that reaches back into the prefix: from the start)."""
        lo, hi = self.pieces[piece]
        lead = self.leads[piece]
        if lead == lo or lead <= self.prefix:
            lead = lead if lead == lo else 0
            return self.samples[lead:hi], lead
        gap = np.zeros(int(PREFIX_GAP_S * SAMPLE_RATE), np.float32)
        head = self.samples[: self.prefix]
        joined = np.concatenate([head, gap, self.samples[lead:hi]])
        return joined, lead - head.size - gap.size


def prepare(
    samples: np.ndarray,
    o: DecodeOptions,
    silence: bool,
    pieces: int,
    min_gap_s: float | None = None,
    min_piece_speech_s: float | None = None,
) -> WholeTrack:
    """Silence the VAD regions no louder than the room when ``silence`` (``min_peak_db``),
    then cut into at most ``pieces`` pieces at gaps between the remaining regions
    (``gap_cuts``; ``MIN_GAP_S``, ``MIN_PIECE_SPEECH_S`` unless given)."""
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        samples = samples.reshape(-1)
    if samples.size == 0:
        return WholeTrack(samples, [], [], [], [])
    silence = silence and o.min_peak_db > 0
    if not silence and pieces <= 1:
        return WholeTrack(samples, [], [], [(0, samples.size)], [0])
    spans = speech_regions(samples, o, False)
    quiet: list[tuple[int, int]] = []
    if silence:
        levels = TrackLevels.of(samples, o.noise_percentile)
        quiet = [r for r, p in zip(spans, levels.peaks(spans), strict=True) if p < o.min_peak_db]
    kept = [r for r in spans if r not in set(quiet)]
    out = samples
    if quiet:
        out = samples.copy()
        for a, b in quiet:
            out[a:b] = 0.0
    cuts = gap_cuts(
        kept,
        samples.size,
        pieces,
        int((MIN_GAP_S if min_gap_s is None else min_gap_s) * SAMPLE_RATE),
        int(
            (MIN_PIECE_SPEECH_S if min_piece_speech_s is None else min_piece_speech_s) * SAMPLE_RATE
        ),
    )
    lead = int(LEAD_SPEECH_S * SAMPLE_RATE)
    leads = [lead_in(kept, lo, lead) for lo, _ in cuts]
    prefix = prefix_end(kept, int(PREFIX_SPEECH_S * SAMPLE_RATE)) if len(cuts) > 1 else 0
    return WholeTrack(out, kept, quiet, cuts, leads, prefix)


def gap_cuts(
    spans: list[tuple[int, int]],
    n: int,
    pieces: int,
    min_gap: int,
    min_piece_speech: int,
    tol: float = BALANCE_TOL,
) -> list[tuple[int, int]]:
    """Sample ranges ``[lo, hi)`` covering ``[0, n)`` one after another: at most ``pieces``,
    each cut in the middle of a gap of at least ``min_gap`` samples between consecutive
    ``spans`` (sorted speech ranges), each piece holding at least ``min_piece_speech``
    samples of speech. Cut ``j`` goes in the longest such gap whose speech before it is
    within ``tol`` of the track's speech of ``j/pieces``, else the gap nearest to that share;
    fewer pieces when the speech is too short for them or no gap qualifies."""
    if n <= 0:
        return []
    total = sum(b - a for a, b in spans)
    k = min(max(1, pieces), total // max(1, min_piece_speech)) if total else 1
    if k <= 1:
        return [(0, n)]
    # Gaps between consecutive spans: (speech before, gap length, cut sample).
    gaps: list[tuple[int, int, int]] = []
    before = 0
    for (a0, b0), (a1, _) in zip(spans, spans[1:], strict=False):
        before += b0 - a0
        if a1 - b0 >= min_gap:
            gaps.append((before, a1 - b0, (b0 + a1) // 2 // VAD_WINDOW * VAD_WINDOW))
    cuts: list[int] = []
    done = 0  # speech before the last cut
    for j in range(1, k):
        target = total * j / k
        ok = [
            g
            for g in gaps
            if g[0] - done >= min_piece_speech
            and total - g[0] >= min_piece_speech
            and (not cuts or g[2] > cuts[-1])
        ]
        if not ok:
            break
        near = [g for g in ok if abs(g[0] - target) <= tol * total]
        best = (
            max(near, key=lambda g: (g[1], -abs(g[0] - target)))
            if near
            else min(ok, key=lambda g: abs(g[0] - target))
        )
        cuts.append(best[2])
        done = best[0]
    edges = [0, *cuts, n]
    return list(zip(edges, edges[1:], strict=False))


def lead_in(spans: list[tuple[int, int]], cut: int, speech: int) -> int:
    """Where to start decoding a piece that starts at ``cut``: at the start of the earliest of
    the ``spans`` before ``cut`` such that those spans hold ``speech`` samples (all of them
    when they hold less), less half a second, on the VAD's window grid; ``cut`` itself when
    no span ends before it."""
    held, start = 0, cut
    for a, b in reversed([sp for sp in spans if sp[1] <= cut]):
        held += b - a
        start = a
        if held >= speech:
            break
    if start == cut:
        return cut
    return max(0, start - SAMPLE_RATE // 2) // VAD_WINDOW * VAD_WINDOW


def prefix_end(spans: list[tuple[int, int]], speech: int) -> int:
    """The end of the first of ``spans`` by which they hold ``speech`` samples (the last
    span's end when they hold less; 0 without spans), plus half a second, on the VAD grid."""
    held, end = 0, 0
    for a, b in spans:
        held += b - a
        end = b
        if held >= speech:
            break
    if end == 0:
        return 0
    return -(-(end + SAMPLE_RATE // 2) // VAD_WINDOW) * VAD_WINDOW
