"""What the words read in an answer window say: trusted speech first, kept uncertain speech when
that says nothing (``inspection.script_answers`` weighs them against the closed set,
``inspection.answer_closed_set``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from inspection.answer_closed_set import closed_set_at
from inspection.answer_reading import sounded_yes
from inspection.answer_turns import Piece
from inspection.answers import AnswerClass, classify_answer, is_decoder_loop, loop_says_no
from inspection.script_types import ScriptSettings
from inspection.speech import Utterance

# Kept uncertain speech that is used as an answer when nothing trusted was said; text Whisper
# invents on silence (subtitle credits) is only shown, never read as an answer.
_USABLE_UNCERTAIN = ("low_confidence", "unrecognised", "repetition", "too_fast")


@dataclass(frozen=True)
class Words:
    """What the words of a window say: their class, the pieces it rests on, why they are
    uncertain (None: trusted speech only), and the flagged pieces only shown to a reviewer."""

    cls: AnswerClass
    used: list[Piece]
    uncertain: str | None
    shown: list[Piece]


def said_nothing(cls: AnswerClass) -> bool:
    """No answer in the words: none, none recognised, or unsure with no hedge phrase."""
    return cls.kind in ("missing", "unrecognised") or (cls.kind == "unsure" and cls.phrase is None)


def words_heard(pieces: list[Piece], expected: str | None) -> Words:
    """The answer the words say: trusted speech first; when that says nothing, kept uncertain
    speech too (then marked uncertain); speech nobody recognised is "unrecognised" (evidence for
    review), never "no answer"."""
    sure = [p for p in pieces if p[4] is None]
    flagged = [p for p in pieces if p[4] is not None]
    used, cls, uncertain = sure, read_words(sure, expected), None
    usable = [p for p in flagged if p[4] in _USABLE_UNCERTAIN]
    if said_nothing(cls) and usable:
        used = sure + usable
        cls = read_words(used, expected)
        if cls.kind == "missing" or (cls.kind == "unsure" and cls.phrase is None):
            cls = replace(cls, kind="unrecognised")
        uncertain = ",".join(sorted({p[4] for p in usable if p[4]}))
    if cls.kind == "missing" and any(not p[2] and p[4] != "hallucination" for p in flagged):
        # Speech was there, only not recognised: evidence for review, never "no answer".
        cls = AnswerClass("unrecognised", None)
        uncertain = ",".join(sorted({p[4] for p in flagged if p[4] and not p[2]}))
    return Words(cls, used, uncertain, [p for p in flagged if p not in used])


def read_words(pieces: list[Piece], expected: str | None) -> AnswerClass:
    """The class of the words in ``pieces``; a decoder loop ("或...或...或...") that carries no
    refusal or hedge is unrecognised speech (left to the closed set), never a question back
    or an unsure answer by itself."""
    text = "".join(p[2] for p in pieces)
    cls = classify_answer(text, expected)
    if cls.kind == "unsure" and is_decoder_loop(text) and not loop_says_no(cls):
        return AnswerClass("unrecognised", None)
    if cls.kind == "unsure" and cls.phrase is None:
        # Nothing matched by characters: a yes heard by its sound in part of the words
        # (信我被人 for 是我本人) is a guessed yes, for the closed set to agree with or not.
        return sounded_yes(text) or cls
    return cls


def answer_confidence(
    customer: Sequence[Utterance], timed: list[Piece], cls: AnswerClass
) -> float | None:
    """The mean probability of the words the answer rests on (None without words); for a no,
    the probability of the words that say it when the closed set puts a yes first there."""
    if not timed:
        return None
    confidence = round(sum(p[3] for p in timed) / len(timed), 3)
    if cls.kind in ("negative", "unsure") and cls.phrase:
        # A no is as strong as the words that say it, not the mean of the answer's words: in
        # hum, 嗯，是我本人 came out as 不是 (p 0.08) + 我的 (0.75) + 人 (0.84), mean 0.55, a
        # fail, while the closed set of that stretch put 是我本人 first. When the model puts a
        # yes first there, the deciding words' probability is the answer's confidence (below
        # answer_min_confidence: review). Real hedges heard at p 0.04-0.44 on their 不 had
        # the hedge or refusal first in the closed set (calibration): they stay fail.
        at = closed_set_at(customer, timed[-1][0])
        said_no = [p[3] for p in timed if set(p[2]) & set(cls.phrase)]
        if at is not None and at.kind == "affirmative" and said_no:
            confidence = round(min([confidence, *said_no]), 3)
    return confidence


def is_guessed_yes(
    cls: AnswerClass, uncertain: str | None, confidence: float | None, st: ScriptSettings
) -> bool:
    """Words that read as a yes, but only close to one, from uncertain speech, or unsure."""
    return cls.kind == "affirmative" and (
        cls.score < 1.0
        or uncertain is not None
        or (confidence is not None and confidence < st.closed_set_below_confidence)
    )
