"""Forced scores of node texts on the audio of a node's slot (issue 7, noisy rooms).

In babble or hum the salesperson's speech is misread, so a node that was said can find no
window, no content key and no similar slot text (``inspection.slot_decision``). The audio is
still there: the Whisper model is asked how well the node's own text explains the audio of its
slot (teacher-forced, the machinery of ``inspection.closed_set``), compared with every other
salesperson node of the template on the same audio (the cohort). A node said there leads the
cohort; a node left out leaves its slot to the neighbours' leftovers, pauses or other talk,
where some other node's text (or none) explains the audio as well.

The margin is per token (mean log-probability of the node's text minus the best other node's):
texts differ in length, and the insurer's own wording differs from the template's, which costs
every token of the node's text about the same. ``apply_forced`` only ever moves a finding one
step (review -> pass, fail -> review; ``Thresholds.node_forced_margin``, docs/inspection.md).

A node whose slot other nodes not found share is scored on sub-windows of the slot, the best
deciding (:func:`sub_windows`): the other nodes' audio must not average its lead away.

The recording reminder must keep every clause, and a reading that drops one still explains
most of its text: it moves only when each clause, scored after the clauses before it, is not
beaten by what could follow there instead (``ClauseScore``, ``node_forced_clause_margin``).

Texts are scored by ``inspection.node_text_scorer`` (the model side); this module picks the
nodes, their slots' audio and their cohorts, and moves the findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from inspection.node_text_scorer import ClauseScore, NodeTextScorer, clauses_of
from inspection.speech_types import SAMPLE_RATE

if TYPE_CHECKING:
    from inspection.rules.evidence import NodeCoverage

__all__ = ["ForcedScore", "apply_forced", "forced_scores"]

#: A slot is scored on at most one Whisper window.
MAX_CLIP_S = 30.0
#: Shorter slots hold no node: nothing is scored.
MIN_CLIP_S = 1.0
#: A node sharing its slot with other nodes not found (none of them located between the same
#: neighbours) is scored on sub-windows of the slot, the best one deciding: over the whole
#: shared slot its text's mean per token is averaged down by the other nodes' audio (a consent
#: question said, its reminder left out: 0.69 < 0.8 on a dev probe, 0.89 on its best window;
#: docs/inspection.md). A window lasts ``SUB_WINDOW_SHARE`` x the node's length at the
#: template's speaking rate (dev voices read up to ~1.4x slower), at least ``SUB_WINDOW_S``,
#: and starts every quarter of its length, so a node read up to 1.5x its expected length lies
#: whole in one of them.
SUB_WINDOW_S = 8.0
SUB_WINDOW_SHARE = 2.0
SUB_WINDOW_STEPS = 4
#: Other nodes scored against a node: the dev template's 10 salesperson nodes are all of its
#: others; a 22-node combined sale's nearest 10 (2.4-6.7 CPU-s per slot of 5-30 s with 11
#: texts on the shared 2-core box).
COHORT = 10


@dataclass(frozen=True)
class ForcedScore:
    """How well a node's text explains its slot's audio against the other nodes' texts."""

    own: float  # mean log-probability per token of the node's text
    rival: str  # the other node whose text explains the audio best
    rival_score: float
    margin: float  # own - rival_score (nats per token)
    speech_s: float  # seconds of audio scored
    #: The sub-window of a shared slot that decided (its times, :data:`SUB_WINDOW_S`) and how
    #: many were scored; None / 1 when the slot was scored whole.
    window: tuple[float, float] | None = None
    windows: int = 1
    #: Per clause, for a node that must keep every clause (the recording reminder); empty when
    #: not scored (another node, or the whole text did not lead).
    clauses: tuple[ClauseScore, ...] = ()

    @property
    def clause_margin(self) -> float | None:
        """The lowest clause margin; None when the clauses were not scored."""
        return min((c.margin for c in self.clauses), default=None)

    def as_evidence(self) -> dict[str, object]:
        ev: dict[str, object] = {
            "own": self.own,
            "rival": self.rival,
            "rival_score": self.rival_score,
            "margin": self.margin,
            "speech_s": self.speech_s,
        }
        if self.window is not None:
            ev["window"] = list(self.window)
            ev["windows"] = self.windows
        if self.clauses:
            ev["clauses"] = [c.as_evidence() for c in self.clauses]
            ev["clause_margin"] = self.clause_margin
        return ev


def _eligible(cov: NodeCoverage, speaker: str) -> bool:
    """A required node of ``speaker`` not covered, with a slot long enough to hold speech, that may be
    covered by its slot at all: not one with its own min_similarity (read close to its words).
    The recording reminder is scored too, clause by clause (:func:`every_clause`)."""
    slot = cov.slot
    return (
        cov.node.speaker == speaker
        and cov.node.required  # no finding otherwise: nothing to decide
        and cov.start_s is None
        and cov.support in ("partial", "unheard", "absent")
        and cov.node.min_similarity is None
        and slot is not None
        and _bounds(slot)[1] - _bounds(slot)[0] >= MIN_CLIP_S
    )


def _bounds(slot: dict[str, Any]) -> tuple[float, float]:
    """The slot's time bounds (``node_slot.SlotEvidence.from_s``/``to_s``): where the node
    belongs, whatever was recognised there."""
    return float(slot.get("from_s", slot["start_s"])), float(slot.get("to_s", slot["end_s"]))


def every_clause(node: Any) -> bool:
    """A node that must keep every clause to count as said: the recording reminder (R3, read
    in full). A reading that drops a clause still explains most of the text's tokens, so its
    whole text can lead the cohort: each clause is scored too (:class:`ClauseScore`)."""
    return bool(node.role == "reminder" and len(clauses_of(node.text)) > 1)


def forced_scores(
    scorer: NodeTextScorer,
    audio: np.ndarray,
    coverage: Sequence[NodeCoverage],
    speaker: str = "salesperson",
    clause_gate: float | None = None,
) -> dict[str, ForcedScore]:
    """Node id -> its forced score on its slot's audio (``audio``: ``speaker``'s track from
    0 s), for every node of ``speaker`` not covered; the cohort is every other node of that
    speaker in the rendered script (distinct texts). A node whose slot other nodes not found
    share is scored on sub-windows of it (:func:`sub_windows`), the best margin deciding. A
    node that must keep every clause (:func:`every_clause`) whose whole text leads by
    ``clause_gate`` (None: always) gets its clauses scored on the same audio; below the gate
    nothing could move, so nothing more is spent."""
    todo = [c for c in coverage if _eligible(c, speaker)]
    if not todo:
        return {}
    mine = [c.node for c in coverage if c.node.speaker == speaker]
    out: dict[str, ForcedScore] = {}
    for cov in todo:
        cohort = _cohort(cov.node.id, mine)
        if all(t == cohort[cov.node.id] for t in cohort.values()):
            continue  # nothing to compare with: no evidence either way
        t0, t1 = _bounds(cov.slot or {})
        t1 = min(t1, t0 + MAX_CLIP_S)
        shared = _shares_slot(cov, coverage)
        spans = sub_windows(t0, t1, _node_seconds(cov)) if shared else [(t0, t1)]
        whole = every_clause(cov.node)
        best: tuple[float, str, dict[str, float], np.ndarray, tuple[float, float]] | None = None
        for a, b in spans:
            clip = audio[max(0, round(a * SAMPLE_RATE)) : max(0, round(b * SAMPLE_RATE))]
            if clip.size < MIN_CLIP_S * SAMPLE_RATE:
                continue
            ids = list(cohort)
            scores = dict(zip(ids, scorer.score(clip, list(cohort.values()), whole), strict=True))
            rival = max(
                (i for i in ids if cohort[i] != cohort[cov.node.id]), key=scores.__getitem__
            )
            margin = round(scores[cov.node.id] - scores[rival], 3)
            if best is None or margin > best[0]:
                best = (margin, rival, scores, clip, (a, b))
        if best is None:
            continue
        margin, rival, scores, clip, span = best
        clauses: tuple[ClauseScore, ...] = ()
        if every_clause(cov.node) and (clause_gate is None or margin >= clause_gate):
            rivals = _clause_rivals(cov.node.id, mine, rival, cohort)
            clauses = tuple(scorer.clause_scores(clip, clauses_of(cov.node.text), rivals))
        out[cov.node.id] = ForcedScore(
            own=scores[cov.node.id],
            rival=rival,
            rival_score=scores[rival],
            margin=margin,
            speech_s=round(clip.size / SAMPLE_RATE, 2),
            window=(round(span[0], 2), round(span[1], 2)) if shared else None,
            windows=len(spans),
            clauses=clauses,
        )
    return out


def _shares_slot(cov: NodeCoverage, coverage: Sequence[NodeCoverage]) -> bool:
    """Whether another node of the same speaker, not found either, lies in the same slot (the
    same neighbours in the chain and no teleprompter window of its own: the same bounds)."""
    here = _bounds(cov.slot or {})
    return any(
        c.node.id != cov.node.id
        and c.node.speaker == cov.node.speaker
        and c.start_s is None
        and c.slot is not None
        and _bounds(c.slot) == here
        for c in coverage
    )


def _node_seconds(cov: NodeCoverage) -> float:
    """The node's length at the template's speaking rate (``slot.expected_s``)."""
    return float((cov.slot or {}).get("expected_s", 0.0))


def sub_windows(t0: float, t1: float, node_s: float) -> list[tuple[float, float]]:
    """Windows of ``[t0, t1]`` each long enough for a node of ``node_s`` seconds read slowly
    (:data:`SUB_WINDOW_SHARE`, at least :data:`SUB_WINDOW_S`), starting every quarter of their
    length, the last one ending at ``t1``; the whole span when it is no longer than one."""
    w = max(SUB_WINDOW_S, SUB_WINDOW_SHARE * node_s)
    if t1 - t0 <= w:
        return [(t0, t1)]
    step = w / SUB_WINDOW_STEPS
    n = int(np.ceil((t1 - t0 - w) / step - 1e-9))
    return [(t0 + k * step, t0 + k * step + w) for k in range(n)] + [(t1 - w, t1)]


def _clause_rivals(
    node_id: str, nodes: Sequence[Any], rival: str, cohort: dict[str, str]
) -> dict[str, str]:
    """What could follow a clause's predecessors in the slot instead of the clause, besides the
    node's own later clauses: the next node of the script (the rest of the node left out)
    and the node's rival on the whole slot (a generic line explains babble best)."""
    k = next(i for i, n in enumerate(nodes) if n.id == node_id)
    out = {nodes[k + 1].id: nodes[k + 1].text} if k + 1 < len(nodes) else {}
    return out | {rival: cohort[rival]}


def _cohort(node_id: str, nodes: Sequence[Any]) -> dict[str, str]:
    """Node id -> text of ``node_id`` and the ``COHORT`` other nodes nearest to it in the
    script (all of them in a short template): each text costs a forced pass, and a node said is
    confused with its neighbours, a left-out node's slot explained by a short generic line."""
    k = next(i for i, n in enumerate(nodes) if n.id == node_id)
    near = sorted(range(len(nodes)), key=lambda i: (abs(i - k), i))[: COHORT + 1]
    return {nodes[i].id: nodes[i].text for i in sorted(near)}


def apply_forced(
    coverage: Sequence[NodeCoverage],
    scores: dict[str, ForcedScore],
    min_margin: float,
    min_clause_margin: float,
) -> list[NodeCoverage]:
    """``coverage`` with each scored node's evidence (``slot.forced``) and, when its text leads
    the cohort by ``min_margin`` nats per token (and, for a node that must keep every clause,
    each clause leads what could follow in its place by ``min_clause_margin``), its finding
    moved one step: a node that was only for review (``partial``, ``unheard``) is covered
    (``forced``, the slot's times); one that would fail (``absent``) is for review
    (``heard``), and the answer after a node covered so is for review unless it is a clear
    yes (``question_unread``)."""
    out = []
    for cov in coverage:
        fs = scores.get(cov.node.id)
        if fs is None or cov.slot is None:
            out.append(cov)
            continue
        slot = {**cov.slot, "forced": fs.as_evidence()}
        clause = fs.clause_margin
        dropped = every_clause(cov.node) and (clause is None or clause < min_clause_margin)
        if fs.margin < min_margin or dropped:
            out.append(replace(cov, slot=slot))
        elif cov.support == "absent":
            out.append(replace(cov, slot=slot, support="heard"))
        else:
            t0, t1 = fs.window or _bounds(slot)
            covered = replace(cov, slot=slot, support="forced", start_s=t0, end_s=t1)
            out.append(_answer_after_unread_question(covered))
    return out


def _answer_after_unread_question(cov: NodeCoverage) -> NodeCoverage:
    """A node covered by its slot's audio was not read: its time is the slot's, so the answer
    found after it was looked for in a guessed window. Anything but a clear yes there rests on
    that guess and is for review (``question_unread``), never a fail on its own: a garbled
    yes further on in the slot read as a hedge must not fail a session the question of which
    nobody read (a clean session in babble did)."""
    if cov.answer in (None, "affirmative") or cov.answer_uncertain is not None:
        return cov
    return replace(cov, answer_uncertain="question_unread")
