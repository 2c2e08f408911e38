"""Where the customer's answer to a node is looked for (``script_answers.find_answers``).

The window opens ``answer_lead_s`` before the question's end and closes at the first later
node's start (+ ``answer_grace_s``) or ``answer_wait_s`` after the question. Two things do not
end the customer's answer time (issue 7: after a question back, the customer's answer that
came after the salesperson's reply was never looked at, and a clean session failed):

- a node that comes EARLIER in the template but was located after the question: that is the
  salesperson going back over it, typically the reply to the customer's question back
  (犹豫期内退保全额退还… matched the surrender-loss node), or a node said late; the customer
  still answers the question after it;
- the salesperson's reply to a question back: when the customer's last words read in the
  window are a question back, ``answer_wait_s`` runs again from the end of the salesperson's
  speech after it (:func:`after_reply`), still never past the next node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inspection.answer_turns import pieces_in, questions_back
from inspection.script_types import NodeAlignment, ScriptNode, ScriptSettings
from inspection.speech import Utterance


def later_starts(
    i: int,
    nodes: Sequence[ScriptNode],
    by_id: Mapping[str, NodeAlignment],
    st: ScriptSettings,
) -> list[float]:
    """Starts of the nodes after ``nodes[i]`` in the template that were located after it (they
    close its answer window); nodes before it in the template do not, wherever found.
    ``by_id``: the alignments by node id, built once for all the nodes."""
    a = by_id[nodes[i].id]
    t0, t1 = a.start_s or 0.0, a.end_s or 0.0
    out = []
    for n in nodes[i + 1 :]:
        b = by_id.get(n.id)
        if b is None or not b.covered or b.start_s is None:
            continue
        if b.start_s >= t1 - st.overlap_tolerance_s and b.start_s > t0:
            out.append(b.start_s)
    return sorted(out)


def window_end(from_s: float, nxt: Sequence[float], st: ScriptSettings) -> float:
    """``answer_wait_s`` after ``from_s``, or the next node's start + ``answer_grace_s``."""
    return min([from_s + st.answer_wait_s, *(s + st.answer_grace_s for s in nxt)])


def after_reply(
    salesperson: Sequence[Utterance],
    question_end_s: float,
    nxt: Sequence[float],
    st: ScriptSettings,
) -> float | None:
    """The end of the salesperson's reply to a question back that ended at ``question_end_s``:
    their speech starting from then (less ``overlap_tolerance_s``) and within ``answer_wait_s``,
    before the next node; None when they said nothing there."""
    until = min([question_end_s + st.answer_wait_s, *nxt])
    ends = [
        u.end_s for u in salesperson if question_end_s - st.overlap_tolerance_s <= u.start_s < until
    ]
    return max(ends, default=None)


#: Questions back in a row (question, reply, question, reply ...) the window follows.
MAX_REPLIES = 3


def after_replies(
    customer: Sequence[Utterance],
    salesperson: Sequence[Utterance],
    asked: tuple[float, float],
    nxt: list[float],
    st: ScriptSettings,
) -> float:
    """The end of the answer window from ``asked`` (window start, question end): the next
    node's start (``nxt``) + grace or ``answer_wait_s``; after a question back in the window,
    while the answer after it is not in, the wait runs again from the end of the salesperson's
    reply to it."""
    w0, end = asked
    w1 = window_end(end, nxt, st)
    for _ in range(MAX_REPLIES):
        back = questions_back(pieces_in(customer, w0, w1), st.question_back_gap_s)
        # Only while the answer after it is not in: the question back is still the last
        # words read, or the customer is still speaking at the window's end (an answer cut
        # by it: 嗯，清楚 read as 嗯，清, unsure). An answer read in full stays as it was.
        # (A region nobody read counts whole where it starts: only words can be cut.)
        cut = any(u.words and u.start_s <= w1 < u.end_s for u in customer)
        if back.end_s is None or (back.open_end_s is None and not cut):
            break
        reply = after_reply(salesperson, back.end_s, nxt, st)
        if reply is None or window_end(reply, nxt, st) <= w1:
            break
        w1 = window_end(reply, nxt, st)
    return w1
