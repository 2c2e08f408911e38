"""Cutting a long track into pieces at pauses (inspection.audio_pieces)."""

from __future__ import annotations

import numpy as np

from inspection.audio_pieces import pause_cuts

SR = 16000


def _speech_with_pauses(seconds: float, pauses: list[tuple[float, float]]) -> np.ndarray:
    """Loud noise ("speech") with quiet stretches (room noise 40 dB down) at ``pauses``."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 0.2, int(seconds * SR)).astype(np.float32)
    for a, b in pauses:
        x[int(a * SR) : int(b * SR)] *= 0.01
    return x


def test_cuts_fall_in_the_pause_nearest_each_piece_end() -> None:
    # A pause within 15 s of where each 60 s piece would end.
    pauses = [(55.0, 56.0), (112.0, 113.0), (170.0, 171.0), (235.0, 236.0)]
    x = _speech_with_pauses(300.0, pauses)
    pieces = pause_cuts(x, SR, piece_s=60.0, search_s=15.0)
    # Contiguous, covering every sample.
    assert pieces[0][0] == 0 and pieces[-1][1] == len(x)
    assert all(b == c for (_, b), (c, _) in zip(pieces, pieces[1:], strict=False))
    cuts = [a / SR for a, _ in pieces[1:]]
    assert len(cuts) == len(pauses)
    for c, (a, b) in zip(cuts, pauses, strict=True):
        assert a <= c <= b, (c, a, b)


def test_a_short_track_stays_whole() -> None:
    x = _speech_with_pauses(80.0, [(30.0, 31.0)])
    assert pause_cuts(x, SR, piece_s=60.0, search_s=15.0) == [(0, len(x))]
    assert pause_cuts(x, SR, piece_s=0.0, search_s=15.0) == [(0, len(x))]
    assert pause_cuts(np.zeros(0, np.float32), SR, 60.0, 15.0) == []


def test_the_last_piece_is_not_a_sliver() -> None:
    x = _speech_with_pauses(130.0, [(59.0, 60.0), (121.0, 122.0)])
    pieces = pause_cuts(x, SR, piece_s=60.0, search_s=5.0)
    assert len(pieces) == 2  # 60 + 70 s, not 60 + 61 + 9 s
    assert all((b - a) / SR >= 30 for a, b in pieces)
