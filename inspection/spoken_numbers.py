"""Spoken numbers checked against the policy (R7, R9): the premium, the cooling-off days, the
insurance period and the payment period, each recognised by the keyword nearest before it
(``number_kinds``) and told apart from sums and worked examples (``number_statements``).

A number counts as different from the policy only when none of its homophone readings
(number_readings) equals the policy value, and each check carries the recognition
probability it rests on. An amount garbled into no number at all (``garbled_numbers``) is
checked in the readings one misheard numeral allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspection.garbled_numbers import garbled_amounts, repairs
from inspection.number_kinds import Keyword, NumberKind, classify
from inspection.number_readings import MAX_LEAD, Reading, lead_readings, readings
from inspection.number_statements import Statement, statement_of
from inspection.numerals import format_value, numeral_end
from inspection.policy import Policy
from inspection.quantities import Quantity, find_quantities
from inspection.transcript import TextStream

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
    confidence: float = 1.0  # lowest word probability of the number's characters (0-1)
    readings: tuple[float, ...] = ()  # every plausible value, as recognised first
    reading: str = "as recognised"  # how ``spoken`` was read from what was recognised
    keyword: str = ""  # the keyword that said what the number is, as recognised
    statement: Statement = "statement"  # or a sum, or a worked example
    options: tuple[Reading, ...] = ()  # ``readings`` with how each was read
    char_probs: tuple[float, ...] = ()  # recognition probability of each character of text
    product: str | None = None  # key of the product whose value it was compared with
    doubt: str = ""  # why a mismatch may be a recognition error (review, not fail)
    heard: str = ""  # the numeral as recognised (一万五千, 十二十, 15000), before rewriting
    heard_probs: tuple[float, ...] = ()  # recognition probability of each character of heard
    utterance: int = -1  # index of the recogniser segment it was heard in (-1: unknown)
    garbled: str = ""  # the numerals as recognised when they are no number (两万两七五百)
    #: Values the characters right before the number allow as its misheard leading digit and
    #: magnitude word (宝贝大坚600元: 8600); a mismatch one of them explains is a doubt.
    lead_options: tuple[Reading, ...] = ()

    @property
    def expected_text(self) -> str:
        if self.kind == "insurance_years" and self.expected is None:
            return "终身"
        return "" if self.expected is None else format_value(self.expected) + self.unit


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

    A premium matches within 0.5 yuan; days and years must be equal, in at least one plausible
    reading (:func:`inspection.number_readings.readings`). A spoken insurance period in years
    mismatches a whole-life policy. Kinds the policy leaves empty (no premium, no payment
    years) are not reported.
    """
    out = []
    quantities = find_quantities(stream.text, stream.pauses)
    garbled = garbled_amounts(stream.text, quantities)
    for q in sorted([*quantities, *garbled], key=lambda q: q.start):
        found = classify(stream, q, window, quantities)
        if found is None:
            continue
        kind, keyword = found
        expected = _expected(kind, policy)
        if expected is None and kind != "insurance_years":
            continue
        run = q.text[:-1] if q in garbled else ""
        options = repairs(run) if run else _readings(stream, q, keyword)
        if not options:
            continue
        tolerance = 0.5 if kind == "premium" else 1e-6
        hit = next(
            (r for r in options if expected is not None and abs(r.value - expected) < tolerance),
            None,
        )
        # Without a match, report the reading the keyword explains (犹豫七十天: 10 days).
        chosen = hit or (options[1] if keyword and keyword.absorbed and len(options) > 1 else None)
        if run and chosen is None:
            chosen = min(options, key=lambda r: abs(r.value - (expected or 0.0)))
        chosen = chosen or Reading(q.value, "as recognised")
        t0, t1 = stream.span_times(q.start, q.end)
        out.append(
            NumberCheck(
                kind=kind,
                spoken=chosen.value,
                unit=_UNIT_OF[kind],
                expected=expected,
                matches=hit is not None,
                start_s=round(t0, 3),
                end_s=round(t1, 3),
                text=q.text,
                context=stream.text[max(0, q.start - context_chars) : q.end + context_chars],
                confidence=round(stream.confidence(q.start, q.end), 3),
                readings=tuple(r.value for r in options),
                reading=chosen.how,
                keyword=keyword.heard if keyword else "",
                statement=statement_of(stream, q.start),
                options=tuple(options),
                char_probs=tuple(stream.prob[q.start : q.end]) if stream.prob else (),
                utterance=stream.utterance[q.start] if stream.utterance else -1,
                garbled=run,
                lead_options=() if run else _lead_options(stream, q, keyword),
                **_heard(stream, q),
            )
        )
    return out


def _heard(stream: TextStream, q: Quantity) -> dict[str, Any]:
    """The numeral of ``q`` as recognised, with each character's probability."""
    if not stream.source or len(stream.source_prob) != len(stream.source):
        return {}
    s0, s1 = stream.source_span(q.start, q.end)
    heard = stream.source[s0:s1]
    numeral = heard[: numeral_end(heard)] if q.unit else heard
    return {"heard": numeral, "heard_probs": stream.source_prob[s0 : s0 + len(numeral)]}


def _readings(stream: TextStream, q: Quantity, keyword: Keyword | None) -> list[Reading]:
    """The plausible values of ``q`` from how it was recognised (its source characters)."""
    if not stream.source:
        return [Reading(q.value, "as recognised")]
    s0, s1 = stream.source_span(q.start, q.end)
    heard = stream.source[s0:s1]
    numeral = heard[: numeral_end(heard)] if q.unit else heard
    if not numeral or q.unit == "%":
        return [Reading(q.value, "as recognised")]
    paused = stream.has_break(q.start, q.start + 1) if q.start > 0 else True
    before = "" if paused else stream.source[max(0, s0 - 2) : s0]
    absorbed = keyword is not None and keyword.absorbed
    found = readings(numeral, before, absorbed)
    if not found or found[0].value != q.value:
        # The recognised numeral reads differently alone (百分之三): keep the stream's value.
        found = [Reading(q.value, "as recognised"), *[r for r in found if r.value != q.value]]
    return found


def _lead_options(stream: TextStream, q: Quantity, keyword: Keyword | None) -> tuple[Reading, ...]:
    """:func:`inspection.number_readings.lead_readings` of ``q`` with the characters said
    right before it (no pause between, none of its keyword's)."""
    if not stream.source or q.start == 0 or q.unit == "%":
        return ()
    s0, s1 = stream.source_span(q.start, q.end)
    numeral = stream.source[s0:s1]
    numeral = numeral[: numeral_end(numeral)] if q.unit else numeral
    lo = max(s0 - MAX_LEAD - 2, keyword.end if keyword else 0)
    k = 0  # characters before the number in the same breath, in the text as in the source
    while k < s0 - lo and q.start - k - 1 >= 0 and not stream.breaks[q.start - k - 1]:
        if stream.source_index and stream.source_index[q.start - k - 1] != s0 - k - 1:
            break  # rewritten by normalisation (a numeral): stop there
        k += 1
    before = stream.source[max(lo, s0 - k - 2) : s0]
    if not numeral or k == 0:
        return ()
    return tuple(lead_readings(numeral, before, k))
