"""What the model's closed-set scores of the customer's regions say about an answer window
(``inspection.closed_set``): the score to use, whether the model hears a hedge or a refusal,
and whether a yes from the words and one from the model agree (``inspection.script_answers``
decides the answer from them and from the words, ``inspection.answer_words``).
"""

from __future__ import annotations

from collections.abc import Sequence

from inspection.answer_turns import Piece
from inspection.closed_set import ClosedSetScore, cohort_sure
from inspection.script_types import ScriptSettings
from inspection.speech import Utterance


def closed_set_in(customer: Sequence[Utterance], w0: float, w1: float) -> ClosedSetScore | None:
    """The closed-set score with the widest margin among customer regions in ``[w0, w1]``."""
    scores = [u.closed_set for u in customer if u.closed_set is not None and w0 <= u.start_s <= w1]
    return max(scores, key=lambda s: s.margin, default=None)


def closed_set_at(customer: Sequence[Utterance], t: float) -> ClosedSetScore | None:
    """The closed-set score of the customer region holding time ``t``."""
    return next(
        (u.closed_set for u in customer if u.closed_set and u.start_s <= t <= u.end_s), None
    )


def scored_span(customer: Sequence[Utterance], scored: ClosedSetScore) -> list[Piece]:
    """The region a closed-set score was made on, as the answer's time when no words were."""
    u = next(u for u in customer if u.closed_set is scored)
    return [(u.start_s, u.end_s, "", 0.0, None)]


def only_voice_energy(
    customer: Sequence[Utterance], pieces: list[Piece], w0: float, w1: float
) -> bool:
    """The window (or, after the questions back set aside, the answer's ``pieces``, invented
    subtitle text aside) holds nothing but stretches found by their level alone
    (``answer_energy``): no VAD region caught them, so they may be a cough, a door or the other
    party's voice as well as a lost answer. A closed-set yes there is shown to a reviewer,
    never a pass: before such stretches were scored, that window was "no answer" (or the
    question back alone); a silent customer must not come out as consent."""
    inside = [u for u in customer if u.end_s >= w0 and u.start_s <= w1]
    if inside and all(u.uncertain == "voice_energy" for u in inside):
        return True
    rest = [p for p in pieces if p[4] != "hallucination"]
    return bool(rest) and all(p[4] == "voice_energy" for p in rest)


def cohort_yes(
    customer: Sequence[Utterance],
    window: tuple[float, float],
    st: ScriptSettings,
    max_s_per_syllable: float | None,
) -> ClosedSetScore | None:
    """The region of the window whose room-normalised scores make a yes sure (the widest
    normalised lead), or None."""
    w0, w1 = window
    sure = [
        u.closed_set
        for u in customer
        if u.closed_set is not None
        and w0 <= u.start_s <= w1
        and cohort_sure(
            u.closed_set,
            st.closed_set_cohort_lead,
            st.closed_set_cohort_min,
            st.closed_set_max_s,
            max_s_per_syllable,
        )
    ]
    return max(sure, key=lambda s: s.cohort.margin if s.cohort else 0.0, default=None)


def agrees(said: ClosedSetScore, st: ScriptSettings) -> bool:
    """True when the closed set of the stretch unsure words read as a yes also puts a yes first,
    by ``closed_set_agree_lead`` per token and ``closed_set_agree_gap`` over its negated forms,
    in a stretch short enough to hold only that answer (``closed_set_max_s``)."""
    gap = said.negation_gap
    return (
        said.kind == "affirmative"
        and said.speech_s <= st.closed_set_max_s  # else more than a yes may have been said
        and said.margin >= st.closed_set_agree_lead
        and (gap is None or gap >= st.closed_set_agree_gap)
    )


def window_hears_no(
    customer: Sequence[Utterance],
    w0: float,
    w1: float,
    st: ScriptSettings,
) -> bool:
    """True when a closed-set scored region of the window sounds like a hedge or a refusal
    (:func:`model_hears_no`): a yes scored in one stretch must not pass over a no in another."""
    for u in customer:
        if u.closed_set is None or not (w0 <= u.start_s <= w1):
            continue
        if model_hears_no(u.closed_set, st.closed_set_doubt_margin, st.closed_set_negation_gap):
            return True
    return False


def hears_no(scored: ClosedSetScore, st: ScriptSettings) -> bool:
    """True when ``scored`` sounds like a hedge or a refusal at ``st``'s doubt thresholds
    (:func:`model_hears_no`)."""
    return model_hears_no(scored, st.closed_set_doubt_margin, st.closed_set_negation_gap)


def model_hears_no(scored: ClosedSetScore, margin: float, negation_gap: float) -> bool:
    """True when the closed set's best answer is not a yes and leads the best yes by ``margin``
    nats per token, or when the best yes's own negated form beats it by ``negation_gap`` nats
    in total (the model heard the 不 that the free transcription lost)."""
    if scored.negation_gap is not None and scored.negation_gap <= -negation_gap:
        return True
    yes = scored.kind_logprob("affirmative")
    return scored.kind != "affirmative" and (yes is None or scored.logprob - yes >= margin)
