"""Document windows: where on the session timeline each document must be shown."""

from __future__ import annotations

from inspection import rules
from inspection.inputs import NodeMarker
from inspection.rules import NodeCoverage, Span, Thresholds
from inspection.templates import RenderedNode


def document_windows(
    nodes: list[RenderedNode],
    coverage: list[NodeCoverage],
    markers: list[NodeMarker],
    duration_s: float,
    th: Thresholds,
) -> dict[str, Span]:
    """Per document kind, the span in which it must be shown: from the node's start to the
    next node's start (at least ``document_pad_s`` past the node's end and its answer).
    From the markers when speech did not find the node; absent when neither did."""
    by_id = {c.node.id: c for c in coverage}
    out: dict[str, Span] = {}
    for i, node in enumerate(nodes):
        if not node.document:
            continue
        cov = by_id.get(node.id)
        span = (
            _spoken_window(nodes, i, cov, by_id, duration_s, th)
            if cov and rules.is_covered(cov, th)
            else None
        )
        span = span or _marker_window(node.id, markers, duration_s, th)
        if span is not None:
            out[node.document] = span
    return out


def _spoken_window(
    nodes: list[RenderedNode],
    i: int,
    cov: NodeCoverage,
    by_id: dict[str, NodeCoverage],
    duration_s: float,
    th: Thresholds,
) -> Span | None:
    if cov.start_s is None:
        return None
    end = max(cov.end_s or cov.start_s, cov.answer_end_s or 0.0) + th.document_pad_s
    later = [
        c.start_s
        for n in nodes[i + 1 :]
        if (c := by_id.get(n.id)) is not None
        and c.start_s is not None
        and c.start_s > cov.start_s
        and rules.is_covered(c, th)
    ]
    if later:
        end = max(end, min(later))
    return (cov.start_s, min(end, duration_s))


def _marker_window(
    node_id: str, markers: list[NodeMarker], duration_s: float, th: Thresholds
) -> Span | None:
    for j, m in enumerate(markers):
        if m.node == node_id:
            nxt = markers[j + 1].t_s if j + 1 < len(markers) else duration_s
            return (m.t_s, min(duration_s, max(nxt, m.t_s + th.document_pad_s)))
    return None
