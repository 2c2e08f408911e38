"""A sure yes that closes the answer, after a 不/没 heard only weakly in garbled words before it.

In babble and hum the customer's track also carries the salesperson's reply to a question back
(and the decoder's garbage): dev seed 1 in babble 15 dB (dev01) read 犹豫期是多少天来着？ — the
reply — 都清楚 as 由于七十多小天来这 / 那不叫我自己的我 (p 0.16, its 不 at 0.40) / ... /
都清楚了 (p 0.62, 清楚 0.99). Read as one text, the stray 不 made the clear yes "unsure"
(``answers.classify_answer``: a 不 beside a yes is never a clear yes), a review although the
closed set of the yes's region put 都清楚 first by 4.1 nats per token and 13.8 nats ahead of
都不清楚. Here such an answer passes, but only on evidence of three kinds at once: the words
(the yes is said in its own recogniser segment, the last of the answer, heard surely, and
every 不/没 before it is a weak word in an earlier segment, with no hedge, refusal or question
word anywhere), the model (the yes's region puts a yes first by ``closed_set_margin`` and
leads its own negated forms by ``closed_set_negation_gap``), and the audio (nothing of the
region is left after the yes: a 不过… the decoder dropped would be there). The script stage
still vetoes it when another region of the window sounds like a hedge or a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from inspection.answers import (
    DEFERRALS,
    UNSURE,
    UNSURE_NEGATIONS,
    AnswerClass,
    classify_answer,
)
from inspection.closed_set import ClosedSetScore
from inspection.script_types import ScriptSettings
from inspection.speech import Utterance, Word

_NEGATION = re.compile("[不没]")
#: What ``classify_answer`` reports for a 不/没 left beside a yes (``answers._STRAY_NEGATION``);
#: a hedge it found first is reported as itself (不太, 不过, 不确定 ...).
_STRAY = re.compile("[不没].?")
_HEDGES = frozenset((*UNSURE_NEGATIONS, *UNSURE, *DEFERRALS))


@dataclass(frozen=True)
class LateYes:
    """The yes that closes an answer: its class, the segment it was said in, and the lowest
    probability of the words that say it (the answer's confidence)."""

    cls: AnswerClass
    segment: Utterance
    confidence: float


def late_yes(
    customer: Sequence[Utterance],
    pieces: Sequence[tuple[float, float, str, float, str | None]],
    expected: str | None,
    st: ScriptSettings,
) -> LateYes | None:
    """The sure yes that closes an answer whose words (``pieces``: start, end, text,
    probability, uncertain reason; the script stage's, questions back left out) read as unsure
    only because of weak 不/没 before it (:func:`yes_after_weak_negation`), or None."""
    used = {(p[0], p[1], p[2]) for p in pieces}
    segments = [
        u
        for u in sorted(customer, key=lambda u: u.start_s)
        if u.words and any((w.start_s, w.end_s, w.text) in used for w in u.words)
    ]
    return yes_after_weak_negation(segments, expected, st)


def yes_after_weak_negation(
    answer: Sequence[Utterance],
    expected: str | None,
    st: ScriptSettings,
) -> LateYes | None:
    """The yes when the answer's words read as unsure only
    because of weak 不/没 before a sure yes that closes the answer (module doc), else None.

    ``answer``: the customer's segments with words that make up the answer, in time order
    (questions back before it already left out)."""
    if len(answer) < 2:
        return None  # the 不 and the yes in one segment: a hedge heard badly (不需很明白)
    last, before = answer[-1], answer[:-1]
    words_before = [w for u in before for w in u.words]
    negations = [w for w in words_before if _NEGATION.search(w.text)]
    if not negations or _NEGATION.search(last.text):
        return None
    if any(w.probability >= st.weak_negation_max_p for w in negations):
        return None  # a 不 heard surely counts, wherever it stands
    yes = classify_answer(last.text, expected)
    if yes.kind != "affirmative" or yes.score < 1.0 or not yes.phrase:
        return None
    sure = _yes_probability(last.words, yes.phrase)
    if sure < st.closed_set_below_confidence:
        return None
    if not _only_stray_negation("".join(u.text for u in answer), expected):
        return None
    scored = last.closed_set
    if scored is None or not _model_says_yes(scored, st):
        return None
    if last.region_s is None or last.region_s[1] - last.end_s > st.weak_negation_tail_s:
        return None  # audio after the yes nobody read: it may hold a 不过…
    return LateYes(yes, last, round(sure, 3))


def _only_stray_negation(text: str, expected: str | None) -> bool:
    """True when ``text`` reads as unsure only because of a 不/没 left beside a yes: no hedge,
    refusal, deferral, question word or question mark anywhere (those count, however weakly
    heard; ``classify_answer`` finds each of them before it looks at a stray 不/没)."""
    if any(c in text for c in "?？"):
        return False
    cls = classify_answer(text, expected)
    return (
        cls.kind == "unsure"
        and cls.phrase is not None
        and _STRAY.fullmatch(cls.phrase) is not None
        and cls.phrase not in _HEDGES
    )


def _yes_probability(words: Sequence[Word], phrase: str) -> float:
    """The lowest probability of the words that say the yes (those sharing a character with
    ``phrase``); 0 when none does."""
    said = [w.probability for w in words if set(w.text) & set(phrase)]
    return min(said, default=0.0)


def _model_says_yes(scored: ClosedSetScore, st: ScriptSettings) -> bool:
    """The closed set puts a yes first by ``closed_set_margin`` per token, and that yes leads
    its own negated and hedged forms by ``closed_set_negation_gap`` in total (it must have
    them: the model has to have weighed the 不)."""
    return (
        scored.kind == "affirmative"
        and scored.margin >= st.closed_set_margin
        and scored.negation_gap is not None
        and scored.negation_gap >= st.closed_set_negation_gap
    )
