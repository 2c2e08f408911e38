"""A stated amount the recogniser garbled into no number (每年交两万两七五百元) is checked in
the readings one misheard numeral allows, and is at most a review: never a silent pass when no
reading is the policy's value, never a fail."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inspection.garbled_numbers import garbled_amounts, repairs
from inspection.number_attribution import attribute_numbers
from inspection.policy import Policy
from inspection.rules import number_findings
from inspection.script_stage import _number
from inspection.speech import Utterance
from inspection.spoken_numbers import NumberCheck, check_numbers
from inspection.templates import load_template, render
from inspection.transcript import build_stream

# The policy premium and garbled ways of saying another amount: one numeral misheard and one
# syllable run together is what Whisper base does to numbers in noise.
GARBLED = [
    (23500, "两万两七五百"),  # 两万七千五百 said
    (12000, "一万五七千"),  # 一万五千 said
    (15000, "一万七八五千"),
]


def _premium_checks(premium: float, said: str) -> list[NumberCheck]:
    policy = Policy(
        customer_name="张三", customer_id_number="x", product_name="p", premium=premium,
        payment_method="年交", payment_years=10, insurance_years=20, cooling_off_days=15,
    )  # fmt: skip
    text = f"您选择的交费方式为年交，每年交{said}元，连续交十年。"
    u = Utterance("salesperson", 0.0, 8.0, text)
    checks = [c for c in check_numbers(build_stream([u]), policy) if c.kind == "premium"]
    nodes = render(load_template("traditional_life"), policy)
    return attribute_numbers([replace(c, node_id="premium") for c in checks], nodes, policy)


@pytest.mark.parametrize(("premium", "said"), GARBLED)
def test_a_garbled_amount_no_reading_explains_is_a_review(premium: float, said: str) -> None:
    assert all(abs(r.value - premium) >= 0.5 for r in repairs(said))
    (check,) = _premium_checks(premium, said)
    assert not check.matches and check.garbled == said and check.doubt
    (finding,) = number_findings([_number(check)])
    assert finding.severity == "review"
    assert finding.evidence["garbled"] == said and said in finding.message


@pytest.mark.parametrize(("said", "premium"), [("两万两七五百", 22500), ("一万五二千", 15000)])
def test_a_garbled_amount_one_misheard_numeral_explains_passes(said: str, premium: float) -> None:
    (check,) = _premium_checks(premium, said)
    assert check.matches and check.spoken == premium


@pytest.mark.parametrize(
    "text",
    [
        "大概七八千元",  # ranges are how approximate amounts are said
        "一万五六千元",
        "十五六天",
        "两三万元",
        "每年交一万二千元",  # a number
        "三五年",  # too short to tell from a range
    ],
)
def test_ranges_and_numbers_are_not_garbled(text: str) -> None:
    assert garbled_amounts(text, []) == []
