"""The script stage of the pipeline: transcripts + rendered nodes -> the records ``rules`` reads
(node coverage with answers, forbidden-phrase hits, number checks).

Interim implementation on ``textnorm`` and ``numbers`` until ``inspection.script`` (owned by
the speech helper) lands; ``align_script`` is the only entry point the pipeline calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from inspection.numbers import canonicalize, find_amounts, find_days, find_years
from inspection.rules import NodeCoverage, NumberCheck, PhraseHit, Thresholds
from inspection.templates import RenderedNode, Template
from inspection.textnorm import normalize, partial_match, pinyin

if TYPE_CHECKING:
    from inspection.pipeline import NodeMarker
    from inspection.policy import Policy
    from inspection.speech import Utterance

NEGATIVE = (
    "不同意",
    "不清楚",
    "没听懂",
    "不明白",
    "不知道",
    "不理解",
    "不是",
    "不对",
    "不要",
    "不愿意",
    "没听清",
    "不太",
)
AFFIRMATIVE = (
    "同意",
    "清楚",
    "明白",
    "是的",
    "是我",
    "好的",
    "对",
    "没问题",
    "可以",
    "知道",
    "了解",
    "理解",
    "是",
)
NUMBER_FIELDS = {
    "premium": find_amounts,
    "cooling_off_days": find_days,
    "payment_years": find_years,
    "payment_period": find_years,
    "insurance_years": find_years,
    "insurance_period": find_years,
}


@dataclass
class ScriptResult:
    coverage: list[NodeCoverage]
    forbidden: list[PhraseHit]
    numbers: list[NumberCheck]
    node_of_utterance: dict[tuple[str, float], str] = field(default_factory=dict)


@dataclass
class _Text:
    """One participant's transcript as normalised text with a time per character."""

    text: str
    times: list[tuple[float, float]]
    pinyin: list[str]
    utts: list[int]  # utterance index per character


def _pieces(u: Utterance, nxt: Utterance | None) -> list[tuple[str, float, float]]:
    """(text, start, end) per word when Whisper gave word times, else the whole utterance.

    faster-whisper sometimes drops the words after a token that splits a character (the
    segment text goes on, the word list stops; the next segment may repeat that text with
    times): the rest, up to where the next segment's text begins, is spread from the last
    word towards the next segment at ~3.3 characters per second.
    """
    if not u.words:
        return [(u.text, u.start_s, u.end_s)]
    pieces = [(w.text, w.start_s, w.end_s) for w in u.words]
    said = normalize("".join(w.text for w in u.words))
    full = normalize(u.text)
    if len(full) > len(said) and full.startswith(said[: max(1, len(said) - 2)]):
        rest = full[len(said) :]
        head = normalize(nxt.text)[:6] if nxt is not None else ""
        if head and head in rest:
            rest = rest[: rest.index(head)]
        start = u.words[-1].end_s
        end = start + 0.3 * len(rest)
        if nxt is not None and nxt.start_s > start:
            end = min(end, nxt.start_s)
        if rest:
            pieces.append((rest, start, end))
    return pieces


def _build(utterances: Sequence[Utterance]) -> _Text:
    raw: list[str] = []
    raw_times: list[tuple[float, float]] = []
    raw_utts: list[int] = []
    for i, u in enumerate(utterances):
        nxt = utterances[i + 1] if i + 1 < len(utterances) else None
        for text, start, end in _pieces(u, nxt):
            norm = normalize(text)
            step = (end - start) / max(1, len(norm))
            for j, ch in enumerate(norm):
                raw.append(ch)
                raw_times.append((start + j * step, start + (j + 1) * step))
                raw_utts.append(i)
    # Spoken numbers as Arabic (一万两千元 -> 12000元), as in the rendered node texts.
    text, index = canonicalize("".join(raw))
    times = [raw_times[k] for k in index]
    utts = [raw_utts[k] for k in index]
    return _Text(text, times, pinyin(text), utts)


def _cover(node: RenderedNode, t: _Text) -> NodeCoverage:
    needle = normalize(canonicalize(node.text)[0])
    if not needle or not t.text:
        return NodeCoverage(node, 0.0)
    m = partial_match(needle, t.text, hay_pinyin=t.pinyin)
    if m.end <= m.start:
        return NodeCoverage(node, m.score)
    return NodeCoverage(
        node,
        m.score,
        start_s=round(t.times[m.start][0], 3),
        end_s=round(t.times[m.end - 1][1], 3),
        excerpt=t.text[m.start : m.end],
    )


def classify_answer(text: str) -> str:
    """affirmative | negative | unsure for a customer's reply."""
    norm = normalize(text)
    if any(w in norm for w in NEGATIVE):
        return "negative"
    if any(w in norm for w in AFFIRMATIVE):
        return "affirmative"
    return "unsure"


def _answer(
    cov: NodeCoverage, next_start: float | None, customer: _Text, th: Thresholds
) -> NodeCoverage:
    """The customer's words from just before the question ends until the answer window
    closes or the next node starts, classified."""
    if cov.end_s is None:
        return cov
    end = cov.end_s + th.answer_window_s
    if next_start is not None and next_start > cov.end_s + 1.0:
        end = min(end, next_start)
    idx = [i for i, (s, _) in enumerate(customer.times) if cov.end_s - 1.0 <= s <= end]
    if not idx:
        return replace(cov, answer="missing")
    text = "".join(customer.text[i] for i in idx)
    return replace(
        cov,
        answer=classify_answer(text),
        answer_text=text,
        answer_start_s=round(customer.times[idx[0]][0], 3),
        answer_end_s=round(customer.times[idx[-1]][1], 3),
    )


def _forbidden(
    phrases: Sequence[str], texts: dict[str, _Text], utterances: dict[str, list[Utterance]]
) -> list[PhraseHit]:
    hits: list[PhraseHit] = []
    for who, t in texts.items():
        for phrase in phrases:
            p = normalize(phrase)
            py = pinyin(p)
            for i in range(len(t.text) - len(p) + 1):
                exact = t.text[i : i + len(p)] == p
                if not exact and t.pinyin[i : i + len(p)] != py:
                    continue
                u = utterances[who][t.utts[i]]
                score = 1.0 if exact else 0.95
                hits.append(PhraseHit(phrase, who, u.start_s, u.end_s, u.text, score))  # type: ignore[arg-type]
    return hits


def _numbers(cov: NodeCoverage, t: _Text) -> list[NumberCheck]:
    if cov.start_s is None or not cov.node.values:
        return []
    # The node's own words, a little wider: numbers at the edges of the match count too.
    span = "".join(
        ch
        for ch, (s, e) in zip(t.text, t.times, strict=True)
        if s >= cov.start_s - 1.0 and e <= (cov.end_s or 0) + 1.0
    )
    out: list[NumberCheck] = []
    expected_by_kind: dict[object, list[float]] = {}
    for name, value in cov.node.values.items():
        finder = NUMBER_FIELDS.get(name)
        number = _as_number(value)
        if finder is not None and number is not None:
            expected_by_kind.setdefault(finder, []).append(number)
    for name, value in cov.node.values.items():
        finder = NUMBER_FIELDS.get(name)
        number = _as_number(value)
        if finder is None or number is None:
            continue
        found = [q.value for q in finder(span)]
        if not found or number in found:
            spoken = number if found else None
        else:
            others = [v for v in found if v not in expected_by_kind[finder]]
            spoken = others[0] if others else found[0]
        out.append(
            NumberCheck(cov.node.id, name, number, spoken, cov.start_s, cov.end_s, cov.excerpt)
        )
    return out


def _as_number(value: str) -> float | None:
    digits = value.rstrip("年")
    try:
        return float(digits)
    except ValueError:
        return None


def align_script(
    nodes: list[RenderedNode],
    utterances: dict[str, list[Utterance]],
    template: Template,
    policy: Policy,
    markers: Sequence[NodeMarker],
    th: Thresholds,
) -> ScriptResult:
    """Find each node in its speaker's transcript, the customer's answers, forbidden phrases
    and spoken numbers."""
    texts = {who: _build(utts) for who, utts in utterances.items()}
    empty = _Text("", [], [], [])
    coverage = [_cover(n, texts.get(n.speaker, empty)) for n in nodes]
    starts = sorted(c.start_s for c in coverage if c.start_s is not None)
    customer = texts.get("customer", empty)
    final: list[NodeCoverage] = []
    numbers: list[NumberCheck] = []
    for cov in coverage:
        if cov.node.requires_answer:
            nxt = next((s for s in starts if cov.end_s is not None and s > cov.end_s), None)
            cov = _answer(cov, nxt, customer, th)
        final.append(cov)
        if rules_covered(cov, th):
            numbers += _numbers(cov, texts.get(cov.node.speaker, empty))
    forbidden = _forbidden(template.forbidden_phrases, texts, utterances)
    return ScriptResult(final, forbidden, numbers)


def rules_covered(cov: NodeCoverage, th: Thresholds) -> bool:
    from inspection.rules import is_covered

    return is_covered(cov, th)
