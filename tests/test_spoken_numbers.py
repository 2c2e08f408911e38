"""Spoken policy numbers: premium, cooling-off days, insurance and payment years vs the policy."""

from __future__ import annotations

from dataclasses import replace

from inspection.policy import Policy
from inspection.speech import Utterance
from inspection.spoken_numbers import check_numbers
from inspection.transcript import build_stream
from tests import mini_script

# Every number kind stated (the mini sale's policy holds the premium only).
POLICY = replace(
    mini_script.POLICY,
    payment_method="年交",
    payment_years=10,
    insurance_years=20,
    cooling_off_days=15,
)


def _checks(*texts: str, policy: Policy = POLICY) -> list[tuple[str, float, float | None, bool]]:
    utts = [Utterance("salesperson", i * 10.0, i * 10.0 + 8.0, t) for i, t in enumerate(texts)]
    return [
        (c.kind, c.spoken, c.expected, c.matches) for c in check_numbers(build_stream(utts), policy)
    ]


def test_all_kinds_matching() -> None:
    text = "您选择的交费方式为年交，每期保费一万二千元，交费期间为十年，保险期间为二十年。本产品有十五天的犹豫期。"
    assert _checks(text) == [
        ("premium", 12000, 12000, True),
        ("payment_years", 10, 10, True),
        ("insurance_years", 20, 20, True),
        ("cooling_off_days", 15, 15, True),
    ]


def test_mismatches() -> None:
    assert _checks("保费1.5万元，犹豫期为十天。保险期间十年。") == [
        ("premium", 15000, 12000, False),
        ("cooling_off_days", 10, 15, False),
        ("insurance_years", 10, 20, False),
    ]


def test_numbers_without_punctuation_use_the_nearest_keyword() -> None:
    assert _checks("交费期间10年保险期间20年") == [
        ("payment_years", 10, 10, True),
        ("insurance_years", 20, 20, True),
    ]


def test_keywords_after_the_number() -> None:
    assert _checks("您只需要交十年，一共二十年的保障") == [
        ("payment_years", 10, 10, True),
        ("insurance_years", 20, 20, True),
    ]
    assert _checks("十五天的犹豫期", "分10年交") == [
        ("cooling_off_days", 15, 15, True),
        ("payment_years", 10, 10, True),
    ]


def test_premium_without_yuan_and_other_amounts() -> None:
    assert _checks("保费一万二") == [("premium", 12000, 12000, True)]
    # 保额 / 身故保险金 amounts are not the premium; ages, ordinals and calendar years are ignored.
    assert _checks("基本保额50万元，身故保险金100万元，第一年，2026年，60周岁") == []


def test_whole_life_policy() -> None:
    whole_life = Policy.from_dict({**POLICY.to_dict(), "insurance_years": None})
    checks = check_numbers(
        build_stream([Utterance("salesperson", 0.0, 3.0, "保险期间为二十年")]), whole_life
    )
    assert [(c.kind, c.spoken, c.expected, c.matches, c.expected_text) for c in checks] == [
        ("insurance_years", 20, None, False, "终身")
    ]
    assert _checks("保险期间为终身", policy=whole_life) == []


def test_kinds_the_policy_leaves_empty_are_skipped() -> None:
    bare = Policy(customer_name="张三", customer_id_number="x", product_name="p")
    assert _checks("保费一万二千元，交费期间十年，犹豫期十五天", policy=bare) == [
        ("cooling_off_days", 15, 15, True)
    ]


def test_check_record_times_and_context() -> None:
    utts = [Utterance("salesperson", 0.0, 4.0, "犹豫期十五天")]
    (c,) = check_numbers(build_stream(utts), POLICY)
    assert (c.start_s, c.end_s, c.text, c.context, c.unit) == (2.0, 4.0, "15天", "犹豫期15天", "天")
    assert c.expected_text == "15天"
