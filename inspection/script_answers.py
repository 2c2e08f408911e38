"""The customer's answer after each node that requires one: from trusted speech, else from kept
uncertain speech, else from the model's closed-set scores of the window (``inspection.closed_set``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from inspection.answer_reading import sounded_yes
from inspection.answer_turns import QUESTION_WORDS, Piece, pieces_in, questions_back
from inspection.answer_weak_negation import late_yes
from inspection.answer_window import after_replies, later_starts
from inspection.answers import (
    AnswerClass,
    AnswerKind,
    classify_answer,
    heard_negation,
    is_decoder_loop,
    loop_says_no,
)
from inspection.closed_set import ClosedSetScore, closed_set_answer, cohort_sure
from inspection.script_align import marker_ranges
from inspection.script_types import Answer, NodeAlignment, ScriptNode, ScriptSettings
from inspection.speech import Utterance


def find_answers(
    nodes: Sequence[ScriptNode],
    aligned: Sequence[NodeAlignment],
    customer: Sequence[Utterance],
    markers: Sequence[tuple[float, str]] = (),
    settings: ScriptSettings | None = None,
    salesperson: Sequence[Utterance] = (),
) -> dict[str, Answer]:
    """Classify the customer's reply after every node that requires an answer.

    The window opens ``answer_lead_s`` before the node's end and closes at the start of the next
    node of the template found after it or after ``answer_wait_s`` (``inspection.answer_window``:
    after a question back, from the end of the ``salesperson``'s reply). A node that was not
    spoken is judged from its marker range if there is one, and otherwise left out.
    """
    st = settings or ScriptSettings()
    by_id = {a.node_id: a for a in aligned}
    ranges = marker_ranges(markers)
    out: dict[str, Answer] = {}
    for i, node in enumerate(nodes):
        if not node.requires_answer:
            continue
        a = by_id.get(node.id)
        nxt: list[float] | None = None  # the later nodes' starts, for a question located
        if a is not None and a.covered and a.end_s is not None:
            # Never before the question itself started (an earlier answer is not this one).
            w0 = max(
                a.end_s - st.answer_lead_s,
                (a.start_s or 0.0) + 0.5 * (a.end_s - (a.start_s or 0.0)),
            )
            nxt = later_starts(i, nodes, aligned, st)
            w1 = after_replies(customer, salesperson, (w0, a.end_s), nxt, st)
        elif node.id in ranges:
            w0, w1 = ranges[node.id][0], min(ranges[node.id][1], ranges[node.id][0] + 60.0)
        else:
            continue
        answer = _answer_in(node, customer, w0, max(w1, w0 + 0.5), st)
        if nxt is not None and _unanswered(answer, salesperson, nxt, st):
            answer = replace(answer, uncertain="question_unanswered")
        out[node.id] = answer
    return out


def _unanswered(
    answer: Answer, salesperson: Sequence[Utterance], nxt: list[float], st: ScriptSettings
) -> bool:
    """Whether the answer is "unsure" only because its last words read were a question back
    that the salesperson went on from without a word: that reading is in doubt (review).

    A customer who asks back hears a reply; a salesperson who moves on to the next node heard
    an answer. Whisper turns a short yes into a question now and then (嗯嗯，对，是我自己 read
    as 能不能是我自己: the 对 became a question word), which alone made it "unsure" and, in a
    quiet room, a `fail`. A question back that holds a hedge or a refusal (不太清楚，能再说一遍
    吗) is still judged on its words."""
    if answer.kind != "unsure" or answer.question_end_s is None or answer.uncertain is not None:
        return False
    q_end = answer.question_end_s
    until = min([q_end + st.answer_wait_s, *nxt])
    # The next node's own words are no reply: the utterance it was located in (which may start
    # before the node's located start) runs past that start.
    last = min(nxt, default=float("inf")) + st.overlap_tolerance_s
    if not salesperson or any(
        q_end - st.overlap_tolerance_s <= u.start_s < until and u.end_s <= last for u in salesperson
    ):
        return False
    rest = answer.question_back
    for word in QUESTION_WORDS:
        rest = rest.replace(word, "")
    return classify_answer(rest).kind not in ("unsure", "negative")


# Kept uncertain speech that is used as an answer when nothing trusted was said; text Whisper
# invents on silence (subtitle credits) is only shown, never read as an answer.
_USABLE_UNCERTAIN = ("low_confidence", "unrecognised", "repetition", "too_fast")


def _closed_set_in(customer: Sequence[Utterance], w0: float, w1: float) -> ClosedSetScore | None:
    """The closed-set score with the widest margin among customer regions in ``[w0, w1]``."""
    scores = [u.closed_set for u in customer if u.closed_set is not None and w0 <= u.start_s <= w1]
    return max(scores, key=lambda s: s.margin, default=None)


def _answer_in(
    node: ScriptNode,
    customer: Sequence[Utterance],
    w0: float,
    w1: float,
    st: ScriptSettings | None = None,
) -> Answer:
    """The answer in ``[w0, w1]``: from trusted speech; when that says nothing, from kept
    uncertain speech (marked, so that the rules make it review evidence, never consent); when
    that is lost or garbled too, from the closed-set scores of the window's regions."""
    st = st or ScriptSettings()
    asked = questions_back(pieces_in(customer, w0, w1), st.question_back_gap_s)
    pieces = asked.pieces
    words = _words_heard(pieces, getattr(node, "expected_answer", None))
    cls, uncertain = words.cls, words.uncertain
    timed = sorted(words.used, key=lambda p: p[0])
    confidence = _confidence(customer, timed, cls)
    if cls.kind == "unsure" and uncertain is None:
        late = late_yes(customer, timed, getattr(node, "expected_answer", None), st)
        if late is not None and not _window_hears_no(customer, late.segment.start_s, w1, st):
            cls, confidence = late.cls, late.confidence  # unless a later stretch hears a no
    # The region the yes was heard in (not a question back earlier in the window).
    said = _closed_set_at(customer, timed[-1][0]) if timed else None
    # The window's regions; else the region its words were heard in, which may have begun a
    # little before the window opened (dev seed 1, hum: 我亲楚的 at 72.00 s, window from 72.14 s:
    # its region's scores were never consulted, the guess stayed a review without them).
    scored = _closed_set_in(customer, w0, w1) or said
    guessed_yes = _is_guessed_yes(cls, uncertain, confidence, st)
    if said is not None and cls.kind == "affirmative" and not guessed_yes:
        if _model_hears_no(said, st.closed_set_doubt_margin, st.closed_set_negation_gap):
            # The words read as a yes, the model prefers a hedge or a refusal by a clear lead:
            # a misheard hedge must not pass; a reviewer listens.
            scored, cls = said, AnswerClass(said.kind, said.phrase, 0.99)
    elif scored is not None and (_said_nothing(cls) or guessed_yes):
        kind, phrase, sure, scored = _closed_set_decision(
            customer, pieces, timed, cls, scored, said, guessed_yes, (w0, w1), st
        )
        if kind == "affirmative" and sure and not _only_voice_energy(customer, pieces, w0, w1):
            # The model itself prefers a yes by a wide margin over every other answer.
            cls, uncertain, confidence = AnswerClass(kind, phrase, 1.0), None, None
        else:  # a guess: shown to a reviewer, never a pass
            cls = AnswerClass(kind, phrase, min(cls.score, 0.99))
        timed = timed or _scored_span(customer, scored)
    return Answer(
        node_id=node.id,
        kind=cls.kind,
        text="".join(p[2] for p in timed),
        phrase=cls.phrase,
        window_start_s=round(w0, 3),
        window_end_s=round(w1, 3),
        start_s=timed[0][0] if timed else None,
        end_s=timed[-1][1] if timed else None,
        confidence=confidence,
        score=cls.score,
        uncertain=uncertain,
        uncertain_text="".join(p[2] for p in words.shown),
        closed_set=scored,
        question_back=asked.text,
        # Nothing read after the question back, which alone decided the class: what the
        # customer said after the reply (if anything) is still to be looked for in the audio.
        question_end_s=asked.open_end_s if cls.kind in ("unsure", "missing") else None,
    )


@dataclass(frozen=True)
class _Words:
    """What the words of a window say: their class, the pieces it rests on, why they are
    uncertain (None: trusted speech only), and the flagged pieces only shown to a reviewer."""

    cls: AnswerClass
    used: list[Piece]
    uncertain: str | None
    shown: list[Piece]


def _only_voice_energy(
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


def _said_nothing(cls: AnswerClass) -> bool:
    """No answer in the words: none, none recognised, or unsure with no hedge phrase."""
    return cls.kind in ("missing", "unrecognised") or (cls.kind == "unsure" and cls.phrase is None)


def _words_heard(pieces: list[Piece], expected: str | None) -> _Words:
    """The answer the words say: trusted speech first; when that says nothing, kept uncertain
    speech too (then marked uncertain); speech nobody recognised is "unrecognised" (evidence for
    review), never "no answer"."""
    sure = [p for p in pieces if p[4] is None]
    flagged = [p for p in pieces if p[4] is not None]
    used, cls, uncertain = sure, _read(sure, expected), None
    usable = [p for p in flagged if p[4] in _USABLE_UNCERTAIN]
    if _said_nothing(cls) and usable:
        used = sure + usable
        cls = _read(used, expected)
        if cls.kind == "missing" or (cls.kind == "unsure" and cls.phrase is None):
            cls = replace(cls, kind="unrecognised")
        uncertain = ",".join(sorted({p[4] for p in usable if p[4]}))
    if cls.kind == "missing" and any(not p[2] and p[4] != "hallucination" for p in flagged):
        # Speech was there, only not recognised: evidence for review, never "no answer".
        cls = AnswerClass("unrecognised", None)
        uncertain = ",".join(sorted({p[4] for p in flagged if p[4] and not p[2]}))
    return _Words(cls, used, uncertain, [p for p in flagged if p not in used])


def _confidence(
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
        at = _closed_set_at(customer, timed[-1][0])
        said_no = [p[3] for p in timed if set(p[2]) & set(cls.phrase)]
        if at is not None and at.kind == "affirmative" and said_no:
            confidence = round(min([confidence, *said_no]), 3)
    return confidence


def _is_guessed_yes(
    cls: AnswerClass, uncertain: str | None, confidence: float | None, st: ScriptSettings
) -> bool:
    """Words that read as a yes, but only close to one, from uncertain speech, or unsure."""
    return cls.kind == "affirmative" and (
        cls.score < 1.0
        or uncertain is not None
        or (confidence is not None and confidence < st.closed_set_below_confidence)
    )


def _closed_set_decision(
    customer: Sequence[Utterance],
    pieces: list[Piece],
    timed: list[Piece],
    cls: AnswerClass,
    scored: ClosedSetScore,
    said: ClosedSetScore | None,
    guessed_yes: bool,
    window: tuple[float, float],
    st: ScriptSettings,
) -> tuple[AnswerKind, str, bool, ClosedSetScore]:
    """(kind, phrase, sure, score used) from the closed set, for words that said nothing clear
    (``cls``) or only guessed a yes; ``sure`` only for a yes nothing in the window speaks
    against."""
    lost = _said_nothing(cls)
    kind, phrase, sure = closed_set_answer(
        scored,
        st.closed_set_margin,
        st.closed_set_max_s,
        st.closed_set_min_lead,
        st.closed_set_negation_gap,
        # Only when no words were read: words heard as a yes would also have shown the
        # rest of a longer reply (清楚是清楚，不过… reads as unsure); and a yes said in
        # parts (嗯，对，是我本人) may score best as its shortest part (对).
        st.closed_set_max_s_per_syllable if lost else None,
    )
    if not sure:
        # The room's own scores subtracted (babble alone puts a short yes first): a yes that
        # stands out over the room by closed_set_cohort_lead per token (answer_cohort).
        room_yes = _cohort_yes(
            customer, window, st, st.closed_set_max_s_per_syllable if lost else None
        )
        if room_yes is not None and room_yes.cohort is not None:
            kind, phrase, sure, scored = "affirmative", room_yes.cohort.phrase, True, room_yes
    if guessed_yes and not sure and said is not None and _agrees(said, st):
        # Two weak readings agree on a yes: the unsure words and the model's closed set of
        # the stretch they were heard in.
        kind, phrase, sure, scored = "affirmative", cls.phrase or said.phrase, True, said
    if heard_negation("".join(p[2] for p in pieces)):
        sure = False  # a heard 不/没 always wins over the closed set: review
    if sure and _window_hears_no(customer, timed[0][0] if timed else window[0], window[1], st):
        # Another stretch of the window (from the answer on) sounds like a hedge or a
        # refusal: the widest margin may not be the customer's answer, and a yes may
        # go on "不过我再想想" in a stretch nobody recognised.
        sure = False
    return kind, phrase, sure, scored


def _cohort_yes(
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


def _scored_span(customer: Sequence[Utterance], scored: ClosedSetScore) -> list[Piece]:
    """The region a closed-set score was made on, as the answer's time when no words were."""
    u = next(u for u in customer if u.closed_set is scored)
    return [(u.start_s, u.end_s, "", 0.0, None)]


def _read(pieces: list[Piece], expected: str | None) -> AnswerClass:
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


def _closed_set_at(customer: Sequence[Utterance], t: float) -> ClosedSetScore | None:
    """The closed-set score of the customer region holding time ``t``."""
    return next(
        (u.closed_set for u in customer if u.closed_set and u.start_s <= t <= u.end_s), None
    )


def _agrees(said: ClosedSetScore, st: ScriptSettings) -> bool:
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


def _window_hears_no(
    customer: Sequence[Utterance],
    w0: float,
    w1: float,
    st: ScriptSettings,
) -> bool:
    """True when a closed-set scored region of the window sounds like a hedge or a refusal
    (:func:`_model_hears_no`): a yes scored in one stretch must not pass over a no in another."""
    for u in customer:
        if u.closed_set is None or not (w0 <= u.start_s <= w1):
            continue
        if _model_hears_no(u.closed_set, st.closed_set_doubt_margin, st.closed_set_negation_gap):
            return True
    return False


def hears_no(scored: ClosedSetScore, st: ScriptSettings) -> bool:
    """True when ``scored`` sounds like a hedge or a refusal at ``st``'s doubt thresholds
    (:func:`_model_hears_no`)."""
    return _model_hears_no(scored, st.closed_set_doubt_margin, st.closed_set_negation_gap)


def _model_hears_no(scored: ClosedSetScore, margin: float, negation_gap: float) -> bool:
    """True when the closed set's best answer is not a yes and leads the best yes by ``margin``
    nats per token, or when the best yes's own negated form beats it by ``negation_gap`` nats
    in total (the model heard the 不 that the free transcription lost)."""
    if scored.negation_gap is not None and scored.negation_gap <= -negation_gap:
        return True
    yes = scored.kind_logprob("affirmative")
    return scored.kind != "affirmative" and (yes is None or scored.logprob - yes >= margin)
