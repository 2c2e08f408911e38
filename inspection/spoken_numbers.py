"""Spoken numbers checked against the policy (R7, R9): the premium, the cooling-off days, the
insurance period and the payment period, each recognised by the keyword nearest before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from inspection.numbers import Quantity, find_quantities, format_value
from inspection.policy import Policy
from inspection.transcript import TextStream

NumberKind = Literal["premium", "cooling_off_days", "insurance_years", "payment_years"]

#: Keyword → what a number right after it means (None: a number we do not check, e.g. 保额).
KEYWORDS: dict[str, NumberKind | None] = {
    "保费": "premium", "保险费": "premium", "每年交": "premium", "每年缴": "premium",
    "年交": "premium", "年缴": "premium", "每年": "premium", "每期": "premium", "每月": "premium",
    "月交": "premium", "月缴": "premium", "首期": "premium", "趸交": "premium", "交费": "premium",
    "缴费": "premium",
    "犹豫期": "cooling_off_days", "冷静期": "cooling_off_days",
    "保险期间": "insurance_years", "保险期限": "insurance_years", "保险期": "insurance_years",
    "保障期间": "insurance_years", "保障期限": "insurance_years", "保障期": "insurance_years",
    "保障": "insurance_years", "保至": "insurance_years",
    "交费期间": "payment_years", "缴费期间": "payment_years", "交费期": "payment_years",
    "缴费期": "payment_years", "交费年限": "payment_years", "缴费年限": "payment_years",
    "交": "payment_years", "缴": "payment_years", "连续交": "payment_years",
    # Numbers after these are other amounts: they must not be read as the premium.
    "保额": None, "保险金额": None, "基本保额": None, "现金价值": None, "保险金": None,
    "身故": None, "赔付": None, "给付": None, "收益": None, "分红": None, "账户": None,
    "退还": None, "贷款": None, "最高": None, "年龄": None, "周岁": None, "岁": None,
}  # fmt: skip

# Right after the number (no pause between): "10年交", "10年缴清" → payment; "20年的保障" → cover.
_AFTER: tuple[tuple[re.Pattern[str], NumberKind], ...] = (
    (re.compile(r"^(期)?(交|缴)(?!费期|费年)"), "payment_years"),
    (re.compile(r"^(的)?保障(?!期)"), "insurance_years"),
    (re.compile(r"^(的)?(犹豫期|冷静期)"), "cooling_off_days"),
)
_UNIT_OF: dict[NumberKind, str] = {
    "premium": "元",
    "cooling_off_days": "天",
    "insurance_years": "年",
    "payment_years": "年",
}


@dataclass(frozen=True)
class NumberCheck:
    """A number the salesperson said about the policy, and whether it equals the policy's."""

    kind: NumberKind
    spoken: float
    unit: str
    expected: float | None  # None: the policy has no value (insurance_years None = 终身)
    matches: bool
    start_s: float
    end_s: float
    text: str  # the number as recognised (normalised, e.g. "12000元")
    context: str  # the characters around it
    node_id: str | None = None  # the script node being read when it was said (set by script)

    @property
    def expected_text(self) -> str:
        if self.kind == "insurance_years" and self.expected is None:
            return "终身"
        return "" if self.expected is None else format_value(self.expected) + self.unit


def _keyword_before(text: str, start: int, window: int) -> tuple[str, NumberKind | None] | None:
    """The keyword ending closest before ``start`` within ``window`` chars (longest on ties)."""
    before = text[max(0, start - window) : start]
    best: tuple[int, int, str] | None = None
    for kw in KEYWORDS:
        at = before.rfind(kw)
        if at < 0:
            continue
        key = (at + len(kw), len(kw), kw)
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else (best[2], KEYWORDS[best[2]])


def classify_number(stream: TextStream, q: Quantity, window: int) -> NumberKind | None:
    """What a quantity in the stream states, from the words around it; None when unrelated."""
    after = stream.text[q.end : q.end + 6]
    if not stream.has_break(q.end, q.end + 1):
        for pattern, kind in _AFTER:
            if pattern.match(after) and _unit_fits(kind, q):
                return kind
    found = _keyword_before(stream.text, q.start, window)
    if found is None or found[1] is None:
        return None
    kind = found[1]
    if not _unit_fits(kind, q):
        return None
    return kind


def _unit_fits(kind: NumberKind, q: Quantity) -> bool:
    if q.ordinal:
        return False
    if kind == "premium":
        # "保费一万二" leaves out 元; a bare number that large can only be money.
        return q.unit == "元" or (q.unit == "" and q.value >= 100)
    if kind == "cooling_off_days":
        return q.unit == "天"
    return q.unit == "年" and q.value < 150


def _expected(kind: NumberKind, policy: Policy) -> float | None:
    if kind == "premium":
        return policy.premium
    if kind == "cooling_off_days":
        return float(policy.cooling_off_days)
    if kind == "insurance_years":
        return None if policy.insurance_years is None else float(policy.insurance_years)
    return None if policy.payment_years is None else float(policy.payment_years)


def check_numbers(
    stream: TextStream, policy: Policy, window: int = 12, context_chars: int = 10
) -> list[NumberCheck]:
    """Every policy number spoken in ``stream``, compared with ``policy``.

    A premium matches within 0.5 yuan; days and years must be equal. A spoken insurance period
    in years mismatches a whole-life policy. Kinds the policy leaves empty (no premium, no
    payment years) are not reported.
    """
    out = []
    for q in find_quantities(stream.text):
        kind = classify_number(stream, q, window)
        if kind is None:
            continue
        expected = _expected(kind, policy)
        if expected is None and kind != "insurance_years":
            continue
        ok = expected is not None and abs(q.value - expected) < (0.5 if kind == "premium" else 1e-6)
        t0, t1 = stream.span_times(q.start, q.end)
        out.append(
            NumberCheck(
                kind=kind,
                spoken=q.value,
                unit=_UNIT_OF[kind],
                expected=expected,
                matches=ok,
                start_s=round(t0, 3),
                end_s=round(t1, 3),
                text=q.text,
                context=stream.text[max(0, q.start - context_chars) : q.end + context_chars],
            )
        )
    return out
