"""The customer's answer after each node that requires one: from trusted speech, else from kept
uncertain speech, else from the model's closed-set scores of the window (``inspection.closed_set``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from inspection.answer_closed_set import (
    agrees,
    closed_set_at,
    closed_set_in,
    cohort_yes,
    model_hears_no,
    only_voice_energy,
    scored_span,
    window_hears_no,
)
from inspection.answer_turns import QUESTION_WORDS, Piece, pieces_in, questions_back
from inspection.answer_weak_negation import late_yes
from inspection.answer_window import after_replies, after_reply, later_starts
from inspection.answer_words import (
    answer_confidence,
    is_guessed_yes,
    said_nothing,
    words_heard,
)
from inspection.answers import AnswerClass, AnswerKind, classify_answer, heard_negation
from inspection.closed_set import ClosedSetScore, closed_set_answer
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
            nxt = later_starts(i, nodes, by_id, st)
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
    if not salesperson:
        return False
    # The next node's own words are no reply: the utterance it was located in (which may start
    # before the node's located start) runs past that start.
    last = min(nxt, default=float("inf")) + st.overlap_tolerance_s
    replies = [u for u in salesperson if u.end_s <= last]
    if after_reply(replies, answer.question_end_s, nxt, st) is not None:
        return False
    rest = answer.question_back
    for word in QUESTION_WORDS:
        rest = rest.replace(word, "")
    # Words that say nothing (能不能去我自己: the yes garbled too, "unsure" with no hedge in
    # it) hold no hedge either: only a heard hedge or refusal is judged on its words.
    said = classify_answer(rest)
    return said.kind != "negative" and not (said.kind == "unsure" and said.phrase)


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
    words = words_heard(pieces, getattr(node, "expected_answer", None))
    cls, uncertain = words.cls, words.uncertain
    timed = sorted(words.used, key=lambda p: p[0])
    confidence = answer_confidence(customer, timed, cls)
    if cls.kind == "unsure" and uncertain is None:
        late = late_yes(customer, timed, getattr(node, "expected_answer", None), st)
        if late is not None and not window_hears_no(customer, late.segment.start_s, w1, st):
            cls, confidence = late.cls, late.confidence  # unless a later stretch hears a no
    # The region the yes was heard in (not a question back earlier in the window).
    said = closed_set_at(customer, timed[-1][0]) if timed else None
    # The window's regions; else the region its words were heard in, which may have begun a
    # little before the window opened (dev seed 1, hum: 我亲楚的 at 72.00 s, window from 72.14 s:
    # its region's scores were never consulted, the guess stayed a review without them).
    scored = closed_set_in(customer, w0, w1) or said
    guessed_yes = is_guessed_yes(cls, uncertain, confidence, st)
    if said is not None and cls.kind == "affirmative" and not guessed_yes:
        if model_hears_no(said, st.closed_set_doubt_margin, st.closed_set_negation_gap):
            # The words read as a yes, the model prefers a hedge or a refusal by a clear lead:
            # a misheard hedge must not pass; a reviewer listens.
            scored, cls = said, AnswerClass(said.kind, said.phrase, 0.99)
    elif scored is not None and (said_nothing(cls) or guessed_yes):
        kind, phrase, sure, scored = _closed_set_decision(
            customer, pieces, timed, cls, scored, said, guessed_yes, (w0, w1), st
        )
        if kind == "affirmative" and sure and not only_voice_energy(customer, pieces, w0, w1):
            # The model itself prefers a yes by a wide margin over every other answer.
            cls, uncertain, confidence = AnswerClass(kind, phrase, 1.0), None, None
        else:  # a guess: shown to a reviewer, never a pass
            cls = AnswerClass(kind, phrase, min(cls.score, 0.99))
        timed = timed or scored_span(customer, scored)
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
    lost = said_nothing(cls)
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
        room_yes = cohort_yes(
            customer, window, st, st.closed_set_max_s_per_syllable if lost else None
        )
        if room_yes is not None and room_yes.cohort is not None:
            kind, phrase, sure, scored = "affirmative", room_yes.cohort.phrase, True, room_yes
    if guessed_yes and not sure and said is not None and agrees(said, st):
        # Two weak readings agree on a yes: the unsure words and the model's closed set of
        # the stretch they were heard in.
        kind, phrase, sure, scored = "affirmative", cls.phrase or said.phrase, True, said
    if heard_negation("".join(p[2] for p in pieces)):
        sure = False  # a heard 不/没 always wins over the closed set: review
    if sure and window_hears_no(customer, timed[0][0] if timed else window[0], window[1], st):
        # Another stretch of the window (from the answer on) sounds like a hedge or a
        # refusal: the widest margin may not be the customer's answer, and a yes may
        # go on "不过我再想想" in a stretch nobody recognised.
        sure = False
    return kind, phrase, sure, scored
