"""A stated number whose leading digit and magnitude word were misheard as other words right
before its digits (每期保费八千六百元 heard as 每期宝贝大坚600元, dev2 dev05) is never a sure
mismatch when those words, read as the numerals they sound like, give the policy's value: at
most a review, with ``doubt: magnitude_misheard`` and the reading in evidence. A wrong amount
said in clean words (六百元, 大概六百元, a leading digit said clearly) still fails.

Generated over the class: amounts x misheard leading words x how the rest is said, for the
premium, the payment and insurance periods and the cooling-off days."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from inspection.number_attribution import MAGNITUDE_MISHEARD, attribute_numbers
from inspection.policy import Policy
from inspection.rules import Finding, number_findings
from inspection.script_stage import _number
from inspection.spoken_numbers import check_numbers
from inspection.templates import load_template, render
from inspection.transcript import build_stream
from tests.mini_script import said

#: Sound-alikes of the leading numerals and magnitude words, as Whisper writes them: a
#: homophone ("same", which the homophone readings already match) or the same final after
#: a confusable initial ("near": 大 da / 八 ba, 坚 jian / 千 qian, 直 zhi / 十 shi).
SOUNDS = {
    "八": ("大", "把", "爸", "他"),
    "一": ("依", "衣"),
    "两": ("亮", "量"),
    "三": ("伞", "散"),
    "六": ("溜", "留"),
    "千": ("坚", "前", "钱", "签", "间"),
    "万": ("完", "晚", "碗"),
    "百": ("白", "摆", "拜"),
    "十": ("是", "时", "实", "直", "迟"),
}
#: (policy premium, its leading numerals, the rest as Arabic and as Chinese numerals).
AMOUNTS = [
    (8600, "八千", ("600", "六百")),
    (12000, "一万", ("2000", "两千")),
    (25000, "两万", ("5000", "五千")),
    (3500, "三千", ("500", "五百")),
    (6800, "六千", ("800", "八百")),
    (1800, "一千", ("800", "八百")),
    (860, "八百", ("60", "六十")),
]
#: How the premium keyword came out: as said, and as dev05's 每期宝贝 (保费 misheard).
PREMIUM_FRAMES = ("每期保费{}元", "每期宝贝{}元", "每年交{}元")


def _policy(premium: float = 8600, years: int = 10, cover: int = 20, days: int = 15) -> Policy:
    return Policy(
        customer_name="张三", customer_id_number="x", product_name="p", premium=premium,
        payment_method="年交", payment_years=years, insurance_years=cover, cooling_off_days=days,
    )  # fmt: skip


_NODE_OF = {
    "premium": "premium",
    "payment_years": "premium",
    "insurance_years": "premium",
    "cooling_off_days": "cooling_off",
}


def findings(text: str, policy: Policy, kind: str) -> list[Finding]:
    """The speech.number_mismatch findings of ``kind`` for ``text`` said clearly (every
    character at probability 0.95) in the node that states it."""
    stream = build_stream([said("salesperson", text, 0.0, 6.0, p=0.95)])
    checks = [c for c in check_numbers(stream, policy) if c.kind == kind]
    nodes = render(load_template("traditional_life"), policy)
    placed = [replace(c, node_id=_NODE_OF[c.kind]) for c in checks]
    return number_findings([_number(c) for c in attribute_numbers(placed, nodes, policy)])


def _misheard(lead: str) -> list[str]:
    """Ways ``lead`` (八千) comes out: each numeral as itself or one of its sound-alikes."""
    options = [(ch, *SOUNDS.get(ch, ())) for ch in lead]
    return ["".join(c) for c in itertools.product(*options) if "".join(c) != lead]


PREMIUM_CASES = [
    pytest.param(premium, frame.format(heard + rest), id=f"{premium}-{heard}{rest}-{i}")
    for premium, lead, rests in AMOUNTS
    for heard in _misheard(lead)
    for rest in rests
    for i, frame in enumerate(PREMIUM_FRAMES)
]
#: The periods and days: 十五 with its 十 heard as another word before the 5.
YEAR_CASES = [
    pytest.param(kind, frame.format(heard), id=f"{kind}-{heard}")
    for kind, frame in [
        ("payment_years", "交费期间为{}5年"),
        ("insurance_years", "保险期间为{}5年"),
        ("cooling_off_days", "本产品有{}5天的犹豫期"),
    ]
    for heard in SOUNDS["十"]
]


def _assert_no_sure_mismatch(found: list[Finding]) -> None:
    """No fail: the homophone readings match (no finding), or a review naming the reading."""
    assert all(f.severity == "review" for f in found), [f.evidence for f in found]
    for f in found:
        assert str(f.evidence["doubt"]).startswith(MAGNITUDE_MISHEARD), f.evidence


@pytest.mark.parametrize(("premium", "text"), PREMIUM_CASES)
def test_a_misheard_leading_part_of_the_premium_is_no_sure_mismatch(
    premium: float, text: str
) -> None:
    _assert_no_sure_mismatch(findings(text, _policy(premium), "premium"))


@pytest.mark.parametrize(("kind", "text"), YEAR_CASES)
def test_a_misheard_ten_before_the_years_or_days_is_no_sure_mismatch(kind: str, text: str) -> None:
    _assert_no_sure_mismatch(findings(text, _policy(years=15, cover=15, days=15), kind))


def test_dev05_premium_is_a_review_naming_the_reading() -> None:
    text = "产品年郊每期宝贝大坚600元要交5年保障期间为终"
    (f,) = findings(text, _policy(8600, years=5, cover=20), "premium")
    assert f.severity == "review"
    assert f.evidence["expected"] == 8600 and f.evidence["spoken"] == 600
    doubt = str(f.evidence["doubt"])
    assert doubt.startswith(MAGNITUDE_MISHEARD) and "八千" in doubt and "8600" in doubt


@pytest.mark.parametrize(
    ("premium", "text"),
    [
        (8600, "每期保费六百元"),  # a wrong amount in clean words
        (8600, "每期保费600元"),
        (8600, "每期保费大概六百元"),  # 大概 / 大约 are words said before amounts
        (8600, "每期保费大约600元"),
        (860, "每期保费大概六十元"),  # 大概 sounds like 八百, and 八百六十 would be the policy's
        (8600, "每期保费差不多六百元"),
        (8600, "每期保费大坚700元"),  # a near-sound reading that still is another value
        (8600, "每期保费白签600元"),  # 百千, not 八千
        (8600, "每期保费大坚6000元"),  # the heard part is no lower part of 八千
        (8600, "每期保费六千六百元"),  # a different leading digit said clearly
        (8600, "每期保费五千600元"),
        (12000, "每期保费一万五千元"),
        (12000, "每期保费是两千元"),
    ],
)
def test_a_wrong_premium_in_clean_words_still_fails(premium: float, text: str) -> None:
    (f,) = findings(text, _policy(premium), "premium")
    assert f.severity == "fail" and not f.evidence["doubt"], f.evidence


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("payment_years", "交费期间为5年"),
        ("insurance_years", "保险期间为大概5年"),
        ("cooling_off_days", "本产品有5天的犹豫期"),
        ("payment_years", "交费期间为直6年"),  # 十六, not the policy's 15
    ],
)
def test_wrong_years_or_days_in_clean_words_still_fail(kind: str, text: str) -> None:
    (f,) = findings(text, _policy(years=15, cover=15, days=15), kind)
    assert f.severity == "fail" and not f.evidence["doubt"], f.evidence


@pytest.mark.parametrize(
    ("kind", "policy", "text"),
    [
        # 前 is 千 and 是 is 十 by sound, but a numeral after them is the part below that
        # place: 千 + 7600 is no way to say 8600, nor 十 + 10 to say 20.
        ("premium", _policy(8600), "每期保费目前7600元"),
        ("premium", _policy(8600), "每期保费目前七千六百元"),
        ("premium", _policy(12000), "每年交之前11000元"),
        ("insurance_years", _policy(cover=20), "保险期间是10年"),
        ("cooling_off_days", _policy(days=25), "犹豫期是15天"),
    ],
)
def test_a_homophone_before_a_wrong_number_does_not_make_it_right(
    kind: str, policy: Policy, text: str
) -> None:
    (f,) = findings(text, policy, kind)
    assert f.severity == "fail" and not f.evidence["doubt"], f.evidence
