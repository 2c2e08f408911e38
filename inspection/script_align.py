"""Alignment of rendered template nodes to what each speaker said: the best in-order chain of
each node's candidate windows (``inspection.node_candidates``), the slot of a node none matched
(``inspection.slot_decision``), and order-critical nodes spoken too late.
"""

from __future__ import annotations

from collections.abc import Sequence

from inspection.node_candidates import Candidate, node_candidates, node_key_of
from inspection.node_slot import SlotEvidence
from inspection.node_stray import other_turns, without_stray_lead
from inspection.script_types import NodeAlignment, OrderViolation, ScriptNode, ScriptSettings
from inspection.slot_decision import node_slot_of, slot_decision
from inspection.speech import Utterance
from inspection.transcript import TextStream, build_stream, normalize_script


def marker_ranges(markers: Sequence[tuple[float, str]]) -> dict[str, tuple[float, float]]:
    """Node id → (marker time, next marker time) from the teleprompter events."""
    ordered = sorted(markers)
    out: dict[str, tuple[float, float]] = {}
    for i, (t, node_id) in enumerate(ordered):
        nxt = ordered[i + 1][0] if i + 1 < len(ordered) else float("inf")
        out.setdefault(node_id, (t, nxt))
    return out


def _best_chain(cands: list[Candidate], st: ScriptSettings) -> list[Candidate]:
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
    Each node is, in turn: in the best in-order chain, else covered out of order by a free
    good match, else judged on its slot (``slot_decision``).
    """
    st = settings or ScriptSettings()
    streams = {sp: build_stream(utterances, sp) for sp in {n.speaker for n in nodes}}
    ranges = marker_ranges(markers)
    others = {sp: other_turns(utterances, sp) for sp in streams}
    cands = _all_candidates(nodes, streams, ranges, others, st)
    good = [
        c for c in cands if c.score >= _threshold(nodes[c.node], st) or c.key >= st.min_key_score
    ]
    chain = {c.node: c for c in _best_chain(good, st)}
    out = []
    for i, node in enumerate(nodes):
        stream = streams[node.speaker]
        if i in chain:
            out.append(_alignment(node, chain[i], stream, True, True))
            continue
        free = _out_of_order(i, nodes, good, chain, st)
        if free is not None:
            out.append(_alignment(node, free, stream, True, False))
            continue
        slot = node_slot_of(i, nodes, chain, stream, ranges, st, utterances)
        mine = [c for c in cands if c.node == i]
        out.append(_slot_alignment(node, slot, slot_decision(node, slot, st), mine, stream))
    return out


def _all_candidates(
    nodes: Sequence[ScriptNode],
    streams: dict[str, TextStream],
    ranges: dict[str, tuple[float, float]],
    others: dict[str, list[tuple[float, float]]],
    st: ScriptSettings,
) -> list[Candidate]:
    """Every node's candidate windows in its speaker's stream, none starting at a stray
    fragment (``node_stray``)."""
    cands: list[Candidate] = []
    for i, node in enumerate(nodes):
        needle = normalize_script(node.text)
        # A node with its own min_similarity must be read close to its words: no key route.
        key, stream, marker = node_key_of(node), streams[node.speaker], ranges.get(node.id)
        need = _threshold(node, st)
        cands += [
            without_stray_lead(c, needle, key, need, stream, others[node.speaker], marker, st)
            for c in node_candidates(i, needle, key, stream, marker, st)
        ]
    return cands


def _out_of_order(
    i: int,
    nodes: Sequence[ScriptNode],
    good: Sequence[Candidate],
    chain: dict[int, Candidate],
    st: ScriptSettings,
) -> Candidate | None:
    """Node ``i`` covered out of order: its strongest match by similarity that is not some
    other chosen node's speech; None when it has none.

    Not by its content key alone: out of its place, the node's content in other words is
    the salesperson restating it, mostly in a reply to the customer's question (dev1p dev08,
    the surrender left out: "于期货后退保,只推现金价值会有一些随时" after the customer asked
    about 退保, key 0.53 with the sale's synonyms folded), which is not the node said."""
    need = _threshold(nodes[i], st)
    free = [
        c
        for c in good
        if c.node == i
        and c.score >= need
        and not any(_overlaps(c, o, nodes[i], nodes[o.node]) for o in chain.values())
    ]
    return max(free, key=Candidate.strength) if free else None


def _slot_alignment(
    node: ScriptNode,
    slot: SlotEvidence | None,
    decision: tuple[str, bool],
    mine: Sequence[Candidate],
    stream: TextStream,
) -> NodeAlignment:
    """A node no window matched (``mine``: its candidates), covered by its slot or not."""
    support, covered = decision
    best_key = max((c.key for c in mine), default=0.0)
    if covered and slot is not None:
        t0, t1 = stream.span_times(slot.win_start, slot.win_end)
        return NodeAlignment(
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
    best = max(mine, key=lambda c: c.score) if mine else None
    return NodeAlignment(
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


def _threshold(node: ScriptNode, st: ScriptSettings) -> float:
    """The node's own min_similarity, else the reminder's or the general threshold."""
    own = getattr(node, "min_similarity", None)
    if own is not None:
        return float(own)
    if getattr(node, "role", None) == "reminder":
        return st.reminder_min_similarity
    return st.min_similarity


def _overlaps(c: Candidate, o: Candidate, node: ScriptNode, other: ScriptNode) -> bool:
    if node.speaker != other.speaker:
        return False
    inter = min(c.end, o.end) - max(c.start, o.start)
    return inter > 0.5 * min(c.end - c.start, o.end - o.start)


def _alignment(
    node: ScriptNode, c: Candidate, stream: TextStream, covered: bool, in_order: bool
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
