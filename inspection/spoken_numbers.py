"""Spoken numbers checked against the policy (R7, R9): the premium, the cooling-off days, the
insurance period and the payment period, each recognised by the keyword nearest before it.

Keywords are matched on toneless pinyin (犹豫七 and 犹豫7 are 犹豫期), a number counts as
different from the policy only when none of its homophone readings (number_readings) equals the
policy value, and each check carries the recognition probability it rests on.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from inspection.number_readings import NUMERALS as NUMERAL_CHARS
from inspection.number_readings import Reading, numeral_homophones, readings, syllable
from inspection.numbers import Quantity, find_quantities, format_value, numeral_end
from inspection.policy import Policy
from inspection.transcript import TextStream

NumberKind = Literal["premium", "cooling_off_days", "insurance_years", "payment_years"]
#: How the sentence uses a number: a policy value stated, a sum over products or years
#: (一共是十二万元), or a worked example (比如您每年交一万元...): only statements are
#: compared with the policy's value for the field.
Statement = Literal["statement", "sum", "example"]

#: Words that make the number right after them a sum (within ``SUM_REACH`` characters).
SUM_WORDS = (
    "一共", "总共", "合计", "共计", "累计", "总计", "加起来", "合起来", "加在一起", "总额",
    "合共", "共交", "总保费",
)  # fmt: skip
#: Words that make the rest of their sentence a worked example (within ``EXAMPLE_REACH``).
EXAMPLE_WORDS = (
    "比如", "例如", "假如", "假设", "举个例子", "举例", "打个比方", "比方说", "譬如", "好比",
)  # fmt: skip
#: Sum words that close their clause (两个加起来，每年交…): the sum may be in the next clause.
#: The others (一共, 合计) sum only what follows them in their own clause: "一共交十年，每年交
#: 一万五千元" states the premium.
CLAUSE_END_SUM_WORDS = ("加起来", "合起来", "加在一起")
SUM_REACH = 8
EXAMPLE_REACH = 24

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
_UNIT_OF: dict[NumberKind, str] = {
    "premium": "元",
    "cooling_off_days": "天",
    "insurance_years": "年",
    "payment_years": "年",
}


@dataclass(frozen=True)
class NumberCheck:
    """A number the salesperson said about the policy, and whether it equals the policy's."""

    kind: NumberKind
    spoken: float
    unit: str
    expected: float | None  # None: the policy has no value (insurance_years None = 终身)
    matches: bool
    start_s: float
    end_s: float
    text: str  # the number as recognised (normalised, e.g. "12000元")
    context: str  # the characters around it
    node_id: str | None = None  # the script node being read when it was said (set by script)
    confidence: float = 1.0  # lowest word probability of the number's characters (0-1)
    readings: tuple[float, ...] = ()  # every plausible value, as recognised first
    reading: str = "as recognised"  # how ``spoken`` was read from what was recognised
    keyword: str = ""  # the keyword that said what the number is, as recognised
    statement: Statement = "statement"  # or a sum, or a worked example
    options: tuple[Reading, ...] = ()  # ``readings`` with how each was read
    char_probs: tuple[float, ...] = ()  # recognition probability of each character of text
    product: str | None = None  # key of the product whose value it was compared with
    doubt: str = ""  # why a mismatch may be a recognition error (review, not fail)
    heard: str = ""  # the numeral as recognised (一万五千, 十二十, 15000), before rewriting
    heard_probs: tuple[float, ...] = ()  # recognition probability of each character of heard
    utterance: int = -1  # index of the recogniser segment it was heard in (-1: unknown)

    @property
    def expected_text(self) -> str:
        if self.kind == "insurance_years" and self.expected is None:
            return "终身"
        return "" if self.expected is None else format_value(self.expected) + self.unit


@functools.lru_cache(maxsize=256)
def _syllables(text: str) -> tuple[str, ...]:
    return tuple(syllable(c) for c in text)


@dataclass(frozen=True)
class _Keyword:
    word: str
    kind: NumberKind | None
    heard: str  # the characters it was recognised as (犹豫七)
    absorbed: bool  # its last syllable is the number's first character
    end: int = 0  # source position just after it


def _keyword_before(source: str, s0: int, window: int) -> _Keyword | None:
    """The keyword ending closest before source position ``s0`` within ``window`` chars, longest
    on ties. Keywords of 2+ characters match on pinyin and may end on the number's first
    character (犹豫七十五天: 犹豫期 + 十五天); single characters (交, 岁) match exactly."""
    found = _keywords_before(source, s0, window)
    return found[0] if found else None


def _keywords_before(source: str, s0: int, window: int) -> list[_Keyword]:
    """Every keyword ending before ``s0`` within ``window`` chars, closest (then longest) first."""
    lo = max(0, s0 - window)
    heard = _syllables(source[lo : s0 + 1])
    hits: list[tuple[int, int, str]] = []
    for kw in KEYWORDS:
        n = len(kw)
        last = s0 + 1 if n >= 2 else s0
        for e in range(last, lo + n - 1, -1):
            if n >= 2:
                hit = heard[e - n - lo : e - lo] == _syllables(kw)
            else:
                hit = source[e - n : e] == kw
            if hit:
                hits.append((e, n, kw))
                break
    hits.sort(reverse=True)
    return [
        _Keyword(kw, KEYWORDS[kw], source[e - n : e], absorbed=e > s0, end=e) for e, n, kw in hits
    ]


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
        if len(head) == 2 and _syllables(head) == _syllables(word):
            return text[:lead] + word + text[lead + 2 :]
    return text


def _keyword_after(source: str, s1: int) -> NumberKind | None:
    """犹豫期 / 冷静期 right after the number (十五天的犹豫七), on pinyin."""
    rest = source[s1 : s1 + 7]
    # 十五天的犹豫期, 十五日内为犹豫期, 十五天之内是犹豫期 (each on pinyin: 内为 heard as 内位)
    for lead in _AFTER_LEADS:
        if _syllables(rest[: len(lead)]) == _syllables(lead):
            rest = rest[len(lead) :]
            break
    for kw in ("犹豫期", "冷静期"):
        if _syllables(rest[:3]) == _syllables(kw):
            return "cooling_off_days"
    return None


def classify_number(stream: TextStream, q: Quantity, window: int) -> NumberKind | None:
    """What a quantity in the stream states, from the words around it; None when unrelated."""
    found = _classify(stream, q, window, find_quantities(stream.text, stream.pauses))
    return None if found is None else found[0]


def _taken(stream: TextStream, kw: _Keyword, q: Quantity, others: Sequence[Quantity]) -> bool:
    """Another number of the keyword's kind stands between the keyword and ``q``: the keyword
    stated that one ("每期保费8600元25元": 25元 is not the premium; a keyword states one value
    per sentence, and a bare second number after it is something else, often a misheard
    word such as 要交五年 heard as 25元)."""
    if kw.kind is None:
        return False
    source = stream.source or stream.text
    q0, _ = stream.source_span(q.start, q.end)
    for o in others:
        if o.end > q.start or o.start >= q.start:
            break
        s0, s1 = stream.source_span(o.start, o.end)
        if s0 < kw.end or _restated(source[s1:q0]):
            continue
        # Or a bare number right after the keyword: its unit was misheard (保险期间二十撵，
        # 交费十年: 二十 is the insurance period, 十年 is not).
        # (Two characters at least after a word, the 一 of 犹豫期一共 is no number; any after
        # 交: 交十蔫，保二十年.)
        long = len(o.text) >= 2 or len(kw.word) == 1
        bare = o.unit == "" and not o.ordinal and long and s0 - kw.end <= 1
        if _unit_fits(kw.kind, o) or bare:
            return True
    return False


#: Words between two numbers that make the second a restatement of the same value (said
#: twice, once wrong: "每期交一万二千元，就是说一万五千元" / "一万五，哦不对，是一万二"): the
#: second is checked too, not taken for another number.
RESTATE_WORDS = (
    "就是说", "也就是", "就是", "不对", "说错", "应该是", "我是说", "口误", "更正", "准确地说",
    "确切地说", "换句话说",
)  # fmt: skip


RESTATE_REACH = 8


def _restated(between: str) -> bool:
    heard = _syllables(between)
    for w in RESTATE_WORDS:
        target, n = _syllables(w), len(w)
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


def _classify(
    stream: TextStream, q: Quantity, window: int, others: Sequence[Quantity] = ()
) -> tuple[NumberKind, _Keyword | None] | None:
    after = _after_text(stream.text[q.end : q.end + 6])
    s0, s1 = stream.source_span(q.start, q.end)
    source = stream.source or stream.text
    if not stream.has_break(q.end, q.end + 1):
        for pattern, kind in _AFTER:
            m = pattern.match(after)
            if m and _unit_fits(kind, q):
                if kind == "payment_years" and _amount_follows(stream, q.end + m.end(), others):
                    return None  # 一年交一万二: what is paid per year, not a period
                return kind, None
        after_kind = _keyword_after(source, s1)
        if after_kind is not None and _unit_fits(after_kind, q):
            return after_kind, None
    # The closest keyword that can state such a number (每期交680元: 交 is a period's
    # keyword, 元 is not a period, so 每期 says what it is); another amount's stops the search.
    for found in _keywords_before(source, s0, window):
        if found.kind is None:
            return None
        if _unit_fits(found.kind, q):
            if _taken(stream, found, q, others):
                return None
            return found.kind, found
    return _restatement(stream, q, window, others)


def _restatement(
    stream: TextStream, q: Quantity, window: int, others: Sequence[Quantity]
) -> tuple[NumberKind, _Keyword | None] | None:
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
    found = _classify(stream, o, window, [x for x in others if x.end <= o.start])
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


def _expected(kind: NumberKind, policy: Policy) -> float | None:
    if kind == "premium":
        return policy.premium
    if kind == "cooling_off_days":
        return float(policy.cooling_off_days)
    if kind == "insurance_years":
        return None if policy.insurance_years is None else float(policy.insurance_years)
    return None if policy.payment_years is None else float(policy.payment_years)


def check_numbers(
    stream: TextStream, policy: Policy, window: int = 12, context_chars: int = 10
) -> list[NumberCheck]:
    """Every policy number spoken in ``stream``, compared with ``policy``.

    A premium matches within 0.5 yuan; days and years must be equal, in at least one plausible
    reading (:func:`inspection.number_readings.readings`). A spoken insurance period in years
    mismatches a whole-life policy. Kinds the policy leaves empty (no premium, no payment
    years) are not reported.
    """
    out = []
    quantities = find_quantities(stream.text, stream.pauses)
    for q in quantities:
        found = _classify(stream, q, window, quantities)
        if found is None:
            continue
        kind, keyword = found
        expected = _expected(kind, policy)
        if expected is None and kind != "insurance_years":
            continue
        options = _readings(stream, q, keyword)
        tolerance = 0.5 if kind == "premium" else 1e-6
        hit = next(
            (r for r in options if expected is not None and abs(r.value - expected) < tolerance),
            None,
        )
        # Without a match, report the reading the keyword explains (犹豫七十天: 10 days).
        chosen = hit or (options[1] if keyword and keyword.absorbed and len(options) > 1 else None)
        chosen = chosen or Reading(q.value, "as recognised")
        t0, t1 = stream.span_times(q.start, q.end)
        out.append(
            NumberCheck(
                kind=kind,
                spoken=chosen.value,
                unit=_UNIT_OF[kind],
                expected=expected,
                matches=hit is not None,
                start_s=round(t0, 3),
                end_s=round(t1, 3),
                text=q.text,
                context=stream.text[max(0, q.start - context_chars) : q.end + context_chars],
                confidence=round(stream.confidence(q.start, q.end), 3),
                readings=tuple(r.value for r in options),
                reading=chosen.how,
                keyword=keyword.heard if keyword else "",
                statement=statement_of(stream, q.start),
                options=tuple(options),
                char_probs=tuple(stream.prob[q.start : q.end]) if stream.prob else (),
                utterance=stream.utterance[q.start] if stream.utterance else -1,
                **_heard(stream, q),
            )
        )
    return out


def _heard(stream: TextStream, q: Quantity) -> dict[str, Any]:
    """The numeral of ``q`` as recognised, with each character's probability."""
    if not stream.source or len(stream.source_prob) != len(stream.source):
        return {}
    s0, s1 = stream.source_span(q.start, q.end)
    heard = stream.source[s0:s1]
    numeral = heard[: numeral_end(heard)] if q.unit else heard
    return {"heard": numeral, "heard_probs": stream.source_prob[s0 : s0 + len(numeral)]}


def statement_of(stream: TextStream, start: int) -> Statement:
    """Whether the number at text position ``start`` is a sum (一共是…) or in a worked example
    (比如…), from the words before it in the same utterance; words match on pinyin too."""
    source = stream.source or stream.text
    s0, _ = stream.source_span(start, start + 1) if stream.source else (start, start + 1)
    utt = stream.utterance[start] if stream.utterance else None
    first = start
    while first > 0 and stream.utterance and stream.utterance[first - 1] == utt:
        first -= 1
    lo = stream.source_span(first, first + 1)[0] if stream.source else first

    def said(words: tuple[str, ...], reach: int, clause: bool = False) -> bool:
        """One of ``words`` within ``reach`` source characters before the number; with
        ``clause``, only in the number's own clause (no pause between), or the clause
        before it for words that end theirs (两个加起来，每年交…)."""
        a = max(lo, s0 - reach)
        before = source[a:s0]
        heard = _syllables(before)
        for w in words:
            n = len(w)
            target = _syllables(w)
            for i in range(len(before) - n + 1):
                if before[i : i + n] != w and (n < 2 or heard[i : i + n] != target):
                    continue
                pauses = _pauses_between(stream, a + i + n, start) if clause else 0
                if pauses <= (1 if w in CLAUSE_END_SUM_WORDS else 0):
                    return True
        return False

    if said(EXAMPLE_WORDS, EXAMPLE_REACH):
        return "example"
    if said(SUM_WORDS, SUM_REACH, clause=True):
        return "sum"
    return "statement"


def _pauses_between(stream: TextStream, source_end: int, start: int) -> int:
    """Pauses between source position ``source_end`` (just after a word) and the text
    character ``start`` (a number), counting one right before the number."""
    first = bisect_left(stream.source_index, source_end) if stream.source_index else source_end
    return sum(stream.breaks[max(first - 1, 0) : start])


def _readings(stream: TextStream, q: Quantity, keyword: _Keyword | None) -> list[Reading]:
    """The plausible values of ``q`` from how it was recognised (its source characters)."""
    if not stream.source:
        return [Reading(q.value, "as recognised")]
    s0, s1 = stream.source_span(q.start, q.end)
    heard = stream.source[s0:s1]
    numeral = heard[: numeral_end(heard)] if q.unit else heard
    if not numeral or q.unit == "%":
        return [Reading(q.value, "as recognised")]
    paused = stream.has_break(q.start, q.start + 1) if q.start > 0 else True
    before = "" if paused else stream.source[max(0, s0 - 2) : s0]
    absorbed = keyword is not None and keyword.absorbed
    found = readings(numeral, before, absorbed)
    if not found or found[0].value != q.value:
        # The recognised numeral reads differently alone (百分之三): keep the stream's value.
        found = [Reading(q.value, "as recognised"), *[r for r in found if r.value != q.value]]
    return found
