"""Stated amounts the recogniser garbled: a run of Chinese numerals before a unit that is no
number at all (每年交两万两七五百元), so no quantity is found and the statement would pass
unchecked. Such a run is read the ways one misheard numeral allows (another numeral in its
place, one too many, one left out), and is never a sure mismatch: at most a ``review``.

Ranges (七八千元, 两三万, 十五六天) are how approximate amounts are said, not garbling: a run
that parses once a pair of neighbouring numerals is read as its first one is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from inspection.number_readings import Reading
from inspection.numerals import parse_numeral
from inspection.quantities import Quantity

_DIGITS = "零一二两三四五六七八九"
_NUMERALS = _DIGITS + "十百千万"
# At least four numeral characters, one of them a multiplier, right before a unit.
_RUN = re.compile(rf"[{_NUMERALS}]{{4,}}(?=[元块天年])")
_RANGE_PAIRS = {"一两", "两三", "三四", "四五", "五六", "六七", "七八", "八九", "二三"}


def garbled_amounts(text: str, found: Sequence[Quantity]) -> list[Quantity]:
    """Runs of numerals before a unit in ``text`` that do not parse and that no quantity of
    ``found`` covers, as quantities valued 0 (their readings come from :func:`repairs`)."""
    out = []
    for m in _RUN.finditer(text):
        run = m.group()
        if not any(c in "十百千万" for c in run) or parse_numeral(run) is not None:
            continue
        if _is_range(run) or any(q.start < m.end() and m.start() < q.end for q in found):
            continue
        unit = text[m.end()]
        out.append(Quantity(0.0, unit, m.start(), m.end() + 1, run + unit))
    return out


def _is_range(run: str) -> bool:
    return any(
        run[i : i + 2] in _RANGE_PAIRS and parse_numeral(run[:i] + run[i] + run[i + 2 :])
        for i in range(len(run) - 1)
    )


def repairs(run: str) -> list[Reading]:
    """The values ``run`` reads as with one numeral misheard, in order of position."""
    out: list[Reading] = []
    for i, ch in enumerate(run):
        options = [(run[:i] + run[i + 1 :], f"{ch} left out")]
        options += [(run[:i] + d + run[i + 1 :], f"{ch}→{d}") for d in _NUMERALS if d != ch]
        options += [(run[:i] + d + run[i:], f"{d} put in before {ch}") for d in _NUMERALS]
        for text, how in options:
            value = parse_numeral(text) if text else None
            if value is not None and all(r.value != value for r in out):
                out.append(Reading(value, f"{run} is no number; {how}"))
    return out
