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
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from inspection.forced_text import ForcedTextScorer, ModelTurn
from inspection.speech_types import SAMPLE_RATE

if TYPE_CHECKING:
    from inspection.rules.evidence import NodeCoverage

__all__ = ["ForcedScore", "NodeTextScorer", "apply_forced", "forced_scores"]

#: Whisper writes the pause inside a line as an ASCII comma more often than as "，" (which
#: tokenises into unlikely byte tokens, ``closed_set.JOINERS``); the end of a line is not scored.
_PUNCT = re.compile(r"[，,。；;？?！!：:、\s]+")
#: A slot is scored on at most one Whisper window.
MAX_CLIP_S = 30.0
#: Shorter slots hold no node: nothing is scored.
MIN_CLIP_S = 1.0
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

    def as_evidence(self) -> dict[str, object]:
        return {
            "own": self.own,
            "rival": self.rival,
            "rival_score": self.rival_score,
            "margin": self.margin,
            "speech_s": self.speech_s,
        }


class NodeTextScorer(ForcedTextScorer):
    """Mean per-token log-probabilities of texts on a clip, on a loaded faster-whisper model
    under the recogniser's decode lock (a scoring waits for a replica like a decode)."""

    def __init__(
        self,
        model: Any,
        decode_lock: threading.BoundedSemaphore,
        counts: Counter[str],
        counts_lock: threading.Lock,
        language: str = "zh",
    ) -> None:
        super().__init__(model, language)
        self._turn = ModelTurn(decode_lock, counts, counts_lock)
        self._tokens: dict[str, list[list[int]]] = {}

    def _variants(self, text: str) -> list[list[int]]:
        """Token sequences of ``text`` as Whisper may write it: simplified or traditional
        characters, pauses as ASCII commas."""
        if text not in self._tokens:
            self._tokens[text] = self.forms(_PUNCT.sub(",", text).strip(","))
        return self._tokens[text]

    def score(self, audio: np.ndarray, texts: Sequence[str]) -> list[float]:
        """Each text's best mean log-probability per token on ``audio`` (16 kHz mono)."""
        with self._turn.hold("node_forced"):
            seqs = [(k, v) for k, t in enumerate(texts) for v in self._variants(t)]
            scored = self.forced(audio, [v for _k, v in seqs])
        best = [-np.inf] * len(texts)
        for (k, _v), (total, n) in zip(seqs, scored, strict=True):
            best[k] = max(best[k], total / max(n, 1))
        return [round(float(b), 3) for b in best]


def _eligible(cov: NodeCoverage, speaker: str) -> bool:
    """A required node of ``speaker`` not covered, with a slot long enough to hold speech, that may be
    covered by its slot at all: not one with its own min_similarity (read close to its words)
    and not the recording reminder, which must keep every clause (a reading that drops one
    still explains most of the text's tokens)."""
    slot = cov.slot
    return (
        cov.node.speaker == speaker
        and cov.node.required  # no finding otherwise: nothing to decide
        and cov.node.role != "reminder"
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


def forced_scores(
    scorer: NodeTextScorer,
    audio: np.ndarray,
    coverage: Sequence[NodeCoverage],
    speaker: str = "salesperson",
) -> dict[str, ForcedScore]:
    """Node id -> its forced score on its slot's audio (``audio``: ``speaker``'s track from
    0 s), for every node of ``speaker`` not covered; the cohort is every other node of that
    speaker in the rendered script (distinct texts)."""
    todo = [c for c in coverage if _eligible(c, speaker)]
    if not todo:
        return {}
    mine = [c.node for c in coverage if c.node.speaker == speaker]
    out: dict[str, ForcedScore] = {}
    for cov in todo:
        cohort = _cohort(cov.node.id, mine)
        ids, texts = list(cohort), list(cohort.values())
        t0, t1 = _bounds(cov.slot or {})
        t1 = min(t1, t0 + MAX_CLIP_S)
        clip = audio[max(0, round(t0 * SAMPLE_RATE)) : max(0, round(t1 * SAMPLE_RATE))]
        if clip.size < MIN_CLIP_S * SAMPLE_RATE:
            continue
        scores = dict(zip(ids, scorer.score(clip, texts), strict=True))
        own = scores[cov.node.id]
        others = [i for i in ids if cohort[i] != cohort[cov.node.id]]
        if not others:
            continue  # nothing to compare with: no evidence either way
        rival = max(others, key=scores.__getitem__)
        out[cov.node.id] = ForcedScore(
            own=own,
            rival=rival,
            rival_score=scores[rival],
            margin=round(own - scores[rival], 3),
            speech_s=round(clip.size / SAMPLE_RATE, 2),
        )
    return out


def _cohort(node_id: str, nodes: Sequence[Any]) -> dict[str, str]:
    """Node id -> text of ``node_id`` and the ``COHORT`` other nodes nearest to it in the
    script (all of them in a short template): each text costs a forced pass, and a node said is
    confused with its neighbours, a left-out node's slot explained by a short generic line."""
    k = next(i for i, n in enumerate(nodes) if n.id == node_id)
    near = sorted(range(len(nodes)), key=lambda i: (abs(i - k), i))[: COHORT + 1]
    return {nodes[i].id: nodes[i].text for i in sorted(near)}


def apply_forced(
    coverage: Sequence[NodeCoverage], scores: dict[str, ForcedScore], min_margin: float
) -> list[NodeCoverage]:
    """``coverage`` with each scored node's evidence (``slot.forced``) and, when its text leads
    the cohort by ``min_margin`` nats per token, its finding moved one step: a node that was
    only for review (``partial``, ``unheard``) is covered (``forced``, the slot's times); one
    that would fail (``absent``) is for review (``heard``), and the answer after a node
    covered so is for review unless it is a clear yes (``question_unread``)."""
    out = []
    for cov in coverage:
        fs = scores.get(cov.node.id)
        if fs is None or cov.slot is None:
            out.append(cov)
            continue
        slot = {**cov.slot, "forced": fs.as_evidence()}
        if fs.margin < min_margin:
            out.append(replace(cov, slot=slot))
        elif cov.support == "absent":
            out.append(replace(cov, slot=slot, support="heard"))
        else:
            t0, t1 = _bounds(slot)
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
