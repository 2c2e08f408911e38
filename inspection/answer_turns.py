"""The customer's words in an answer window as timed pieces, and the questions back among them
(a customer who asks 犹豫期是多少天来着？ before answering 嗯，都清楚)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inspection.answers import classify_answer, is_decoder_loop
from inspection.speech import Utterance

Piece = tuple[float, float, str, float, str | None]  # start, end, text, probability, reason


def pieces_in(customer: Sequence[Utterance], w0: float, w1: float) -> list[Piece]:
    out: list[Piece] = []
    for u in sorted(customer, key=lambda u: u.start_s):
        if u.end_s < w0 or u.start_s > w1:
            continue
        if u.words:
            out += [
                (w.start_s, w.end_s, w.text, w.probability, u.uncertain)
                for w in u.words
                if w0 <= w.start_s <= w1
            ]
        elif w0 <= u.start_s <= w1 or (not u.text and u.uncertain is not None):
            # Speech nobody recognised (a region not louder than the room, which in babble
            # may run from before the window past the answer) counts where it overlaps.
            out.append((u.start_s, u.end_s, u.text, u.confidence, u.uncertain))
    return out


#: What makes a customer's words a question back, not an answer (see answers.UNSURE).
QUESTION_WORDS = ("吗", "？", "?", "什么", "多少", "怎么", "为什么", "为啥", "啥", "能不能",
                   "可不可以", "有没有", "是否", "几")  # fmt: skip


@dataclass(frozen=True)
class Asked:
    """The window's pieces without the questions back that come before the answer, the text
    of those questions, when the last of them ended (``end_s``), and, when the last words read
    in the window are a question back (nothing but unread speech or invented subtitle text
    after it), when it ended (``open_end_s``)."""

    pieces: list[Piece]
    text: str
    open_end_s: float | None
    end_s: float | None = None


def questions_back(pieces: list[Piece], gap_s: float) -> Asked:
    """``pieces`` without the questions back that come before the answer.

    A customer who asks back (犹豫期是多少天来着？) hears the salesperson's reply and then
    answers (嗯，都清楚); read as one text, the question made the answer unsure. Words more than
    ``gap_s`` apart are separate turns; leading turns that are questions are left out when a
    later turn follows. Hedges and refusals in earlier turns are kept (they count). Speech
    nobody read a word in (a region no louder than the room, one Whisper returned nothing for)
    says nothing: it does not end the questions back before the answer (a dev probe with
    faint babble: a room region before 那退保的话会亏钱吗？ kept the question, and the yes 7 s
    after it, read with it, failed as unsure).

    When no words were read after the last question back, the answer is not known from the
    words: the question alone is not the customer's final answer if they said anything after
    the reply (issue 7's faint-room check: 那个，明白了 after 要是我想退保怎么办？ got no
    transcript piece, and the question alone failed as unsure). ``open_end_s`` says so."""
    turns: list[list[Piece]] = []
    for p in sorted(pieces, key=lambda p: p[0]):
        if not turns or p[0] - turns[-1][-1][1] > gap_s:
            turns.append([])
        turns[-1].append(p)
    drop = 0
    for k, turn in enumerate(turns[:-1]):
        if is_question(turn):
            drop = k + 1
        elif any(p[2] for p in turn):
            break
    read = [k for k, t in enumerate(turns) if any(p[2] and p[4] != "hallucination" for p in t)]
    last = turns[read[-1]] if read else None
    open_end = max(p[1] for p in last) if last is not None and is_question(last) else None
    asked = [p for t in turns[:drop] for p in t if p[2] and p[4] != "hallucination"]
    if open_end is not None:
        asked += [p for p in last or [] if p not in asked]
    return Asked(
        pieces=[p for t in turns[drop:] for p in t],
        text="".join(p[2] for p in sorted(asked, key=lambda p: p[0])),
        open_end_s=open_end,
        end_s=max((p[1] for p in asked), default=None),
    )


def is_question(turn: list[Piece]) -> bool:
    text = "".join(p[2] for p in turn)
    if is_decoder_loop(text):
        return False  # garbage, not a question (a refusal in it still counts: _read)
    cls = classify_answer(text)
    return cls.kind == "unsure" and any(w in text for w in QUESTION_WORDS)
