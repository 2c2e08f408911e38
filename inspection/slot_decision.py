"""A node no candidate window matched: the speech in its slot between the nodes found
before and after it (``node_slot.slot_evidence``), and whether that covers it, leaves it
partial, unheard or absent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from inspection.node_candidates import Candidate, node_key_of, node_role
from inspection.node_slot import (
    SlotEvidence,
    clause_similarity,
    is_loop,
    slot_evidence,
    unheard_seconds,
)
from inspection.script_types import ScriptNode, ScriptSettings
from inspection.speech import Utterance
from inspection.textnorm import pinyin
from inspection.transcript import TextStream, normalize_script

__all__ = ["node_slot_of", "slot_decision"]

_CLAUSES = re.compile(r"[，,。；;？?！!：:、]")


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
    key = node_key_of(node)
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
        if node_role(node) == "reminder"
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


def slot_decision(
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
    if node_role(node) == "reminder" and not clauses_said:
        strict = True
    if not strict and slot.length_ratio >= st.slot_min_length and slot.score >= st.slot_similarity:
        return "slot", True
    if slot.length_ratio >= st.slot_partial_length and slot.score >= st.slot_partial_similarity:
        return "partial", False
    if slot.unheard_s >= max(st.slot_unheard_min_s, st.slot_unheard_share * slot.expected_s):
        # Time enough for the node passed with nothing recognised: lost, not left out.
        return "unheard", False
    return "absent", False
