"""Which policy value a spoken number is compared with (R7, R9), in combined sales too.

A number is attributed to a policy field only in a node whose rendered text states that field
(its ``values`` hold the placeholder) and only when its sentence states it (not a sum over
the years or products, not a worked example): "您每年交一万二，交十年，一共是十二万元" says
the premium once, and 十二万 is a sum. It is compared with what that node states — the values
of the node's own product in a combined sale (``RenderedNode.product``); a shared node may
name any product's value. A sum is compared with the sums the policy allows (the premiums of
all products, premium x payment years) and otherwise left alone.

A mismatch that may be a recognition error is kept with a ``doubt`` (reported as review): one
character of the numeral as recognised, with probability below ``sure_confidence``, is all that
separates it from the policy's value (二十年 heard as 三十年, or as 十二十年 = 30), or the same
field of the same product was stated as the policy's value elsewhere in the session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from inspection.number_doubt import mismatch_doubt
from inspection.number_kinds import NumberKind
from inspection.numerals import format_value, parse_numeral
from inspection.policy import Policy
from inspection.spoken_numbers import NumberCheck

#: Placeholders whose value a spoken number of each kind is compared with.
FIELD_PLACEHOLDERS: dict[NumberKind, tuple[str, ...]] = {
    "premium": ("premium", "total_premium"),
    "payment_years": ("payment_years", "payment_period"),
    "insurance_years": ("insurance_years", "insurance_period"),
    "cooling_off_days": ("cooling_off_days",),
}
WHOLE_LIFE = "终身"
#: The ``doubt`` of a mismatch that the words right before the number explain (``lead_doubt``).
MAGNITUDE_MISHEARD = "magnitude_misheard"


def _value(text: str) -> float | None:
    """A placeholder's rendered value as a number: "12000" -> 12000, "10年" -> 10."""
    digits = text.rstrip("年天元")
    try:
        return float(digits)
    except ValueError:
        return None


def stated_values(node: Any, kind: NumberKind, policy: Policy | None) -> list[float | None] | None:
    """The values ``node`` states for ``kind`` (None in the list: whole life); an empty list
    when the node does not state the field; None for a node without rendered values (a
    caller's own node list: the policy's main product is used, as before)."""
    values = getattr(node, "values", None)
    if values is None:
        return None
    out: list[float | None] = []
    for name in FIELD_PLACEHOLDERS[kind]:
        if name not in values:
            continue
        text = str(values[name])
        if text == WHOLE_LIFE:
            out.append(None)
        elif (v := _value(text)) is not None:
            out.append(v)
    if out and getattr(node, "product", None) is None and policy is not None:
        # A shared node (a summary of the sale) may name any product's value.
        for p in policy.products:
            out.append(_product_value(p, kind, policy))
    return out


def _product_value(product: Any, kind: NumberKind, policy: Policy) -> float | None:
    if kind == "premium":
        return None if product.premium is None else float(product.premium)
    if kind == "cooling_off_days":
        return float(policy.cooling_off_days)
    v = getattr(product, kind)
    return None if v is None else float(v)


def policy_sums(policy: Policy) -> set[float]:
    """Amounts a sum of premiums may rightly name: all products per payment, and each
    product's (and all products') premiums over the payment years."""
    out: set[float] = set()
    if policy.total_premium is not None:
        out.add(policy.total_premium)
    over_years = []
    for p in policy.products:
        if p.premium is not None and p.payment_years:
            over_years.append(float(p.premium) * p.payment_years)
    out.update(over_years)
    if over_years:
        out.add(sum(over_years))
    return out


def _judge(check: NumberCheck, expected: Sequence[float | None]) -> NumberCheck:
    """``check`` compared with every value the node states (any reading equal to any value)."""
    numeric = [e for e in expected if e is not None]
    tolerance = 0.5 if check.kind == "premium" else 1e-6
    options = check.options or ()
    for r in options:
        for e in numeric:
            if abs(r.value - e) < tolerance:
                return replace(check, expected=e, matches=True, spoken=r.value, reading=r.how)
    if not options and any(abs(check.spoken - e) < tolerance for e in numeric):
        return replace(check, matches=True)
    first = expected[0] if expected else None
    if numeric:
        first = min(numeric, key=lambda e: abs(e - check.spoken))
    # The value a misheard leading part would make it (宝贝大坚600: 8600) is the one in doubt.
    lead = [e for e in numeric for r in check.lead_options if abs(r.value - e) < tolerance]
    return replace(check, expected=lead[0] if lead else first, matches=False)


def one_numeral_doubt(check: NumberCheck, sure_confidence: float) -> str:
    """Why a mismatch may rest on one misrecognised numeral ("" when it does not): one
    character of the numeral as recognised (``heard``), recognised with probability below
    ``sure_confidence``, is all that separates it from the expected value, either as another
    numeral (二十年 heard as 三十年; 15000 for 12000) or, in Chinese numerals, as an extra
    syllable (二十年 heard as 十二十年 = 30). Judged on the recognised characters themselves:
    the Arabic rewriting spreads a numeral's characters over its digits (一万五千 -> 15000
    puts 一's probability on the 5)."""
    if check.expected is None or check.matches:
        return ""
    if check.heard and len(check.heard_probs) == len(check.heard):
        return _heard_doubt(check, check.expected, sure_confidence)
    return _digit_doubt(check, sure_confidence)


_CHINESE_NUMERALS = "零一二两三四五六七八九十"


def _heard_doubt(check: NumberCheck, expected: float, sure_confidence: float) -> str:
    heard, tolerance = check.heard, (0.5 if check.kind == "premium" else 1e-6)
    for i, (ch, prob) in enumerate(zip(heard, check.heard_probs, strict=True)):
        if prob >= sure_confidence:
            continue
        if ch.isdigit():
            changes = [heard[:i] + d + heard[i + 1 :] for d in "0123456789" if d != ch]
        elif ch in _CHINESE_NUMERALS:
            changes = [heard[:i] + heard[i + 1 :]]
            changes += [heard[:i] + d + heard[i + 1 :] for d in _CHINESE_NUMERALS if d != ch]
        else:
            continue
        for text in changes:
            value = parse_numeral(text) if text else None
            if value is not None and abs(value - expected) < tolerance:
                return f"one numeral ({ch} in {heard}) recognised with probability {prob:.2f}"
    return ""


def _digit_doubt(check: NumberCheck, sure_confidence: float) -> str:
    """The same for a check without the recognised characters: the spoken and the expected
    value differ in exactly one digit, and that digit's character was recognised with
    probability below ``sure_confidence``."""
    if check.reading != "as recognised":
        return ""
    said = _digits(check.spoken)
    want = _digits(check.expected) if check.expected is not None else None
    if said is None or want is None or len(said) != len(want):
        return ""
    diff = [i for i, (a, b) in enumerate(zip(said, want, strict=True)) if a != b]
    if len(diff) != 1:
        return ""
    # The digit's character in the recognised text (Arabic after normalisation).
    digit_chars = [i for i, ch in enumerate(check.text) if ch.isdigit()]
    if len(digit_chars) != len(said) or not check.char_probs:
        return ""
    prob = check.char_probs[digit_chars[diff[0]]]
    if prob >= sure_confidence:
        return ""
    return (
        f"one numeral ({said[diff[0]]} for {want[diff[0]]}) recognised with probability {prob:.2f}"
    )


def lead_doubt(check: NumberCheck) -> str:
    """``magnitude_misheard`` when the characters said right before the number, read as its
    leading digit and magnitude word (``NumberCheck.lead_options``), give the expected value:
    "每期宝贝大坚600元" for 8600 (八千 heard as 大坚, the 600 after it read as the amount)."""
    if check.expected is None or check.matches:
        return ""
    tolerance = 0.5 if check.kind == "premium" else 1e-6
    for r in check.lead_options:
        if abs(r.value - check.expected) < tolerance:
            return f"{MAGNITUDE_MISHEARD}: {r.how} = {format_value(r.value)}"
    return ""


def _digits(value: float) -> str | None:
    return str(int(value)) if float(value).is_integer() else None


def attribute_numbers(
    checks: Sequence[NumberCheck],
    nodes: Sequence[Any],
    policy: Policy | None,
    node_of_marker: Any = None,
    sure_confidence: float = 0.8,
    slots: Sequence[tuple[str, float, float]] = (),
) -> list[NumberCheck]:
    """The checks that state a policy field, each compared with its node's values.

    ``checks`` carry the node being read when the number was said (``node_id``);
    ``node_of_marker(t_s)`` gives the node the teleprompter showed at a time, used when
    speech did not place the number in a node. ``slots``: (node id, start_s, end_s) of the
    nodes the alignment did not find, where each belongs (between the nodes found around
    it): a number said there that no located node states is that node's (``_slot_node``)."""
    by_id = {n.id: n for n in nodes}
    sums = policy_sums(policy) if policy is not None else set()
    out: list[NumberCheck] = []
    # Recogniser segment -> the nodes its other numbers were placed in (in order).
    nodes_of: dict[int, list[str]] = {}
    for c in checks:
        if c.statement == "example":
            continue
        if c.statement == "sum" and c.kind == "premium":
            if any(abs(r.value - s) < 0.5 for r in (c.options or ()) for s in sums):
                out.append(replace(c, matches=True))
            continue  # a sum the policy does not explain: another amount, not the premium
        node_id = c.node_id
        if node_id is None and node_of_marker is not None:
            node_id = node_of_marker(c.start_s)
        node = by_id.get(node_id) if node_id is not None else None
        expected = stated_values(node, c.kind, policy) if node is not None else None
        if not expected and slots:
            found = _slot_node(c, slots, by_id, policy)
            if found is not None:
                node_id, node, expected = found
        if not expected and c.utterance >= 0:
            found = _sentence_node(c, checks, nodes_of, by_id, policy)
            if found is not None:
                node_id, node, expected = found
        if node_id is not None and c.utterance >= 0:
            nodes_of.setdefault(c.utterance, []).append(node_id)
        if expected is None:
            if node is None and nodes and hasattr(nodes[0], "values"):
                continue  # said outside every node of a rendered script: not attributed
            out.append(c)  # no rendered values: compared with the policy as before
            continue
        if not expected:
            continue  # the node does not state this field
        judged = _judge(c, expected)
        out.append(replace(judged, node_id=node_id, product=getattr(node, "product", None)))
    return _with_doubts(out, sure_confidence)


def _slot_node(
    c: NumberCheck,
    slots: Sequence[tuple[str, float, float]],
    by_id: dict[str, Any],
    policy: Policy | None,
) -> tuple[str, Any, list[float | None]] | None:
    """The node not found by the alignment whose slot holds ``c`` and states its field: the
    insurer's own wording of the premium node, misheard in noise, can miss every alignment
    threshold while its numbers are still heard with their keywords (a misstated premium
    there was dropped as said outside every node)."""
    for node_id, t0, t1 in slots:
        node = by_id.get(node_id)
        if node is None or not (t0 - 0.5 <= c.start_s and c.end_s <= t1 + 0.5):
            continue
        expected = stated_values(node, c.kind, policy)
        if expected:
            return node_id, node, expected
    return None


def _sentence_node(
    c: NumberCheck,
    checks: Sequence[NumberCheck],
    nodes_of: dict[int, list[str]],
    by_id: dict[str, Any],
    policy: Policy | None,
) -> tuple[str, Any, list[float | None]] | None:
    """A node that states ``c``'s field and that another number of the same recogniser
    segment was placed in: the premium said after the periods ("保险期间二十年，交费十年，
    每年交保费一万元") is that node's even when the next node's match reaches back over the
    end of the sentence."""
    placed = list(nodes_of.get(c.utterance, []))
    placed += [o.node_id for o in checks if o.utterance == c.utterance and o.node_id]
    for node_id in dict.fromkeys(placed):
        node = by_id.get(node_id)
        expected = stated_values(node, c.kind, policy) if node is not None else None
        if expected:
            return node_id, node, expected
    return None


def _with_doubts(checks: list[NumberCheck], sure_confidence: float) -> list[NumberCheck]:
    """Each mismatch with how sure it is: with the numeral as recognised, ``confidence``
    becomes the probability that the mismatch is real (``inspection.number_doubt``: the
    characters that would have to be misheard for the policy's value, not the weakest
    character of the number), and below ``sure_confidence`` it is a ``doubt`` (review)."""
    confirmed = {(c.kind, c.product) for c in checks if c.matches and c.statement == "statement"}
    out = []
    for c in checks:
        if c.matches:
            out.append(c)
            continue
        doubt = ""
        if c.garbled:
            # No reading of a garbled amount is what was said: never a sure mismatch.
            doubt = f"the amount was recognised as {c.garbled}, which is no number"
        elif c.expected is not None and c.heard and len(c.heard_probs) == len(c.heard):
            tolerance = 0.5 if c.kind == "premium" else 1e-6
            d = mismatch_doubt(c.heard, c.heard_probs, c.expected, tolerance)
            c = replace(c, confidence=d.confidence)
            if d.confidence < sure_confidence:
                doubt = d.describe()
        else:
            doubt = one_numeral_doubt(c, sure_confidence)
        doubt = lead_doubt(c) or doubt
        if not doubt and (c.kind, c.product) in confirmed:
            doubt = "the same field was stated as the policy's value elsewhere in the session"
        out.append(replace(c, doubt=doubt) if doubt else c)
    return out
