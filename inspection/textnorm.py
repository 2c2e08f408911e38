"""Chinese text normalisation for fuzzy matching: Simplified characters, no punctuation, pinyin.

ASR errors in Mandarin are mostly homophones (期为→期位, 保单→宝丹), so matches are scored on
characters and on toneless pinyin together.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any

import zhconv
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

#: Default share of the pinyin score in a combined character+pinyin score.
PINYIN_WEIGHT = 0.7

# Accent-level confusions (南方口音 and ASR): retroflex vs flat initials, n/l, front/back nasals.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


def to_simplified(text: str) -> str:
    """Convert Traditional characters to Simplified (mainland usage)."""
    return str(zhconv.convert(text, "zh-cn"))


def keep_mask(text: str) -> list[bool]:
    """Per character: True for letters (incl. CJK), digits, ``%`` and a decimal point (1.2)."""
    out = []
    for i, ch in enumerate(text):
        cat = unicodedata.category(ch)
        keep = cat[0] in ("L", "N") or ch == "%"
        if ch == "." and 0 < i < len(text) - 1:
            keep = text[i - 1].isdigit() and text[i + 1].isdigit()
        out.append(keep)
    return out


def strip_punct(text: str) -> str:
    """Remove punctuation, symbols and whitespace; keep letters, CJK, digits, ``%``, ``1.2``."""
    return "".join(ch for ch, keep in zip(text, keep_mask(text), strict=True) if keep)


def prepare(text: str) -> str:
    """The length-preserving part of :func:`normalize`: NFKC per character, Simplified, lower."""
    out = []
    for ch in text:
        n = unicodedata.normalize("NFKC", ch)
        out.append(n if len(n) == 1 else ch)
    simp = to_simplified("".join(out)).lower()
    # zhconv maps phrase by phrase; fall back per character if a length ever changes.
    if len(simp) != len(text):
        simp = "".join(to_simplified(c).lower()[:1] or c for c in out)
    return simp


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), Simplified, no punctuation or spaces, lower case."""
    return strip_punct(prepare(text))


@functools.lru_cache(maxsize=8192)
def _fuzz_syllable(syl: str) -> str:
    # Cached: the node-content windows call this ~700,000 times for one 2-minute transcript
    # (most of the script alignment's time), on a few hundred distinct syllables.
    for src, dst in _FUZZY_INITIALS:
        if syl.startswith(src):
            syl = dst + syl[len(src) :]
            break
    for src, dst in _FUZZY_FINALS:
        if syl.endswith(src):
            syl = syl[: -len(src)] + dst
            break
    return syl


def pinyin(text: str, fuzzy: bool = False) -> list[str]:
    """Toneless pinyin, exactly one item per character of ``text`` (non-Han characters as is).

    ``fuzzy`` folds accent-level confusions (zh/z, ch/c, sh/s, l/n, ang/an, eng/en, ing/in).
    """
    # Non-Han runs come back one item per character (the stubs say str, list is supported).
    split_chars: Any = list
    out: list[str] = lazy_pinyin(text, errors=split_chars)
    if len(out) != len(text):
        # Defensive: keep the one-item-per-character invariant callers index by.
        out = [(lazy_pinyin(ch, errors=split_chars) or [ch])[0] for ch in text]
    if fuzzy:
        out = [_fuzz_syllable(s) for s in out]
    return out


def similarity(a: str, b: str, pinyin_weight: float = PINYIN_WEIGHT) -> float:
    """Combined character and pinyin similarity of two strings, 0..1 (after :func:`normalize`)."""
    na, nb = normalize(a), normalize(b)
    if not na and not nb:
        return 1.0
    if not na or not nb:
        return 0.0
    char = fuzz.ratio(na, nb) / 100.0
    pin = fuzz.ratio(pinyin(na), pinyin(nb)) / 100.0
    return pinyin_weight * pin + (1.0 - pinyin_weight) * char


@dataclass(frozen=True)
class PartialMatch:
    """Best window of a haystack for a needle; ``start``/``end`` index the haystack as given."""

    score: float  # combined char+pinyin, 0..1
    start: int
    end: int
    char_score: float
    pinyin_score: float


def partial_match(
    needle: str,
    hay: str,
    pinyin_weight: float = PINYIN_WEIGHT,
    fuzzy: bool = False,
    hay_pinyin: list[str] | None = None,
) -> PartialMatch:
    """Best-matching window of ``hay`` for ``needle``; both must already be normalised.

    The window is chosen on pinyin (robust to homophones), then scored on characters too.
    Pass ``hay_pinyin`` (from :func:`pinyin`) to avoid recomputing it for many needles.
    """
    if not needle or not hay:
        return PartialMatch(0.0, 0, 0, 0.0, 0.0)
    np_ = pinyin(needle, fuzzy)
    hp = hay_pinyin if hay_pinyin is not None else pinyin(hay, fuzzy)
    if len(np_) > len(hp):
        # A haystack shorter than the needle cannot contain it: score the whole strings.
        pin = fuzz.ratio(np_, hp) / 100.0
        char = fuzz.ratio(needle, hay) / 100.0
        return PartialMatch(
            pinyin_weight * pin + (1 - pinyin_weight) * char, 0, len(hay), char, pin
        )
    al = fuzz.partial_ratio_alignment(np_, hp)
    if al is None:
        return PartialMatch(0.0, 0, 0, 0.0, 0.0)
    start, end = al.dest_start, al.dest_end
    pin = al.score / 100.0
    char = fuzz.ratio(needle, hay[start:end]) / 100.0
    return PartialMatch(pinyin_weight * pin + (1.0 - pinyin_weight) * char, start, end, char, pin)
