"""Numbers found in a transcript: each numeral with its unit (元/天/年/月/期/岁/%) and position,
told apart at pauses, and the text rewritten with Arabic numbers for matching.

What a numeral's value is: ``inspection.numerals``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from inspection.numerals import (
    BIG_MULTIPLIERS,
    CHINESE_NUMERALS,
    DIGITS,
    NUMERAL_RUN,
    SMALL_MULTIPLIERS,
    format_value,
    parse_numeral,
)

__all__ = [
    "UNITS",
    "UNIT_WORDS",
    "Quantity",
    "canonical_spans",
    "canonicalize",
    "find_amounts",
    "find_days",
    "find_quantities",
    "find_years",
]

#: Spoken unit words → canonical unit. Longest first so 块钱 wins over 块.
UNIT_WORDS: dict[str, str] = {
    "块钱": "元", "元钱": "元", "人民币": "元", "元": "元", "块": "元", "圆": "元",
    "周年": "年", "年": "年",
    "天": "天", "日": "天",
    "个月": "月", "月": "月",
    "期": "期",
    "周岁": "岁", "岁": "岁",
    "%": "%", "％": "%",
}  # fmt: skip
_UNIT_RE = "|".join(re.escape(u) for u in sorted(UNIT_WORDS, key=len, reverse=True))
_QUANTITY_RE = re.compile(rf"(?P<pct>百分之)?(?P<num>{NUMERAL_RUN})\s*(?P<unit>{_UNIT_RE})?")

UNITS: tuple[str, ...] = ("元", "天", "年", "月", "期", "岁", "%")


@dataclass(frozen=True)
class Quantity:
    """A number found in text; ``start``/``end`` index the text, ``unit`` is "" when none."""

    value: float
    unit: str
    start: int
    end: int
    text: str
    ordinal: bool = False  # preceded by 第 (第一年, 第二期): a position, not an amount

    @property
    def is_integer(self) -> bool:
        return float(self.value).is_integer()


#: Words that start with 一 and follow an amount in speech (一万五千，一共交十年): the 一 is
#: not the amount's last numeral (一万五千一 = 15100), and 10000一 does not parse at all.
_ONE_WORDS = "共定起直般些样下旦切致同次份个并"
#: The big multipliers: a numeral run may go on past a pause after one of them (a recogniser
#: segment ending on 一万, the next starting with 五千元), and only after one of them.
_CONTINUES = "万萬亿億"
#: ... or before one of these, which cannot start a number (十二|万元).
_GOES_ON = "百佰千仟万萬亿億"


def _run_end(text: str, m: re.Match[str], pauses: Collection[int]) -> int:
    """Where the numeral run of ``m`` really ends (exclusive): at a pause inside it (after one
    recogniser segment or punctuation, the next number begins; ASR text loses the comma of
    "一万二千，一共" and the segment break of "12000|10年"), unless the run goes on after a
    big multiplier; and before a trailing 一 that starts a word (一共, 一定)."""
    s, e = m.start("num"), m.end("num")
    cut = next((p + 1 for p in range(s, e - 1) if _cuts_at(text, s, p, e, pauses)), e)
    return cut - 1 if _ends_on_word_one(text, s, cut) else cut


def _cuts_at(text: str, s: int, p: int, e: int, pauses: Collection[int]) -> bool:
    """A pause after position ``p`` of the run ``s:e`` ends the number there."""
    return (
        p in pauses
        and not _goes_on_past(text, p)
        and not _lone_tens_digit(text, s, p)
        and not _digit_group(text, p, e)
    )


def _goes_on_past(text: str, p: int) -> bool:
    """The run goes on past a pause after a big multiplier (一万|五千) or before a numeral that
    cannot start a number (十二|万元)."""
    return text[p] in _CONTINUES or text[p + 1] in _GOES_ON


def _lone_tens_digit(text: str, s: int, p: int) -> bool:
    """二|十年: a lone digit at the run's start before 十 is its tens."""
    return p == s and text[p] in DIGITS and text[p + 1] in "十拾"


def _ends_on_word_one(text: str, s: int, e: int) -> bool:
    """The run ``s:e`` ends on a 一 that starts a word (一万五千一共: ``_ONE_WORDS``)."""
    return e - s >= 2 and text[e - 1] == "一" and e < len(text) and text[e] in _ONE_WORDS


def _digit_group(text: str, p: int, e: int) -> bool:
    """Three Arabic digits after a pause after a digit, then no digit: a thousands group
    (12,000 and 15 000 lose their separator to normalisation and keep a pause there)."""
    group = text[p + 1 : p + 4]
    return (
        text[p].isdigit()
        and len(group) == 3
        and group.isdigit()
        and (p + 4 >= e or not text[p + 4].isdigit())
    )


def find_quantities(text: str, pauses: Collection[int] = ()) -> list[Quantity]:
    """Every number in ``text`` with its unit (元/天/年/月/期/岁/%, or "" when none), in order.

    ``pauses``: positions ``i`` of ``text`` followed by a pause (punctuation, a new recogniser
    segment); a number does not run on across one except after 万/亿 (see ``_run_end``).
    """
    out: list[Quantity] = []
    pos = 0
    while (m := _QUANTITY_RE.search(text, pos)) is not None:
        m = _cut_match(text, m, pauses)
        pos = max(m.end(), m.start() + 1)
        # A run that does not parse may be a number behind a stray numeral (犹豫七10天).
        q = _quantity(text, m)
        if q is None:
            q = _after_stray_digit(text, m)
        if q is not None:
            out.append(q)
    return out


def _cut_match(text: str, m: re.Match[str], pauses: Collection[int]) -> re.Match[str]:
    """``m`` re-matched within its run cut short by ``_run_end``: its unit (if any) can only
    follow the shortened run directly."""
    end = _run_end(text, m, pauses)
    if end >= m.end("num"):
        return m
    m2 = _QUANTITY_RE.match(text, m.start(), end + _unit_len(text, end, pauses))
    return m2 if m2 is not None else m


def _quantity(text: str, m: re.Match[str]) -> Quantity | None:
    """The number of a match whose numeral parses, with its unit: % for 百分之 (a unit word
    after 百分之N is left out of the quantity); ordinal after 第."""
    value = parse_numeral(m.group("num"))
    if value is None:
        return None
    unit_word = m.group("unit")
    unit = "%" if m.group("pct") else (UNIT_WORDS[unit_word] if unit_word else "")
    end = m.end() if (unit_word or m.group("pct")) else m.end("num")
    if m.group("pct") and unit_word and UNIT_WORDS[unit_word] != "%":
        end = m.end("num")
    ordinal = m.start() > 0 and text[m.start() - 1] == "第"
    return Quantity(value, unit, m.start(), end, text[m.start() : end], ordinal)


_UNITS_LONGEST = sorted(UNIT_WORDS, key=len, reverse=True)


def _unit_len(text: str, end: int, pauses: Collection[int]) -> int:
    """Length of the unit word right at ``end`` (no pause before it), 0 if none."""
    if end - 1 in pauses:
        return 0
    return next((len(u) for u in _UNITS_LONGEST if text.startswith(u, end)), 0)


# Two numerals side by side that speakers use for a rough amount (三五千, 七八万): not a misheard
# keyword syllable in front of a number.
_APPROX = ("一两", "两三", "二三", "三四", "四五", "五六", "六七", "七八", "八九", "三五")


def _after_stray_digit(text: str, m: re.Match[str]) -> Quantity | None:
    """A run that does not parse because one stray numeral runs into the number (犹豫七10天,
    犹豫七二十天: the 七 is a misheard 期): the number after it, with its unit, or None."""
    num = m.group("num")
    if m.group("pct") or len(num) < 2 or num[:2] in _APPROX:
        return None
    if not (num[0] in DIGITS or (num[0].isdigit() and num[1] in CHINESE_NUMERALS)):
        return None
    start = m.start("num") + 1
    tail = find_quantities(text[start : m.end()])
    if not tail or tail[0].start != 0:
        return None
    q = tail[0]
    return Quantity(q.value, q.unit, start, start + q.end, text[start : start + q.end], False)


def find_amounts(text: str) -> list[Quantity]:
    """Money amounts in yuan (一万二千元, 两万块, 1.2万元)."""
    return [q for q in find_quantities(text) if q.unit == "元" and not q.ordinal]


def find_days(text: str) -> list[Quantity]:
    """Numbers of days (十五天, 15日)."""
    return [q for q in find_quantities(text) if q.unit == "天" and not q.ordinal]


def find_years(text: str) -> list[Quantity]:
    """Durations in years (二十年, 10年); calendar years such as 2026年 are left out."""
    return [q for q in find_quantities(text) if q.unit == "年" and not q.ordinal and q.value < 1000]


def _canonical(q: Quantity) -> bool:
    """Worth rewriting to Arabic for matching: has a unit, Arabic digits, or digit + multiplier."""
    if q.unit or any(c.isdigit() for c in q.text):
        return True
    has_digit = any(c in DIGITS and DIGITS[c] > 0 for c in q.text)
    has_mult = any(c in SMALL_MULTIPLIERS or c in BIG_MULTIPLIERS for c in q.text)
    return has_digit and has_mult


def canonicalize(text: str, pauses: Collection[int] = ()) -> tuple[str, list[int]]:
    """Rewrite spoken numbers as Arabic (一万两千元 → 12000元, 百分之三 → 3%) for matching.

    Returns the new text and, for each of its characters, the index of the source character it
    came from, so that matches can be mapped back (e.g. to word timestamps). ``pauses`` as for
    :func:`find_quantities`.
    """
    new_text, index, _ = canonical_spans(text, pauses)
    return new_text, index


def canonical_spans(
    text: str, pauses: Collection[int] = ()
) -> tuple[str, list[int], list[tuple[int, int]]]:
    """:func:`canonicalize`, also returning the ``[start, end)`` of each rewritten number in
    the new text (one number, whatever pauses its source had)."""
    out: list[str] = []
    index: list[int] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for q in find_quantities(text, pauses):
        if not _canonical(q):
            continue
        out.append(text[pos : q.start])
        index.extend(range(pos, q.start))
        new = format_value(q.value) + (q.unit if q.unit else "")
        spans.append((len(index), len(index) + len(new)))
        out.append(new)
        span = q.end - q.start
        # Spread the new characters over the source span, first to first and last to last.
        last = max(len(new) - 1, 1)
        index.extend(q.start + (k * (span - 1)) // last for k in range(len(new)))
        pos = q.end
    out.append(text[pos:])
    index.extend(range(pos, len(text)))
    return "".join(out), index, spans
