"""Spoken numbers vs policy data over the class of ways a value is stated (issue 7 class 4,
issue 11 class 2): each phrasing x numeral form said right gives no finding; stated wrong and
heard clearly it fails, also when another character of the number was unsure (dev06); one
unsure numeral that alone separates it from the policy's value is review at most; a number a
keyword already stated, or a rate (一年交…), is not the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from inspection.number_attribution import attribute_numbers
from inspection.number_doubt import mismatch_doubt
from inspection.rules import number_findings
from inspection.script import analyze
from inspection.script_stage import _number
from inspection.speech import Utterance, Word
from inspection.spoken_numbers import NumberCheck, check_numbers
from inspection.templates import load_template, render
from inspection.transcript import build_stream
from tests.corpus_policies import base_policies
from tests.test_number_attribution import POLICY

TEMPLATES = Path(__file__).parent / "data" / "templates"

NODES = render(load_template("traditional_life"), POLICY)

# (node, field, phrasing): the main product states 12000 a year, 10 years, 20 years; 15 days.
PHRASINGS = [
    ("premium", "premium", "您每年需要交保费{n}元"),
    ("premium", "premium", "保费是每年{n}块"),
    ("premium", "premium", "一年交{n}块钱"),
    ("premium", "premium", "每期缴纳保险费{n}元，请您知悉"),
    ("premium", "payment", "需要连续交{n}年"),
    ("premium", "payment", "分{n}年交清"),
    ("premium", "insurance", "保险期间为{n}年"),
    ("premium", "insurance", "提供{n}年的保障"),
    ("cooling_off", "days", "您有{n}天的犹豫期"),
    ("cooling_off", "days", "签收后{n}日内为犹豫期"),
]
RIGHT = {"premium": 12000, "payment": 10, "insurance": 20, "days": 15}
WRONG = {"premium": 15000, "payment": 20, "insurance": 30, "days": 10}
FORMS = {
    12000: ("一万二千", "一万两千", "12000", "1万2000"),
    15000: ("一万五千", "15000"),
    10: ("十", "10"),
    15: ("十五", "15"),
    20: ("二十", "20"),
    30: ("三十", "30"),
}


def findings(text: str, node: str, probs: dict[str, float] | None = None) -> list[str]:
    """Severities of the number findings for ``text`` said in ``node``; every character is a
    word at p 0.95 unless ``probs`` gives it its own (Arabic numbers are one word)."""
    words, t, i = [], 0.0, 0
    while i < len(text):
        j = i + 1
        while text[i].isdigit() and j < len(text) and text[j].isdigit():
            j += 1
        token = text[i:j]
        words.append(Word(t, t + 0.2, token, (probs or {}).get(token, 0.95)))
        t, i = t + 0.2, j
    u = Utterance("salesperson", 0.0, t, text, words)
    checks = [replace(c, node_id=node) for c in check_numbers(build_stream([u]), POLICY)]
    return [f.severity for f in number_findings([_number(c) for c in _att(checks)])]


def _att(checks: list[NumberCheck]) -> list[NumberCheck]:
    return attribute_numbers(checks, NODES, POLICY)


def _cases(values: dict[str, int]) -> list[tuple[str, str]]:
    return [
        (node, phr.format(n=form))
        for (node, field, phr) in PHRASINGS
        for form in FORMS[values[field]]
    ]


@pytest.mark.parametrize(("node", "text"), _cases(RIGHT))
def test_a_value_said_right_gives_no_finding(node: str, text: str) -> None:
    assert findings(text, node) == []


@pytest.mark.parametrize(("node", "text"), _cases(WRONG))
def test_a_value_stated_wrong_and_heard_clearly_fails(node: str, text: str) -> None:
    assert findings(text, node) == ["fail"]


@pytest.mark.parametrize("weak", ["一", "万"])
def test_a_clear_misstatement_fails_though_another_character_was_unsure(weak: str) -> None:
    # dev06: 一万五千 for 12000, 一 heard at 0.11 and 五 at 0.99: no error of 一 (or 万) can
    # make it 12000, only one of 五 can, and 五 was heard clearly.
    assert findings("交费方式是年交，每期交一万五千元", "premium", {weak: 0.11}) == ["fail"]


@pytest.mark.parametrize(
    ("text", "probs"),
    [
        ("保险期间为三十年", {"三": 0.6}),  # 二十 heard as 三十, 三 unsure
        ("每期保费一万五千元", {"五": 0.5}),
        ("您有10天的犹豫期", {"10": 0.37}),  # dev07: one Arabic token, unsure
    ],
)
def test_one_unsure_numeral_that_alone_makes_the_mismatch_is_review(
    text: str, probs: dict[str, float]
) -> None:
    node = "cooling_off" if "犹豫" in text else "premium"
    assert findings(text, node, probs) == ["review"]


def test_a_number_after_the_value_its_keyword_stated_is_not_that_field() -> None:
    # dev09: 要交五年 heard as 25元 right after the premium: 保费 stated 8600元, not 25元.
    assert findings("每期保费12000元25元保障期间为20年", "premium") == []
    # A second premium of its own keyword is still checked.
    assert findings("每期保费12000元，每年交25000元", "premium") != []


@pytest.mark.parametrize("amount", ["一万两千", "12000", "以万两千"])
def test_a_rate_per_year_is_not_the_payment_period(amount: str) -> None:
    # 一年交一万二千: one year is what the amount is paid per, not a payment period of 1 year.
    assert findings(f"一年交{amount}块钱", "premium") == []


def test_misstated_days_before_the_word_for_the_period_are_found() -> None:
    assert findings("签收后十日内为犹豫期", "cooling_off") == ["fail"]
    assert findings("签收后十日之内位犹豫七", "cooling_off") == ["fail"]


@pytest.mark.parametrize(
    ("heard", "probs", "expected", "edits", "sure"),
    [
        ("一万五千", (0.11, 0.88, 0.99, 1.0), 12000.0, 2, 0.893),  # 一 and 万 together
        ("一万五千", (0.95, 0.95, 0.99, 1.0), 12000.0, 1, 0.99),  # only 五 -> 二
        ("三十", (0.6, 0.99), 20.0, 1, 0.6),
        ("十二十", (0.77, 0.99, 0.99), 20.0, 1, 0.77),  # the first 十 a syllable too many
        ("35", (0.7, 0.7), 20.0, 2, 0.91),
    ],
)
def test_mismatch_doubt_rests_on_the_most_plausible_misheard_characters(
    heard: str, probs: tuple[float, ...], expected: float, edits: int, sure: float
) -> None:
    d = mismatch_doubt(heard, probs, expected, 0.5)
    assert (d.edits, d.confidence) == (edits, pytest.approx(sure, abs=0.002))


def test_a_numeral_without_its_first_digit_reads_with_the_near_sound_before_it() -> None:
    # dev15: 八千六百 heard as 达千六百 (达 da for 八 ba; an amount does not start with 千).
    from inspection.number_readings import readings

    assert 8600 in [r.value for r in readings("千六百", "宝贝达")]
    assert [r.value for r in readings("千", "他")] == [1000, 8000]  # 他 ta ~ 八 ba
    # A numeral that has its first digit keeps it; a word far from any numeral adds nothing.
    assert 8600 not in [r.value for r in readings("六千六百", "宝贝达")]
    assert [r.value for r in readings("千六百", "保费")] == [1600]


def test_a_word_after_a_period_that_only_sounds_like_jiao_is_no_payment() -> None:
    # 较 (jiao) after 二十年 is "rather": not 交, so not a payment period of 20 years.
    assert findings("保险期间为二十年较为合适", "premium") == []
    assert findings("分十五年焦清", "premium") == ["fail"]  # 焦清 is 交清: 15 years, not 10


# -- Run boundaries: where a number ends (dev probes: ASR drops the comma and 元) ------------


def segmented(parts: list[str], node: str = "premium") -> list[str]:
    """Severities for ``parts`` heard as consecutive recogniser segments (0.5 s apart)."""
    utts, t = [], 0.0
    for part in parts:
        words = []
        for ch in part:
            words.append(Word(t, t + 0.2, ch, 0.95))
            t += 0.25
        utts.append(Utterance("salesperson", words[0].start_s, words[-1].end_s, part, words))
        t += 0.5
    checks = [replace(c, node_id=node) for c in check_numbers(build_stream(utts), POLICY)]
    return [f.severity for f in number_findings([_number(c) for c in _att(checks)])]


_AMOUNTS = {12000: ("一万两千", "12000", "1万2000", "一萬兩千"), 15000: ("一万五千", "15000")}
# What follows the amount without 元: a word starting with 一, a period in Arabic digits.
_FOLLOWERS = ("一共交十年", "一定要按时交", "10年交清", "二十年的保障")


def _bounded(value: int) -> list[list[str]]:
    out = []
    for amount in _AMOUNTS[value]:
        for after in _FOLLOWERS:
            out.append([f"每期交{amount}，{after}"])  # comma
            if after.startswith("一"):  # no punctuation (digits into digits: no telling)
                out.append([f"每期交{amount}{after}"])
            out.append([f"每期交{amount}", after])  # a new recogniser segment
    return out


@pytest.mark.parametrize("parts", _bounded(12000))
def test_an_amount_without_yuan_ends_before_the_next_word_or_segment(parts: list[str]) -> None:
    # 一万两千，一共交十年 read as 12100 (一 of 一共 taken for the last numeral); 12000|10年
    # as 1200010 years; 10000一共 as nothing at all.
    assert segmented(parts) == []


@pytest.mark.parametrize("parts", _bounded(15000))
def test_a_wrong_amount_without_yuan_before_the_next_word_is_found(parts: list[str]) -> None:
    assert segmented(parts) == ["fail"]


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (["每期交一万", "五千元"], ["fail"]),
        (["每期交一万", "两千元"], []),
        (["每期交1万", "2000元"], []),
        (["每期保费十二", "万元"], ["fail"]),  # 120000
        (["保险期间为二", "十年"], []),
        (["保费12,000元"], []),
        (["保费15 000元"], ["fail"]),
    ],
)
def test_a_number_split_after_wan_or_in_thousands_stays_one(
    parts: list[str], expected: list[str]
) -> None:
    assert segmented(parts) == expected


# -- Said twice, once right and once wrong ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "每期保费一万两千元，就是说一万五千元",
        "每期保费12000元，也就是15000元，交十年",
        "每期保费一万二千元，哦不对，应该是一万五千元",
        "每期保费一万五千元，哦不对，是一万二千元",
        "首期保费一万五千元，哦不兑，失一万两千元",  # 不对 / 是 misheard
        "年交保费1万5000元，说错了，是一万二千元",
    ],
)
def test_a_premium_said_twice_once_wrong_is_found(text: str) -> None:
    # The second number after the keyword was taken for another number (dev09's 25元), so a
    # wrong restatement passed; a wrong first statement failed though it was corrected.
    assert findings(text, "premium") == ["review"]


def test_a_second_bare_number_right_after_the_value_is_still_not_the_field() -> None:
    assert findings("每期保费12000元25元保障期间为20年", "premium") == []
    assert findings("保险期间二十撵，交费十年", "premium") == []  # 二十 (年 misheard) took it


# -- The premium node in the insurer's own words, not found by the alignment ---------------

DEV_POLICY = base_policies()["a"]  # 12000 a year, 10 years, 20 years, 15 days
DEV_NODES = render(load_template(TEMPLATES / "insurer_dev.yaml"), DEV_POLICY)


def session_numbers(
    own: dict[str, str],
) -> tuple[dict[str, bool], list[tuple[str | None, str, float, bool]]]:
    """Every salesperson node of the dev template read as written, except ``own`` (node id ->
    what was said instead): (covered per node, (node, kind, spoken, matches) per number)."""
    utts, t = [], 2.0
    for n in DEV_NODES:
        if n.speaker != "salesperson":
            continue
        text = own.get(n.id, n.text)
        words = []
        for ch in text:
            words.append(Word(round(t, 2), round(t + 0.22, 2), ch, 0.95))
            t += 0.25
        utts.append(Utterance("salesperson", words[0].start_s, words[-1].end_s, text, words))
        t += 3.6
    res = analyze(DEV_NODES, utts, [], policy=DEV_POLICY)
    covered = {a.node_id: a.covered for a in res.nodes}
    return covered, [(c.node_id, c.kind, c.spoken, c.matches) for c in res.numbers]


OWN_PREMIUM = (
    "保险期间{i}，交费{p}，每年需交保费{n}元。",
    "保限期间{i}，焦费{p}，没年需交宝费{n}元。",  # homophones of 险/交/每/保
    "您这个保单呢一年交{n}块钱，交{p}，保{i}。",
    "那么您这个呢，一年交{n}块钱",
)


@pytest.mark.parametrize("wording", OWN_PREMIUM)
def test_a_misstated_premium_in_a_node_not_found_is_still_compared(wording: str) -> None:
    # Said where the premium node belongs (between the nodes found around it), in words
    # the alignment did not recognise: the number was dropped as said outside every node.
    covered, numbers = session_numbers(
        {"premium": wording.format(n="一万五千", p="十年", i="二十年")}
    )
    assert not covered["premium"]
    assert ("premium", "premium", 15000, False) in numbers


@pytest.mark.parametrize("wording", OWN_PREMIUM)
def test_a_right_premium_in_a_node_not_found_matches(wording: str) -> None:
    _, numbers = session_numbers({"premium": wording.format(n="一万二千", p="十年", i="二十年")})
    assert [m for *_, m in numbers] == [True] * len(numbers)


def test_a_premium_in_the_slot_of_a_node_that_does_not_state_it_is_not_compared() -> None:
    covered, numbers = session_numbers({"surrender": "退了的话，保费一万元只能拿回一部分。"})
    assert not covered["surrender"]
    assert [n for n in numbers if n[1] == "premium"] == [("premium", "premium", 12000, True)]


@pytest.mark.parametrize("prob", [0.39, 0.77, 0.99])
def test_shi_heard_as_shi_ten_before_the_period_is_a_reading_of_it(prob: float) -> None:
    # "保险期间是二十年" heard as 保险期间十二十年 (是 -> 十; dev06, and a clean dev00 in the
    # salesperson-babble probe: a false review of 30 vs 20). 十二十 is no way to say a
    # value, so 是 + 二十 is read too; a wrong period after it is still found.
    assert findings("保险期间十二十年", "premium", {"十": prob}) == []
    assert findings("保险期间十三十年", "premium", {"十": prob}) != []
    assert findings("保险期间十五年", "premium") == ["fail"]  # 15 is said so: not 是五
