"""Closed-set scoring of a short customer answer with the Whisper model itself.

A free transcription of a one-second answer in a noisy room is often garbled (清楚了 → 精畜能,
对，是我本人 → 序莫在言). A confirmation question can only take a few answers, so instead of
trusting one free hypothesis, the model is asked how likely each answer of the closed set is
for that stretch of audio (teacher-forced: the log-probability of the answer's tokens and of
the end of text after them, from the same forward pass Whisper uses for word timestamps). The
best answer and its margin over the best answer of another kind go into the evidence; the
script stage uses it only when the free text says nothing clear (never over a hedge or a
negation that was heard), and a small margin is a guess (review), not consent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from inspection.answers import AnswerKind

# The forced-scoring plumbing lives in inspection.forced_text (shared with node_forced); its
# names stay importable from here.
from inspection.forced_text import ALIGN_BATCH as ALIGN_BATCH
from inspection.forced_text import ForcedTextScorer
from inspection.forced_text import encode_clip as encode_clip
from inspection.forced_text import forced_logprobs as forced_logprobs

SAMPLE_RATE = 16000

#: The answers scored, by kind. Hedges and negations are listed as fully as the affirmatives
#: so that a hedged answer finds its own, likelier, match instead of the agree word inside it.
CANDIDATES: dict[str, AnswerKind] = {
    **dict.fromkeys(
        (
            "是的", "是的我同意", "同意", "我同意", "可以同意", "好的", "可以", "清楚", "清楚了",
            "我清楚", "都清楚", "明白", "明白了", "没问题", "对", "是我本人", "对是我本人",
            "知道了", "了解",
        ),
        "affirmative",
    ),
    **dict.fromkeys(
        (
            "不同意", "我不同意", "不清楚", "不明白", "没听懂", "不是", "不知道", "不行",
            "不可以", "我不清楚", "都不清楚",
        ),
        "negative",
    ),
    **dict.fromkeys(
        (
            "不太清楚", "不太明白", "不是很明白", "不是很清楚", "不怎么明白", "还不太懂",
            "没太听明白", "再想想", "什么意思",
        ),
        "unsure",
    ),
}  # fmt: skip


#: Each yes and the answers that differ from it only by a negation or hedge put in front of
#: it (同意 / 不同意, 清楚 / 不太清楚). Ranked by mean log-probability per token, such a pair
#: is decided mostly by the tokens they share: the one token that matters (不) is diluted, so
#: a garbled yes led its own negation by only 0.1-0.8 nats per token. Compared on their
#: *total* log-probability (the likelihood ratio of the two answers), the shared tokens cancel
#: and only the negation is weighed: ``ClosedSetScore.negation_gap``. Only pairs of (nearly)
#: the same length: the end of text is not scored, so a shorter answer (不对 against 对，是我
#: 本人) always has the higher total.
NEGATED: dict[str, tuple[str, ...]] = {
    "同意": ("不同意",), "我同意": ("我不同意",), "是的我同意": ("我不同意",),
    "清楚": ("不清楚", "不太清楚", "不是很清楚"), "清楚了": ("不清楚", "不太清楚", "不是很清楚"),
    "我清楚": ("我不清楚", "不太清楚"), "都清楚": ("都不清楚", "不太清楚"),
    "明白": ("不明白", "不太明白", "不是很明白", "不怎么明白"),
    "明白了": ("不明白", "不太明白", "不是很明白", "没太听明白"),
    "是的": ("不是",), "可以": ("不可以",), "知道了": ("不知道",),
}  # fmt: skip
#: A yes said in two parts is weighed by its last part, which its negation shares (是的，我同意
#: by 我同意 against 我不同意). Not 对，是我本人 against 不是我本人: on dev00's "嗯，对，是我本人"
#: 不是我本人 had the higher total (不 and 对 are alike, 是我本人 must skip a syllable), and
#: as a candidate it took 1.1 nats per token off the lead of every identity yes.
PAIR_BASE: dict[str, str] = {"是的我同意": "我同意"}


#: What a yes the decoder heard on trusted words becomes with a negation or hedge put in
#: front of its agree word, or put in place of the character before it (我都明白 → 我不明白,
#: 我都不明白, 我不太明白). The fixed answers above are short: a longer yes (我都明白, 是我自己的)
#: matched none of them well, and a short refusal that shares its last syllables (不明白, 不是)
#: came first, so a clearly heard yes went to review (frozen test split: 3 clean answers). The
#: decoded text itself is therefore scored as a yes, next to these forms of it: only a model
#: that prefers the yes's own negation still doubts it.
HYPOTHESIS_NEGATIONS: tuple[tuple[str, AnswerKind], ...] = (("不", "negative"), ("不太", "unsure"))


def hypothesis_forms(text: str, agree: str) -> dict[str, AnswerKind]:
    """``text`` (a yes heard on trusted words, ``agree`` its agree word) as an affirmative
    answer, and its negated and hedged forms (:data:`HYPOTHESIS_NEGATIONS`) by kind; empty
    when ``agree`` is not in ``text`` or ``text`` is one of :data:`CANDIDATES`."""
    i = text.find(agree) if agree else -1
    if i < 0 or text in CANDIDATES:  # a closed-set answer has its own negated forms
        return {}
    forms: dict[str, AnswerKind] = {text: "affirmative"}
    for word, kind in HYPOTHESIS_NEGATIONS:
        forms.setdefault(text[:i] + word + text[i:], kind)
        if i > 0 and "\u4e00" <= text[i - 1] <= "\u9fff":
            forms.setdefault(text[: i - 1] + word + text[i:], kind)
    return forms


#: Hesitation sounds a customer puts before the answer ("嗯，同意", "哦，对，是我本人"). The
#: likeliest of them (if any) is found first, then every answer is scored both alone and after
#: it, as the same answer: without that a leading filler pulled every score down and let a
#: short negative ("不是") outscore "哦，对，是我本人". A filler is never an answer on its own.
FILLERS: tuple[str, ...] = ("嗯", "哦", "啊", "呃", "那个")
#: How Whisper writes the pause after a filler or between two parts of an answer: an ASCII
#: comma or a space (it rarely writes "，", which tokenises into three unlikely byte tokens:
#: "好的，我同意" scored 0.02 x 0.001 where "好的,我同意" scored 0.26 x 0.92 on a clean clip).
JOINERS: tuple[str, ...] = (",", " ")


@dataclass(frozen=True)
class CohortScore:
    """A closed-set score normalised by the room (``inspection.answer_cohort``): every answer's
    mean log-probability per token minus its mean over ``size`` regions of the same session's
    customer track that hold room noise only. Babble alone puts a short yes (对, 了解) first in
    two of three such regions; subtracting the room's own scores removes that prior.

    ``phrase``/``kind``/``margin``/``runner_up`` are the normalised ranking (nats per token);
    ``negation_gap`` is the *raw* total lead of the normalised best yes over its own negated
    forms (:data:`NEGATED`), as in :class:`ClosedSetScore`."""

    size: int
    phrase: str
    kind: AnswerKind
    margin: float
    runner_up: str
    negation_gap: float | None = None

    def as_evidence(self) -> dict[str, object]:
        return {
            "regions": self.size,
            "phrase": self.phrase,
            "kind": self.kind,
            "margin": self.margin,
            "runner_up": self.runner_up,
            "negation_gap": self.negation_gap,
        }


@dataclass(frozen=True)
class ClosedSetScore:
    """The likeliest closed-set answer for a stretch of audio.

    ``logprob`` is its total log-probability (tokens + end of text), ``margin`` how many nats
    it leads the likeliest answer of another kind (0 when that is a tie). ``by_kind`` holds the
    best (phrase, logprob) of every kind, for the evidence and for the script stage's checks."""

    phrase: str
    kind: AnswerKind
    logprob: float
    margin: float
    runner_up: str
    speech_s: float = 0.0  # length of the audio scored
    by_kind: tuple[tuple[AnswerKind, str, float], ...] = ()
    #: Every answer's (phrase, total log-prob, mean log-prob per token), for re-ranking.
    table: tuple[tuple[str, float, float], ...] = field(default=(), compare=False, repr=False)
    #: How many nats (total log-probability) the best yes leads the likeliest of its own
    #: negated or hedged forms (:data:`NEGATED`); None when not scored or it has none.
    negation_gap: float | None = None
    #: The same scores normalised by the session's room (None: not normalised).
    cohort: CohortScore | None = None

    def kind_logprob(self, kind: AnswerKind) -> float | None:
        """The best log-probability of an answer of ``kind``; None when not scored."""
        return next((lp for k, _p, lp in self.by_kind if k == kind), None)

    def as_evidence(self) -> dict[str, object]:
        """A JSON-ready summary for a finding's evidence."""
        return {
            "phrase": self.phrase,
            "kind": self.kind,
            "margin": self.margin,
            "runner_up": self.runner_up,
            "speech_s": self.speech_s,
            "logprobs": {k: [p, lp] for k, p, lp in self.by_kind},
            "negation_gap": self.negation_gap,
            "cohort": self.cohort.as_evidence() if self.cohort else None,
        }


#: The silence speech.py keeps around a customer region (0.4 s on each side), in the seconds
#: a closed-set score was made on.
REGION_PADS_S = 0.8


def seconds_per_syllable(score: ClosedSetScore) -> float:
    """How long the scored stretch lasts per syllable of its best answer (+1 for a filler):
    a yes that is the whole reply takes 0.3-0.6 s per syllable; a longer reply that only starts
    like a yes (清楚是清楚，不过我再想想 scored as 清楚, 3.9 s) takes about 1 s."""
    return max(score.speech_s - REGION_PADS_S, 0.0) / (len(score.phrase) + 1)


def closed_set_answer(
    score: ClosedSetScore,
    min_margin: float,
    max_speech_s: float,
    min_lead: float | None = None,
    min_negation_gap: float | None = None,
    max_s_per_syllable: float | None = None,
) -> tuple[AnswerKind, str, bool]:
    """(kind, phrase, sure): the answer the closed-set score supports, and whether it is sure.

    ``sure`` only for a yes, in a stretch short enough to hold nothing but that answer (the
    end of text cannot be scored, so a longer reply, "清楚是清楚，不过我再想想", would still
    score its first words: a guess for review, never consent), that either leads every other
    answer by ``min_margin`` nats per token, or leads them by ``min_lead`` per token and its
    own negated forms by ``min_negation_gap`` nats in total (:data:`NEGATED`). A yes whose
    negated form is likelier in total is never sure, nor one that lasts longer than
    ``max_s_per_syllable`` per syllable (:func:`seconds_per_syllable`: more was said)."""
    if score.speech_s > max_speech_s or score.kind != "affirmative":
        return (score.kind, score.phrase, False)
    if max_s_per_syllable is not None and seconds_per_syllable(score) > max_s_per_syllable:
        return (score.kind, score.phrase, False)
    gap = score.negation_gap
    if gap is not None and gap < 0:
        return (score.kind, score.phrase, False)
    sure = score.margin >= min_margin or (
        min_lead is not None
        and min_negation_gap is not None
        and gap is not None
        and score.margin >= min_lead
        and gap >= min_negation_gap
    )
    return (score.kind, score.phrase, sure)


def normalised(score: ClosedSetScore, room: dict[str, float], size: int) -> ClosedSetScore:
    """``score`` with its :class:`CohortScore`: each answer's mean per token minus ``room``'s
    (the mean over ``size`` noise-only regions; answers missing there are left out)."""
    table = tuple((p, t, round(m - room[p], 3)) for p, t, m in score.table if p in room)
    if not table:
        return score
    n = summarise(table, True, score.speech_s)
    cohort = CohortScore(size, n.phrase, n.kind, n.margin, n.runner_up, n.negation_gap)
    return replace(score, cohort=cohort)


def cohort_sure(
    score: ClosedSetScore,
    min_lead: float,
    min_size: int,
    max_speech_s: float,
    max_s_per_syllable: float | None = None,
) -> bool:
    """True when the room-normalised scores (:class:`CohortScore`) make a yes sure: a cohort of
    at least ``min_size`` noise regions (fewer: the room's mean is too noisy, hedges passed in
    calibration), a yes first by ``min_lead`` nats per token over every other kind, its own
    negated form not likelier in total, in a stretch short enough to hold only that answer."""
    c = score.cohort
    if c is None or c.size < min_size or c.kind != "affirmative" or c.margin < min_lead:
        return False
    if score.speech_s > max_speech_s:
        return False
    per_syllable = max(score.speech_s - REGION_PADS_S, 0.0) / (len(c.phrase) + 1)
    if max_s_per_syllable is not None and per_syllable > max_s_per_syllable:
        return False
    return c.negation_gap is None or c.negation_gap >= 0


class ClosedSetScorer(ForcedTextScorer):
    """Scores :data:`CANDIDATES` on audio with a loaded faster-whisper ``WhisperModel``.

    Not thread-safe on its own: call it under the recognizer's lock."""

    def __init__(
        self, model: Any, language: str = "zh", fillers: bool = True, per_token: bool = True
    ) -> None:
        import zhconv

        super().__init__(model, language)
        self.per_token = per_token
        self._tok = self.tokenizer
        # Whisper writes Chinese in either script; each answer is scored as the likelier one.
        self._variants: list[tuple[str, list[int]]] = []
        for phrase in CANDIDATES:
            for joiner in JOINERS:
                said = phrase.replace("，", joiner)
                for text in {said, zhconv.convert(said, "zh-hant")}:
                    tokens = self._tok.encode(text)
                    if (phrase, tokens) not in self._variants:
                        self._variants.append((phrase, tokens))
        self._fillers: list[list[int]] = []
        for filler in FILLERS if fillers else ():
            for joiner in JOINERS:
                for text in {filler + joiner, zhconv.convert(filler, "zh-hant") + joiner}:
                    self._fillers.append(self._tok.encode(text))

    def score(
        self, audio: np.ndarray, hypothesis: Mapping[str, AnswerKind] | None = None
    ) -> ClosedSetScore | None:
        """Score ``audio`` (16 kHz mono float32, at most 30 s); None for empty audio. The texts
        of ``hypothesis`` (:func:`hypothesis_forms`) are scored next to the closed set."""
        if audio.size < SAMPLE_RATE // 10:
            return None
        extra = [
            (text, self._tok.encode(text)) for text in hypothesis or {} if text not in CANDIDATES
        ]
        enc, num_frames = encode_clip(self._model, audio)
        start = self.start_tokens()

        def logprobs(seqs: list[list[int]]) -> list[tuple[float, int]]:
            return forced_logprobs(self._model, enc, num_frames, start, seqs)

        heads: list[list[int]] = [[]]
        if self._fillers:
            lps = [lp for lp, _n in logprobs(self._fillers)]
            heads.append(self._fillers[int(np.argmax(lps))])
        variants = self._variants + extra
        seqs = [head + tokens for head in heads for _, tokens in variants]
        phrases = [phrase for _head in heads for phrase, _ in variants]
        total: dict[str, float] = {}
        mean: dict[str, float] = {}
        for phrase, (lp, n) in zip(phrases, logprobs(seqs), strict=True):
            total[phrase] = max(total.get(phrase, -np.inf), lp)
            mean[phrase] = max(mean.get(phrase, -np.inf), lp / max(n, 1))
        table = tuple((p, round(total[p], 3), round(mean[p], 3)) for p in total)
        forms = {t: k for t, k in (hypothesis or {}).items() if t in total}
        return summarise(table, self.per_token, round(audio.size / SAMPLE_RATE, 3), forms)


def summarise(
    table: tuple[tuple[str, float, float], ...],
    per_token: bool,
    speech_s: float,
    hypothesis: Mapping[str, AnswerKind] | None = None,
) -> ClosedSetScore:
    """The best answer of ``table`` ((phrase, total log-prob, mean log-prob per token), ...) and
    its lead over the best answer of another kind, by mean (``per_token``) or total.
    ``hypothesis`` (:func:`hypothesis_forms`) gives the kinds of the decoded yes and its
    negated forms, when they were scored too; the first of them is the yes."""
    kinds: Mapping[str, AnswerKind] = {**CANDIDATES, **(hypothesis or {})}
    negated: dict[str, tuple[str, ...]] = dict(NEGATED)
    if hypothesis:
        yes_text, *forms = hypothesis
        negated[yes_text] = tuple(forms)
    ranked = sorted(
        ((p, mean if per_token else total) for p, total, mean in table),
        key=lambda kv: kv[1],
        reverse=True,
    )
    top, top_lp = ranked[0]
    kind = kinds[top]
    other = next(((p, lp) for p, lp in ranked if kinds[p] != kind), (top, top_lp))
    by_kind: dict[AnswerKind, tuple[str, float]] = {}
    for p, lp in ranked:
        by_kind.setdefault(kinds[p], (p, round(lp, 3)))
    totals = {p: t for p, t, _m in table}
    yes = by_kind.get("affirmative", ("", 0.0))[0]
    base = PAIR_BASE.get(yes, yes)
    negs = [totals[n] for n in negated.get(yes, ()) if n in totals]
    gap = round(totals[base] - max(negs), 3) if negs and base in totals else None
    return ClosedSetScore(
        phrase=top,
        kind=kind,
        logprob=round(top_lp, 3),
        margin=round(top_lp - other[1], 3),
        runner_up=other[0],
        speech_s=speech_s,
        by_kind=tuple((k, p, lp) for k, (p, lp) in by_kind.items()),
        table=table,
        negation_gap=gap,
    )
