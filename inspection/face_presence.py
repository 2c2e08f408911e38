"""A participant's presence on camera: faces per sampled frame, and the spans with no
adequate face."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from inspection.faces import FaceAnalyzer

__all__ = ["PresenceSample", "absence_intervals", "presence_timeline"]


@dataclass(frozen=True)
class PresenceSample:
    """Faces seen in one sampled frame; the best face is the largest one."""

    t_s: float
    n_faces: int
    best_face_size: float
    best_score: float


def presence_timeline(
    analyzer: FaceAnalyzer, frames: Iterable[tuple[float, np.ndarray]]
) -> list[PresenceSample]:
    """Detect faces in each ``(t_s, bgr)`` frame; the largest face is the participant's."""
    samples = []
    for t_s, bgr in frames:
        faces = analyzer.detect(bgr)
        best = max(faces, key=lambda f: f.size, default=None)
        samples.append(
            PresenceSample(
                t_s=t_s,
                n_faces=len(faces),
                best_face_size=best.size if best else 0.0,
                best_score=best.score if best else 0.0,
            )
        )
    return samples


def absence_intervals(
    samples: list[PresenceSample],
    period_s: float,
    min_face_size: float = 0.0,
    min_score: float = 0.0,
    start_s: float | None = None,
    end_s: float | None = None,
) -> list[tuple[float, float]]:
    """Merged ``(start_s, end_s)`` spans with no adequate face.

    A sample at ``t`` stands for ``[t, t + period_s)``. Stretches with no sample at all
    (no video: the participant dropped, the segment ended) count as absent, including
    before the first and after the last sample when ``start_s`` / ``end_s`` are given.
    """
    spans: list[tuple[float, float]] = []
    ordered = sorted(samples, key=lambda s: s.t_s)
    cursor = start_s
    for sample in ordered:
        if cursor is not None and sample.t_s - cursor > period_s / 2:
            spans.append((cursor, sample.t_s))  # no frames in between
        present = (
            sample.n_faces > 0
            and sample.best_face_size >= min_face_size
            and sample.best_score >= min_score
        )
        if not present:
            spans.append((sample.t_s, sample.t_s + period_s))
        cursor = sample.t_s + period_s
    if end_s is not None:
        last = cursor if cursor is not None else end_s
        if end_s - last > period_s / 2:
            spans.append((last, end_s))
    return _merge(spans, end_s)


def _merge(spans: list[tuple[float, float]], end_s: float | None) -> list[tuple[float, float]]:
    """Merge touching spans, clipped to ``end_s``."""
    merged: list[tuple[float, float]] = []
    for start, stop in sorted(spans):
        if end_s is not None:
            stop = min(stop, end_s)
        if stop <= start:
            continue
        if merged and start <= merged[-1][1] + 1e-9:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged
