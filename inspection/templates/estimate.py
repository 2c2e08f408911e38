"""Spoken-duration estimates of a rendered script: syllables per node at the template's
speaking rate, answer and document pauses, in total, shared and per product."""

from __future__ import annotations

import re
from dataclasses import dataclass

from inspection.policy import Policy
from inspection.templates.format import SAMPLE_POLICY, Template
from inspection.templates.rendering import render

# Characters that take no speaking time (punctuation, spaces, symbols).
_SILENT_RE = re.compile(r"[\s\W_]+", re.UNICODE)
# Arabic numbers are spoken as Chinese numerals: 12000 -> 一万二千 (4 syllables for 5 digits).
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class NodeDuration:
    id: str
    speech_s: float
    pause_s: float

    @property
    def total_s(self) -> float:
        return self.speech_s + self.pause_s


@dataclass(frozen=True)
class ProductDuration:
    """The part of an estimate spent on one product's own nodes."""

    key: str
    product_name: str
    total_s: float
    nodes: int


@dataclass(frozen=True)
class DurationEstimate:
    """Estimated spoken duration of a rendered template."""

    total_s: float
    nodes: tuple[NodeDuration, ...]
    characters: int
    shared_s: float = 0.0  # nodes said once for the whole sale
    products: tuple[ProductDuration, ...] = ()  # per product, in speaking order


def spoken_chars(text: str) -> int:
    """Approximate syllables in ``text``: CJK/letters count one each, numbers as spoken numerals."""
    count = 0
    for part in _NUMBER_RE.split(text):
        count += len(_SILENT_RE.sub("", part))
    for num in _NUMBER_RE.findall(text):
        count += _numeral_syllables(num)
    return count


def _numeral_syllables(num: str) -> int:
    """Syllables of a number read as Chinese: 12000 -> 一万二千 (4), 15 -> 十五, 1.5 -> 一点五."""
    whole, _, frac = num.partition(".")
    whole = whole.lstrip("0") or "0"
    nonzero = sum(1 for d in whole if d != "0")
    n = max(1, 2 * nonzero - (1 if whole[-1] != "0" else 0))
    return n + (1 + len(frac) if frac else 0)


def estimate_duration(
    template: Template,
    policy: Policy | None = None,
    *,
    product_templates: dict[str, Template] | None = None,
    played_s: dict[str, float] | None = None,
) -> DurationEstimate:
    """Estimate how long the script takes to speak, with answer and document pauses; in
    total, for the shared nodes, and per product (its own nodes). ``played_s`` gives the
    real duration of nodes that are played from audio files."""
    if policy is None:
        product = template.product_types[0]
        policy = Policy.from_dict({**SAMPLE_POLICY.to_dict(), "product_type": product})
    nodes = []
    chars = 0
    per_product: dict[str, list[float]] = {p.key: [] for p in policy.products}
    shared = 0.0
    for r in render(template, policy, product_templates):
        n = spoken_chars(r.text)
        chars += n
        pause = (template.answer_pause_s if r.requires_answer else 0.0) + (
            template.document_pause_s if r.document else 0.0
        )
        speech = (played_s or {}).get(r.id, n / template.speaking_rate)
        d = NodeDuration(r.id, speech, pause)
        nodes.append(d)
        if r.product is None:
            shared += d.total_s
        else:
            per_product[r.product].append(d.total_s)
    products = tuple(
        ProductDuration(p.key, p.product_name, sum(per_product[p.key]), len(per_product[p.key]))
        for p in policy.products
    )
    total = sum(n.total_s for n in nodes)
    return DurationEstimate(
        total_s=total, nodes=tuple(nodes), characters=chars, shared_s=shared, products=products
    )
