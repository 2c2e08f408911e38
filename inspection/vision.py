"""One pass over a participant's video: faces, image quality, thumbnails, and the frames kept for
document OCR and face matching. Models are passed in; nothing here loads one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from inspection.faces import Face, FaceAnalyzer, cosine
from inspection.quality import frame_quality
from inspection.rules import FrameFaces, FrameStats, Span, Thresholds

THUMB_WIDTH = 240  # px; every sampled frame keeps a JPEG this wide for evidence
LIVE_FRAMES = 3  # frames whose largest face is embedded to represent the participant


@dataclass(order=True)
class _Kept:
    """A frame kept in a bounded heap, ranked by ``key``."""

    key: float
    t_s: float
    bgr: np.ndarray = field(compare=False)
    faces: list[Face] = field(compare=False, default_factory=list)


@dataclass
class VideoScan:
    """Everything the rules and the document stage need from one participant's video."""

    participant: str
    period_s: float
    faces: list[FrameFaces] = field(default_factory=list)
    stats: list[FrameStats] = field(default_factory=list)
    thumbs: dict[float, bytes] = field(default_factory=dict)  # t_s -> JPEG
    live: list[_Kept] = field(default_factory=list)  # best frames with a clear face
    documents: dict[str, list[_Kept]] = field(default_factory=dict)  # kind -> sharpest frames
    card_faces: list[_Kept] = field(default_factory=list)  # ID-card window frames with faces

    def live_size(self) -> float:
        """Median size of the largest face outside document windows (0 when never seen)."""
        sizes = [f.sizes[0] for f in self.faces if f.sizes]
        return float(np.median(sizes)) if sizes else 0.0


def thumbnail(bgr: np.ndarray, width: int = THUMB_WIDTH, quality: int = 80) -> bytes:
    """A small JPEG of ``bgr`` for evidence."""
    h, w = bgr.shape[:2]
    if w > width:
        bgr = cv2.resize(bgr, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else b""


def _push(heap: list[_Kept], item: _Kept, k: int) -> None:
    if len(heap) < k:
        heapq.heappush(heap, item)
    elif item.key > heap[0].key:
        heapq.heapreplace(heap, item)


def _window_of(t: float, windows: Mapping[str, Sequence[Span]]) -> str | None:
    for kind, spans in windows.items():
        if any(a <= t <= b for a, b in spans):
            return kind
    return None


def scan_video(
    participant: str,
    frames: Iterable[tuple[float, np.ndarray]],
    analyzer: FaceAnalyzer,
    th: Thresholds,
    windows: Mapping[str, Sequence[Span]] | None = None,
) -> VideoScan:
    """Detect faces and measure quality in every sampled frame; keep what later stages need.

    ``windows`` maps a document kind ("id_card", "signature") to the spans in which it should
    be shown: the sharpest frames there are kept for OCR, and ID-card frames with faces for
    matching the card photo.
    """
    windows = windows or {}
    scan = VideoScan(participant, 1.0 / th.face_fps)
    for t, bgr in frames:
        faces = sorted(analyzer.detect(bgr), key=lambda f: -f.size)
        scan.faces.append(
            FrameFaces(t, tuple(f.size for f in faces), tuple(f.score for f in faces))
        )
        q = frame_quality(bgr, t)
        scan.stats.append(FrameStats(t, q.mean_luma, q.sharpness))
        scan.thumbs[t] = thumbnail(bgr)
        kind = _window_of(t, windows)
        if kind is not None:
            _push(scan.documents.setdefault(kind, []), _Kept(q.sharpness, t, bgr), th.ocr_frames)
            if kind == "id_card" and faces:
                _push(scan.card_faces, _Kept(-faces[-1].size + 1000 * len(faces), t, bgr, faces), 4)
        elif faces and faces[0].score >= th.face_min_score and faces[0].size >= th.face_min_size_px:
            _push(scan.live, _Kept(faces[0].size * faces[0].score, t, bgr, faces[:1]), LIVE_FRAMES)
    for kept in scan.documents.values():
        kept.sort(key=lambda k: -k.key)
    return scan


def live_embedding(scan: VideoScan, analyzer: FaceAnalyzer) -> tuple[np.ndarray, float] | None:
    """Mean SFace embedding of the participant's clearest faces, and a frame time."""
    if not scan.live:
        return None
    embs = [analyzer.embed(k.bgr, k.faces[0]) for k in scan.live]
    mean = np.mean(embs, axis=0)
    best = max(scan.live, key=lambda k: k.key)
    return mean / max(float(np.linalg.norm(mean)), 1e-12), best.t_s


def card_face_match(
    scan: VideoScan, analyzer: FaceAnalyzer, live: np.ndarray, th: Thresholds
) -> tuple[float, float] | None:
    """(best cosine, frame time) of a card-photo face in the ID-card window vs ``live``.

    A card face is any face smaller than ``card_face_max_ratio`` of the live face; the best
    match over the kept frames counts (the photo is small and may be blurred in some).
    """
    limit = th.card_face_max_ratio * scan.live_size()
    best: tuple[float, float] | None = None
    for kept in scan.card_faces:
        for face in kept.faces:
            if face.size >= limit or face.size < 16:
                continue
            c = cosine(analyzer.embed(kept.bgr, face), live)
            if best is None or c > best[0]:
                best = (c, kept.t_s)
    return best


def photo_embedding(bgr: np.ndarray, analyzer: FaceAnalyzer) -> np.ndarray | None:
    """Embedding of the largest face in a reference photo, or None when there is no face."""
    faces = analyzer.detect(bgr)
    if not faces:
        return None
    return analyzer.embed(bgr, max(faces, key=lambda f: f.size))


def presence_runs(scan: VideoScan) -> list[dict[str, float | int]]:
    """Run-length encoded face counts over time, for the report's face timeline."""
    runs: list[dict[str, float | int]] = []
    for f in scan.faces:
        n = len(f.sizes)
        if (
            runs
            and runs[-1]["faces"] == n
            and f.t_s - float(runs[-1]["end_s"]) <= scan.period_s * 1.5
        ):
            runs[-1]["end_s"] = round(f.t_s + scan.period_s, 3)
        else:
            runs.append(
                {"start_s": round(f.t_s, 3), "end_s": round(f.t_s + scan.period_s, 3), "faces": n}
            )
    return runs
