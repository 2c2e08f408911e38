"""Whisper's teacher-forced likelihood of node texts on a clip of audio (``node_forced`` scores
a node not found on its slot with it): each text's mean log-probability per token, and a node's
clauses each scored after the clauses before it against what could follow there instead.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspection.forced_text import ForcedTextScorer, ModelTurn

__all__ = ["ClauseScore", "NodeTextScorer", "clauses_of", "equal_length_means"]

#: Whisper writes the pause inside a line as an ASCII comma more often than as "，" (which
#: tokenises into unlikely byte tokens, ``closed_set.JOINERS``); the end of a line is not scored.
_PUNCT = re.compile(r"[，,。；;？?！!：:、\s]+")
#: ``encode_clip``'s ``pad_frames`` for the reminder (its whole text and its clauses): the
#: whole 30 s encoder window. Cut to the clip's frames (+1 s, the customer's answers' saving),
#: the decoder misread a 10-15 s reminder slot (the recogniser's own reading of dev02's in
#: babble: -2.6 nats per token cut, -0.36 whole) and a clause scored after its predecessors
#: lost to a later clause at the first clause's place. Other nodes keep the cut: on their
#: slots the margins moved both ways (docs/inspection.md), and their threshold was set on it.
WHOLE_WINDOW = None


@dataclass(frozen=True)
class ClauseScore:
    """How well one clause of a node explains the slot's audio after the clauses before it
    (teacher-forced as said), against what could follow them there instead: a later clause
    of the node (this one dropped), the next node of the script (the rest dropped) and the
    node's rival on the whole slot."""

    clause: str
    own: float  # mean log-probability per token of the clause's tokens (equal_length_means)
    rival: str  # "clause N" (1-based) or a node id
    rival_score: float
    margin: float  # own - rival_score (nats per token)

    def as_evidence(self) -> dict[str, object]:
        return {
            "clause": self.clause,
            "own": self.own,
            "rival": self.rival,
            "rival_score": self.rival_score,
            "margin": self.margin,
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

    def score(
        self, audio: np.ndarray, texts: Sequence[str], whole_window: bool = False
    ) -> list[float]:
        """Each text's best mean log-probability per token on ``audio`` (16 kHz mono), on the
        clip's encoder frames (+1 s) or, ``whole_window``, on the whole 30 s window
        (:data:`WHOLE_WINDOW`)."""
        with self._turn.hold("node_forced"):
            seqs = [(k, v) for k, t in enumerate(texts) for v in self._variants(t)]
            pad = WHOLE_WINDOW if whole_window else 50
            scored = self.forced(audio, [v for _k, v in seqs], pad)
        best = [-np.inf] * len(texts)
        for (k, _v), (total, n) in zip(seqs, scored, strict=True):
            best[k] = max(best[k], total / max(n, 1))
        return [round(float(b), 3) for b in best]

    def clause_scores(
        self, audio: np.ndarray, clauses: Sequence[str], rivals: dict[str, str]
    ) -> list[ClauseScore]:
        """Each of ``clauses`` scored on ``audio`` after the clauses before it, against the
        later clauses and ``rivals`` (name -> text) at the same place (:class:`ClauseScore`).

        Conditioned on the clauses before it, a clause dropped from the reading meets the
        audio of what came next (the next clause, the next node, a pause), which a later
        clause or the next node explains better; scored alone on the whole slot, a clause in
        the middle would meet the audio of the first one."""
        jobs: list[tuple[int, str, int, list[int]]] = []  # clause, candidate, prefix length
        for i, clause in enumerate(clauses):
            cands = {"": clause} | {
                f"clause {j + 1}": clauses[j] for j in range(i + 1, len(clauses))
            }
            cands |= {k: _PUNCT.sub(",", v).strip(",") for k, v in rivals.items()}
            for form in (_simplified, _traditional):
                pre = self.tokenizer.encode(form(",".join(clauses[:i]) + ",")) if i else []
                for name, text in cands.items():
                    jobs.append((i, name, len(pre), pre + self.tokenizer.encode(form(text))))
        with self._turn.hold("node_forced_clauses"):
            lps = self.forced_tokens(audio, [seq for *_x, seq in jobs], WHOLE_WINDOW)
        tails: dict[tuple[int, str], list[np.ndarray]] = {}
        for (i, name, n_pre, _seq), lp in zip(jobs, lps, strict=True):
            tails.setdefault((i, name), []).append(lp[n_pre:])
        out = []
        for i, clause in enumerate(clauses):
            own = tails[(i, "")]
            others = [
                (name, *equal_length_means(own, forms))
                for (k, name), forms in tails.items()
                if k == i and name
            ]
            if not others:
                out.append(ClauseScore(clause, round(_mean_best(own), 3), "", -np.inf, 0.0))
                continue
            rival, own_n, rival_n = min(others, key=lambda o: o[1] - o[2])
            out.append(
                ClauseScore(
                    clause=clause,
                    own=round(own_n, 3),
                    rival=rival,
                    rival_score=round(rival_n, 3),
                    margin=round(own_n - rival_n, 3),
                )
            )
        return out


def _mean_best(forms: Sequence[np.ndarray], n: int | None = None) -> float:
    """The best of the forms' mean log-probability per token (over the first ``n`` tokens)."""
    return max((float(np.mean(f[:n])) for f in forms if f.size), default=-np.inf)


def equal_length_means(
    own: Sequence[np.ndarray], rival: Sequence[np.ndarray]
) -> tuple[float, float]:
    """The clause's and a rival's best mean log-probability per token; over the first as many
    tokens as the clause's shortest written form has when the rival is longer than the clause.

    A rival longer than the clause (the closing line after the reminder's last clause) gains
    on its later tokens from its own earlier ones (…就到这里，谢谢您 follows itself): compared
    over all of its tokens, the dev wording's last clause read in full trailed the closing by
    up to 0.44 nats per token, 0.31 above a dropped clause on dev-made slots; weighed so, a
    reading in full led by at least 0.15, 0.90 above (docs/inspection.md). A rival no
    longer than the clause is compared over all tokens as before: cutting the clause to a
    shorter rival's length would drop the clause's own evidence."""
    own_n = [f.size for f in own if f.size]
    rival_n = [f.size for f in rival if f.size]
    if not own_n:
        return -np.inf, _mean_best(rival)
    n = min(own_n) if rival_n and min(rival_n) > max(own_n) else None
    return _mean_best(own, n), _mean_best(rival, n)


def _simplified(text: str) -> str:
    return text


def _traditional(text: str) -> str:
    import zhconv

    return str(zhconv.convert(text, "zh-hant"))


def clauses_of(text: str) -> list[str]:
    """The clauses of a node's rendered text (split at its punctuation)."""
    return [c for c in _PUNCT.split(text) if c]
