"""The customer's answer after the salesperson's reply to a question back is the answer (issue 7).

A faint-room check failed a clean session: the customer asked back (要是我想退保怎么办？), the
salesperson replied by going over the surrender rules again, and the customer's 那个，明白了
came 1.5 s after the reply; the answer was judged on the question alone (unsure, `fail`).
The window had closed 1 s into the reply: the reply matched a node said earlier in the
template (or one the salesperson skipped), located there out of order, and every located
node's start closed the window. A long reply ran the window out too (``answer_wait_s`` counted
from the question, not from the reply).

Generated over the class on the dev template (``insurer_dev.yaml``, never the test split's):
replies that restate an earlier node (skipped or said) and replies of 3-20 s that match none,
the answer 0.6 or 4 s after the reply, read (a yes: no finding; a hedge: `fail`) or left unread
(a region with no words, or words below confidence: `review`, never `fail`). The real-audio
side (unread voice on the track after a reply found by ``check_script``) is in
tests/test_answer_question_back.py."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from inspection.rules import Finding, Thresholds, script_findings
from inspection.script_stage import align_script
from inspection.speech import Utterance
from inspection.templates import load_template
from tests import node_wording as nw
from tests.corpus_v2.wording import DEV
from tests.mini_script import said

NODE = "confirm_understood"
QUESTIONS = [q for q, _ in DEV.questions_back]
YESES = DEV.grammar.expand("understood")
HEDGES = DEV.grammar.expand("hedges")

#: Replies that go over a node said earlier in the template (the customer asked about it).
RESTATING = (
    nw.PARAPHRASES["surrender"][1],
    nw.PARAPHRASES["surrender"][2],
    "过了犹豫期再解除合同，只能退还保单的现金价值，会有一定损失。",
    "犹豫期内解除合同全额退还保费，犹豫期以后只退现金价值。",
)
#: Replies that match no node, by length (about 3, 8, 14 and 20 s at 4.2 characters a second).
PLAIN = tuple(nw.EXPLANATIONS[:n] for n in (13, 34, 59, 84))
GAPS = (0.6, 4.0)  # seconds from the end of the reply to the customer's answer


def _session(
    reply: str, gap: float, answer: Utterance | None, skip: str | None
) -> tuple[list[Utterance], list[Utterance]]:
    """(salesperson, customer): the dev script read in order (``skip`` left out), the customer
    asking back after the understanding question, the reply, ``answer`` (None: nothing) placed
    ``gap`` s after the reply, and the next node 2 s after that."""
    sales: list[Utterance] = []
    customer = [said("customer", "我同意", 6.0, 7.0)]
    t = 1.0
    for n in nw.nodes():
        if n.id == skip or n.id not in nw.PARAPHRASES:
            continue
        text = nw.PARAPHRASES[n.id][0]
        sales.append(said("salesperson", text, t, t + len(text) / 4.2))
        t += len(text) / 4.2 + 1.0
        if n.id == "consent":
            t = 9.0
        elif n.id == "id_card":
            customer.append(said("customer", "是我本人", t, t + 1.0))
            t += 2.0
        elif n.id == NODE:
            q = QUESTIONS[len(reply) % 2]
            customer.append(said("customer", q, t, t + 1.9))
            t += 2.5
            sales.append(said("salesperson", reply, t, t + len(reply) / 4.2))
            t += len(reply) / 4.2 + gap
            if answer is not None:
                d = answer.end_s - answer.start_s
                customer.append(_at(answer, t))
                t += d
            t += 2.0
    return sales, customer


def _at(u: Utterance, t: float) -> Utterance:
    """``u`` moved to start at ``t``."""
    d = t - u.start_s
    words = [replace(w, start_s=w.start_s + d, end_s=w.end_s + d) for w in u.words]
    return replace(u, start_s=t, end_s=u.end_s + d, words=words)


def _found(reply: str, gap: float, answer: Utterance | None, skip: str | None) -> list[Finding]:
    sales, customer = _session(reply, gap, answer, skip)
    tpl, th = load_template(nw.TEMPLATE), Thresholds()
    result = align_script(
        nw.nodes(), {"salesperson": sales, "customer": customer}, tpl, nw.POLICY, [], th
    )
    return [
        f
        for f in script_findings(result.coverage, th)
        if f.node == NODE or f.code.startswith("answer.")
    ]


def _unread(kind: str, text: str) -> Utterance:
    """The answer as the speech stage may leave it: a region with no word, or low words."""
    if kind == "unrecognised":
        return Utterance("customer", 0.0, 1.4, "", uncertain=kind)
    u = said("customer", text, 0.0, 1.4, p=0.05)
    return Utterance(u.participant, 0.0, 1.4, u.text, u.words, uncertain="low_confidence")


CASES = [
    (reply, gap, skip)
    for reply, gap in itertools.product(RESTATING + PLAIN, GAPS)
    for skip in ((None, "surrender") if reply in RESTATING else (None,))
]


def _answer_codes(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.severity) for f in found if f.code == "answer.not_affirmative"]


@pytest.mark.parametrize(("k", "reply", "gap", "skip"), [(k, *c) for k, c in enumerate(CASES)])
def test_an_answer_read_after_the_reply_decides(
    k: int, reply: str, gap: float, skip: str | None
) -> None:
    # The dev grammar's yeses and hedges in turn over the cases (each case aligns the script).
    yes = said("customer", f"嗯，{YESES[k % len(YESES)]}", 0.0, 1.3)
    assert _answer_codes(_found(reply, gap, yes, skip)) == []
    hedge = said("customer", HEDGES[k % len(HEDGES)], 0.0, 1.3)
    assert _answer_codes(_found(reply, gap, hedge, skip)) == [("answer.not_affirmative", "fail")]


@pytest.mark.parametrize(("reply", "gap", "skip"), CASES)
@pytest.mark.parametrize(
    ("kind", "text"), [("unrecognised", ""), ("low_confidence", "那个，明白了")]
)
def test_unread_speech_after_the_reply_is_review_never_fail(
    reply: str, gap: float, skip: str | None, kind: str, text: str
) -> None:
    found = _found(reply, gap, _unread(kind, text), skip)
    assert _answer_codes(found) == [("answer.not_affirmative", "review")], found
    assert found[0].evidence["uncertain"] == kind


@pytest.mark.parametrize("reply", RESTATING + PLAIN)
def test_nothing_after_the_reply_is_still_the_question_alone(reply: str) -> None:
    # Words only (no audio): the question back is the customer's last word; the script stage
    # then looks at the track after it (test_answer_question_back).
    found = _found(reply, 2.0, None, None)
    assert _answer_codes(found) == [("answer.not_affirmative", "fail")], found
    assert found[0].evidence["question_back"] in QUESTIONS
