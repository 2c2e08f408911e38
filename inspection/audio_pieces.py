"""Cutting a long track into pieces at pauses, so that its speech can be recognised piece by
piece: on two lanes at once, and with bounded memory (faster-whisper computes the
spectrogram of all the audio it is given in one go: ~0.5 GB of intermediate arrays for 15
minutes of speech)."""

from __future__ import annotations

import numpy as np

FRAME_S = 0.02
QUIET_S = 0.6  # the cut goes in the middle of the quietest stretch this long


def pause_cuts(
    samples: np.ndarray, sample_rate: int, piece_s: float, search_s: float
) -> list[tuple[int, int]]:
    """Sample ranges ``[lo, hi)`` covering ``samples`` one after another, each about ``piece_s``
    long: every cut is in the middle of the quietest ``QUIET_S`` within ``search_s`` of
    where a piece would end (between sentences, not inside a word). A track shorter than
    1.5 pieces stays whole."""
    n = len(samples)
    if piece_s <= 0 or n < 1.5 * piece_s * sample_rate:
        return [(0, n)] if n else []
    frame = max(1, round(FRAME_S * sample_rate))
    nf = n // frame
    power = np.square(samples[: nf * frame].reshape(nf, frame), dtype=np.float64).mean(axis=1)
    width = max(1, round(QUIET_S / FRAME_S))
    csum = np.concatenate([[0.0], np.cumsum(power)])
    quiet = (csum[width:] - csum[:-width]) / width  # mean power of frames [i, i + width)
    cuts: list[int] = []
    target = piece_s
    while (n / sample_rate) - target >= 0.5 * piece_s:
        lo = max(0, int((target - search_s) / FRAME_S))
        hi = min(len(quiet), int((target + search_s) / FRAME_S))
        if hi <= lo:
            break
        i = lo + int(np.argmin(quiet[lo:hi]))
        cut = (i + width // 2) * frame
        if cuts and cut <= cuts[-1]:
            break
        cuts.append(cut)
        target = cut / sample_rate + piece_s
    edges = [0, *cuts, n]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]
