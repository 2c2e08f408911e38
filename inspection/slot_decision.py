"""A node no candidate window matched: the speech in its slot between the nodes found
before and after it (``node_slot.slot_evidence``), and whether that covers it, leaves it
partial, unheard or absent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from inspection.node_candidates import Candidate, node_key_of, node_role
from inspection.node_slot import (
    SlotEvidence,
    clause_similarity,
    slot_evidence,
    unheard_seconds,
)
from inspection.script_types import ScriptNode, ScriptSettings
from inspection.speech import Utterance
from inspection.speech_lost import is_loop
from inspection.textnorm import pinyin
from inspection.transcript import TextStream, normalize_script

__all__ = ["node_slot_of", "slot_decision"]

_CLAUSES = re.compile(r"[，,。；;？?！!：:、]")
#: The reminder's clauses checked one by one (``clause_min``) have at least this many
#: characters (since 3c803f5, which measured the 0.4 of ``slot_clause_similarity`` with it).
_CLAUSE_MIN_CHARS = 4


@dataclass(frozen=True)
class _Bounds:
    """Where a node's slot lies: text positions ``lo:hi`` of its speaker's stream and the
    times ``t_lo..t_hi``; ``expected`` is how many characters the slot should hold."""

    lo: int
    hi: int
    t_lo: float
    t_hi: float
    bounded: str  # "chain" | "chain+marker": what cut the slot
    expected: int


def _neighbours(
    i: int, nodes: Sequence[ScriptNode], chain: dict[int, Candidate]
) -> tuple[dict[int, Candidate], int | None, int | None]:
    """The chain's nodes of node ``i``'s speaker, and the indexes of the closest one found
    before and after it (None when there is none)."""
    same = {j: c for j, c in chain.items() if nodes[j].speaker == nodes[i].speaker}
    before = [j for j in same if j < i]
    after = [j for j in same if j > i]
    return same, (max(before) if before else None), (min(after) if after else None)


def _chain_bounds(
    i: int,
    nodes: Sequence[ScriptNode],
    chain: dict[int, Candidate],
    stream: TextStream,
    ranges: dict[str, tuple[float, float]],
) -> _Bounds:
    """The slot between the nodes found before and after node ``i``: from the end of the one
    before to the start of the one after (with none after, to the end of the stream and an
    open time). Nodes left between the same neighbours without a teleprompter window of their
    own share the slot, so it should hold all their characters."""
    node = nodes[i]
    same, prev, nxt = _neighbours(i, nodes, chain)
    lo_j, hi_j = (prev if prev is not None else -1), (nxt if nxt is not None else len(nodes))
    expected = sum(
        len(normalize_script(nodes[j].text))
        for j in range(lo_j + 1, hi_j)
        if nodes[j].speaker == node.speaker and nodes[j].id not in ranges
    )
    return _Bounds(
        lo=same[prev].end if prev is not None else 0,
        hi=same[nxt].start if nxt is not None else len(stream),
        t_lo=same[prev].t1 if prev is not None else 0.0,
        t_hi=same[nxt].t0 if nxt is not None else float("inf"),
        bounded="chain",
        expected=expected,
    )


def _marker_cut(
    b: _Bounds, node: ScriptNode, marker: tuple[float, float], stream: TextStream, slack: float
) -> _Bounds:
    """The slot cut by the node's own teleprompter window (``slack`` either side): it then
    holds this node alone."""
    return _Bounds(
        lo=max(b.lo, stream.index_at(marker[0] - slack)),
        hi=min(b.hi, stream.index_at(marker[1] + slack)),
        t_lo=max(b.t_lo, marker[0] - slack),
        t_hi=min(b.t_hi, marker[1] + slack),
        bounded="chain+marker",
        expected=len(normalize_script(node.text)),
    )


def _slot_bounds(
    i: int,
    nodes: Sequence[ScriptNode],
    chain: dict[int, Candidate],
    stream: TextStream,
    ranges: dict[str, tuple[float, float]],
    st: ScriptSettings,
    utterances: Sequence[Utterance],
) -> _Bounds:
    """The slot of node ``i``: between its chain neighbours, within its teleprompter window
    when it has one; an open end is the session's last speech."""
    b = _chain_bounds(i, nodes, chain, stream, ranges)
    marker = ranges.get(nodes[i].id)
    if marker is not None:
        b = _marker_cut(b, nodes[i], marker, stream, st.marker_slack_s)
    if b.t_hi == float("inf"):
        b = replace(b, t_hi=max((u.end_s for u in utterances), default=0.0))
    return b


def _template_pauses(
    i: int,
    nodes: Sequence[ScriptNode],
    prev: int | None,
    has_marker: bool,
    st: ScriptSettings,
) -> float:
    """The pauses the template itself leaves after the nodes from the one found before up to
    this one (its own included): the customer thinking before an answer, a document shown in
    silence. Within a teleprompter window only its own (the pauses before it lie before its
    marker)."""
    first = i if has_marker or prev is None else prev
    return sum(
        (st.answer_pause_s if nodes[j].requires_answer else 0.0)
        + (st.document_pause_s if getattr(nodes[j], "document", None) else 0.0)
        for j in range(first, i + 1)
    )


def _hole_seconds(
    node: ScriptNode,
    stream: TextStream,
    b: _Bounds,
    utterances: Sequence[Utterance],
    st: ScriptSettings,
) -> float:
    """Seconds of the slot with none of the speaker's speech recognised, the other party's
    (padded) speech and the speaker's recogniser loops not counting as speech."""
    pad = st.unheard_other_pad_s
    others = [(u.start_s - pad, u.end_s + pad) for u in utterances if u.participant != node.speaker]
    # The stream numbers the speaker's utterances in time order (transcript.build_stream).
    mine = sorted((u for u in utterances if u.participant == node.speaker), key=lambda u: u.start_s)
    loops = frozenset(k for k, u in enumerate(mine) if is_loop(normalize_script(u.text)))
    return unheard_seconds(stream, b.t_lo, b.t_hi, others, st.unheard_gap_s, loops)


def _reminder_clauses(node: ScriptNode) -> list[str]:
    """The recording reminder's clauses of ``_CLAUSE_MIN_CHARS`` or more characters (each
    must be said: the slot's ``clause_min``); none for other nodes."""
    if node_role(node) != "reminder":
        return []
    clauses = [normalize_script(c) for c in _CLAUSES.split(node.text)]
    return [c for c in clauses if len(c) >= _CLAUSE_MIN_CHARS]


def node_slot_of(
    i: int,
    nodes: Sequence[ScriptNode],
    chain: dict[int, Candidate],
    stream: TextStream,
    ranges: dict[str, tuple[float, float]],
    st: ScriptSettings,
    utterances: Sequence[Utterance] = (),
) -> SlotEvidence | None:
    """The speech between the chain's nodes before and after node ``i`` (same speaker),
    within the node's teleprompter window when it has one."""
    node = nodes[i]
    b = _slot_bounds(i, nodes, chain, stream, ranges, st, utterances)
    needle = normalize_script(node.text)
    evidence = slot_evidence(
        needle,
        pinyin(needle),
        node_key_of(node),
        stream,
        b.lo,
        b.hi,
        b.expected,
        b.bounded,
        st.pinyin_weight,
        st.key_window,
        st.key_clause_min,
    )
    if evidence is None:
        return None
    _, prev, _ = _neighbours(i, nodes, chain)
    pauses = _template_pauses(i, nodes, prev, node.id in ranges, st)
    hole = _hole_seconds(node, stream, b, utterances, st)
    if evidence.chars == 0 and b.t_hi > b.t_lo:
        # Nothing recognised in it: its time is where the node belongs (findings seek there).
        evidence = replace(evidence, t0=b.t_lo, t1=b.t_hi)
    return replace(
        evidence,
        unheard_s=max(0.0, hole - pauses),
        expected_s=len(needle) / st.speaking_rate,
        clause_min=clause_similarity(_reminder_clauses(node), stream, b.lo, b.hi),
        from_s=b.t_lo,
        to_s=b.t_hi,
    )


def _clauses_said(slot: SlotEvidence, st: ScriptSettings) -> bool:
    """The recording reminder "in full": every clause's content pairs, or (ASR errors in its
    content words) every clause resembling something said in the slot."""
    return slot.key >= st.slot_key_score or slot.clause_min >= st.slot_clause_similarity


def _slot_may_cover(node: ScriptNode, slot: SlotEvidence, st: ScriptSettings) -> bool:
    """A node with its own ``min_similarity`` must be read close to its words, and the
    reminder must keep every clause: neither is covered by a slot's similarity alone."""
    if getattr(node, "min_similarity", None) is not None:
        return False
    return node_role(node) != "reminder" or _clauses_said(slot, st)


def _covers(node: ScriptNode, slot: SlotEvidence, st: ScriptSettings) -> bool:
    """Covered: the slot holds most of the node's length and its best window is similar."""
    return (
        _slot_may_cover(node, slot, st)
        and slot.length_ratio >= st.slot_min_length
        and slot.score >= st.slot_similarity
    )


def _partial(node: ScriptNode, slot: SlotEvidence, st: ScriptSettings) -> bool:
    """Some of the node's speech is there, too little or too unlike it to cover it: review."""
    return slot.length_ratio >= st.slot_partial_length and slot.score >= st.slot_partial_similarity


def _unheard(node: ScriptNode, slot: SlotEvidence, st: ScriptSettings) -> bool:
    """Time enough for the node passed with nothing recognised: lost, not left out (review)."""
    return slot.unheard_s >= max(st.slot_unheard_min_s, st.slot_unheard_share * slot.expected_s)


_SlotRule = Callable[[ScriptNode, SlotEvidence, ScriptSettings], bool]

#: (support, covered, rule) in the order they are tried; a slot none fits is "absent".
_SLOT_RULES: tuple[tuple[str, bool, _SlotRule], ...] = (
    ("slot", True, _covers),
    ("partial", False, _partial),
    ("unheard", False, _unheard),
)


def slot_decision(
    node: ScriptNode, slot: SlotEvidence | None, st: ScriptSettings
) -> tuple[str, bool]:
    """(support, covered) of a node no window matched, from its slot: the first of
    ``_SLOT_RULES`` that holds, else "absent".

    Only the similarity decides: on short nodes the content-key share of a slot holding
    neighbours' leftovers reached 0.29 (dev, a node removed), as high as some paraphrases. The
    recording reminder must also keep every clause (its key is the worst clause's share below
    ``key_clause_min``), and a node with its own ``min_similarity`` is never covered this way.
    """
    if slot is None:
        return "absent", False
    for support, covered, rule in _SLOT_RULES:
        if rule(node, slot, st):
            return support, covered
    return "absent", False
