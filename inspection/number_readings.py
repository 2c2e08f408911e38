"""Plausible readings of a number heard through Mandarin speech recognition.

ASR errors are mostly homophones, and numerals have many: 十 (shi) comes out as 是/时/事, 一 (yi)
as 以/已, 七 (qi) as 期 — and the other way round: "犹豫期十五天" can come out as "犹豫七十五天"
(75 days) and "为十五天" as "位是5天" (5 days). Before a spoken number is declared different
from the policy, every reading that such a confusion allows is tried: if any equals the policy
value, the salesperson may well have said it right.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from inspection.numerals import parse_numeral, to_chinese
from inspection.textnorm import pinyin

#: Numerals (and multipliers) a homophone may stand for.
NUMERALS = "零一二三四五六七八九十百千万"
_ARABIC_CN = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
MAX_PREFIX = 2  # homophone characters before a number that may belong to it ("是5" = 十5)
MAX_SUBSTITUTED_RUN = 3  # numerals in a run this short may each be a homophone (四 / 十)


@functools.lru_cache(maxsize=4096)
def syllable(ch: str) -> str:
    """Toneless pinyin of one character with accent-level folding (shi = si, qing = qin);
    an Arabic digit reads as its Chinese numeral."""
    return pinyin(_ARABIC_CN.get(ch, ch), fuzzy=True)[0]


@functools.lru_cache(maxsize=256)
def syllables(text: str) -> tuple[str, ...]:
    """``syllable`` of each character of ``text``, for matching words on pinyin."""
    return tuple(syllable(c) for c in text)


@functools.lru_cache(maxsize=1)
def _numerals_by_syllable() -> dict[str, str]:
    out: dict[str, str] = {}
    for n in NUMERALS:
        out[syllable(n)] = out.get(syllable(n), "") + n
    return out


_STOPS = "bpdtgk"


def _split(syl: str) -> tuple[str, str]:
    """(initial, final) of a toneless syllable."""
    for ini in ("zh", "ch", "sh", *"bpmfdtnlgkhjqxrzcsyw"):
        if syl.startswith(ini):
            return ini, syl[len(ini) :]
    return "", syl


@functools.lru_cache(maxsize=4096)
def numeral_near(ch: str) -> str:
    """Numerals that sound close to ``ch`` without being homophones: the same final after
    another stop consonant (达 da / 八 ba, 他 ta / 八 ba), the way Whisper mishears a
    numeral's first syllable. Empty for numerals and for characters without a final."""
    if ch in NUMERALS or ch.isdigit():
        return ""
    ini, fin = _split(syllable(ch))
    if not fin or ini not in _STOPS or not ini:
        return ""
    out = ""
    for n in "一二三四五六七八九":
        n_ini, n_fin = _split(syllable(n))
        if n_fin == fin and n_ini in _STOPS and n_ini and n_ini != ini:
            out += n
    return out


def numeral_homophones(ch: str) -> str:
    """The numerals that sound like ``ch`` (是 → 十四, 期 → 七, 四 → 十), without ``ch``."""
    return "".join(n for n in _numerals_by_syllable().get(syllable(ch), "") if n != ch)


@dataclass(frozen=True)
class Reading:
    """One way a heard number may have been said."""

    value: float
    how: str  # "as recognised", or which confusion gives it


def readings(numeral: str, before: str = "", absorbed: bool = False) -> list[Reading]:
    """Every plausible value of ``numeral`` (its recognised characters), first as recognised.

    ``before``: the characters right before it (no pause between), which may be numerals heard
    as other words ("位是" before "5"). ``absorbed``: the first character is also the last
    syllable of the keyword before it (犹豫七 = 犹豫期), so the number may start after it.
    """
    out: list[Reading] = []

    def add(text: str, how: str) -> None:
        value = parse_numeral(text)
        if value is not None and all(r.value != value for r in out):
            out.append(Reading(value, how))

    add(numeral, "as recognised")
    if _shi_before(numeral):
        add(numeral[1:], f"{numeral[0]} is 是 before the number")
    if absorbed and len(numeral) > 1:
        add(numeral[1:], f"{numeral[0]} is the keyword's last syllable")
    for k in range(1, min(MAX_PREFIX, len(before)) + 1):
        prefix = before[-k:]
        options = [numeral_homophones(c) for c in prefix]
        if not all(options):
            break
        for combo in _product(options):
            add(combo + numeral, f"{prefix}→{combo}")
    if numeral[0] in "百千万" and before and not numeral_homophones(before[-1]):
        # 千六百 with no numeral in front is not how an amount is said: its first numeral
        # was heard as the word before it (八千六百 -> 达千六百, dev15), which sounds close.
        for n in numeral_near(before[-1]):
            add(n + numeral, f"{before[-1]}≈{n} before a numeral without its first digit")
    if len(numeral) <= MAX_SUBSTITUTED_RUN:
        for i, ch in enumerate(numeral):
            for alt in numeral_homophones(ch):
                add(numeral[:i] + alt + numeral[i + 1 :], f"{ch}→{alt}")
    return out


def _shi_before(numeral: str) -> bool:
    """The numeral starts with 十/四 that is the verb 是 (shi) before the number: "保险期间是
    二十年" heard as 保险期间十二十年 (30 as written; dev probes). Only when the numeral as heard
    is not how that value is said (十二十, not 十二 or 十五) and the rest is a numeral."""
    if len(numeral) < 2 or syllable(numeral[0]) != syllable("是") or numeral[0] not in NUMERALS:
        return False
    if not all(c in NUMERALS for c in numeral):
        return False
    value = parse_numeral(numeral)
    if value is None or parse_numeral(numeral[1:]) is None:
        return False
    return numeral not in (to_chinese(value), to_chinese(value, liang=False))


def _product(options: list[str]) -> list[str]:
    combos = [""]
    for opts in options:
        combos = [c + o for c in combos for o in opts]
    return combos
