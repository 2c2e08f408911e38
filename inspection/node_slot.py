"""Evidence for a node that no match reached: what the speaker said in its slot.

A node said in the insurer's own words and heard with ASR errors can score under both the
similarity and the content-key thresholds (dev01 is_insurance 0.50 / 0.26: the product and
company names garbled). Where it was spoken is known even when its words are not: between the
nodes found before and after it (the in-order chain) and, when the teleprompter reported it,
while the node was on the salesperson's screen. A node that was really left out leaves that
slot (nearly) empty, or filled with other talk that does not resemble it; a node said in other
words fills it with about its own length of speech that still resembles it moderately.

``slot_evidence`` measures the slot: its speech (characters and seconds), the best
similarity of the node's text to a window inside it, and the content-key score of the slot.
``slot_decision`` turns it into a decision (``ScriptSettings.slot_*``).

In a noisy room the recogniser loses whole stretches of the salesperson's speech (a window
dropped as a repetition loop or as low-confidence, babble taken for silence): the slot of a
node said there holds no text, like the slot of a node left out. Time tells them apart: a
left-out node leaves no time behind (the salesperson goes on with the next node), a lost one
leaves a hole in the transcript about as long as the node. ``unheard_seconds`` measures the
time of the slot in which neither the speaker's recognised words nor the other party's speech
account for what happened; ``slot_decision`` makes such a node ``unheard`` (review, not fail).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from inspection.node_content import NodeKey, best_key_windows
from inspection.textnorm import _fuzz_syllable, pinyin
from inspection.transcript import TextStream


@dataclass(frozen=True)
class SlotEvidence:
    """What was said in a node's slot (``start``/``end`` index the speaker's stream)."""

    start: int  # the slot
    end: int
    t0: float
    t1: float
    chars: int  # characters said in the slot
    length_ratio: float  # chars / the node's characters (for a run of k nodes, their sum)
    score: float  # best char+pinyin similarity of the node to a window of the slot
    key: float  # best content-key score of a window of the slot
    win_start: int  # that best window
    win_end: int
    bounded_by: str  # "chain" | "marker" | "chain+marker": what delimits the slot
    #: Seconds of the slot's time (from the node found before to the one found after, within
    #: the teleprompter window) with no recognised speech of the speaker and no speech of the
    #: other party, less the pauses the template expects there (answers, documents), and the
    #: seconds the node takes at the template's speaking rate.
    unheard_s: float = 0.0
    expected_s: float = 0.0
    #: Mean recognition probability of the slot's characters (1.0 when unknown or empty).
    confidence: float = 1.0
    #: The recording reminder: the lowest, over its clauses, of the clause's best fuzzy pinyin
    #: match inside the slot (``clause_similarity``); 1.0 for other nodes.
    clause_min: float = 1.0
    #: The slot's time bounds (from the node found before to the one found after, within the
    #: teleprompter window); ``t0``/``t1`` are those of the characters said in it.
    from_s: float = 0.0
    to_s: float = 0.0

    def as_evidence(self, stream: TextStream) -> dict[str, object]:
        return {
            "text": stream.text[self.start : self.end],
            "start_s": round(self.t0, 3),
            "end_s": round(self.t1, 3),
            "chars": self.chars,
            "length_ratio": round(self.length_ratio, 3),
            "similarity": round(self.score, 3),
            "key_score": round(self.key, 3),
            "bounded_by": self.bounded_by,
            "unheard_s": round(self.unheard_s, 2),
            "expected_s": round(self.expected_s, 2),
            "confidence": round(self.confidence, 3),
            "clause_min": round(self.clause_min, 3),
            "from_s": round(self.from_s, 3),
            "to_s": round(self.to_s, 3),
        }


def unheard_seconds(
    stream: TextStream,
    t_lo: float,
    t_hi: float,
    others: Sequence[tuple[float, float]],
    min_gap_s: float,
    loops: frozenset[int] = frozenset(),
) -> float:
    """Seconds of ``[t_lo, t_hi]`` not accounted for by speech: the speaker's recognised
    characters (gaps under ``min_gap_s`` between them are the flow of speech; characters of
    the utterances in ``loops``, recogniser loops, account for nothing) and ``others``
    (the other party's speech, padded by the caller)."""
    if t_hi <= t_lo:
        return 0.0
    spans: list[tuple[float, float]] = [
        (max(a, t_lo), min(b, t_hi)) for a, b in others if b > t_lo and a < t_hi
    ]
    run: tuple[float, float] | None = None
    for k, (a, b) in enumerate(zip(stream.starts, stream.ends, strict=True)):
        if b < t_lo - min_gap_s or a > t_hi + min_gap_s:
            continue
        if loops and stream.utterance[k] in loops:
            continue
        if run is not None and a - run[1] < min_gap_s:
            run = (run[0], max(run[1], b))
            continue
        if run is not None:
            spans.append(run)
        run = (a, b)
    if run is not None:
        spans.append(run)
    covered = 0.0
    end = t_lo
    for a, b in sorted((max(a, t_lo), min(b, t_hi)) for a, b in spans):
        if b <= end:
            continue
        covered += b - max(a, end)
        end = b
    return max(0.0, (t_hi - t_lo) - covered)


def clause_similarity(clauses: Sequence[str], stream: TextStream, lo: int, hi: int) -> float:
    """The lowest, over ``clauses`` (normalised), of each one's best partial match of its
    fuzzy pinyin (zh/z, l/n, ang/an ... folded) inside ``stream[lo:hi]``. The recording
    reminder heard as "这次诺音乐项对您以后为不自己的权益非常重要，请您认真看一下千的文件，每个
    问题都如实回答" (probe: hum 15 dB) keeps every clause at 0.44-0.60 while its content
    pairs fall to 0.12 (录音录像 -> 诺音乐项); a clause left out scores 0.11-0.17."""
    if not clauses:
        return 1.0
    said = [_fuzz_syllable(p) for p in stream.pinyin[lo:hi]]
    if not said:
        return 0.0
    return min(fuzz.partial_ratio(pinyin(c, fuzzy=True), said) / 100.0 for c in clauses)


def _combined(
    needle: str, needle_py: list[str], stream: TextStream, a: int, b: int, w: float
) -> float:
    pin = fuzz.ratio(needle_py, stream.pinyin[a:b]) / 100.0
    char = fuzz.ratio(needle, stream.text[a:b]) / 100.0
    return w * pin + (1 - w) * char


def best_window(
    needle: str, needle_py: list[str], stream: TextStream, lo: int, hi: int, w: float
) -> tuple[float, int, int]:
    """Best char+pinyin window of ``needle`` inside ``[lo, hi)``: (score, start, end)."""
    n = len(needle)
    if hi <= lo or not n:
        return 0.0, lo, lo
    if hi - lo <= n:
        cands = [(lo, hi)]
    else:
        al = fuzz.partial_ratio_alignment(needle_py, list(stream.pinyin[lo:hi]))
        step = max(1, n // 4)
        cands = [(s, s + n) for s in range(lo, hi - n + 1, step)] + [(hi - n, hi)]
        if al is not None:
            cands.append((lo + al.dest_start, lo + al.dest_end))
    best = max((_combined(needle, needle_py, stream, a, b, w), a, b) for a, b in cands)
    sc, a, b = best
    d = max(2, n // 5)
    for e in range(max(a + 1, b - d), min(hi, b + d) + 1):
        s2 = _combined(needle, needle_py, stream, a, e, w)
        if s2 > sc:
            sc, b = s2, e
    for s in range(max(lo, a - d), min(b - 1, a + d) + 1):
        s2 = _combined(needle, needle_py, stream, s, b, w)
        if s2 > sc:
            sc, a = s2, s
    return sc, a, b


def slot_evidence(
    needle: str,
    needle_py: list[str],
    key: NodeKey,
    stream: TextStream,
    lo: int,
    hi: int,
    expected_chars: int,
    bounded_by: str,
    pinyin_weight: float,
    key_window: float,
    clause_min: float,
) -> SlotEvidence | None:
    """Measure the speech in ``stream[lo:hi]`` against one node. An empty slot (the nodes
    around it adjacent) is measured too: its times say where the node should have been."""
    lo, hi = max(0, lo), min(len(stream), hi)
    if not len(stream):
        return None
    if hi <= lo:
        hi = lo
        t0 = stream.ends[lo - 1] if lo > 0 else 0.0
        t1 = stream.starts[hi] if hi < len(stream) else t0
        return SlotEvidence(lo, hi, t0, max(t0, t1), 0, 0.0, 0.0, 0.0, lo, hi, bounded_by)
    sc, a, b = best_window(needle, needle_py, stream, lo, hi, pinyin_weight)
    width = max(len(needle), round(len(needle) * key_window))
    wins = best_key_windows(
        key, stream.text[lo:hi], stream.pinyin[lo:hi], min(width, hi - lo), clause_min, 1
    )
    ks = wins[0][0] if wins else 0.0
    t0, t1 = stream.span_times(lo, hi)
    probs = stream.prob[lo:hi]
    return SlotEvidence(
        start=lo,
        end=hi,
        t0=t0,
        t1=t1,
        chars=hi - lo,
        length_ratio=(hi - lo) / max(1, expected_chars),
        score=sc,
        key=ks,
        win_start=a,
        win_end=b,
        bounded_by=bounded_by,
        confidence=sum(probs) / len(probs) if probs else 1.0,
    )
