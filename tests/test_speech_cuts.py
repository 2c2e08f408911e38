"""Cutting a track decoded whole into pieces at long gaps between its speech
(``inspection.speech_cuts``): where the cuts fall, and that each piece's words land where
they were said on the track."""

from __future__ import annotations

import numpy as np
import pytest

from inspection.media import Track, load_audio
from inspection.speech import SAMPLE_RATE, DecodeOptions, SpeechRecognizer
from inspection.speech_cuts import (
    PREFIX_GAP_S,
    VAD_WINDOW,
    WholeTrack,
    gap_cuts,
    lead_in,
    prefix_end,
    prepare,
)
from models.registry import ModelRegistry
from tests.corpus_media import clip_file

SR = SAMPLE_RATE


def _s(spans: list[tuple[float, float]]) -> list[tuple[int, int]]:
    return [(int(a * SR), int(b * SR)) for a, b in spans]


def _contiguous(pieces: list[tuple[int, int]], n: int) -> bool:
    return (
        pieces[0][0] == 0
        and pieces[-1][1] == n
        and all(b == c for (_, b), (c, _) in zip(pieces, pieces[1:], strict=False))
    )


def test_the_cut_takes_the_longest_gap_that_keeps_the_pieces_balanced() -> None:
    # 20 regions of 20 s with 2 s pauses, a 4 s gap right in the middle of the speech and a
    # 60 s gap a bit later (at 55% of the speech): within 10% of an even split the longest
    # gap wins.
    spans, t = [], 0.0
    for i in range(20):
        spans.append((t, t + 20.0))
        t += 20.0 + (4.0 if i == 9 else 60.0 if i == 10 else 2.0)
    n = int((t + 5) * SR)
    pieces = gap_cuts(_s(spans), n, 2, 3 * SR, 80 * SR)
    assert len(pieces) == 2 and _contiguous(pieces, n)
    cut = pieces[1][0]
    assert spans[10][1] * SR < cut < spans[11][0] * SR  # inside the 60 s gap
    assert abs(cut - (spans[10][1] + 30.0) * SR) <= VAD_WINDOW  # in its middle
    assert cut % VAD_WINDOW == 0
    # Without the long gap the one in the middle of the speech wins, not a 2 s pause.
    shift = 56.0  # close the 60 s gap to 4 s
    spans2 = spans[:11] + [(a - shift, b - shift) for a, b in spans[11:]]
    pieces2 = gap_cuts(_s(spans2), n, 2, 3 * SR, 80 * SR)
    assert len(pieces2) == 2
    assert spans2[9][1] * SR < pieces2[1][0] < spans2[10][0] * SR


def test_far_from_balance_the_nearest_gap_is_taken() -> None:
    # Only one long gap, at a third of the speech: still cut there (nothing closer).
    spans = [(0.0, 100.0), (130.0, 330.0)]
    n = 340 * SR
    pieces = gap_cuts(_s(spans), n, 2, 3 * SR, 80 * SR)
    assert len(pieces) == 2 and 100 * SR < pieces[1][0] < 130 * SR


def test_short_speech_or_no_gap_stays_whole() -> None:
    n = 130 * SR
    # A two-minute session: less speech than two pieces need.
    short = [(0.0, 40.0), (50.0, 110.0)]
    assert gap_cuts(_s(short), n, 2, 3 * SR, 80 * SR) == [(0, n)]
    # Long speech but no gap of 3 s: whole.
    long_n = 400 * SR
    tight = [(i * 12.0, i * 12.0 + 10.0) for i in range(33)]
    assert gap_cuts(_s(tight), long_n, 2, 3 * SR, 80 * SR) == [(0, long_n)]
    # A gap that would leave one piece under the minimum speech is not taken.
    lopsided = [(0.0, 50.0), (100.0, 400.0)]
    assert gap_cuts(_s(lopsided), long_n, 2, 3 * SR, 80 * SR) == [(0, long_n)]
    # One piece asked for, no speech, nothing at all.
    assert gap_cuts(_s([(0.0, 100.0), (200.0, 300.0)]), long_n, 1, 3 * SR, 80 * SR) == [(0, long_n)]
    assert gap_cuts([], long_n, 2, 3 * SR, 80 * SR) == [(0, long_n)]
    assert gap_cuts([], 0, 2, 3 * SR, 80 * SR) == []


def test_three_pieces_share_the_speech() -> None:
    # 30 regions of 20 s, a 10 s gap after every 5th: three pieces of ~200 s of speech each.
    spans, t = [], 0.0
    for i in range(30):
        spans.append((t, t + 20.0))
        t += 20.0 + (10.0 if i % 5 == 4 else 1.0)
    n = int(t * SR)
    pieces = gap_cuts(_s(spans), n, 3, 3 * SR, 80 * SR)
    assert len(pieces) == 3 and _contiguous(pieces, n)
    for lo, hi in pieces:
        speech = sum(min(b, hi) - max(a, lo) for a, b in _s(spans) if a < hi and b > lo)
        assert 180 * SR <= speech <= 220 * SR


def test_a_piece_is_decoded_from_the_speech_before_its_cut() -> None:
    # Regions of 10 s with 2 s pauses, then a long gap and the cut at 200 s: the lead-in starts
    # at the region that brings 30 s of speech before the cut (half a second early).
    spans = _s([(100.0, 110.0), (112.0, 122.0), (124.0, 134.0), (136.0, 146.0), (250.0, 260.0)])
    cut = 200 * SR
    lead = lead_in(spans, cut, 30 * SR)
    assert lead % VAD_WINDOW == 0
    assert 111.4 * SR <= lead <= 111.5 * SR  # 112 s - 0.5 s, on the grid
    # Less speech than asked for before the cut: all of it; none at all: the cut itself.
    assert lead_in(spans, cut, 100 * SR) <= 99.5 * SR
    assert lead_in(spans, 50 * SR, 30 * SR) == 50 * SR
    # A span that ends after the cut is not lead-in.
    assert lead_in(spans, 255 * SR, 5 * SR) == lead_in(spans, 200 * SR, 5 * SR)


def test_a_piece_after_a_cut_is_decoded_after_the_tracks_first_speech() -> None:
    # The prefix: the track's first 30 s of speech, ending with a region (+ 0.5 s).
    spans = _s([(2.0, 12.0), (13.0, 25.0), (26.0, 40.0), (41.0, 60.0)])
    end = prefix_end(spans, 30 * SR)
    assert end % VAD_WINDOW == 0 and 40.5 * SR <= end < 40.5 * SR + VAD_WINDOW
    assert prefix_end(spans, 1000 * SR) >= 60.5 * SR and prefix_end([], 30 * SR) == 0
    # What a piece decodes: the prefix, zeros, the piece from its lead-in; the origin maps the
    # decoded input's sample 0 to the track's timeline.
    n = 300 * SR
    track = np.arange(n, dtype=np.float32)
    whole = WholeTrack(track, spans, [], [(0, 150 * SR), (150 * SR, n)], [0, 100 * SR], end)
    x, origin = whole.decode_input(1)
    gap = int(PREFIX_GAP_S * SR)
    assert x.size == end + gap + (n - 100 * SR)
    assert np.array_equal(x[:end], track[:end]) and not x[end : end + gap].any()
    # Position i of the input at the lead-in and after is track sample origin + i.
    assert x[end + gap] == track[100 * SR] and origin + end + gap == 100 * SR
    assert x[-1] == track[-1] and origin + x.size == n
    # The first piece, and a piece whose lead-in reaches back into the prefix: no prefix.
    x0, o0 = whole.decode_input(0)
    assert o0 == 0 and x0.size == 150 * SR
    near = WholeTrack(track, spans, [], [(0, 50 * SR), (50 * SR, n)], [0, 30 * SR], end)
    x1, o1 = near.decode_input(1)
    assert o1 == 0 and x1.size == n


def _two_parts() -> tuple[np.ndarray, list[float], int]:
    """Four script lines, a 12 s pause after the second: the track, the lines' starts (s) and
    the sample where the pause starts."""
    lines = (
        "您好，本次投保过程将全程录音录像，请问您是否同意？",
        "此次录音录像过程对于今后您维护权益非常关键，请您如实回答相关问题。",
        "您选择的交费方式为年交，每期保费12000元，交费期间为10年，保险期间为20年。",
        "本产品的保险责任包括身故保险金和全残保险金，具体以保险合同条款为准。",
    )
    parts = [np.zeros(SR, np.float32)]
    starts, t, pause_at = [], 1.0, 0
    for i, text in enumerate(lines):
        x = load_audio([Track("salesperson", clip_file(text))])
        starts.append(t)
        gap = 12.0 if i == 1 else 1.0
        if i == 1:
            pause_at = int((t + len(x) / SR) * SR)
        parts += [x, np.zeros(int(gap * SR), np.float32)]
        t += len(x) / SR + gap
    return np.concatenate(parts).astype(np.float32), starts, pause_at


@pytest.mark.slow
def test_pieces_decode_on_the_track_timeline() -> None:
    recognizer = SpeechRecognizer(ModelRegistry.from_env().path("whisper-base"), cpu_threads=2)
    track, starts, pause_at = _two_parts()
    # Pieces of this tiny track need little speech: the real minimum is for 20-minute tracks.
    whole = prepare(track, DecodeOptions(), True, 2, min_gap_s=3.0, min_piece_speech_s=5.0)
    assert not whole.quiet and whole.samples is track  # nothing silenced: not copied
    assert len(whole.pieces) == 2
    cut = whole.pieces[1][0]
    assert pause_at < cut < pause_at + 12 * SR
    assert whole.leads[0] == 0 and whole.leads[1] < pause_at  # from the speech before the cut
    offset = 200.0
    utts = []
    for i, (lo, hi) in enumerate(whole.pieces):
        x, origin = whole.decode_input(i)
        keep = offset + lo / SR if origin < lo else None
        piece = recognizer.transcribe_whole(
            x, "salesperson", offset + origin / SR, keep_from_s=keep
        )
        # Each piece's words lie inside the piece, on the track's timeline (the lead-in's
        # words dropped).
        for u in piece:
            assert offset + lo / SR <= u.start_s <= u.end_s <= offset + hi / SR + 0.05, u
        utts += piece
    # Every line starts within 1 s of a word (times mapped back through the offsets; one
    # utterance may hold several lines).
    words = [w.start_s for u in utts for w in u.words]
    for t in starts:
        assert any(abs(w - (offset + t)) <= 1.0 for w in words), (t, utts)
    # The second piece holds the last two lines' words, not the first two's.
    second = [u for u in utts if u.start_s >= offset + cut / SR]
    assert second and min(u.start_s for u in second) >= offset + starts[2] - 1.0
