"""Transcript ↔ script: align rendered template nodes to what was said (char+pinyin fuzzy
matching over the speaker's character stream), detect nodes spoken out of order, find and
classify the customer's answers, flag forbidden wording and check spoken numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from inspection.forbidden import ForbiddenHit, find_forbidden, lexicon_with
from inspection.number_attribution import attribute_numbers
from inspection.number_unheard import UnheardNumber, unheard_numbers
from inspection.policy import Policy
from inspection.report import NodeResult
from inspection.script_align import align_nodes, order_violations
from inspection.script_answers import find_answers
from inspection.script_types import (
    Answer,
    NodeAlignment,
    NodeSpec,
    OrderViolation,
    ScriptNode,
    ScriptSettings,
)
from inspection.speech import Utterance
from inspection.spoken_numbers import NumberCheck, check_numbers
from inspection.transcript import build_stream

# Re-exported: callers import the script records and checks from here.
__all__ = [
    "Answer",
    "NodeAlignment",
    "NodeSpec",
    "OrderViolation",
    "ScriptAnalysis",
    "ScriptNode",
    "ScriptSettings",
    "align_nodes",
    "analyze",
    "find_answers",
    "order_violations",
]


@dataclass
class ScriptAnalysis:
    """Everything the script checks found; ``inspection.rules`` turns it into findings."""

    nodes: list[NodeAlignment] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    order_violations: list[OrderViolation] = field(default_factory=list)
    forbidden: list[ForbiddenHit] = field(default_factory=list)
    numbers: list[NumberCheck] = field(default_factory=list)
    unheard_numbers: list[UnheardNumber] = field(default_factory=list)

    def node_results(self) -> list[NodeResult]:
        """The alignments as report records, with the answer class where there is one."""
        out = []
        for a in self.nodes:
            ans = self.answers.get(a.node_id)
            out.append(
                NodeResult(
                    id=a.node_id,
                    title=a.title,
                    covered=a.covered,
                    score=round(a.score, 3),
                    start_s=a.start_s,
                    end_s=a.end_s,
                    answer=ans.kind if ans else None,
                )
            )
        return out


# ---------------------------------------------------------------------------------------------
# Everything together


def analyze(
    nodes: Sequence[ScriptNode],
    salesperson: Sequence[Utterance],
    customer: Sequence[Utterance],
    policy: Policy | None = None,
    markers: Sequence[tuple[float, str]] = (),
    forbidden_phrases: Sequence[str] = (),
    settings: ScriptSettings | None = None,
) -> ScriptAnalysis:
    """Run every script check on one session's transcripts (utterance times on one timeline)."""
    st = settings or ScriptSettings()
    # Uncertain speech is kept for the answers (and the reviewer), not for covering nodes.
    everyone = [*salesperson, *(u for u in customer if u.uncertain is None)]
    aligned = align_nodes(nodes, everyone, markers, st)
    sales_stream = build_stream(salesperson, "salesperson")
    heard = check_numbers(sales_stream, policy, st.number_context) if policy else []
    numbers = [replace(n, node_id=_node_at(aligned, n.start_s, n.end_s)) for n in heard]
    # Each number is compared with what its node states, for the node's product (issue 11).
    numbers = attribute_numbers(
        numbers, nodes, policy, _marker_node(markers), st.number_sure_confidence, _slots(aligned)
    )
    return ScriptAnalysis(
        nodes=aligned,
        answers=find_answers(
            nodes,
            aligned,
            customer,
            [*markers, *_consent_window(nodes, aligned, markers, st)],
            st,
            salesperson,
        ),
        order_violations=order_violations(nodes, aligned),
        forbidden=find_forbidden(sales_stream, lexicon_with(forbidden_phrases), st.negation_gap),
        numbers=numbers,
        unheard_numbers=unheard_numbers(
            nodes, aligned, heard, st.number_unheard_kinds if policy else ()
        ),
    )


def _consent_window(
    nodes: Sequence[ScriptNode],
    aligned: Sequence[NodeAlignment],
    markers: Sequence[tuple[float, str]],
    st: ScriptSettings,
) -> list[tuple[float, str]]:
    """Markers standing in for the teleprompter's when the consent question was not located
    and has none: from its slot (else the start) until the next node found, so the customer's
    answer there is still heard (a yes there is not a missing consent: rules.script)."""
    shown = {node for _t, node in markers}
    by_id = {a.node_id: a for a in aligned}
    out: list[tuple[float, str]] = []
    for i, n in enumerate(nodes):
        a = by_id[n.id]
        if getattr(n, "role", None) != "consent" or a.covered or n.id in shown:
            continue
        t0 = float(str(a.slot["start_s"])) if a.slot else 0.0
        later = [
            b.start_s
            for m in nodes[i + 1 :]
            if (b := by_id[m.id]).covered and b.start_s is not None and b.start_s > t0
        ]
        t1 = min(later) + st.answer_grace_s if later else t0 + st.answer_wait_s
        out += [(t0, n.id), (t1, "")]
    return out


def _marker_node(markers: Sequence[tuple[float, str]]) -> Callable[[float], str | None]:
    """t_s -> the node the teleprompter showed at that time (the last marker before it)."""
    ordered = sorted(markers)

    def at(t_s: float) -> str | None:
        shown = [node for t, node in ordered if t <= t_s + 0.5]
        return shown[-1] if shown else None

    return at


def _slots(aligned: Sequence[NodeAlignment]) -> list[tuple[str, float, float]]:
    """(node id, start_s, end_s) of the salesperson nodes not found, where they belong."""
    out = []
    for a in aligned:
        if a.covered or a.speaker != "salesperson" or not a.slot:
            continue
        t0, t1 = a.slot.get("start_s"), a.slot.get("end_s")
        if isinstance(t0, float | int) and isinstance(t1, float | int) and t1 > t0:
            out.append((a.node_id, float(t0), float(t1)))
    return out


def _node_at(aligned: Sequence[NodeAlignment], t0: float, t1: float) -> str | None:
    """The salesperson node whose matched span contains ``[t0, t1]`` (the closest overlap)."""
    best: tuple[float, str] | None = None
    for a in aligned:
        if a.speaker != "salesperson" or a.start_s is None or a.end_s is None:
            continue
        overlap = min(a.end_s, t1) - max(a.start_s, t0)
        if overlap > -0.5 and (best is None or overlap > best[0]):
            best = (overlap, a.node_id)
    return best[1] if best else None
