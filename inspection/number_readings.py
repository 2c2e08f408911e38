"""Plausible readings of a number heard through Mandarin speech recognition.

ASR errors are mostly homophones, and numerals have many: 十 (shi) comes out as 是/时/事, 一 (yi)
as 以/已, 七 (qi) as 期 — and the other way round: "犹豫期十五天" can come out as "犹豫七十五天"
(75 days) and "为十五天" as "位是5天" (5 days). Before a spoken number is declared different
from the policy, every reading that such a confusion allows is tried: if any equals the policy
value, the salesperson may well have said it right.
"""

from __future__ import annotations

import functools
import itertools
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
        for combo in map("".join, itertools.product(*options)):
            if _below_place(combo, numeral):
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


def _below_place(lead: str, numeral: str) -> bool:
    """``lead`` (numerals a homophone before the number stands for) may go before
    ``numeral``: when it ends on a multiplier and the numeral starts with a digit, the
    numeral is the part below that place (十 + 5, 千 + 600). Without this, 目前7600元 read as
    千 + 7600 = 8600 and 是15天 as 十 + 15 = 25, a misstated value matching the policy's."""
    if not lead or _place(lead) == 0 or not numeral or numeral[0] in "十百千万":
        return True
    heard = parse_numeral(numeral)
    return heard is not None and heard < _place(lead)


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


# --- A misheard leading digit or magnitude word (大坚600元 for 八千六百元) -------------------

#: Initials Whisper confuses within a group: the stops, the palatals, the flat sibilants
#: (zh/ch/sh are folded onto z/c/s by ``syllable``).
_NEAR_INITIALS = ("bpdtgk", "jqx", "zcs")
#: What the characters before a number may stand for: the digits (两 too) and the multipliers.
LEAD_NUMERALS = "一二两三四五六七八九十百千万"
MAX_LEAD = 2  # characters before a number read as its lost leading digit and magnitude word
#: Words said right before an amount whose characters sound like numerals (大概 ~ 八 + 百):
#: real words, so never read as a misheard leading part.
AMOUNT_WORDS = (
    "大概", "大约", "大致", "大体", "大多", "大都", "差不多", "将近", "接近", "至少", "最少",
    "最多", "只要", "只需", "只有", "仅仅", "一般", "一共", "总共", "就是", "起码", "不到",
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def numeral_sounds(ch: str) -> tuple[tuple[str, str], ...]:
    """(numeral, how it sounds) pairs ``ch`` may stand for as a leading numeral: itself,
    a homophone ("same"), the same final after a confusable initial ("near": 大 da ~ 八 ba,
    坚 jian ~ 千 qian), or the same final only ("final": 发 fa ~ 八 ba)."""
    if ch in LEAD_NUMERALS:
        return ((ch, "same"),)
    ini, fin = _split(syllable(ch))
    if not fin or not ("\u4e00" <= ch <= "\u9fff"):
        return ()
    out: list[tuple[str, str]] = []
    for n in LEAD_NUMERALS:
        n_ini, n_fin = _split(syllable(n))
        if n_fin != fin:
            continue
        if n_ini == ini:
            out.append((n, "same"))
        elif any(ini in g and n_ini in g for g in _NEAR_INITIALS if ini and n_ini):
            out.append((n, "near"))
        else:
            out.append((n, "final"))
    return tuple(out)


def _place(lead: str) -> int:
    """The place of the last multiplier of a numeral (八千 -> 1000, 十 -> 10; 0 without one)."""
    places = {"十": 10, "百": 100, "千": 1000, "万": 10**4}
    return places.get(lead[-1], 0) if lead else 0


def lead_readings(numeral: str, before: str, reach: int = MAX_LEAD) -> list[Reading]:
    """Values ``numeral`` takes when the last one or two characters of ``before`` (said
    right before it, after its keyword) were its leading digit and magnitude word misheard:
    宝贝大坚 + 600 -> 八千 + 600 = 8600. Only readings in which the characters before stand
    for the higher places (the heard value below their last multiplier's place), never
    characters of a word said before amounts (``AMOUNT_WORDS``: 大概六百 is not 八百…), and
    never the value as heard, and not only vowels alike. ``reach``: how many characters of
    ``before`` were said with the number (the rest is context for the words). These are
    doubts, not matches: the caller reports a mismatch they explain as review."""
    heard = parse_numeral(numeral)
    if heard is None or not before:
        return []
    out: list[Reading] = []
    for k in range(1, min(MAX_LEAD, reach, len(before)) + 1):
        prefix = before[-k:]
        if _in_amount_word(before, len(before) - k):
            break
        options = [numeral_sounds(c) for c in prefix]
        if not all(options) or all(c in LEAD_NUMERALS for c in prefix):
            break
        for combo in itertools.product(*options):
            if all(how == "final" for _, how in combo):
                continue  # a vowel alike and nothing else: too loose to doubt a hearing
            lead = "".join(n for n, _ in combo)
            value = parse_numeral(lead + numeral)
            lead_value = parse_numeral(lead)
            if value is None or lead_value is None or not heard < _place(lead):
                continue
            if abs(value - (lead_value + heard)) > 1e-6 or value == heard:
                continue
            if all(r.value != value for r in out):
                how = ", ".join(f"{c}≈{n} ({s})" for c, (n, s) in zip(prefix, combo, strict=True))
                out.append(Reading(value, f"{prefix}{numeral} may be {lead}{numeral}: {how}"))
    return out


def _in_amount_word(before: str, first: int) -> bool:
    """One of ``AMOUNT_WORDS`` in ``before`` covers a character from ``first`` on."""
    for w in AMOUNT_WORDS:
        i = before.find(w)
        while i >= 0:
            if i + len(w) > first:
                return True
            i = before.find(w, i + 1)
    return False
