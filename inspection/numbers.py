"""Numbers as spoken in Chinese: parse numerals (一万二千元, 1.2万, 十五天, 百分之三, 二零二六) into
values with units, find them in a transcript, and render values back as spoken Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

# Chinese digits, including financial (大写) and Traditional forms, and 幺 (1 in phone numbers).
_DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "○": 0,
    "一": 1, "壹": 1, "幺": 1,
    "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2,
    "三": 3, "叁": 3, "參": 3, "叄": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}  # fmt: skip
_SMALL: dict[str, int] = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG: dict[str, int] = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_POINT = "点點"

_CN = "".join(_DIGITS) + "".join(_SMALL) + "".join(_BIG)
_ARABIC = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_ATOM = rf"(?:{_ARABIC}|[{_CN}])"
_RUN = rf"{_ATOM}(?:{_ATOM}|[{_POINT}](?={_ATOM}))*"

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
_QUANTITY_RE = re.compile(rf"(?P<pct>百分之)?(?P<num>{_RUN})\s*(?P<unit>{_UNIT_RE})?")

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


# ---------------------------------------------------------------------------------------------
# Parsing


def _tokens(text: str) -> list[tuple[str, Decimal]] | None:
    """Split a numeral into ('d', digit/number), ('c', Chinese digit), ('m', 十百千), ('M', 万亿)."""
    out: list[tuple[str, Decimal]] = []
    i = 0
    while i < len(text):
        m = re.match(_ARABIC, text[i:])
        if m:
            out.append(("d", Decimal(m.group().replace(",", ""))))
            i += m.end()
            continue
        ch = text[i]
        if ch in _DIGITS:
            out.append(("c", Decimal(_DIGITS[ch])))
        elif ch in _SMALL:
            out.append(("m", Decimal(_SMALL[ch])))
        elif ch in _BIG:
            out.append(("M", Decimal(_BIG[ch])))
        else:
            return None
        i += 1
    return out


def _parse_integer_part(text: str) -> Decimal | None:
    toks = _tokens(text)
    if not toks:
        return None
    kinds = [k for k, _ in toks]
    if len(toks) >= 2 and all(k == "c" for k in kinds):
        # 二零二六, 一二三: read digit by digit.
        return Decimal("".join(str(int(v)) for _, v in toks))
    total = Decimal(0)
    section = Decimal(0)
    num: Decimal | None = None
    last_unit: Decimal | None = None
    zero_seen = False
    for kind, v in toks:
        if kind in ("d", "c"):
            if kind == "c" and v == 0:
                zero_seen = True  # 一百零五: the zero only marks a gap
                continue
            if num is not None:
                return None  # two numbers in a row (三五千): an approximation, not a value
            num = v
        elif kind == "m":
            section += (num if num is not None else Decimal(1)) * v
            num, last_unit, zero_seen = None, v, False
        else:
            group = section + (num or 0)
            if group == 0:
                return None  # 万 / 亿 with nothing before it (万一)
            total = (total + group) * v if v == 10**8 else total + group * v
            section, num, last_unit, zero_seen = Decimal(0), None, v, False
    if num is not None:
        if (
            last_unit is not None
            and last_unit >= 100
            and not zero_seen
            and num < 10
            and num == int(num)
        ):
            num *= last_unit / 10  # 一万二 = 12000, 三千五 = 3500, 一百五 = 150
        section += num
    return total + section


def parse_numeral(text: str) -> float | None:
    """Value of a numeral such as 一万二千, 一万两千, 1.2万, 12,000, 十五, 壹万, 二零二六, 十二点五.

    Returns None for strings that are not one number (万一, 三五千, 点).
    """
    text = text.strip()
    for p in _POINT:
        if p in text:
            left, _, right = text.partition(p)
            return _parse_decimal(left, right)
    value = _parse_integer_part(text)
    return None if value is None else float(value)


def _parse_decimal(left: str, right: str) -> float | None:
    whole = _parse_integer_part(left) if left else Decimal(0)
    digits = ""
    i = 0
    while i < len(right) and (right[i] in _DIGITS or right[i].isdigit()):
        digits += str(_DIGITS[right[i]]) if right[i] in _DIGITS else right[i]
        i += 1
    rest = right[i:]
    if whole is None or not digits:
        return None
    value = whole + Decimal("0." + digits)
    if rest:
        mult = _BIG.get(rest) or _SMALL.get(rest)
        if mult is None:
            return None
        value *= mult  # 一点二万 = 12000
    return float(value)


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
    for p in range(s, e - 1):
        if p not in pauses or text[p] in _CONTINUES or text[p + 1] in _GOES_ON:
            continue
        if p == s and text[p] in _DIGITS and text[p + 1] in "十拾":
            continue  # 二|十年: a lone digit before 十 is its tens
        if not _digit_group(text, p, e):
            e = p + 1
            break
    if e - s >= 2 and text[e - 1] == "一" and e < len(text) and text[e] in _ONE_WORDS:
        e -= 1
    return e


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
        end = _run_end(text, m, pauses)
        if end < m.end("num"):
            # Re-match within the shortened run: its unit (if any) can only follow it directly.
            m2 = _QUANTITY_RE.match(text, m.start(), end + _unit_len(text, end, pauses))
            m = m2 if m2 is not None else m
        pos = max(m.end(), m.start() + 1)
        num = m.group("num")
        value = parse_numeral(num)
        if value is None:
            q = _after_stray_digit(text, m)
            if q is not None:
                out.append(q)
            continue
        unit_word = m.group("unit")
        unit = "%" if m.group("pct") else (UNIT_WORDS[unit_word] if unit_word else "")
        end = m.end() if (unit_word or m.group("pct")) else m.end("num")
        if m.group("pct") and unit_word and UNIT_WORDS[unit_word] != "%":
            end = m.end("num")
        ordinal = m.start() > 0 and text[m.start() - 1] == "第"
        out.append(Quantity(value, unit, m.start(), end, text[m.start() : end], ordinal))
    return out


_UNITS_LONGEST = sorted(UNIT_WORDS, key=len, reverse=True)


def _unit_len(text: str, end: int, pauses: Collection[int]) -> int:
    """Length of the unit word right at ``end`` (no pause before it), 0 if none."""
    if end - 1 in pauses:
        return 0
    return next((len(u) for u in _UNITS_LONGEST if text.startswith(u, end)), 0)


def numeral_end(text: str) -> int:
    """Length of the numeral at the start of ``text`` (一万二 in 一万二千元 → 4; 0 if none)."""
    m = re.match(_RUN, text)
    return m.end() if m else 0


# Two numerals side by side that speakers use for a rough amount (三五千, 七八万): not a misheard
# keyword syllable in front of a number.
_APPROX = ("一两", "两三", "二三", "三四", "四五", "五六", "六七", "七八", "八九", "三五")


def _after_stray_digit(text: str, m: re.Match[str]) -> Quantity | None:
    """A run that does not parse because one stray numeral runs into the number (犹豫七10天,
    犹豫七二十天: the 七 is a misheard 期): the number after it, with its unit, or None."""
    num = m.group("num")
    if m.group("pct") or len(num) < 2 or num[:2] in _APPROX:
        return None
    if not (num[0] in _DIGITS or (num[0].isdigit() and num[1] in _CN)):
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


def format_value(value: float) -> str:
    """Canonical Arabic form: 12000.0 → "12000", 1.5 → "1.5"."""
    if float(value).is_integer():
        return str(int(value))
    return format(Decimal(str(value)).normalize(), "f")


def _canonical(q: Quantity) -> bool:
    """Worth rewriting to Arabic for matching: has a unit, Arabic digits, or digit + multiplier."""
    if q.unit or any(c.isdigit() for c in q.text):
        return True
    has_digit = any(c in _DIGITS and _DIGITS[c] > 0 for c in q.text)
    has_mult = any(c in _SMALL or c in _BIG for c in q.text)
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


# ---------------------------------------------------------------------------------------------
# Rendering

_CN_DIGITS = "零一二三四五六七八九"


def _group_to_chinese(n: int, liang: bool) -> str:
    """0 < n < 10000 → 一千零五, 两千, 二十."""
    out = ""
    zero = False
    for value, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = (n // value) % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        digit = "两" if (liang and d == 2 and value >= 100) else _CN_DIGITS[d]
        out += digit + name
    return out


def to_chinese(value: float, liang: bool = True) -> str:
    """Render a number as spoken Chinese: 12000 → 一万两千, 15 → 十五, 105 → 一百零五, 1.5 → 一点五.

    ``liang`` says 两 instead of 二 before 百/千/万/亿, as people speak (两千, 一万两千).
    """
    if value < 0:
        return "负" + to_chinese(-value, liang)
    text = format_value(value)
    whole_s, _, frac = text.partition(".")
    whole = int(whole_s)
    if whole == 0:
        out = "零"
    else:
        groups = []
        n = whole
        while n:
            groups.append(n % 10000)
            n //= 10000
        out = ""
        for i in range(len(groups) - 1, -1, -1):
            g = groups[i]
            suffix = ("", "万", "亿", "万亿")[i]
            if g == 0:
                continue
            if out and (g < 1000 or groups[i + 1] == 0):
                out += "零"
            part = _group_to_chinese(g, liang)
            if liang and g == 2 and suffix:
                part = "两"
            out += part + suffix
        if out.startswith("一十"):
            out = out[1:]  # 十五, 十万 (but 一百一十 keeps its 一)
    if frac:
        out += "点" + "".join(_CN_DIGITS[int(c)] for c in frac)
    return out


_SPOKEN_UNIT = {"元": "元", "天": "天", "年": "年", "月": "个月", "期": "期", "岁": "岁"}


def spoken(value: float, unit: str = "") -> str:
    """Render a quantity as spoken: (12000, "元") → 一万两千元, (2, "年") → 两年, (3, "%") → 百分之三."""
    if unit == "%":
        return "百分之" + to_chinese(value)
    number = "两" if value == 2 and unit in _SPOKEN_UNIT else to_chinese(value)
    return number + _SPOKEN_UNIT.get(unit, unit)


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
    "format_value",
    "numeral_end",
    "parse_numeral",
    "spoken",
    "to_chinese",
]
