"""Helpers shared by the finding domains: rounding, evidence lines, coverage, span algebra."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from inspection.report import Finding, TranscriptLine
from inspection.rules.evidence import NodeCoverage, Span
from inspection.rules.thresholds import Thresholds
from inspection.templates import RenderedNode

PARTICIPANT_CN = {"salesperson": "销售人员", "customer": "客户"}
PARTICIPANT_EN = {"salesperson": "The salesperson", "customer": "The customer"}


def r3(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def ev_line(participant: str, start: float | None, end: float | None, text: str) -> dict[str, Any]:
    return {"participant": participant, "start_s": r3(start), "end_s": r3(end), "text": text}


def min_similarity(node: RenderedNode, th: Thresholds) -> float:
    """The similarity a node needs to count as covered."""
    if node.min_similarity is not None:
        return node.min_similarity
    return th.reminder_similarity if node.role == "reminder" else th.node_similarity


def is_covered(cov: NodeCoverage, th: Thresholds) -> bool:
    if cov.start_s is None:
        return False
    if cov.support == "slot":  # said in other words where it belongs (inspection.node_slot)
        return True
    if cov.support == "forced":  # its text explains its slot's audio (inspection.node_forced)
        return True
    return cov.score >= min_similarity(cov.node, th) or cov.key_score >= th.node_key_score


def subtract(spans: Iterable[Span], remove: Iterable[Span]) -> list[Span]:
    """``spans`` minus the union of ``remove``."""
    cuts = sorted(remove)
    out: list[Span] = []
    for start, end in spans:
        pieces = [(start, end)]
        for c0, c1 in cuts:
            nxt: list[Span] = []
            for p0, p1 in pieces:
                if c1 <= p0 or c0 >= p1:
                    nxt.append((p0, p1))
                    continue
                if c0 > p0:
                    nxt.append((p0, c0))
                if c1 < p1:
                    nxt.append((c1, p1))
            pieces = nxt
        out.extend(pieces)
    return out


def excerpt_around(
    transcript: Sequence[TranscriptLine], start: float, end: float, pad_s: float = 2.0
) -> list[dict[str, Any]]:
    """Transcript lines overlapping ``[start - pad, end + pad]`` as evidence dicts."""
    return [
        ev_line(t.participant, t.start_s, t.end_s, t.text)
        for t in transcript
        if t.end_s >= start - pad_s and t.start_s <= end + pad_s
    ]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Fail before review, then by time, then by code."""
    return sorted(
        findings,
        key=lambda f: (f.severity != "fail", f.start_s if f.start_s is not None else -1.0, f.code),
    )


def marker_spans(markers: Sequence[tuple[str, float]], end_s: float) -> dict[str, Span]:
    """Node id -> (when the teleprompter first showed it, when it moved on), from
    ``(node, t_s)`` markers in time order; the last lasts until ``end_s``."""
    ordered = sorted(markers, key=lambda m: m[1])
    out: dict[str, Span] = {}
    for j, (node, t) in enumerate(ordered):
        nxt = ordered[j + 1][1] if j + 1 < len(ordered) else end_s
        out.setdefault(node, (max(0.0, t), max(t, nxt)))
    return out
