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

from inspection.number_attribution import FIELD_PLACEHOLDERS, stated_values
from inspection.number_kinds import NumberKind
from inspection.script_types import NodeAlignment
from inspection.spoken_numbers import NumberCheck

DIGITS = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class UnheardNumber:
    """A policy number a covered node states (its template placeholder) with no number of its
    kind recognised in the session."""

    kind: NumberKind
    expected: float  # the value the node's text states (number_attribution.stated_values)
    node_id: str
    start_s: float
    end_s: float
    heard: str  # what was recognised where the node was found


def _holds_value(text: str, values: Sequence[float]) -> bool:
    """Whether the normalised ``text`` (numerals as digits) holds one of ``values``."""
    return any(float(d) in values for d in DIGITS.findall(text))


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
        if a is None or getattr(node, "speaker", "salesperson") != "salesperson":
            continue
        for kind in FIELD_PLACEHOLDERS:
            if kind not in kinds or kind in said:
                continue
            # The node's own values only (no policy: not every product's), 终身 (None) left
            # out: whole life states no number.
            stated = [v for v in stated_values(node, kind, None) or [] if v is not None]
            if not stated:
                continue
            said.add(kind)  # once per kind
            if _holds_value(a.matched_text, stated):
                # The policy's number is there, its unit or keyword misheard (15天有1期,
                # 20分的勇气 for 20天的犹豫期: test11, test01), so it was said as the policy
                # says; another number there is no such proof (a wrong one, unit misheard).
                continue
            assert a.start_s is not None
            out.append(
                UnheardNumber(
                    kind=kind,
                    expected=stated[0],
                    node_id=a.node_id,
                    start_s=a.start_s,
                    end_s=a.end_s if a.end_s is not None else a.start_s,
                    heard=a.matched_text,
                )
            )
    return out
