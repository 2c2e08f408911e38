"""Which policy field a spoken number states: the premium, the cooling-off days, the insurance
period or the payment period, from the keyword nearest before it or the words right after it.

Keywords of 2+ characters are matched on toneless pinyin (犹豫七 and 犹豫7 are 犹豫期).
``spoken_numbers.check_numbers`` compares the numbers so classified with the policy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from inspection.number_readings import NUMERALS as NUMERAL_CHARS
from inspection.number_readings import numeral_homophones, syllables
from inspection.quantities import Quantity, find_quantities
from inspection.transcript import TextStream

__all__ = ["KEYWORDS", "RESTATE_WORDS", "Keyword", "NumberKind", "classify", "classify_number"]

NumberKind = Literal["premium", "cooling_off_days", "insurance_years", "payment_years"]

#: Keyword → what a number right after it means (None: a number we do not check, e.g. 保额).
KEYWORDS: dict[str, NumberKind | None] = {
    "保费": "premium", "保险费": "premium", "每年交": "premium", "每年缴": "premium",
    "年交": "premium", "年缴": "premium", "每年": "premium", "每期": "premium", "每月": "premium",
    "月交": "premium", "月缴": "premium", "首期": "premium", "趸交": "premium", "交费": "premium",
    "缴费": "premium",
    "犹豫期": "cooling_off_days", "冷静期": "cooling_off_days",
    "保险期间": "insurance_years", "保险期限": "insurance_years", "保险期": "insurance_years",
    "保障期间": "insurance_years", "保障期限": "insurance_years", "保障期": "insurance_years",
    "保障": "insurance_years", "保至": "insurance_years",
    "交费期间": "payment_years", "缴费期间": "payment_years", "交费期": "payment_years",
    "缴费期": "payment_years", "交费年限": "payment_years", "缴费年限": "payment_years",
    "交": "payment_years", "缴": "payment_years", "连续交": "payment_years",
    # Numbers after these are other amounts: they must not be read as the premium.
    "保额": None, "保险金额": None, "基本保额": None, "现金价值": None, "保险金": None,
    "身故": None, "赔付": None, "给付": None, "收益": None, "分红": None, "账户": None,
    "退还": None, "贷款": None, "最高": None, "年龄": None, "周岁": None, "岁": None,
}  # fmt: skip

# Right after the number (no pause between): "10年交", "10年缴清" → payment; "20年的保障" → cover.
_AFTER: tuple[tuple[re.Pattern[str], NumberKind], ...] = (
    (re.compile(r"^(期)?(交|缴)(?!费期|费年)"), "payment_years"),
    (re.compile(r"^(的)?保障(?!期)"), "insurance_years"),
    (re.compile(r"^(的)?(犹豫期|冷静期)"), "cooling_off_days"),
)
#: Two-character words after a number, matched on pinyin (焦清 is 交清, 宝障 is 保障). Single
#: characters are not: 较 sounds like 交, and "二十年较长" is no payment period.
_AFTER_WORDS = ("交清", "交齐", "交完", "缴清", "缴齐", "缴完", "保障", "期交", "期缴")


@dataclass(frozen=True)
class Keyword:
    word: str
    kind: NumberKind | None
    heard: str  # the characters it was recognised as (犹豫七)
    absorbed: bool  # its last syllable is the number's first character
    end: int = 0  # source position just after it


def _keyword_before(source: str, s0: int, window: int) -> Keyword | None:
    """The keyword ending closest before source position ``s0`` within ``window`` chars, longest
    on ties. Keywords of 2+ characters match on pinyin and may end on the number's first
    character (犹豫七十五天: 犹豫期 + 十五天); single characters (交, 岁) match exactly."""
    found = _keywords_before(source, s0, window)
    return found[0] if found else None


def _keywords_before(source: str, s0: int, window: int) -> list[Keyword]:
    """Every keyword ending before ``s0`` within ``window`` chars, closest (then longest) first."""
    lo = max(0, s0 - window)
    heard = syllables(source[lo : s0 + 1])
    hits: list[tuple[int, int, str]] = []
    for kw in KEYWORDS:
        n = len(kw)
        last = s0 + 1 if n >= 2 else s0
        for e in range(last, lo + n - 1, -1):
            if n >= 2:
                hit = heard[e - n - lo : e - lo] == syllables(kw)
            else:
                hit = source[e - n : e] == kw
            if hit:
                hits.append((e, n, kw))
                break
    hits.sort(reverse=True)
    return [
        Keyword(kw, KEYWORDS[kw], source[e - n : e], absorbed=e > s0, end=e) for e, n, kw in hits
    ]


#: Characters after a number read for the words right after it (``_AFTER``, ``_AFTER_WORDS``).
_AFTER_CHARS = 6
#: A bare number stated by the keyword before it (``_bare_after_keyword``): at most this many
#: characters between them, and at least ``_BARE_MIN_CHARS`` numeral characters after a
#: keyword of two or more (8b734a0, the misstated-premium harness).
_BARE_GAP = 1
_BARE_MIN_CHARS = 2


_AFTER_LEADS = (
    "之内为",
    "之内是",
    "以内为",
    "以内是",
    "内为",
    "内是",
    "之内",
    "以内",
    "的",
    "为",
    "是",
)


def _after_text(text: str) -> str:
    """``text`` with a homophone of one of ``_AFTER_WORDS`` at its start (after an optional
    的) written as that word (焦清 → 交清, 的宝障 → 的保障), so the patterns of ``_AFTER``
    match what ASR made of them."""
    lead = 1 if text.startswith("的") else 0
    head = text[lead : lead + 2]
    for word in _AFTER_WORDS:
        if len(head) == 2 and syllables(head) == syllables(word):
            return text[:lead] + word + text[lead + 2 :]
    return text


def _keyword_after(source: str, s1: int) -> NumberKind | None:
    """犹豫期 / 冷静期 right after the number (十五天的犹豫七), on pinyin."""
    rest = source[s1 : s1 + 7]
    # 十五天的犹豫期, 十五日内为犹豫期, 十五天之内是犹豫期 (each on pinyin: 内为 heard as 内位)
    for lead in _AFTER_LEADS:
        if syllables(rest[: len(lead)]) == syllables(lead):
            rest = rest[len(lead) :]
            break
    for kw in ("犹豫期", "冷静期"):
        if syllables(rest[:3]) == syllables(kw):
            return "cooling_off_days"
    return None


def classify_number(stream: TextStream, q: Quantity, window: int) -> NumberKind | None:
    """What a quantity in the stream states, from the words around it; None when unrelated."""
    found = classify(stream, q, window, find_quantities(stream.text, stream.pauses))
    return None if found is None else found[0]


def _taken(stream: TextStream, kw: Keyword, q: Quantity, others: Sequence[Quantity]) -> bool:
    """Another number of the keyword's kind stands between the keyword and ``q``: the keyword
    stated that one ("每期保费8600元25元": 25元 is not the premium; a keyword states one value
    per sentence, and a bare second number after it is something else, often a misheard
    word such as 要交五年 heard as 25元). A number restated (``_restated``) is no other one."""
    if kw.kind is None:
        return False
    source = stream.source or stream.text
    q0, _ = stream.source_span(q.start, q.end)
    for o in _numbers_before(q, others):
        s0, s1 = stream.source_span(o.start, o.end)
        if s0 < kw.end or _restated(source[s1:q0]):
            continue
        if _unit_fits(kw.kind, o) or _bare_after_keyword(kw, o, s0):
            return True
    return False


def _numbers_before(q: Quantity, others: Sequence[Quantity]) -> list[Quantity]:
    """The leading run of ``others`` (in text order) that ends before ``q`` starts."""
    out: list[Quantity] = []
    for o in others:
        if o.end > q.start or o.start >= q.start:
            break
        out.append(o)
    return out


def _bare_after_keyword(kw: Keyword, o: Quantity, s0: int) -> bool:
    """A bare number (no unit, no 第) right after the keyword (at source position ``s0``, at
    most one character after it): its unit was misheard (保险期间二十撵，交费十年: 二十 is the
    insurance period, 十年 is not)."""
    return o.unit == "" and not o.ordinal and _long_enough(kw, o) and s0 - kw.end <= _BARE_GAP


def _long_enough(kw: Keyword, o: Quantity) -> bool:
    """Two characters at least after a word (the 一 of 犹豫期一共 is no number); any after a
    one-character keyword (交十蔫，保二十年: 十 is the period)."""
    return len(o.text) >= _BARE_MIN_CHARS or len(kw.word) == 1


#: Words between two numbers that make the second a restatement of the same value (said
#: twice, once wrong: "每期交一万二千元，就是说一万五千元" / "一万五，哦不对，是一万二"): the
#: second is checked too, not taken for another number.
RESTATE_WORDS = (
    "就是说", "也就是", "就是", "不对", "说错", "应该是", "我是说", "口误", "更正", "准确地说",
    "确切地说", "换句话说",
)  # fmt: skip


RESTATE_REACH = 8


def _restated(between: str) -> bool:
    heard = syllables(between)
    for w in RESTATE_WORDS:
        target, n = syllables(w), len(w)
        if any(heard[i : i + n] == target for i in range(len(between) - n + 1)):
            return True
    return False


def _amount_follows(stream: TextStream, pos: int, others: Sequence[Quantity]) -> bool:
    """A number starts right after text position ``pos`` (within two characters, no pause;
    or directly after a pause, as when the recogniser ends a segment on 一年交 and starts
    the next with 1.2万元): "一年交一万二千元" says what is paid per year. Also when ASR
    turned its first numeral into a homophone that does not parse (一年交以万两千: 以 for 一)."""
    for o in others:
        if pos <= o.start <= pos + 2 and (o.start == pos or not stream.has_break(pos, o.start + 1)):
            return _unit_fits("premium", o)
    head = stream.text[pos : pos + 2]
    return (
        len(head) == 2
        and bool(numeral_homophones(head[0]))
        and (head[1].isdigit() or head[1] in NUMERAL_CHARS)
        and not stream.has_break(pos, pos + 1)
    )


_Found = tuple[NumberKind, Keyword | None]


@dataclass(frozen=True)
class _Decision:
    """What a rule of ``classify`` decided: the kind found, or None (the number states no
    field we check). A rule returns no decision at all when it does not apply."""

    found: _Found | None


def _word_after(stream: TextStream, q: Quantity, others: Sequence[Quantity]) -> _Decision | None:
    """The words right after the number, with no pause between (10年交, 20年的保障): the first
    of ``_AFTER`` that matches with a unit fitting its kind; "一年交一万二" says what is paid
    per year (no period). Then 犹豫期 / 冷静期 after it (十五天的犹豫期)."""
    if stream.has_break(q.end, q.end + 1):
        return None
    after = _after_text(stream.text[q.end : q.end + _AFTER_CHARS])
    for pattern, kind in _AFTER:
        m = pattern.match(after)
        if m and _unit_fits(kind, q):
            if kind == "payment_years" and _amount_follows(stream, q.end + m.end(), others):
                return _Decision(None)
            return _Decision((kind, None))
    _, s1 = stream.source_span(q.start, q.end)
    after_kind = _keyword_after(stream.source or stream.text, s1)
    if after_kind is not None and _unit_fits(after_kind, q):
        return _Decision((after_kind, None))
    return None


def _word_before(
    stream: TextStream, q: Quantity, window: int, others: Sequence[Quantity]
) -> _Decision | None:
    """The closest keyword before the number that can state such a number (每期交680元: 交 is
    a period's keyword, 元 is not a period, so 每期 says what it is); another amount's keyword
    stops the search, and so does a keyword that already stated another number (``_taken``)."""
    s0, _ = stream.source_span(q.start, q.end)
    for found in _keywords_before(stream.source or stream.text, s0, window):
        if found.kind is None:
            return _Decision(None)
        if _unit_fits(found.kind, q):
            if _taken(stream, found, q, others):
                return _Decision(None)
            return _Decision((found.kind, found))
    return None


def classify(
    stream: TextStream, q: Quantity, window: int, others: Sequence[Quantity] = ()
) -> tuple[NumberKind, Keyword | None] | None:
    """What the quantity ``q`` states (``others``: the stream's quantities), from the words
    right after it, else the keyword before it (within ``window`` characters), else the
    number it restates; None when unrelated."""
    decision = _word_after(stream, q, others) or _word_before(stream, q, window, others)
    if decision is not None:
        return decision.found
    return _restatement(stream, q, window, others)


def _restatement(
    stream: TextStream, q: Quantity, window: int, others: Sequence[Quantity]
) -> tuple[NumberKind, Keyword | None] | None:
    """The kind of the number ``q`` restates (一万一千五百元，哦不对，是一万二千元: the second
    is the premium too, though its keyword is out of reach): the number right before it, with
    a restating word between them (``RESTATE_WORDS``, within ``RESTATE_REACH`` characters)."""
    before = [o for o in others if o.end <= q.start]
    if not before:
        return None
    o = before[-1]
    source = stream.source or stream.text
    _, o1 = stream.source_span(o.start, o.end)
    q0, _ = stream.source_span(q.start, q.end)
    if q0 - o1 > RESTATE_REACH or not _restated(source[o1:q0]):
        return None
    found = classify(stream, o, window, [x for x in others if x.end <= o.start])
    if found is None or not _unit_fits(found[0], q):
        return None
    return found


def _unit_fits(kind: NumberKind, q: Quantity) -> bool:
    if q.ordinal:
        return False
    if kind == "premium":
        # "保费一万二" leaves out 元; a bare number that large can only be money.
        return q.unit == "元" or (q.unit == "" and q.value >= 100)
    if kind == "cooling_off_days":
        return q.unit == "天"
    return q.unit == "年" and q.value < 150
