"""One pass over a participant's video: faces, image quality, thumbnails, and frames kept (as
JPEG) for document OCR and face matching. Models are passed in; nothing here loads one.

The scan does not need the document windows, so it can run while speech is recognised; the
frames for OCR and for the card photo are chosen afterwards from what it kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from inspection.faces import Face, FaceAnalyzer, cosine
from inspection.quality import frame_quality
from inspection.rules import FrameFaces, FrameStats, Span, Thresholds

THUMB_WIDTH = 240  # px; every sampled frame keeps a JPEG this wide for evidence
FRAME_QUALITY = 90  # JPEG quality of the full frames kept for OCR and face matching
LIVE_FRAMES = 3  # frames whose largest face is embedded to represent the participant
CARD_FRAMES = 8  # ID-card window frames whose small faces are compared with the live face


@dataclass
class VideoScan:
    """Everything the rules and the document stage need from one participant's video."""

    participant: str
    period_s: float
    faces: list[FrameFaces] = field(default_factory=list)
    stats: list[FrameStats] = field(default_factory=list)
    thumbs: dict[float, bytes] = field(default_factory=dict)  # t_s -> small JPEG
    frames: dict[float, bytes] = field(default_factory=dict)  # t_s -> full JPEG (if kept)
    detections: dict[float, list[Face]] = field(default_factory=dict)  # t_s -> faces, largest first

    def live_size(self) -> float:
        """Median size of the largest face (0 when never seen)."""
        sizes = [f.sizes[0] for f in self.faces if f.sizes]
        return float(np.median(sizes)) if sizes else 0.0

    def frame(self, t_s: float) -> np.ndarray | None:
        """The kept full frame at ``t_s`` (BGR), or None."""
        data = self.frames.get(t_s)
        if data is None:
            return None
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def encode_jpeg(bgr: np.ndarray, width: int | None = THUMB_WIDTH, quality: int = 80) -> bytes:
    """A JPEG of ``bgr``, scaled down to ``width`` when wider (None: full size)."""
    h, w = bgr.shape[:2]
    if width is not None and w > width:
        bgr = cv2.resize(bgr, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buf.tobytes() if ok else b""


def thumbnail(bgr: np.ndarray, width: int = THUMB_WIDTH, quality: int = 80) -> bytes:
    """A small JPEG of ``bgr`` for evidence."""
    return encode_jpeg(bgr, width, quality)


def scan_video(
    participant: str,
    frames: Iterable[tuple[float, np.ndarray]],
    analyzer: FaceAnalyzer,
    th: Thresholds,
    keep_frames: bool = True,
) -> VideoScan:
    """Detect faces and measure quality in every sampled ``(t_s, bgr)`` frame.

    With ``keep_frames`` every frame is kept as a full-size JPEG (~40 KB at 640x480) so that
    documents and faces can be read later from any window.
    """
    scan = VideoScan(participant, 1.0 / th.face_fps)
    for t, bgr in frames:
        small = _shrink(bgr, th.face_detect_width)
        faces = sorted(
            analyzer.detect_cascade(bgr, small, th.face_min_size_px), key=lambda f: -f.size
        )
        scan.faces.append(
            FrameFaces(t, tuple(f.size for f in faces), tuple(f.score for f in faces))
        )
        q = frame_quality(bgr, t)
        scan.stats.append(FrameStats(t, q.mean_luma, q.sharpness))
        scan.thumbs[t] = thumbnail(small if small is not None else bgr)
        # Frames with a second face are kept whatever ``keep_frames`` says (rare, and needed
        # to tell a card held up from a second person, see ``extra_face_runs``).
        if keep_frames or sum(_counted(f, th) for f in faces) >= 2:
            scan.frames[t] = encode_jpeg(bgr, None, FRAME_QUALITY)
            if faces:
                scan.detections[t] = faces
    return scan


def _shrink(bgr: np.ndarray, width: int) -> np.ndarray | None:
    """``bgr`` scaled down to ``width`` px (None when it is not wider, or ``width`` is 0)."""
    h, w = bgr.shape[:2]
    if width <= 0 or w <= width:
        return None
    return cv2.resize(bgr, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _inside(t: float, spans: Sequence[Span]) -> bool:
    return any(a <= t <= b for a, b in spans)


def document_frames(
    scan: VideoScan, window: Span, k: int, card: bool | None = None
) -> list[tuple[float, np.ndarray]]:
    """The ``k`` sharpest kept frames inside ``window``, sharpest first.

    With ``card`` True only frames where an ID card is in view (its photo is a second face)
    count, with False only frames without one, when there are any: a window may overlap
    another document's (a text-rich form is sharper than a card), and the sharpest frame of
    the window is then the wrong document.
    """
    inside = [s for s in scan.stats if window[0] <= s.t_s <= window[1] and s.t_s in scan.frames]
    if card is not None:
        chosen = [s for s in inside if (len(scan.detections.get(s.t_s, ())) >= 2) == card]
        inside = chosen or inside
    best = sorted(inside, key=lambda s: -s.sharpness)[:k]
    out = []
    for s in best:
        bgr = scan.frame(s.t_s)
        if bgr is not None:
            out.append((s.t_s, bgr))
    return out


def live_embedding(
    scan: VideoScan, analyzer: FaceAnalyzer, th: Thresholds, excluded: Sequence[Span] = ()
) -> tuple[np.ndarray, float] | None:
    """Mean SFace embedding of the participant's clearest faces outside ``excluded`` (document
    windows), and the time of the clearest one."""
    found = live_faces(scan, analyzer, th, excluded)
    return None if found is None else (found[0], found[1][0])


def live_faces(
    scan: VideoScan, analyzer: FaceAnalyzer, th: Thresholds, excluded: Sequence[Span] = ()
) -> tuple[np.ndarray, tuple[float, ...]] | None:
    """Mean SFace embedding of the participant's clearest faces outside ``excluded``, and the
    times of the frames it was made from (clearest first)."""
    candidates = [
        (faces[0].size * faces[0].score, t, faces[0])
        for t, faces in scan.detections.items()
        if not _inside(t, excluded)
        and faces[0].score >= th.face_min_score
        and faces[0].size >= th.face_min_size_px
    ]
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[:LIVE_FRAMES]
    embs, times = [], []
    for _, t, face in best:
        bgr = scan.frame(t)
        if bgr is not None:
            embs.append(analyzer.embed(bgr, face))
            times.append(t)
    if not embs:
        return None
    mean = np.mean(embs, axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12), tuple(times)


def card_face_match(
    scan: VideoScan, analyzer: FaceAnalyzer, live: np.ndarray, window: Span, th: Thresholds
) -> tuple[float, float] | None:
    """(best cosine, frame time) of a card-photo face in the ID-card ``window`` vs ``live``."""
    found = card_face_scores(scan, analyzer, live, window, th)
    return (found[0][2], found[0][0]) if found else None


def card_face_scores(
    scan: VideoScan, analyzer: FaceAnalyzer, live: np.ndarray, window: Span, th: Thresholds
) -> list[tuple[float, float, float]]:
    """Every card-photo face of the ID-card ``window`` compared with ``live``: (frame time,
    face size px, cosine), best cosine first, at most one per frame.

    A card face is any face smaller than ``card_face_max_ratio`` of the live face. The
    ``CARD_FRAMES`` frames whose card face is clearest (size x detection score) are compared:
    the photo is ~50 px, tilted, blurred or under glare in some frames, so one frame is weak
    evidence either way, and the rules decide on the best of several (``identity_findings``).
    """
    limit = th.card_face_max_ratio * scan.live_size()
    frames = []
    for t, faces in scan.detections.items():
        if not window[0] <= t <= window[1]:
            continue
        small = [f for f in faces if 16 <= f.size < limit]
        if small:
            frames.append((t, small))
    frames.sort(key=lambda x: (-max(f.size * f.score for f in x[1]), x[0]))
    out: list[tuple[float, float, float]] = []
    for t, faces in frames[:CARD_FRAMES]:
        bgr = scan.frame(t)
        if bgr is None:
            continue
        scored = [(cosine(analyzer.embed(bgr, f), live), f.size) for f in faces]
        c, size = max(scored)
        out.append((t, round(float(size), 1), round(float(c), 4)))
    return sorted(out, key=lambda x: (-x[2], x[0]))


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


def _counted(face: Face, th: Thresholds) -> bool:
    return face.size >= th.face_min_size_px and face.score >= th.face_min_score


def extra_face_runs(
    scan: VideoScan, th: Thresholds, excluded: Sequence[Span] = ()
) -> list[tuple[Span, float]]:
    """Runs of sampled frames with two or more counted faces outside ``excluded``, lasting at
    least ``extra_person_min_s`` (what ``face.extra_person`` would report), each with the
    time of its sharpest kept frame. A run is split where the second face changes size by a
    quarter or more: a card put down as a second person comes in is two runs."""
    sharp = {s.t_s: s.sharpness for s in scan.stats}
    runs: list[list[float]] = []
    second = 0.0
    for ff in sorted(scan.faces, key=lambda f: f.t_s):
        sizes = [
            s
            for s, c in zip(ff.sizes, ff.scores, strict=True)
            if s >= th.face_min_size_px and c >= th.face_min_score
        ]
        if len(sizes) < 2 or _inside(ff.t_s, excluded):
            runs.append([])
            continue
        if not runs or not runs[-1] or abs(sizes[1] - second) >= 0.25 * max(sizes[1], second):
            runs.append([])
        runs[-1].append(ff.t_s)
        second = sizes[1]
    out = []
    for ts in runs:
        kept = [t for t in ts if t in scan.frames]
        if not kept or ts[-1] + scan.period_s - ts[0] < th.extra_person_min_s:
            continue
        out.append(((ts[0], ts[-1] + scan.period_s), max(kept, key=lambda t: sharp.get(t, 0.0))))
    return out


def card_photo_refs(
    scan: VideoScan, analyzer: FaceAnalyzer, window: Span, th: Thresholds
) -> list[np.ndarray]:
    """Embeddings of the card photo as seen in the ID-card ``window``: the faces other than
    the largest in frames with two or more faces (the sharpest ``CARD_FRAMES`` frames)."""
    inside = [(t, faces[1:]) for t, faces in scan.detections.items() if window[0] <= t <= window[1]]
    sharp = {s.t_s: s.sharpness for s in scan.stats}
    inside = sorted((x for x in inside if x[1]), key=lambda x: -sharp.get(x[0], 0.0))
    refs = []
    for t, faces in inside[:CARD_FRAMES]:
        bgr = scan.frame(t)
        if bgr is not None:
            refs += [analyzer.embed(bgr, f) for f in faces if _counted(f, th)]
    return refs


def drop_photo_faces(
    scan: VideoScan, analyzer: FaceAnalyzer, refs: Sequence[np.ndarray], th: Thresholds
) -> list[FrameFaces]:
    """The scan's face counts without the faces that are photos, not people.

    A second face that is the participant again (matches their live face) or the photo seen
    on their ID card is the card held up, wherever it is shown: one person cannot be two
    faces. A real second person matches neither and stays counted.
    """
    if not refs:
        return list(scan.faces)
    out = []
    for ff in scan.faces:
        faces = scan.detections.get(ff.t_s)
        bgr = scan.frame(ff.t_s) if faces and sum(_counted(f, th) for f in faces) >= 2 else None
        if faces is None or bgr is None:
            out.append(ff)
            continue
        keep = [faces[0]]
        for f in faces[1:]:
            if _counted(f, th):
                emb = analyzer.embed(bgr, f)
                if max(cosine(emb, r) for r in refs) >= th.face_match_cosine:
                    continue
            keep.append(f)
        out.append(FrameFaces(ff.t_s, tuple(f.size for f in keep), tuple(f.score for f in keep)))
    return out
