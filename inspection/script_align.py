"""Alignment of rendered template nodes to what each speaker said: char+pinyin fuzzy windows
and content-syllable windows (``inspection.node_content``) over the speaker's character stream,
the best in-order chain, and order-critical nodes spoken too late.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rapidfuzz import fuzz

from inspection.node_content import NodeKey, best_key_windows, node_key
from inspection.node_slot import (
    SlotEvidence,
    clause_similarity,
    is_loop,
    slot_evidence,
    unheard_seconds,
)
from inspection.script_types import NodeAlignment, OrderViolation, ScriptNode, ScriptSettings
from inspection.speech import Utterance
from inspection.textnorm import pinyin
from inspection.transcript import TextStream, build_stream, normalize_script

_CLAUSES = re.compile(r"[，,。；;？?！!：:、]")


@dataclass(frozen=True)
class _Cand:
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
        pin = fuzz.ratio(needle_py, stream.pinyin[a:b]) / 100.0
        char = fuzz.ratio(needle, stream.text[a:b]) / 100.0
        return w * pin + (1 - w) * char

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


def _candidates(
    idx: int,
    needle: str,
    key: NodeKey,
    stream: TextStream,
    marker: tuple[float, float] | None,
    st: ScriptSettings,
) -> list[_Cand]:
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
        pin = fuzz.ratio(needle_py, stream.pinyin[a:b]) / 100.0
        char = fuzz.ratio(needle, stream.text[a:b]) / 100.0
        sc = st.pinyin_weight * pin + (1 - st.pinyin_weight) * char
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
) -> _Cand:
    a, b = _without_far_edges(stream, a, b, st.match_max_gap_s)
    t0, t1 = stream.span_times(a, b)
    in_marker = (
        marker is not None and marker[0] - st.marker_slack_s <= t0 <= marker[1] + st.marker_slack_s
    )
    return _Cand(idx, score, a, b, t0, t1, in_marker, key)


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


def marker_ranges(markers: Sequence[tuple[float, str]]) -> dict[str, tuple[float, float]]:
    """Node id → (marker time, next marker time) from the teleprompter events."""
    ordered = sorted(markers)
    out: dict[str, tuple[float, float]] = {}
    for i, (t, node_id) in enumerate(ordered):
        nxt = ordered[i + 1][0] if i + 1 < len(ordered) else float("inf")
        out.setdefault(node_id, (t, nxt))
    return out


def _best_chain(cands: list[_Cand], st: ScriptSettings) -> list[_Cand]:
    """Highest-scoring set of candidates, at most one per node, in template and time order."""
    items = sorted(cands, key=lambda c: (c.node, c.t0))
    best: list[float] = []
    prev: list[int] = []
    for i, c in enumerate(items):
        own = c.strength() + (st.marker_bonus if c.in_marker else 0.0)
        best.append(own)
        prev.append(-1)
        for j in range(i):
            p = items[j]
            if (
                p.node < c.node
                and p.t1 - st.overlap_tolerance_s <= c.t0
                and best[j] + own > best[i]
            ):
                best[i], prev[i] = best[j] + own, j
    if not items:
        return []
    i = max(range(len(items)), key=best.__getitem__)
    chain = []
    while i >= 0:
        chain.append(items[i])
        i = prev[i]
    return chain[::-1]


def align_nodes(
    nodes: Sequence[ScriptNode],
    utterances: Sequence[Utterance],
    markers: Sequence[tuple[float, str]] = (),
    settings: ScriptSettings | None = None,
) -> list[NodeAlignment]:
    """Find where each node was spoken by its speaker; one result per node, in template order.

    ``markers`` are (t_s, node_id) teleprompter events; they only bias the choice of match.
    """
    st = settings or ScriptSettings()
    streams = {sp: build_stream(utterances, sp) for sp in {n.speaker for n in nodes}}
    ranges = marker_ranges(markers)
    cands: list[_Cand] = []
    for i, node in enumerate(nodes):
        needle = normalize_script(node.text)
        # A node with its own min_similarity must be read close to its words: no key route.
        own = getattr(node, "min_similarity", None) is not None
        key = NodeKey(frozenset()) if own else node_key(node.text, _role(node) == "reminder")
        cands += _candidates(i, needle, key, streams[node.speaker], ranges.get(node.id), st)
    good = [
        c for c in cands if c.score >= _threshold(nodes[c.node], st) or c.key >= st.min_key_score
    ]
    chain = {c.node: c for c in _best_chain(good, st)}
    out = []
    for i, node in enumerate(nodes):
        mine = [c for c in cands if c.node == i]
        stream = streams[node.speaker]
        if i in chain:
            out.append(_alignment(node, chain[i], stream, True, True))
            continue
        # Covered out of order: a good match that is not some other chosen node's speech.
        free = [
            c
            for c in good
            if c.node == i and not any(_overlaps(c, o, node, nodes[o.node]) for o in chain.values())
        ]
        if free:
            out.append(_alignment(node, max(free, key=_Cand.strength), stream, True, False))
            continue
        best = max(mine, key=lambda c: c.score) if mine else None
        best_key = max((c.key for c in mine), default=0.0)
        slot = _slot(i, nodes, chain, stream, ranges, st, utterances)
        support, covered = _slot_decision(node, slot, st)
        if covered and slot is not None:
            t0, t1 = stream.span_times(slot.win_start, slot.win_end)
            out.append(
                NodeAlignment(
                    node.id,
                    node.title,
                    node.speaker,
                    True,
                    round(slot.score, 4),
                    round(t0, 3),
                    round(t1, 3),
                    stream.text[slot.win_start : slot.win_end],
                    key_score=round(max(best_key, slot.key), 4),
                    support=support,
                    slot=slot.as_evidence(stream),
                )
            )
            continue
        out.append(
            NodeAlignment(
                node.id,
                node.title,
                node.speaker,
                False,
                round(best.score, 4) if best else 0.0,
                None,
                None,
                "",
                key_score=round(best_key, 4),
                support=support,
                slot=slot.as_evidence(stream) if slot is not None else None,
            )
        )
    return out


def _slot(
    i: int,
    nodes: Sequence[ScriptNode],
    chain: dict[int, _Cand],
    stream: TextStream,
    ranges: dict[str, tuple[float, float]],
    st: ScriptSettings,
    utterances: Sequence[Utterance] = (),
) -> SlotEvidence | None:
    """The speech between the chain's nodes before and after node ``i`` (same speaker),
    within the node's teleprompter window when it has one."""
    node = nodes[i]
    same = {j: c for j, c in chain.items() if nodes[j].speaker == node.speaker}
    before = [j for j in same if j < i]
    after = [j for j in same if j > i]
    lo = same[max(before)].end if before else 0
    hi = same[min(after)].start if after else len(stream)
    # The slot's time: from the end of the node found before to the start of the one after,
    # cut by the teleprompter window; with neither after it, the session's last speech.
    t_lo = same[max(before)].t1 if before else 0.0
    t_hi = same[min(after)].t0 if after else float("inf")
    bounded = "chain"
    marker = ranges.get(node.id)
    if marker is not None:
        lo = max(lo, stream.index_at(marker[0] - st.marker_slack_s))
        hi = min(hi, stream.index_at(marker[1] + st.marker_slack_s))
        t_lo = max(t_lo, marker[0] - st.marker_slack_s)
        t_hi = min(t_hi, marker[1] + st.marker_slack_s)
        bounded = "chain+marker"
        expected = len(normalize_script(node.text))
    else:
        # Nodes left between the same neighbours without a window of their own share the slot.
        lo_j, hi_j = (max(before) if before else -1), (min(after) if after else len(nodes))
        expected = sum(
            len(normalize_script(nodes[j].text))
            for j in range(lo_j + 1, hi_j)
            if nodes[j].speaker == node.speaker and nodes[j].id not in ranges
        )
    if t_hi == float("inf"):
        t_hi = max((u.end_s for u in utterances), default=0.0)
    needle = normalize_script(node.text)
    own = getattr(node, "min_similarity", None) is not None
    key = NodeKey(frozenset()) if own else node_key(node.text, _role(node) == "reminder")
    evidence = slot_evidence(
        needle,
        pinyin(needle),
        key,
        stream,
        lo,
        hi,
        expected,
        bounded,
        st.pinyin_weight,
        st.key_window,
        st.key_clause_min,
    )
    if evidence is None:
        return None
    pad = st.unheard_other_pad_s
    others = [(u.start_s - pad, u.end_s + pad) for u in utterances if u.participant != node.speaker]
    # The pauses the template itself leaves after the nodes from the one found before up to
    # this one (its own included): the customer thinking before an answer, a document shown
    # in silence.
    # Within a teleprompter window only its own (the pauses before it lie before its marker).
    first = i if marker is not None or not before else max(before)
    pauses = sum(
        (st.answer_pause_s if nodes[j].requires_answer else 0.0)
        + (st.document_pause_s if getattr(nodes[j], "document", None) else 0.0)
        for j in range(first, i + 1)
    )
    # The stream numbers the speaker's utterances in time order (transcript.build_stream).
    mine = sorted((u for u in utterances if u.participant == node.speaker), key=lambda u: u.start_s)
    loops = frozenset(k for k, u in enumerate(mine) if is_loop(normalize_script(u.text)))
    hole = unheard_seconds(stream, t_lo, t_hi, others, st.unheard_gap_s, loops)
    clauses = (
        [normalize_script(c) for c in _CLAUSES.split(node.text)]
        if _role(node) == "reminder"
        else []
    )
    if evidence.chars == 0 and t_hi > t_lo:
        # Nothing recognised in it: its time is where the node belongs (findings seek there).
        evidence = replace(evidence, t0=t_lo, t1=t_hi)
    return replace(
        evidence,
        unheard_s=max(0.0, hole - pauses),
        expected_s=len(needle) / st.speaking_rate,
        clause_min=clause_similarity([c for c in clauses if len(c) >= 4], stream, lo, hi),
    )


def _slot_decision(
    node: ScriptNode, slot: SlotEvidence | None, st: ScriptSettings
) -> tuple[str, bool]:
    """(support, covered) of a node no window matched, from its slot.

    Only the similarity decides: on short nodes the content-key share of a slot holding
    neighbours' leftovers reached 0.29 (dev, a node removed), as high as some paraphrases. The
    recording reminder must also keep every clause (its key is the worst clause's share below
    ``key_clause_min``), and a node with its own ``min_similarity`` is never covered this way.
    """
    if slot is None:
        return "absent", False
    strict = getattr(node, "min_similarity", None) is not None
    # The reminder "in full": every clause's content pairs, or (ASR errors in its content
    # words) every clause resembling something said there.
    clauses_said = slot.key >= st.slot_key_score or slot.clause_min >= st.slot_clause_similarity
    if _role(node) == "reminder" and not clauses_said:
        strict = True
    if not strict and slot.length_ratio >= st.slot_min_length and slot.score >= st.slot_similarity:
        return "slot", True
    if slot.length_ratio >= st.slot_partial_length and slot.score >= st.slot_partial_similarity:
        return "partial", False
    if slot.unheard_s >= max(st.slot_unheard_min_s, st.slot_unheard_share * slot.expected_s):
        # Time enough for the node passed with nothing recognised: lost, not left out.
        return "unheard", False
    return "absent", False


def _role(node: ScriptNode) -> str | None:
    return getattr(node, "role", None)


def _threshold(node: ScriptNode, st: ScriptSettings) -> float:
    """The node's own min_similarity, else the reminder's or the general threshold."""
    own = getattr(node, "min_similarity", None)
    if own is not None:
        return float(own)
    if getattr(node, "role", None) == "reminder":
        return st.reminder_min_similarity
    return st.min_similarity


def _overlaps(c: _Cand, o: _Cand, node: ScriptNode, other: ScriptNode) -> bool:
    if node.speaker != other.speaker:
        return False
    inter = min(c.end, o.end) - max(c.start, o.start)
    return inter > 0.5 * min(c.end - c.start, o.end - o.start)


def _alignment(
    node: ScriptNode, c: _Cand, stream: TextStream, covered: bool, in_order: bool
) -> NodeAlignment:
    return NodeAlignment(
        node_id=node.id,
        title=node.title,
        speaker=node.speaker,
        covered=covered,
        score=round(c.score, 4),
        start_s=round(c.t0, 3),
        end_s=round(c.t1, 3),
        matched_text=stream.text[c.start : c.end],
        in_order=in_order,
        key_score=round(c.key, 4),
    )


def order_violations(
    nodes: Sequence[ScriptNode], aligned: Sequence[NodeAlignment]
) -> list[OrderViolation]:
    """Order-critical nodes (consent, reminder) spoken after a node that follows them in the
    template; each is reported against the earliest such node."""
    by_id = {a.node_id: a for a in aligned}
    out = []
    for i, n in enumerate(nodes):
        a = by_id[n.id]
        if not n.order_critical or not a.covered or a.start_s is None:
            continue
        earlier = [
            by_id[m.id]
            for m in nodes[i + 1 :]
            if by_id[m.id].covered and (by_id[m.id].start_s or 0.0) < a.start_s
        ]
        if earlier:
            first = min(earlier, key=lambda b: b.start_s or 0.0)
            out.append(OrderViolation(n.id, a.start_s, first.node_id, first.start_s or 0.0))
    return out
