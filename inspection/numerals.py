"""Chinese numerals and their values: parse a numeral (一万二千, 1.2万, 十二点五, 二零二六) into
a value, and render a value back as spoken Chinese (一万两千, 两年, 百分之三).

Finding numbers with their units in a transcript is ``inspection.quantities``.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = [
    "BIG_MULTIPLIERS",
    "CHINESE_NUMERALS",
    "DIGITS",
    "NUMERAL_RUN",
    "SMALL_MULTIPLIERS",
    "format_value",
    "numeral_end",
    "parse_numeral",
    "spoken",
    "to_chinese",
]

# Chinese digits, including financial (大写) and Traditional forms, and 幺 (1 in phone numbers).
DIGITS: dict[str, int] = {
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
SMALL_MULTIPLIERS: dict[str, int] = {
    "十": 10,
    "拾": 10,
    "百": 100,
    "佰": 100,
    "千": 1000,
    "仟": 1000,
}
BIG_MULTIPLIERS: dict[str, int] = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_POINT = "点點"

CHINESE_NUMERALS = "".join(DIGITS) + "".join(SMALL_MULTIPLIERS) + "".join(BIG_MULTIPLIERS)
_ARABIC = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_ATOM = rf"(?:{_ARABIC}|[{CHINESE_NUMERALS}])"
NUMERAL_RUN = rf"{_ATOM}(?:{_ATOM}|[{_POINT}](?={_ATOM}))*"


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
        if ch in DIGITS:
            out.append(("c", Decimal(DIGITS[ch])))
        elif ch in SMALL_MULTIPLIERS:
            out.append(("m", Decimal(SMALL_MULTIPLIERS[ch])))
        elif ch in BIG_MULTIPLIERS:
            out.append(("M", Decimal(BIG_MULTIPLIERS[ch])))
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
    while i < len(right) and (right[i] in DIGITS or right[i].isdigit()):
        digits += str(DIGITS[right[i]]) if right[i] in DIGITS else right[i]
        i += 1
    rest = right[i:]
    if whole is None or not digits:
        return None
    value = whole + Decimal("0." + digits)
    if rest:
        mult = BIG_MULTIPLIERS.get(rest) or SMALL_MULTIPLIERS.get(rest)
        if mult is None:
            return None
        value *= mult  # 一点二万 = 12000
    return float(value)


def numeral_end(text: str) -> int:
    """Length of the numeral at the start of ``text`` (一万二 in 一万二千元 → 4; 0 if none)."""
    m = re.match(NUMERAL_RUN, text)
    return m.end() if m else 0


def format_value(value: float) -> str:
    """Canonical Arabic form: 12000.0 → "12000", 1.5 → "1.5"."""
    if float(value).is_integer():
        return str(int(value))
    return format(Decimal(str(value)).normalize(), "f")


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
