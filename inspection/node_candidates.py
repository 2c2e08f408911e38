"""Where one rendered template node may have been said: the candidate windows of the
speaker's character stream, found by char+pinyin fuzzy matching and by content-syllable
windows (``inspection.node_content``). ``script_align`` chooses among them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from rapidfuzz import fuzz

from inspection.node_content import NodeKey, best_key_windows, node_key
from inspection.script_types import ScriptNode, ScriptSettings
from inspection.textnorm import pinyin
from inspection.transcript import TextStream

__all__ = ["Candidate", "in_marker", "node_candidates", "node_key_of", "node_role", "window_score"]


@dataclass(frozen=True)
class Candidate:
    """A window of the speaker's stream where node ``node`` may have been said."""

    node: int  # index into the node list
    score: float
    start: int  # char span in the speaker's stream
    end: int
    t0: float
    t1: float
    in_marker: bool
    key: float = 0.0  # node_content.key_score of the span (with slack)

    def strength(self) -> float:
        return max(self.score, self.key)


def window_score(
    needle: str, needle_py: list[str], stream: TextStream, a: int, b: int, w: float
) -> float:
    """Similarity of the node's text to characters ``[a, b)``: pinyin ratio weighted ``w``,
    character ratio the rest."""
    pin = fuzz.ratio(needle_py, stream.pinyin[a:b]) / 100.0
    char = fuzz.ratio(needle, stream.text[a:b]) / 100.0
    return w * pin + (1 - w) * char


def _window_scores(
    needle_py: list[str], stream: TextStream, lo: int, hi: int, n: int
) -> list[tuple[float, int]]:
    """Coarse pinyin ratio of windows of length ``n`` starting every ``n // 4`` chars."""
    step = max(1, n // 4)
    last = max(lo, hi - n)
    out = []
    for s in range(lo, last + 1, step):
        out.append((fuzz.ratio(needle_py, stream.pinyin[s : s + n]) / 100.0, s))
    if last not in {s for _, s in out}:
        out.append((fuzz.ratio(needle_py, stream.pinyin[last : last + n]) / 100.0, last))
    return out


def _refine(
    needle: str, needle_py: list[str], stream: TextStream, s: int, n: int, w: float
) -> tuple[float, int, int]:
    """Best exact window near a coarse start: partial alignment, then stretch or shrink ends."""
    lo, hi = max(0, s - n // 2), min(len(stream), s + n + n // 2)
    al = fuzz.partial_ratio_alignment(needle_py, list(stream.pinyin[lo:hi]))
    start, end = (lo + al.dest_start, lo + al.dest_end) if al is not None else (s, min(s + n, hi))

    def score(a: int, b: int) -> float:
        return window_score(needle, needle_py, stream, a, b, w)

    best = score(start, end)
    d = max(2, n // 5)
    for e in range(max(start + 1, end - d), min(len(stream), end + d) + 1):
        sc = score(start, e)
        if sc > best:
            best, end = sc, e
    for b in range(max(0, start - d), min(end - 1, start + d) + 1):
        sc = score(b, end)
        if sc > best:
            best, start = sc, b
    return best, start, end


def node_candidates(
    idx: int,
    needle: str,
    key: NodeKey,
    stream: TextStream,
    marker: tuple[float, float] | None,
    st: ScriptSettings,
) -> list[Candidate]:
    """Up to ``st.candidates`` non-overlapping best windows of the stream for one node."""
    n = len(needle)
    if not n or not len(stream):
        return []
    needle_py = pinyin(needle)
    coarse = sorted(_window_scores(needle_py, stream, 0, len(stream), n), reverse=True)
    starts: list[int] = []
    for _sc, s in coarse:
        if all(abs(s - t) >= n // 2 + 1 for t in starts):
            starts.append(s)
        if len(starts) >= st.candidates:
            break
    if marker is not None:
        lo, hi = stream.index_at(marker[0]), stream.index_at(marker[1])
        if hi > lo:
            inside = max(_window_scores(needle_py, stream, lo, hi, n))
            if all(abs(inside[1] - t) > n // 2 for t in starts):
                starts.append(inside[1])
    width = max(n, round(n * st.key_window))
    out = []
    for s in starts:
        sc, a, b = _refine(needle, needle_py, stream, s, n, st.pinyin_weight)
        slack = max(0, width - (b - a)) // 2
        lo, hi = max(0, a - slack), min(len(stream), b + slack)
        ks = key.score(stream.text[lo:hi], stream.pinyin[lo:hi], st.key_clause_min)
        out.append(_cand(idx, sc, a, b, ks, stream, marker, st))
    # The stretches carrying most of the node's content, wherever the wording put them.
    for ks, a, b in best_key_windows(
        key, stream.text, stream.pinyin, width, st.key_clause_min, st.candidates
    ):
        if ks < st.min_key_score or any(c.key >= ks and c.start <= a < c.end for c in out):
            continue
        sc = window_score(needle, needle_py, stream, a, b, st.pinyin_weight)
        out.append(_cand(idx, sc, a, b, ks, stream, marker, st))
    return out


def _cand(
    idx: int,
    score: float,
    a: int,
    b: int,
    key: float,
    stream: TextStream,
    marker: tuple[float, float] | None,
    st: ScriptSettings,
) -> Candidate:
    a, b = _without_far_edges(stream, a, b, st.match_max_gap_s)
    t0, t1 = stream.span_times(a, b)
    return Candidate(idx, score, a, b, t0, t1, in_marker(t0, marker, st), key)


def in_marker(t0: float, marker: tuple[float, float] | None, st: ScriptSettings) -> bool:
    """Whether a match starting at ``t0`` starts close enough to its marker's range."""
    return (
        marker is not None and marker[0] - st.marker_slack_s <= t0 <= marker[1] + st.marker_slack_s
    )


def _without_far_edges(stream: TextStream, a: int, b: int, max_gap_s: float) -> tuple[int, int]:
    """The window ``[a, b)`` cut at pauses longer than ``max_gap_s``, its longest piece: a
    fuzzy window stretches over a few characters said long before or after (a neighbour's
    leftover across a stretch the recogniser lost), which would move the node's time, and
    with it the slots of the nodes around it, by that stretch."""
    cuts = [k for k in range(a + 1, b) if stream.starts[k] - stream.ends[k - 1] > max_gap_s]
    if not cuts:
        return a, b
    bounds = [a, *cuts, b]
    return max(itertools.pairwise(bounds), key=lambda p: p[1] - p[0])


def node_role(node: ScriptNode) -> str | None:
    return getattr(node, "role", None)


def node_key_of(node: ScriptNode) -> NodeKey:
    """The node's content key; none for a node with its own min_similarity, which must be
    read close to its words."""
    own = getattr(node, "min_similarity", None) is not None
    return NodeKey(frozenset()) if own else node_key(node.text, node_role(node) == "reminder")
