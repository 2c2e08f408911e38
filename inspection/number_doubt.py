"""How sure a spoken-number mismatch is (R7, R9): the recognition probability of the characters
that would have to have been misheard for the salesperson to have said the policy's value.

The lowest probability of any character of the number is the wrong measure: dev06's misstated
premium 一万五千 (policy 12000) was heard with 一 at 0.11 and 五 at 0.99, and came out as a weak
`review` although no error of 一 can make it 12000; only 五 can, and 五 was heard clearly. So a
mismatch is judged by the smallest set of characters (one or two) whose misrecognition, as
another numeral, as a syllable too many or as one dropped, would turn what was heard into the
policy's value: ``1 - P(all of them misheard)`` is how sure the mismatch is, and the most
plausible such set is the one that counts. Three or more characters to explain it away: the
three weakest stand for them.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from inspection.numerals import parse_numeral

CHINESE_NUMERALS = "零一二两三四五六七八九十百千万"
ARABIC_DIGITS = "0123456789"
MAX_EDITS = 2  # sets of more characters are not searched (the three weakest stand for them)


@dataclass(frozen=True)
class MismatchDoubt:
    """How sure a mismatch is, and which recognised characters it rests on."""

    confidence: float  # ~ probability that the mismatch is real (0-1)
    chars: tuple[tuple[str, float], ...]  # characters that would have to be misheard, with p
    edits: int  # how many (0: not explained within MAX_EDITS)

    def describe(self) -> str:
        said = ", ".join(f"{c} at {p:.2f}" for c, p in self.chars)
        if self.edits == 0:
            return f"three or more numerals would have to be misheard (weakest: {said})"
        n = "one numeral" if self.edits == 1 else "two numerals"
        return f"{n} ({said}) would have to be misheard for the policy's value"


def _variants(heard: str, i: int) -> list[str]:
    """``heard`` with its character ``i`` misheard: another numeral in its place, a syllable
    too many (a Chinese numeral left out), or one dropped before it (a numeral put in)."""
    ch = heard[i]
    out: list[str] = []
    if ch in ARABIC_DIGITS:
        out += [heard[:i] + d + heard[i + 1 :] for d in ARABIC_DIGITS if d != ch]
    elif ch in CHINESE_NUMERALS:
        out += [heard[:i] + d + heard[i + 1 :] for d in CHINESE_NUMERALS if d != ch]
        out.append(heard[:i] + heard[i + 1 :])
        out += [heard[:i] + d + heard[i:] for d in CHINESE_NUMERALS]
    return out


@functools.lru_cache(maxsize=65536)
def _value(text: str) -> float | None:
    return parse_numeral(text) if text else None


def _explains(text: str, expected: float, tolerance: float) -> bool:
    v = _value(text)
    return v is not None and abs(v - expected) < tolerance


def mismatch_doubt(
    heard: str, probs: Sequence[float], expected: float, tolerance: float
) -> MismatchDoubt:
    """How sure the mismatch between ``heard`` (the numeral as recognised, each character with
    its probability in ``probs``) and ``expected`` is; see the module docstring."""
    n = len(heard)
    sets: list[tuple[int, ...]] = []
    for i in range(n):
        if any(_explains(v, expected, tolerance) for v in _variants(heard, i)):
            sets.append((i,))
    if MAX_EDITS >= 2:
        for i, j in itertools.combinations(range(n), 2):
            if (i,) in sets or (j,) in sets:
                continue  # a subset already explains it, and is more plausible
            # Edit the later character first, so the earlier index still points at its char.
            if any(
                _explains(v, expected, tolerance)
                for w in _variants(heard, j)
                for v in _variants(w, i)
            ):
                sets.append((i, j))

    def sure(idx: Sequence[int]) -> float:
        miss = 1.0
        for k in idx:
            miss *= 1.0 - probs[k]
        return 1.0 - miss

    if not sets:
        weakest = sorted(range(n), key=lambda k: probs[k])[:3]
        chars = tuple((heard[k], round(probs[k], 3)) for k in sorted(weakest))
        return MismatchDoubt(round(sure(weakest), 3), chars, 0)
    best = min(sets, key=sure)
    chars = tuple((heard[k], round(probs[k], 3)) for k in best)
    return MismatchDoubt(round(sure(best), 3), chars, len(best))


__all__ = ["MismatchDoubt", "mismatch_doubt"]
