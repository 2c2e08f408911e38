"""Policy numbers a covered node states that were never heard (R9): the node was found, but no
number of its kind was recognised anywhere in the salesperson's speech, nor the policy's value
as a number in the node's own words (its unit or keyword misheard), so the number said cannot
be compared with the policy.

Before, such a node passed: test07 of the frozen test split, whose salesperson stated the
wrong cooling-off period, was heard as 您收到合同以后有期间犹豫期 (七天 as 期间), no number of
days was left to compare, and the session passed with a wrong cooling-off period. What the
recogniser lost must go to a reviewer, not count as said right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inspection.number_kinds import NumberKind
from inspection.script_types import NodeAlignment
from inspection.spoken_numbers import NumberCheck

DIGITS = re.compile(r"\d+(?:\.\d+)?")

#: The template placeholder that puts each number kind into a node's text.
PLACEHOLDER_OF: dict[NumberKind, str] = {
    "cooling_off_days": "cooling_off_days",
    "premium": "premium",
    "payment_years": "payment_period",
    "insurance_years": "insurance_period",
}


@dataclass(frozen=True)
class UnheardNumber:
    """A policy number a covered node states (its template placeholder) with no number of its
    kind recognised in the session."""

    kind: NumberKind
    expected: str  # the policy's value as the node's text states it ("15", "12,000元")
    node_id: str
    start_s: float
    end_s: float
    heard: str  # what was recognised where the node was found


def _holds_value(text: str, value: str) -> bool:
    """Whether the normalised ``text`` (numerals as digits) holds the number of ``value``."""
    wanted = number_of(value)
    return wanted is not None and any(number_of(d) == wanted for d in DIGITS.findall(text))


def number_of(text: str) -> float | None:
    """The number written in ``text`` ("15", "12,000元"), or None when it holds no digits."""
    digits = "".join(DIGITS.findall(text.replace(",", "")))
    try:
        return float(digits) if digits else None
    except ValueError:
        return None


def unheard_numbers(
    nodes: Iterable[object],
    aligned: Sequence[NodeAlignment],
    numbers: Sequence[NumberCheck],
    kinds: Sequence[str],
) -> list[UnheardNumber]:
    """One record per kind of ``kinds`` that a covered salesperson node of ``nodes`` (rendered
    template nodes: their ``values`` are the placeholders filled) states and no check of
    ``numbers`` (every policy number recognised, before ``number_attribution`` keeps those
    it compares) has: a number of that kind said anywhere, right or wrong, counts as heard.
    A kind is reported once, at its first such node."""
    said = {n.kind for n in numbers}
    found = {a.node_id: a for a in aligned if a.covered and a.start_s is not None}
    out: list[UnheardNumber] = []
    for node in nodes:
        a = found.get(str(getattr(node, "id", "")))
        values: dict[str, str] = getattr(node, "values", None) or {}
        if a is None or getattr(node, "speaker", "salesperson") != "salesperson":
            continue
        for kind, placeholder in PLACEHOLDER_OF.items():
            value = values.get(placeholder, "")
            # 终身 (whole life) and empty values state no number.
            if kind not in kinds or kind in said or not any(c.isdigit() for c in value):
                continue
            said.add(kind)  # once per kind
            if _holds_value(a.matched_text, value):
                # The policy's number is there, its unit or keyword misheard (15天有1期,
                # 20分的勇气 for 20天的犹豫期: test11, test01), so it was said as the policy
                # says; another number there is no such proof (a wrong one, unit misheard).
                continue
            assert a.start_s is not None
            out.append(
                UnheardNumber(
                    kind=kind,
                    expected=value,
                    node_id=a.node_id,
                    start_s=a.start_s,
                    end_s=a.end_s if a.end_s is not None else a.start_s,
                    heard=a.matched_text,
                )
            )
    return out
