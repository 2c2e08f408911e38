"""The script stage: repairing truncated word lists and adapting script.analyze to rules records."""

from __future__ import annotations

import pytest

from inspection.rules import Thresholds, number_findings, script_findings
from inspection.script_stage import align_script, repair_words
from inspection.speech import Utterance
from inspection.templates import load_template, render
from tests.mini_script import MINI, POLICY, mini_sales, said


def test_repair_words_adds_the_dropped_rest() -> None:
    u = said("salesperson", "您出示身份证", 24.0, 25.5)
    broken = Utterance(
        u.participant, u.start_s, u.end_s, "您出示身份证\ufffd以上内容您是否清楚，请您签名", u.words
    )
    nxt = said("salesperson", "请您签名并抄录", 36.0, 38.0)
    fixed = repair_words([nxt, broken])
    assert [x.start_s for x in fixed] == [24.0, 36.0]
    extra = fixed[0].words[-1]
    # The repeated "请您签名" belongs to the next utterance; the rest spans 9 chars at 0.3 s each.
    assert extra.text == "以上内容您是否清楚" and extra.start_s == 25.5 and extra.end_s == 28.2
    assert fixed[1] is nxt
    assert repair_words([u]) == [u]


def test_align_script_to_rules_records() -> None:
    nodes = render(load_template(MINI), POLICY)
    sales = mini_sales(premium="一万五千元")
    customer = [
        said("customer", "好的，我同意", 6.5, 7.5),
        said("customer", "我不清楚", 24.5, 25.5),
    ]
    tpl = load_template(MINI)
    th = Thresholds()
    result = align_script(nodes, {"salesperson": sales, "customer": customer}, tpl, POLICY, [], th)
    by = {c.node.id: c for c in result.coverage}
    assert by["consent"].answer == "affirmative" and by["id_card"].answer == "negative"
    assert by["signature"].start_s is None
    assert by["premium"].start_s is not None and 14.0 <= by["premium"].start_s <= 16.0
    codes = sorted(f.code for f in script_findings(result.coverage, th))
    assert codes == ["answer.not_affirmative", "script.node_missing"]
    (mismatch,) = number_findings(result.numbers)
    assert mismatch.node == "premium" and mismatch.evidence["spoken"] == 15000
    assert result.node_of_utterance[("customer", 24.5)] == "id_card"
    assert result.node_of_utterance[("salesperson", 8.0)] == "reminder"


# --- defect classes 2-5 end to end: decoder segments -> speech -> script -> rules -------------

SALES = (
    ("您好，本次投保过程将全程录音录像，请问您是否同意？", 1.0, 6.0),
    ("此次录音录像过程对于今后您维护权益非常关键，请您如实回答相关问题。", 8.0, 14.0),
    ("您每年的保费为一万二千元，本产品有十五天的犹豫期。", 15.0, 20.0),
    ("请您出示身份证，以上内容您是否清楚？", 21.0, 24.0),
)


def _seg(t0: float, t1: float, text: str, p: float, no_speech: float) -> object:
    from types import SimpleNamespace

    word = SimpleNamespace(start=t0, end=t1, word=text, probability=p)
    return SimpleNamespace(
        start=t0,
        end=t1,
        text=text,
        words=[word],
        compression_ratio=1.0,
        no_speech_prob=no_speech,
        avg_logprob=-0.92 if p < 0.35 else -0.2,
    )


@pytest.mark.parametrize(
    ("heard", "p", "no_speech", "severity"),
    [
        ("４", 0.6, 0.1, "review"),  # "明白" decoded as a full-width garbage token
        ("Ｇ", 0.6, 0.1, "review"),
        ("不同意", 0.2, 0.7, "review"),  # a refusal the spurious filters used to drop
        ("我不同意", 0.1, 0.9, "review"),
        ("我不太清楚", 0.9, 0.05, "fail"),  # a clear hedge on confident words
        ("不同意", 0.9, 0.05, "fail"),
    ],
)
def test_customer_consent_answers_end_to_end(
    heard: str, p: float, no_speech: float, severity: str
) -> None:
    from inspection.speech import DecodeOptions, to_utterances

    nodes = render(load_template(MINI), POLICY)
    sales = [said("salesperson", t, a, b) for t, a, b in SALES]
    customer = to_utterances(
        [_seg(6.5, 7.5, heard, p, no_speech)], "customer", 0.0, DecodeOptions()
    )
    customer += [said("customer", "好的，我清楚", 24.5, 25.5)]
    th = Thresholds()
    result = align_script(
        nodes, {"salesperson": sales, "customer": customer}, load_template(MINI), POLICY, [], th
    )
    found = [f for f in script_findings(result.coverage, th) if f.node == "consent"]
    # A refusal, clear or weakly heard, is no consent too; any other weak answer is one review
    # (the answer's), not two.
    both = ["answer.not_affirmative", "consent.missing"]
    refused = severity == "fail" or "不同意" in heard
    assert sorted(f.code for f in found) == (both if refused else both[:1])
    assert {f.severity for f in found} == {severity}
