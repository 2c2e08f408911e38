"""A customer's "question back" the salesperson went on from without a word is in doubt.

Whisper turns a short yes into a question now and then (嗯嗯，对，是我自己 read as 能不能是我自己,
the 对 heard as a question word). Such an answer was "unsure" on trusted words and, with
nothing read after it in a quiet room, a `fail` on a clean session. A real question back gets
a reply; a salesperson who moves straight on to the next node heard an answer. So a question
back with no reply before the next node is `review` (``uncertain: question_unanswered``),
unless it holds a hedge or a refusal (不太清楚，能再说一遍吗: still `fail`), and one the
salesperson did reply to is judged as before.

Generated over the class on the dev template (never the test split's wording): each node that
asks for an answer, its yeses from the dev answer grammar wrapped in question forms."""

from __future__ import annotations

import itertools

import pytest

from inspection.rules import Finding, Thresholds, script_findings
from inspection.script_stage import align_script
from inspection.speech import Utterance
from inspection.templates import load_template
from tests import node_wording as nw
from tests.corpus_v2.wording import DEV
from tests.mini_script import said

YESES = {
    "consent": DEV.grammar.expand("consent")[:4],
    "confirm_understood": DEV.grammar.expand("understood")[:4],
    "id_card": DEV.grammar.expand("identity")[:4],
}
#: A yes misheard into a question: a question word in front, or a question particle after it.
AS_QUESTION = ("能不能{}", "{}吗？", "什么{}", "{}?")
HEDGED = ("不太清楚，能再说一遍吗？", "不是很明白，什么意思？", "不同意，为什么要录像？")
REPLY = "这个问题我再给您解释一下，您放心。"


def _session(node: str, heard: str, reply: bool) -> tuple[list[Utterance], list[Utterance]]:
    """(salesperson, customer): the dev script read in order; after ``node`` the customer says
    ``heard`` (the other answering nodes get a clear yes), then, with ``reply``, the salesperson
    answers it; the next node starts 5 s after the customer's words."""
    sales: list[Utterance] = []
    customer: list[Utterance] = []
    t = 1.0
    for n in nw.nodes():
        if n.id not in nw.PARAPHRASES:
            continue
        text = nw.PARAPHRASES[n.id][0]
        sales.append(said("salesperson", text, t, t + len(text) / 4.2))
        t += len(text) / 4.2 + 0.8
        if n.id in YESES:
            words = heard if n.id == node else YESES[n.id][1]
            customer.append(said("customer", words, t, t + 1.6))
            t += 2.2
            if n.id == node and reply:
                sales.append(said("salesperson", REPLY, t, t + len(REPLY) / 4.2))
                t += len(REPLY) / 4.2 + 0.8
            t += 4.4 if n.id == node else 0.0
    return sales, customer


def _answer(node: str, heard: str, reply: bool) -> list[Finding]:
    sales, customer = _session(node, heard, reply)
    tpl, th = load_template(nw.TEMPLATE), Thresholds()
    result = align_script(
        nw.nodes(), {"salesperson": sales, "customer": customer}, tpl, nw.POLICY, [], th
    )
    return [
        f
        for f in script_findings(result.coverage, th)
        if f.code == "answer.not_affirmative" and f.node == node
    ]


MISHEARD = [
    (node, form.format(yes))
    for node, yeses in YESES.items()
    for yes, form in itertools.product(yeses, AS_QUESTION)
]
#: The yes garbled as well as turned into a question (frozen test split: 嗯嗯，对，是我自己 heard
#: as 能不能去我自己): what is left without the question words says nothing, hedges nothing.
GARBLED = ("去我自己", "点坏了", "人人我都免费", "那是白")
GARBLED_QUESTIONS = [
    (node, form.format(words))
    for node in YESES
    for words, form in itertools.product(GARBLED, AS_QUESTION)
]


@pytest.mark.parametrize(("node", "heard"), MISHEARD + GARBLED_QUESTIONS)
def test_a_question_back_nobody_answered_is_review(node: str, heard: str) -> None:
    # Was `fail`: the question alone made the answer unsure on trusted words; with the yes
    # garbled too, the words left after the question words ("unsure", nothing recognised in
    # them) were read as a hedge the question held.
    [finding] = _answer(node, heard, reply=False)
    assert finding.severity == "review"
    assert finding.evidence["uncertain"] == "question_unanswered"


@pytest.mark.parametrize(("node", "heard"), MISHEARD[::3])
def test_a_question_back_the_salesperson_replied_to_is_judged_as_before(
    node: str, heard: str
) -> None:
    # Nothing read after the reply: no yes was heard, the question stands (audio checks of
    # what came after the reply are in test_answer_question_back / test_answer_after_reply).
    [finding] = _answer(node, heard, reply=True)
    assert finding.severity == "fail"
    assert "uncertain" not in finding.evidence


@pytest.mark.parametrize(("node", "heard"), [(node, h) for node in YESES for h in HEDGED])
def test_a_hedge_or_refusal_asked_as_a_question_still_fails(node: str, heard: str) -> None:
    [finding] = _answer(node, heard, reply=False)
    assert finding.severity == "fail"
