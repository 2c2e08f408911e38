"""Spoken numbers through ASR homophones, generated over keywords x wordings x numbers x
Chinese/Arabic digits x Simplified/Traditional: keywords match on pinyin (犹豫七, 犹豫7), a
number is a mismatch only when no homophone reading equals the policy value (位是5天 may be
为十五天), and each check carries the word probability it rests on."""

from __future__ import annotations

import itertools

import pytest
import zhconv

from inspection.number_readings import numeral_homophones, readings
from inspection.numerals import to_chinese
from inspection.policy import Policy
from inspection.speech import Utterance, Word
from inspection.spoken_numbers import NumberCheck, check_numbers
from inspection.transcript import build_stream

POLICY = Policy(
    customer_name="张三",
    customer_id_number="11010519491231002X",
    product_name="安康终身寿险",
    premium=12000,
    payment_years=10,
    insurance_years=20,
    cooling_off_days=15,
)
# 犹豫期 as Whisper wrote it: right, homophones, Arabic 7, Traditional.
COOLING_HEARD = ("犹豫期", "犹豫七", "犹豫7", "犹豫其", "由于期", "猶豫期", "冷静期", "冷静七")
WORDINGS = ("{kw}为{n}天", "{kw}{n}天", "本产品有{kw}，{n}天", "{kw}一共{n}天")
DAYS = (10, 15, 20, 30)


def _check(text: str, policy: Policy = POLICY, p: float = 0.9) -> list[NumberCheck]:
    u = Utterance("salesperson", 0.0, 6.0, text, [Word(0.0, 6.0, text, p)])
    return check_numbers(build_stream([u]), policy)


def _digits(n: int, arabic: bool) -> str:
    return str(n) if arabic else to_chinese(n)


@pytest.mark.parametrize(
    ("kw", "wording", "days", "arabic"),
    list(itertools.product(COOLING_HEARD, WORDINGS, DAYS, (False, True))),
)
def test_cooling_off_keyword_heard_as_homophone_is_attributed(
    kw: str, wording: str, days: int, arabic: bool
) -> None:
    text = wording.format(kw=kw, n=_digits(days, arabic))
    checks = _check(text)
    assert [c.kind for c in checks] == ["cooling_off_days"], text
    (c,) = checks
    # A wrongly stated period is caught, a right one passes.
    assert c.matches == (days == 15), (text, c)
    if days != 15:
        assert c.spoken == days, (text, c)


@pytest.mark.parametrize(
    ("kind", "keyword", "unit", "value"),
    [
        *(("cooling_off_days", kw, "天", v) for kw in ("犹豫期", "冷静期") for v in range(11, 20)),
        *(("payment_years", "交费期间", "年", v) for v in range(11, 20)),
        *(("insurance_years", "保险期间", "年", v) for v in range(11, 20)),
    ],
)
@pytest.mark.parametrize("heard_for", ["位是", "为是", "为时", "位事"])
@pytest.mark.parametrize("script", ["zh-cn", "zh-tw"])
def test_shi_heard_as_a_homophone_is_no_mismatch(
    kind: str, keyword: str, unit: str, value: int, heard_for: str, script: str
) -> None:
    # "为十五天" came out as "位是5天": 是 may be 十, so 5 is not a mismatch with 15.
    policy = Policy.from_dict(
        {**POLICY.to_dict(), "cooling_off_days": value, "payment_years": value}
        | {"insurance_years": value}
    )
    text = str(zhconv.convert(f"{keyword}{heard_for}{value - 10}{unit}", script))
    (c,) = _check(text, policy)
    assert (c.kind, c.matches, c.spoken) == (kind, True, value), (text, c)
    assert value - 10 in c.readings  # what was recognised stays on record


@pytest.mark.parametrize("days", [10, 20, 30, 7])
@pytest.mark.parametrize("kw", ["犹豫七", "犹豫7"])
def test_keyword_syllable_inside_the_number_still_catches_a_wrong_period(
    days: int, kw: str
) -> None:
    # 犹豫期十天 heard as 犹豫七十天 (70): the period is 10 days, which is wrong, and said so.
    (c,) = _check(f"{kw}{to_chinese(days)}天")
    assert (c.matches, c.spoken) == (False, days)


@pytest.mark.parametrize("p", [0.05, 0.2, 0.49, 0.9])
def test_checks_carry_the_word_probability(p: float) -> None:
    (c,) = _check("犹豫期为十天", p=p)
    assert not c.matches and c.confidence == pytest.approx(p)


@pytest.mark.parametrize("ch", ["是", "时", "事", "十", "四"])
def test_numeral_homophones_of_shi(ch: str) -> None:
    assert "十" in numeral_homophones(ch) or ch == "十"
    assert "四" in numeral_homophones(ch) or ch == "四"


@pytest.mark.parametrize(("ch", "numeral"), [("期", "七"), ("以", "一"), ("已", "一"), ("7", "七")])
def test_numeral_homophones(ch: str, numeral: str) -> None:
    assert numeral in numeral_homophones(ch)


def test_readings_start_with_what_was_recognised() -> None:
    assert [r.value for r in readings("七十五", absorbed=True)][:2] == [75, 15]
    assert [r.value for r in readings("5", before="位是")] == [5, 15]
    assert [r.value for r in readings("12000")] == [12000]


@pytest.mark.parametrize(
    "decoded",
    [
        # Whisper base without a prompt on "您每年的保费为12000元，本产品有15天的犹豫期。"
        # (scripts/bench_asr.py): Traditional characters, Arabic digits, 犹豫期 → 猶豫器.
        "你每年的寶貝為一萬兩千元,奔產品又15天的猶豫器。",
        "每年的保費位1萬2000元,奔產品又15天的猶豫器。",
        "一每年的保費位1萬2000元,分產品又15天的猶豫器。",
    ],
)
def test_recorded_decodes_without_prompt(decoded: str) -> None:
    policy = Policy(customer_name="张三", customer_id_number="x", product_name="p", premium=12000)
    got = [(c.kind, c.spoken, c.matches) for c in _check(decoded, policy)]
    assert got == [("premium", 12000, True), ("cooling_off_days", 15, True)]
