"""Stretches of a track decoded whole that came back without words, and their re-decoding.

In babble the salesperson's whole-track decode loses whole windows: Whisper returns nothing
for 20-30 s, or a loop ("那一刻是吧" x3, "银行卡里的..."), which the filters drop. Each 30 s
window is prompted with the previous one's text, so one bad window can spoil the next. The
same speech cut into pieces of a sentence or two and decoded alone, without a prompt, is
mostly readable: on the babble probe (salesperson babble 10 dB) each labelled line decoded
alone had CER 0.39 where the whole-track decode had 0.55-0.71 with 6-8 of 13-15 lines lost
(docs/inspection.md, "Lost salesperson speech decoded again").

``lost_stretches`` finds the speech (VAD regions that stand above the room) with no
recognised words; ``lost_pieces`` cuts each at its quietest moments
(``inspection.audio_pieces.pause_cuts``), ``SpeechRecognizer.recover_lost`` decodes the pieces
again and ``merged`` puts what it read in place of the loops that were there. Nothing the whole-track decode read is replaced, and the
re-decode is never prompted with any text (least of all the script's): it cannot make content
appear that is not in the audio, only read audio that was there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from inspection.audio_pieces import pause_cuts
from inspection.speech_regions import joined_regions
from inspection.speech_types import SAMPLE_RATE, DecodeOptions, Utterance
from inspection.transcript import normalize_script

#: A unit of up to 8 characters said 6 times or more back to back, anywhere in the text.
_RUN = re.compile(r"(.{1,8}?)\1{5,}")

#: A lost stretch is cut within this many seconds of every ``lost_piece_s``.
LOST_SEARCH_S = 3.0
#: The other party's speech accounts for this much time each side of it.
OTHERS_PAD_S = 0.5

#: An utterance of at least this many characters said again right after it is a loop.
REPEAT_MIN_CHARS = 4


def is_loop(text: str, min_repeats: int = 3, max_unit: int = 8) -> bool:
    """True for a recogniser loop: most of ``text`` one short unit said again and again
    ("银行卡里的银行卡里的银行卡里的", "北京北京北京北京"), what Whisper writes over a window of
    babble it cannot read; such text carries none of the words said there."""
    n = len(text)
    if n < 6:  # 对对对, 好好好: ordinary speech
        return False
    for k in range(1, max_unit + 1):
        if n < k * min_repeats:
            break
        for s in range(k):
            unit = text[s : s + k]
            reps = 0
            i = s
            while text.startswith(unit, i):
                reps += 1
                i += k
            if reps >= min_repeats and reps * k >= 0.6 * n:
                return True
    return False


def is_read(u: Utterance) -> bool:
    """Whether ``u`` holds words the recogniser read: certain, with text, and not a loop."""
    text = normalize_script(u.text)
    # The raw text too: a loop of punctuation ("本次录音录下对《《《《《《..." on probe C dev01,
    # the rest of the line lost to it) is gone from the normalised text.
    return bool(text) and u.uncertain is None and not is_loop(text) and not _RUN.search(u.text)


def read_mask(utts: Sequence[Utterance]) -> list[bool]:
    """Per utterance of ``utts`` (in time order), whether it holds words read (``is_read``)
    and is not one of a run of the same text of ``REPEAT_MIN_CHARS`` or more characters said
    again back to back: a loop split into utterances ("那就是那些" x3, "你又不怕你" x4 on the
    babble probe), which no single utterance shows."""
    texts = [normalize_script(u.text) for u in utts]
    out = [is_read(u) for u in utts]
    for i, t in enumerate(texts):
        if len(t) < REPEAT_MIN_CHARS:
            continue
        if (i > 0 and texts[i - 1] == t) or (i + 1 < len(texts) and texts[i + 1] == t):
            out[i] = False
    return out


def lost_stretches(
    utts: Sequence[Utterance],
    spans: Sequence[tuple[int, int]],
    min_s: float,
    pad_s: float,
    others: Sequence[tuple[float, float]] = (),
) -> list[tuple[int, int]]:
    """Sample ranges of the speech ``spans`` (VAD regions left after the quiet ones were
    silenced) that no read utterance of ``utts`` covers for at least ``min_s`` seconds,
    widened by ``pad_s`` each side (within their span) and joined where they overlap.
    ``others`` (seconds: the other party's speech, widened by ``OTHERS_PAD_S``) account for
    their time too: on the quiet dev split the customer's question heard on the
    salesperson's track (dev08, 63.9-66.2 s) left a 3.7 s gap between read lines."""
    read = sorted(
        [(u.start_s, u.end_s) for u, r in zip(utts, read_mask(utts), strict=True) if r]
        + [(a - OTHERS_PAD_S, b + OTHERS_PAD_S) for a, b in others]
    )
    out: list[tuple[int, int]] = []
    for a, b in spans:
        s0, s1 = a / SAMPLE_RATE, b / SAMPLE_RATE
        t = s0
        for c0, c1 in [*read, (s1, s1)]:
            if c1 <= t:
                continue
            c0 = min(c0, s1)
            if c0 - t >= min_s:
                lo = max(s0, t - pad_s)
                hi = min(s1, c0 + pad_s)
                out.append((round(lo * SAMPLE_RATE), round(hi * SAMPLE_RATE)))
            t = max(t, c1)
            if t >= s1:
                break
    joined: list[tuple[int, int]] = []
    for a, b in sorted(out):
        if joined and a <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(b, joined[-1][1]))
        else:
            joined.append((a, b))
    return joined


def merged(
    utts: Sequence[Utterance],
    stretch_s: tuple[float, float],
    found: Sequence[Utterance],
    min_chars: int,
) -> list[Utterance]:
    """``utts`` with what the re-decode of the lost stretch ``stretch_s`` (seconds) read:
    its utterances of at least ``min_chars`` characters that are not loops (a lone "是吧" or
    "吃吧" from babble is no reading) replace the unread ones centred in the stretch (loops,
    uncertain scraps, repeats: ``read_mask``); with nothing such, ``utts`` stay as they were."""
    kept = [u for u in found if is_read(u) and len(normalize_script(u.text)) >= min_chars]
    if not kept:
        return list(utts)
    s0, s1 = stretch_s
    mask = read_mask(utts)
    rest = [
        u for u, r in zip(utts, mask, strict=True) if r or not s0 <= (u.start_s + u.end_s) / 2 <= s1
    ]
    return sorted([*rest, *kept], key=lambda u: u.start_s)


def lost_pieces(
    samples: np.ndarray,
    utts: Sequence[Utterance],
    spans: list[tuple[int, int]],
    o: DecodeOptions,
    others: Sequence[tuple[float, float]] = (),
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The lost stretches of a track ``samples`` decoded whole into ``utts`` (its speech
    regions ``spans``; ``others`` as for :func:`lost_stretches`) and the pieces to decode them
    again in, cut at pauses (sample ranges)."""
    # Regions joined across reading pauses as for a per-region decode: in babble the pauses
    # between sentences are lost with them.
    pad = int(o.region_pad_s * SAMPLE_RATE)
    joined = joined_regions(spans, o, pad)
    stretches = lost_stretches(utts, joined, o.lost_min_s, o.region_pad_s, others)
    pieces = [
        (lo + a, lo + b)
        for lo, hi in stretches
        for a, b in pause_cuts(samples[lo:hi], SAMPLE_RATE, o.lost_piece_s, LOST_SEARCH_S)
    ]
    return stretches, pieces
